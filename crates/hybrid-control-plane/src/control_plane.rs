//! [`ControlPlane`]: starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler on
//! loopback with their own PKI in a temporary folder, and stops them again (also on drop).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::binaries;
use crate::component::Component;
use crate::config::ControlPlaneConfig;
use crate::error::ControlPlaneError;
use crate::flags::{self, Layout};
use crate::kubeconfig;
use crate::pki;
use crate::ports::Ports;
use crate::process::Running;
use crate::readiness::{self, Probe};

/// A running control plane. Stop it with [`ControlPlane::stop`]; dropping it kills every
/// component (SIGKILL) and removes its temporary folder, so a panicking test leaves nothing behind.
#[derive(Debug)]
pub struct ControlPlane {
    layout: Layout,
    bin_dir: PathBuf,
    /// Started components, oldest first.
    components: Vec<Running>,
    /// `None` once stopped.
    temp_dir: Option<TempDir>,
    stop_grace: Duration,
    keep_temp_dir: bool,
    startup_time: Duration,
}

impl ControlPlane {
    /// Starts the four components, one after the other, each waited for until it is ready
    /// (at most `config.ready_timeout` each). On error, whatever was started is killed and the
    /// temporary folder removed.
    pub async fn start(config: ControlPlaneConfig) -> Result<ControlPlane, ControlPlaneError> {
        let launched = Instant::now();
        let bin_dir = binaries::locate(config.bin_dir.as_deref()).await?;
        let ports = Ports::reserve(config.etcd_port, config.apiserver_port)?;
        let temp_dir = new_temp_dir()?;
        let root = temp_dir.path().to_path_buf();
        let pki = pki::generate(&root.join("pki"), config.advertise_address)?;
        let egress_config = match &config.egress_socket {
            Some(socket) => Some(write_egress_config(&root, socket)?),
            None => None,
        };
        let layout = Layout {
            kubeconfig: root.join("admin.kubeconfig"),
            root,
            pki,
            ports,
            advertise_address: config.advertise_address,
            egress_config,
        };
        kubeconfig::write(&layout.kubeconfig, &layout.apiserver_url(), &layout.pki)?;
        let mut control_plane = ControlPlane {
            layout,
            bin_dir,
            components: Vec::new(),
            temp_dir: Some(temp_dir),
            stop_grace: config.stop_grace,
            keep_temp_dir: config.keep_temp_dir,
            startup_time: Duration::ZERO,
        };
        control_plane.launch(config.ready_timeout).await?;
        control_plane.startup_time = launched.elapsed();
        tracing::info!(
            server = %control_plane.server_url(),
            startup = ?control_plane.startup_time,
            "control plane ready"
        );
        Ok(control_plane)
    }

    async fn launch(&mut self, ready_timeout: Duration) -> Result<(), ControlPlaneError> {
        let etcd = Probe::anonymous(&self.layout.etcd_url(), "/health", "\"health\":\"true\"")?;
        self.spawn(Component::Etcd)?;
        self.wait_ready(Component::Etcd, &etcd, ready_timeout)
            .await?;

        let apiserver = Probe::admin(&self.layout.kubeconfig, "/readyz", "ok").await?;
        self.spawn(Component::KubeApiserver)?;
        self.wait_ready(Component::KubeApiserver, &apiserver, ready_timeout)
            .await?;

        let ports = self.layout.ports;
        let controllers = [
            (Component::KubeControllerManager, ports.controller_manager),
            (Component::KubeScheduler, ports.scheduler),
        ];
        for (component, _) in controllers {
            self.spawn(component)?;
        }
        for (component, port) in controllers {
            let probe = Probe::anonymous(&format!("https://127.0.0.1:{port}"), "/healthz", "ok")?;
            self.wait_ready(component, &probe, ready_timeout).await?;
        }
        Ok(())
    }

    fn spawn(&mut self, component: Component) -> Result<(), ControlPlaneError> {
        let running = Running::spawn(
            component,
            &self.bin_dir.join(component.name()),
            &flags::arguments(&self.layout, component),
            self.layout.log(component),
        )?;
        self.components.push(running);
        Ok(())
    }

    async fn wait_ready(
        &mut self,
        component: Component,
        probe: &Probe,
        timeout: Duration,
    ) -> Result<(), ControlPlaneError> {
        let started = Instant::now();
        readiness::wait_ready(&mut self.components, component, probe, timeout).await?;
        tracing::debug!(%component, elapsed = ?started.elapsed(), "ready");
        Ok(())
    }

