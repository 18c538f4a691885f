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

/// SIGHUP, the conventional "reload your files" signal, received one at a time. Where there
/// are no Unix signals (or the handler cannot be installed) none ever arrives.
pub struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    /// Start catching SIGHUP (which would otherwise end the process).
    pub fn catch() -> Hangups {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Hangups { signal: signal(SignalKind::hangup()).ok() }
        }
        #[cfg(not(unix))]
        Hangups {}
    }

    /// The next SIGHUP.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.signal {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await
    }
}
