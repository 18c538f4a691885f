//! `genesys-sim`: the Genesys Cloud simulator as a program of its own (the same as
//! `scim-bridge genesys-sim`). Logs go to standard error, filtered by `RUST_LOG`.

use std::process::ExitCode;

use clap::Parser;

/// Run the Genesys Cloud simulator (OAuth, SCIM v2, Platform users) for tests and demos.
#[derive(Debug, Parser)]
#[command(name = "genesys-sim", version)]
struct Cli {
    #[command(flatten)]
    sim: genesys_sim::SimArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match genesys_sim::serve_blocking(cli.sim.sim_config()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("genesys-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}
