//! What the example operators' binaries share: finding the cluster to run against (and refusing
//! one that is configured but unusable), the in-memory cluster of the embedded mode, logging,
//! shutdown signals, the runtime around an operator; and, for their tests, waiting for a
//! condition.
//!
//! Not part of roperator: an operator of your own would take what it likes from here.

#![warn(missing_docs)]

pub mod cluster;
pub mod logging;
pub mod loopback;
pub mod process;
pub mod signal;
pub mod wait;

use std::fmt::Display;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use roperator_core::{AlwaysLeader, LeaderGate, Operator};

/// The leadership gate of a replica: a Raft replica when the `ROPERATOR_RAFT_*` variables are set
/// (deploy/ sets them), else the only writer.
pub async fn leader_gate() -> Result<Arc<dyn LeaderGate>, roperator_core::ha::StartError> {
    Ok(if roperator_core::ha::RaftConfig::configured_in_env() {
        Arc::new(roperator_core::ha::RaftGate::from_env().await?)
    } else {
        Arc::new(AlwaysLeader::new())
    })
}

/// Runs `operator` until its shutdown signal, saying where metrics are served once the caches
/// are synced.
pub async fn run(operator: Operator) -> Result<(), roperator_core::Error> {
    let monitor = operator.monitor();
    let announce = tokio::spawn(async move {
        monitor.wait_ready().await;
        if let Some(address) = monitor.server_address() {
            tracing::info!(%address, "caches synced; serving /metrics, /healthz and /readyz");
        }
    });
    let result = operator.run().await;
    announce.abort();
    result
}

/// Runs `main` (an operator's whole run) on a multi-threaded runtime, logs its error, and turns
/// the outcome into the process's exit code.
pub fn block_on<E: Display>(main: impl Future<Output = Result<(), E>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(main) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    };
    // A handler call stuck past its timeout cannot be stopped; dropping the runtime would wait
    // for it, and the process would not exit on SIGTERM.
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// Where to serve /metrics, /healthz and /readyz: `flag` when given, else
/// [`DEFAULT_SERVER_ADDRESS`](roperator_core::DEFAULT_SERVER_ADDRESS) against a cluster and a free
/// loopback port in embedded mode (nothing scrapes a demo; a fixed port would only collide with
/// something else).
pub fn metrics_address(flag: Option<SocketAddr>, embedded: bool) -> SocketAddr {
    flag.unwrap_or(if embedded {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
    } else {
        roperator_core::DEFAULT_SERVER_ADDRESS
    })
}

/// Prints a CRD rendered as YAML (`<binary> crd`), or the reason it could not be rendered.
pub fn print_crd<E: Display>(yaml: Result<String, E>) -> ExitCode {
    match yaml {
        Ok(yaml) => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: could not write the CRD as YAML: {e}");
            ExitCode::FAILURE
        }
    }
}
