//! Shutdown on SIGINT (Ctrl-C) or SIGTERM (what Kubernetes sends to stop a pod).

/// Completes on the first SIGINT or SIGTERM.
pub async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
                    _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
                }
                return;
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); stopping on Ctrl-C only");
            }
        }
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::error!("cannot listen for Ctrl-C ({e}); the operator runs until killed");
        std::future::pending::<()>().await;
    }
    tracing::info!("Ctrl-C received, shutting down");
}
