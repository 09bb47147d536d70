//! The signals that stop a run or a served cluster: Ctrl-C (SIGINT), SIGTERM (what `kill`,
//! `timeout`, CI runners and Kubernetes send to a Job's pod) and SIGHUP (a closed terminal or SSH
//! session). All three mean the same: stop and clean up. Which one came is kept, so that the
//! reports can say what stopped the run.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// A signal that asks the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT, from Ctrl-C (and from GitHub Actions' first cancel step).
    Interrupt,
    /// SIGTERM, from `kill`, `timeout`, GitLab and Prow timeouts and the kubelet.
    Terminate,
    /// SIGHUP, from a closed terminal.
    Hangup,
}

impl std::fmt::Display for StopSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopSignal::Interrupt => "Ctrl-C (SIGINT)",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        })
    }
}

/// Listens for SIGINT, SIGTERM and SIGHUP from creation on.
pub struct StopSignals {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
    hangup: Option<Signal>,
}

impl StopSignals {
    /// Installs the handlers (the default actions no longer kill the process). A signal whose
    /// handler cannot be installed keeps its default action.
    pub fn new() -> StopSignals {
        StopSignals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
            hangup: signal(SignalKind::hangup()).ok(),
        }
    }

    /// Waits for the next stop signal and says which it was; pends forever if none could be
    /// listened for.
    pub async fn next(&mut self) -> StopSignal {
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
            () = one(&mut self.interrupt) => StopSignal::Interrupt,
            () = one(&mut self.terminate) => StopSignal::Terminate,
            () = one(&mut self.hangup) => StopSignal::Hangup,
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
    use rustix::process::{getpid, kill_process, Signal as Raw};

    /// One test for all three, so that no other test's handler sees these signals.
    #[tokio::test]
    async fn sigterm_sighup_and_sigint_are_stop_requests_that_say_which() {
        let mut signals = StopSignals::new();
        for (raw, expected) in [
            (Raw::TERM, StopSignal::Terminate),
            (Raw::HUP, StopSignal::Hangup),
            (Raw::INT, StopSignal::Interrupt),
        ] {
            kill_process(getpid(), raw).unwrap();
            let got = tokio::time::timeout(std::time::Duration::from_secs(10), signals.next())
                .await
                .expect("the signal arrives as a stop request");
            assert_eq!(got, expected);
        }
        assert_eq!(StopSignal::Terminate.to_string(), "SIGTERM");
    }
}
