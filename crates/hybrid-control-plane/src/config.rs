//! What a caller may choose about the control plane it starts; everything has a default.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// Environment variable naming the folder that holds the control-plane binaries (the folder
/// `tools/control-plane/build.sh` prints).
pub const BIN_DIR_ENV: &str = "HYBRID_E2E_CONTROL_PLANE_BIN";

/// The address kube-apiserver advertises by default (Endpoints reject loopback). Nothing ever
/// dials it: every listener is on 127.0.0.1.
pub const DEFAULT_ADVERTISE_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 240, 0, 2));

/// The Service CIDR (`--service-cluster-ip-range`); its first address, 10.96.0.1, is the
/// `kubernetes` Service and is in the serving certificate.
pub const SERVICE_CLUSTER_IP_RANGE: &str = "10.96.0.0/12";

/// How to start a [`ControlPlane`](crate::ControlPlane).
#[derive(Debug, Clone)]
pub struct ControlPlaneConfig {
    /// Folder with the `etcd`, `kube-apiserver`, `kube-controller-manager` and `kube-scheduler`
    /// binaries. `None`: the `HYBRID_E2E_CONTROL_PLANE_BIN` environment variable, else the folder
    /// that `tools/control-plane/build.sh` (run from the workspace root) prints.
    pub bin_dir: Option<PathBuf>,
    /// Unix socket of an HTTP `CONNECT` proxy: when set, kube-apiserver reaches nodes (logs,
    /// exec, `nodes/proxy`, ...) through it (an EgressSelectorConfiguration for `cluster`).
    pub egress_socket: Option<PathBuf>,
    /// Address kube-apiserver advertises for the `kubernetes` Service.
    pub advertise_address: IpAddr,
    /// etcd's client port; `None` picks a free loopback port.
    pub etcd_port: Option<u16>,
    /// kube-apiserver's secure port; `None` picks a free loopback port.
    pub apiserver_port: Option<u16>,
    /// How long each component may take to become ready (etcd `/health`, kube-apiserver
    /// `/readyz`, the controller-manager's and scheduler's `/healthz`).
    pub ready_timeout: Duration,
    /// How long each component may take to exit after SIGTERM before it gets SIGKILL.
    pub stop_grace: Duration,
    /// Keep the temporary folder (logs, PKI, kubeconfig, etcd data) after stopping, for debugging.
    pub keep_temp_dir: bool,
}

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        ControlPlaneConfig {
            bin_dir: None,
            egress_socket: None,
            advertise_address: DEFAULT_ADVERTISE_ADDRESS,
            etcd_port: None,
            apiserver_port: None,
            ready_timeout: Duration::from_secs(60),
            stop_grace: Duration::from_secs(10),
            keep_temp_dir: false,
        }
    }
}
