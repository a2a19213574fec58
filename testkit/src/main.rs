//! `roperator-testkit serve`: run the in-memory API server on a loopback port for kubectl.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use roperator_testkit::ApiServer;

#[derive(Parser)]
#[command(
    name = "roperator-testkit",
    about = "Kubernetes in a box: an in-memory API server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve on 127.0.0.1 until SIGINT or SIGTERM.
    Serve {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Write a kubeconfig for the server here.
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Serve HTTPS with a generated self-signed certificate (embedded in the kubeconfig).
        #[arg(long)]
        tls: bool,
        /// Report Deployments and StatefulSets available as soon as they are written.
        #[arg(long)]
        simulate_workloads: bool,
    },
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let Command::Serve {
        port,
        kubeconfig,
        tls,
        simulate_workloads,
    } = cli.command;
    let server = ApiServer::new();
    server.simulate_workloads(simulate_workloads);
    let listening = match server.listen_on(port, tls).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("roperator-testkit: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &kubeconfig {
        if let Err(e) = listening.write_kubeconfig(path) {
            eprintln!("roperator-testkit: {e}");
            return ExitCode::FAILURE;
        }
        println!("kubeconfig written to {}", path.display());
    }
    println!("serving on {}", listening.url());
    shutdown_signal().await;
    println!("shutting down");
    drop(listening);
    ExitCode::SUCCESS
}
