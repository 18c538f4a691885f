use std::process::ExitCode;

fn main() -> ExitCode {
    let (cli, matches) = scim_bridge::cli::parse_args();
    match scim_bridge::cli::run(cli, &matches) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scim-bridge: {e:#}");
            ExitCode::FAILURE
        }
    }
}
