//! The `hybrid-e2e` binary, the edge of the program: parse flags, set up logging, dispatch the
//! command, and turn every error into one line on stderr and a documented exit code.

mod cli;
mod dispatch;
mod errors;
mod exit;
mod plan;
mod simulated;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.verbose, cli.quiet);
    match dispatch::command(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if let Some(line) = error.message() {
                eprintln!("{line}");
            }
            ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(1))
        }
    }
}

fn init_tracing(verbose: u8, quiet: bool) {
    // kube-client logs each failed request at ERROR level; our callers report the failures
    // that matter themselves, and the real control plane's readiness probes fail by design
    // until it is up. Its logs come back with -v.
    let level = match (quiet, verbose) {
        (true, _) => "error,kube_client=off",
        (false, 0) => "warn,kube_client=off",
        (false, 1) => "hybrid_e2e=debug,hybrid_e2e_runner=debug,hybrid_sim=debug,warn",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