    /// Stops the components newest first, one at a time (SIGTERM, then SIGKILL after the
    /// configured grace period), then removes the temporary folder (unless `keep_temp_dir`).
    /// kube-scheduler exits with status 1 on SIGTERM when it does not elect a leader: that is
    /// its normal shutdown, not an error.
    pub async fn stop(mut self) -> Result<(), ControlPlaneError> {
        let stopping = Instant::now();
        while let Some(mut running) = self.components.pop() {
            running.stop(self.stop_grace).await;
        }
        let result = self.remove_temp_dir();
        tracing::info!(elapsed = ?stopping.elapsed(), "control plane stopped");
        result
    }

    fn remove_temp_dir(&mut self) -> Result<(), ControlPlaneError> {
        let Some(temp_dir) = self.temp_dir.take() else {
            return Ok(());
        };
        if self.keep_temp_dir {
            let kept = temp_dir.keep();
            tracing::info!(path = %kept.display(), "kept the control plane's temporary folder");
            return Ok(());
        }
        let path = temp_dir.path().to_path_buf();
        temp_dir.close().map_err(|source| ControlPlaneError::File {
            action: "remove",
            path,
            source,
        })
    }

    /// The admin kubeconfig (client certificate in `system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.layout.kubeconfig
    }

    /// A kube client with the admin credentials (and kube-rs's default retries of 429/503/504).
    pub async fn client(&self) -> Result<kube::Client, ControlPlaneError> {
        kubeconfig::client(&self.layout.kubeconfig).await
    }

    /// kube-apiserver's URL, `https://127.0.0.1:<port>`.
    pub fn server_url(&self) -> String {
        self.layout.apiserver_url()
    }

    /// etcd's client URL, `http://127.0.0.1:<port>`.
    pub fn etcd_url(&self) -> String {
        self.layout.etcd_url()
    }

    /// The temporary folder with the logs, PKI, kubeconfig and etcd data.
    pub fn temp_dir(&self) -> &Path {
        &self.layout.root
    }

    /// The log file of `component` (its stdout and stderr).
    pub fn log_path(&self, component: Component) -> PathBuf {
        self.layout.log(component)
    }

    /// The process id of `component`, while it runs.
    pub fn pid(&self, component: Component) -> Option<u32> {
        self.components
            .iter()
            .find(|running| running.component == component)
            .map(|running| running.pid)
    }

    /// The cluster CA certificate (PEM), which signed the serving and admin certificates.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.layout.pki.ca_cert()
    }

    /// The cluster CA's private key (PEM), to sign more certificates (kubelets, nodes).
    pub fn ca_key_path(&self) -> PathBuf {
        self.layout.pki.ca_key()
    }

    /// The folder the binaries were started from.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// From the call to [`ControlPlane::start`] until every component was ready.
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        while let Some(mut running) = self.components.pop() {
            running.kill_now();
        }
        if let Err(error) = self.remove_temp_dir() {
            tracing::warn!("{error}");
        }
    }
}

/// A fresh private folder under /dev/shm (tmpfs: etcd's data never touches a disk) when it is
/// usable, else under the system's temporary folder.
fn new_temp_dir() -> Result<TempDir, ControlPlaneError> {
    let builder = {
        let mut builder = tempfile::Builder::new();
        builder.prefix("hybrid-control-plane-");
        builder
    };
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = builder.tempdir_in(shm) {
            return Ok(dir);
        }
    }
    let fallback = std::env::temp_dir();
    builder
        .tempdir_in(&fallback)
        .map_err(|source| ControlPlaneError::File {
            action: "create a folder in",
            path: fallback,
            source,
        })
}

fn write_egress_config(root: &Path, socket: &Path) -> Result<PathBuf, ControlPlaneError> {
    let socket = std::path::absolute(socket).map_err(|source| ControlPlaneError::File {
        action: "resolve",
        path: socket.to_path_buf(),
        source,
    })?;
    let path = root.join("egress-selector.yaml");
    std::fs::write(&path, flags::egress_selector_configuration(&socket)).map_err(|source| {
        ControlPlaneError::File {
            action: "write",
            path: path.clone(),
            source,
        }
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_control_plane_can_be_moved_into_tasks_and_shared() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ControlPlane>();
    }

    #[test]
    fn the_temporary_folder_is_on_tmpfs_when_there_is_one() {
        let dir = new_temp_dir().unwrap();
        let name = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(name.starts_with("hybrid-control-plane-"), "{name}");
        if Path::new("/dev/shm").is_dir() {
            assert_eq!(dir.path().parent(), Some(Path::new("/dev/shm")));
        }
    }
}
