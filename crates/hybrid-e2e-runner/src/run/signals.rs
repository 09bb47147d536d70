//! The signals that stop a run or a served cluster: Ctrl-C (SIGINT) and SIGTERM (what `kill`,
//! `timeout`, CI runners and Kubernetes send to a Job's pod). Both mean the same: stop and clean up.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// Listens for SIGINT and SIGTERM from creation on.
pub struct StopSignals {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
}

impl StopSignals {
    /// Installs the handlers (the default actions no longer kill the process). A signal whose
    /// handler cannot be installed keeps its default action.
    pub fn new() -> StopSignals {
        StopSignals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Waits for the next SIGINT or SIGTERM; pends forever if neither could be listened for.
    pub async fn next(&mut self) {
        async fn one(signal: &mut Option<Signal>) {
            let received = match signal {
                Some(s) => s.recv().await.is_some(),
                None => false,
            };
            if !received {
                std::future::pending::<()>().await;
            }
        }
        tokio::select! {
            () = one(&mut self.interrupt) => {}
            () = one(&mut self.terminate) => {}
        }
    }
}

impl Default for StopSignals {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sigterm_is_a_stop_request() {
        let mut signals = StopSignals::new();
        rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM)
            .unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), signals.next())
            .await
            .expect("SIGTERM arrives as a stop request");
    }
}
