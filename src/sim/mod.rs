//! The simulated hybrid cluster: a real Kubernetes API server on loopback (axum) with Linux and
//! Windows nodes, and controllers as tokio tasks (scheduler, kubelets, services, storage).
//! A test double with KWOK's fidelity, not a Kubernetes: it exists so every path of the harness,
//! including every failure path, runs end to end. Nothing outside this module knows it exists
//! except the code that starts it.

pub mod config;
pub mod controllers;
pub mod faults;
pub mod runtime;
pub mod store;

pub use config::SimConfig;
pub use faults::Fault;

/// Why the simulated cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on 127.0.0.1:{port}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the kubeconfig to {path}")]
    Kubeconfig {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A running simulated cluster. Dropping it without `shutdown` aborts its tasks.
pub struct SimCluster {
    url: String,
}

impl SimCluster {
    /// Starts the API server and controllers; returns once the server accepts connections.
    pub async fn start(config: SimConfig) -> Result<SimCluster, SimError> {
        let _ = config;
        todo!("sim-api: start the server")
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A kubeconfig (YAML) pointing at this cluster, context `hybrid-e2e-sim`.
    pub fn kubeconfig_yaml(&self) -> String {
        todo!("sim-api")
    }

    /// Writes `kubeconfig_yaml()` to `path`, creating parent folders.
    pub fn write_kubeconfig(&self, path: &std::path::Path) -> Result<(), SimError> {
        let _ = path;
        todo!("sim-api")
    }

    /// A `kube::Client` for this cluster (the same way a user's kubeconfig would make one).
    pub async fn client(&self) -> kube::Client {
        todo!("sim-api")
    }

    /// Stops the server and all controllers.
    pub async fn shutdown(self) {}
}
