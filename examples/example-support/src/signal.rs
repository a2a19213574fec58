//! Shutdown on SIGINT (Ctrl-C) or SIGTERM (what Kubernetes sends to stop a pod).

use std::future::Future;

/// Installs the signal handlers now, and returns a future that completes on the first SIGINT or
/// SIGTERM. Installing them before anything else starts matters: a SIGTERM that arrives while
/// the operator is still starting must begin a graceful shutdown, not kill the process.
pub fn shutdown() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let streams = {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(int), Ok(term)) => Some((int, term)),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); stopping on Ctrl-C only");
                None
            }
        }
    };
    #[cfg(not(unix))]
    let streams: Option<()> = None;
    async move {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = streams {
            tokio::select! {
                _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
                _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
            }
            return;
        }
        #[cfg(not(unix))]
        let _ = streams;
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C ({e}); the operator runs until killed");
            std::future::pending::<()>().await;
        }
        tracing::info!("Ctrl-C received, shutting down");
    }
}
