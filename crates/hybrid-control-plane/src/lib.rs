//! A launcher for a real Kubernetes control plane, envtest-style: etcd, kube-apiserver,
//! kube-controller-manager and kube-scheduler (built from Go modules by
//! `tools/control-plane/build.sh`) on 127.0.0.1, with their own PKI and data in a temporary folder
//! (tmpfs when there is one), stopped and removed again by [`ControlPlane::stop`] or on drop.
//!
//! ```no_run
//! # async fn example() -> Result<(), hybrid_control_plane::ControlPlaneError> {
//! use hybrid_control_plane::{ControlPlane, ControlPlaneConfig};
//! let control_plane = ControlPlane::start(ControlPlaneConfig::default()).await?;
//! let client = control_plane.client().await?;
//! # drop(client);
//! control_plane.stop().await?;
//! # Ok(())
//! # }
//! ```

mod binaries;
mod component;
mod config;
mod control_plane;
mod error;
mod flags;
mod kubeconfig;
mod pki;
mod ports;
mod process;
mod readiness;

pub use component::Component;
pub use config::{
    ControlPlaneConfig, BIN_DIR_ENV, DEFAULT_ADVERTISE_ADDRESS, SERVICE_CLUSTER_IP_RANGE,
};
pub use control_plane::ControlPlane;
pub use error::ControlPlaneError;
