//! The simulated cluster a command starts (`run --sim`, `sim`): the embedded one, or the
//! simulated nodes joined to a real control plane (etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler) whose egress selector reaches them over a Unix socket. Stopping it stops
//! everything it started and removes its temporary files.

use hybrid_control_plane::{ControlPlane, ControlPlaneConfig};
use hybrid_sim::{ApiServer, SimCluster, SimConfig};

use crate::errors::Error;
use crate::plan::ControlPlaneKind;

/// A running simulated cluster and, under a real control plane, that control plane.
pub(crate) struct Simulated {
    nodes: SimCluster,
    control_plane: Option<RealControlPlane>,
}

struct RealControlPlane {
    control_plane: ControlPlane,
    /// Holds the egress socket; removed with it.
    _socket_dir: tempfile::TempDir,
}

impl Simulated {
    /// Starts the cluster; on error, whatever had started is stopped again.
    pub(crate) async fn start(
        config: SimConfig,
        kind: ControlPlaneKind,
    ) -> Result<Simulated, Error> {
        match kind {
            ControlPlaneKind::Embedded => Ok(Simulated {
                nodes: SimCluster::start(config).await.map_err(Error::Sim)?,
                control_plane: None,
            }),
            ControlPlaneKind::Real => start_real(config).await,
        }
    }

    /// The cluster to connect to.
    pub(crate) fn cluster(&self) -> &SimCluster {
        &self.nodes
    }

    /// How the banner names the server: `URL (simulated cluster)` or `URL (real control plane,
    /// simulated nodes)`.
    pub(crate) fn describe(&self) -> String {
        match self.control_plane {
            None => format!("{} (simulated cluster)", self.nodes.url()),
            Some(_) => format!("{} (real control plane, simulated nodes)", self.nodes.url()),
        }
    }

    /// Stops the nodes, then the control plane, and removes their temporary files.
    pub(crate) async fn shutdown(self) {
        self.nodes.shutdown().await;
        if let Some(real) = self.control_plane {
            if let Err(e) = real.control_plane.stop().await {
                eprintln!("warning: {}", hybrid_e2e_runner::run::error_chain(&e));
            }
        }
    }
}

async fn start_real(config: SimConfig) -> Result<Simulated, Error> {
    // Unix socket paths are short (108 bytes): a folder of its own under /tmp.
    let socket_dir = tempfile::Builder::new()
        .prefix("hybrid-e2e-egress-")
        .tempdir()
        .map_err(Error::SimFiles)?;
    let socket = socket_dir.path().join("egress.sock");
    let control_plane = ControlPlane::start(ControlPlaneConfig {
        egress_socket: Some(socket.clone()),
        // `sim --port`: the API server's port, here kube-apiserver's.
        apiserver_port: (config.port != 0).then_some(config.port),
        ..ControlPlaneConfig::default()
    })
    .await
    .map_err(Error::ControlPlane)?;
    let kubeconfig_yaml = match std::fs::read_to_string(control_plane.kubeconfig_path()) {
        Ok(yaml) => yaml,
        Err(e) => {
            let _ = control_plane.stop().await;
            return Err(Error::SimFiles(e));
        }
    };
    let api = ApiServer {
        kubeconfig_yaml,
        egress_socket: Some(socket),
    };
    match SimCluster::join(config, api).await {
        Ok(nodes) => Ok(Simulated {
            nodes,
            control_plane: Some(RealControlPlane {
                control_plane,
                _socket_dir: socket_dir,
            }),
        }),
        Err(e) => {
            let _ = control_plane.stop().await;
            Err(Error::Sim(e))
        }
    }
}
