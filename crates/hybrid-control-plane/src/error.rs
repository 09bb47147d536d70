//! The one error type of the launcher: every variant names what failed and, for a component, its
//! log file and the log's last lines.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use crate::component::Component;

/// Why the control plane could not be started, reached or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ControlPlaneError {
    /// The binary folder lacks a component.
    #[error(
        "control-plane binaries not found in {}: {} is missing; build them with tools/control-plane/build.sh",
        dir.display(),
        missing
    )]
    BinariesNotFound {
        /// The folder searched.
        dir: PathBuf,
        /// The first missing binary's name.
        missing: String,
    },
    /// `tools/control-plane/build.sh` could not be run.
    #[error("cannot run {}: {source}", script.display())]
    BuildNotRunnable {
        /// The script.
        script: PathBuf,
        /// Why it could not be run.
        #[source]
        source: io::Error,
    },
    /// `tools/control-plane/build.sh` failed; `message` is its own error line.
    #[error("{} failed ({status}): {message}", script.display())]
    BuildFailed {
        /// The script.
        script: PathBuf,
        /// Its exit status.
        status: ExitStatus,
        /// Its last `build.sh: error: ...` line (or last stderr line).
        message: String,
    },
    /// A port chosen for a component is already taken.
    #[error("port {port} for {component} is already in use on 127.0.0.1")]
    PortInUse {
        /// The component that was to listen there.
        component: Component,
        /// The port.
        port: u16,
        /// The bind error.
        #[source]
        source: io::Error,
    },
    /// No free loopback port could be found.
    #[error("cannot find a free port on 127.0.0.1 for {component}")]
    NoFreePort {
        /// The component that needed one.
        component: Component,
        /// The bind error.
        #[source]
        source: io::Error,
    },
    /// A file or folder of the control plane could not be written or removed.
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        /// What was being done ("create", "write", "remove").
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A certificate or key could not be generated.
    #[error("cannot generate the {what}: {source}")]
    Pki {
        /// Which certificate or key.
        what: &'static str,
        /// The generator's error.
        #[source]
        source: rcgen::Error,
    },
    /// A component's process could not be started.
    #[error("cannot start {component} ({}): {source}", binary.display())]
    Spawn {
        /// The component.
        component: Component,
        /// Its binary.
        binary: PathBuf,
        /// The spawn error.
        #[source]
        source: io::Error,
    },
    /// A component exited before it was ready.
    #[error("{component} exited during start ({status}); its log: {}{}", log.display(), tail_block(tail))]
    Exited {
        /// The component.
        component: Component,
        /// How it exited.
        status: ExitStatus,
        /// Its log file (removed with the temporary folder unless `keep_temp_dir` is set).
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// A component did not become ready in time.
    #[error(
        "{component} did not become ready within {}s (last probe: {last_probe}); its log: {}{}",
        timeout.as_secs(),
        log.display(),
        tail_block(tail)
    )]
    NotReady {
        /// The component.
        component: Component,
        /// The deadline it missed.
        timeout: Duration,
        /// What the last readiness probe saw.
        last_probe: String,
        /// Its log file (removed with the temporary folder unless `keep_temp_dir` is set).
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// The admin kubeconfig could not be written or read.
    #[error("cannot use the admin kubeconfig {}: {source}", path.display())]
    Kubeconfig {
        /// The kubeconfig file.
        path: PathBuf,
        /// The kube-rs error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A kube client for the control plane could not be built.
    #[error("cannot build a client for {url}: {source}")]
    Client {
        /// The server URL.
        url: String,
        /// The URL or kube-rs error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The log's last lines as a block below the message, or nothing when the log is empty.
fn tail_block(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::from(" (empty)")
    } else {
        format!("\n--- last lines ---\n{}", tail.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_ready_names_the_component_its_log_and_its_last_lines() {
        let error = ControlPlaneError::NotReady {
            component: Component::KubeApiserver,
            timeout: Duration::from_secs(60),
            last_probe: "connection refused".into(),
            log: PathBuf::from("/dev/shm/cp/kube-apiserver.log"),
            tail: "E1201 boom\n".into(),
        };
        assert_eq!(
            error.to_string(),
            "kube-apiserver did not become ready within 60s (last probe: connection refused); \
             its log: /dev/shm/cp/kube-apiserver.log\n--- last lines ---\nE1201 boom"
        );
    }

    #[test]
    fn missing_binaries_say_how_to_build_them() {
        let error = ControlPlaneError::BinariesNotFound {
            dir: PathBuf::from("/nowhere"),
            missing: "etcd".into(),
        };
        assert_eq!(
            error.to_string(),
            "control-plane binaries not found in /nowhere: etcd is missing; build them with tools/control-plane/build.sh"
        );
    }
}
