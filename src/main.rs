use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = scim_bridge::cli::Cli::parse();
    match scim_bridge::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scim-bridge: {e:#}");
            ExitCode::FAILURE
        }
    }
}
