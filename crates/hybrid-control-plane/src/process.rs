//! One running component: its child process (output to its log file), and how to end it —
//! SIGTERM, then SIGKILL after a grace period.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};
use tokio::process::{Child, Command};

use crate::component::Component;
use crate::error::ControlPlaneError;

/// Tells a component which process started it (read by `tools/control-plane/main.go`).
const PARENT_PID_ENV: &str = "HYBRID_E2E_PARENT_PID";

/// How many lines of a log an error quotes.
const TAIL_LINES: usize = 20;

/// A started component.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) component: Component,
    pub(crate) pid: u32,
    pub(crate) log: PathBuf,
    child: Child,
    /// Set once the process was reaped.
    status: Option<ExitStatus>,
}

impl Running {
    /// Starts `binary` with `args`, its stdout and stderr appended to `log`. The process is
    /// killed if this value is dropped without [`Running::stop`].
    pub(crate) fn spawn(
        component: Component,
        binary: &Path,
        args: &[String],
        log: PathBuf,
    ) -> Result<Running, ControlPlaneError> {
        let file_error = |source| ControlPlaneError::File {
            action: "create",
            path: log.clone(),
            source,
        };
        let stdout = File::create(&log).map_err(file_error)?;
        let stderr = stdout.try_clone().map_err(file_error)?;
        let spawn_error = |source| ControlPlaneError::Spawn {
            component,
            binary: binary.to_path_buf(),
            source,
        };
        let child = Command::new(binary)
            .args(args)
            // tools/control-plane/main.go stops the component when this process is gone, even
            // after a SIGKILL that leaves no time to stop it from here.
            .env(PARENT_PID_ENV, std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_error)?;
        let pid = child
            .id()
            .ok_or_else(|| spawn_error(std::io::Error::other("it exited at once")))?;
        tracing::debug!(%component, pid, log = %log.display(), "started");
        Ok(Running {
            component,
            pid,
            log,
            child,
            status: None,
        })
    }

    /// How the process exited, if it did (reaping it).
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// The error for a component that exited while starting.
    pub(crate) fn exited_error(&self, status: ExitStatus) -> ControlPlaneError {
        ControlPlaneError::Exited {
            component: self.component,
            status,
            log: self.log.clone(),
            tail: log_tail(&self.log),
        }
    }

    /// SIGTERM, then SIGKILL when it has not exited after `grace`; waits until it is reaped.
    /// Returns whether it needed SIGKILL.
    pub(crate) async fn stop(&mut self, grace: Duration) -> bool {
        if self.exit_status().is_some() {
            return false;
        }
        self.signal(Signal::TERM);
        if let Ok(Ok(status)) = tokio::time::timeout(grace, self.child.wait()).await {
            self.status = Some(status);
            return false;
        }
        tracing::warn!(component = %self.component, pid = self.pid, "ignored SIGTERM for {grace:?}: killing it");
        let _ = self.child.start_kill();
        if let Ok(status) = self.child.wait().await {
            self.status = Some(status);
        }
        true
    }

    /// SIGKILL and a short, blocking wait to reap it: for `Drop`, where nothing can be awaited.
    pub(crate) fn kill_now(&mut self) {
        if self.exit_status().is_some() {
            return;
        }
        let _ = self.child.start_kill();
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.exit_status().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, signal: Signal) {
        let pid = i32::try_from(self.pid).ok().and_then(Pid::from_raw);
        if let Some(pid) = pid {
            // It may have exited since the check: ESRCH is fine.
            let _ = kill_process(pid, signal);
        }
    }
}

/// The last lines of a log file (empty when it cannot be read).
pub(crate) fn log_tail(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let length = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
    let start = length.saturating_sub(16 * 1024);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.len().saturating_sub(TAIL_LINES);
    let mut tail = lines[first..].join("\n");
    tail.push('\n');
    tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str, log: PathBuf) -> Running {
        Running::spawn(
            Component::Etcd,
            Path::new("/bin/sh"),
            &["-c".to_string(), script.to_string()],
            log,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_process_that_ignores_sigterm_is_killed_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let mut running = shell(
            "trap '' TERM; echo ready; while :; do sleep 0.05; done",
            dir.path().join("x.log"),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        assert!(
            running.stop(Duration::from_millis(300)).await,
            "should need SIGKILL"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!Path::new(&format!("/proc/{}", running.pid)).exists());
    }

    #[tokio::test]
    async fn a_process_that_honours_sigterm_needs_no_sigkill() {
        let dir = tempfile::tempdir().unwrap();
        let mut running = shell("exec sleep 30", dir.path().join("x.log"));
        assert!(!running.stop(Duration::from_secs(5)).await);
        assert!(running.exit_status().is_some());
    }

    #[tokio::test]
    async fn an_exited_process_reports_its_status_and_the_end_of_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("etcd.log");
        let mut running = shell(
            "for i in $(seq 30); do echo line $i; done; echo boom >&2; exit 3",
            log,
        );
        let status = loop {
            if let Some(status) = running.exit_status() {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let message = running.exited_error(status).to_string();
        assert!(
            message.starts_with("etcd exited during start (exit status: 3); its log: "),
            "{message}"
        );
        assert!(message.ends_with("line 30\nboom"), "{message}");
        assert!(
            !message.contains("line 10\n"),
            "only the last lines: {message}"
        );
    }
}
