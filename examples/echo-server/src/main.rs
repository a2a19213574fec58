//! The `echo-server` binary. See `echo-server --help`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The echo-server example operator for roperator.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prints the EchoServer CustomResourceDefinition as YAML (for `kubectl apply -f -`).
    Crd,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Crd) => match echo_server::crd_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: could not write the CRD as YAML: {e}");
                ExitCode::FAILURE
            }
        },
        None => ExitCode::SUCCESS,
    }
}
