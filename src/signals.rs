//! Process signals: `serve` and `genesys-sim` stop gracefully on SIGTERM or SIGINT (Ctrl-C).
//! A leaf: imports nothing of this crate.

/// Resolves on the first SIGTERM or SIGINT (Ctrl-C where Unix signals are unavailable).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
