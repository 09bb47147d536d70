//! The simulated container runtime as the API server sees it: what `pods/proxy`, `pods/exec`
//! and `pods/log` reach. Implemented by the kubelet and workload model (see `kubelet.rs`,
//! `workload.rs`); this file is the contract between them and the API layer.

use std::sync::Arc;

use super::config::SimConfig;
use super::store::Store;

/// The answer of an HTTP request proxied to a port of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// The result of a command run in a container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: i32,
}

/// Why a runtime request could not be served (mapped to a Status by the API layer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    #[error("pods \"{0}\" not found")]
    PodNotFound(String),
    #[error("container {container} is not valid for pod {pod}")]
    NoSuchContainer { pod: String, container: String },
    #[error("a container name must be specified for pod {pod}, choose one of: [{choices}]")]
    ContainerRequired { pod: String, choices: String },
    #[error("container \"{container}\" in pod \"{pod}\" is not running")]
    NotRunning { pod: String, container: String },
    #[error("previous terminated container \"{container}\" in pod \"{pod}\" not found")]
    NoPrevious { pod: String, container: String },
    #[error("error trying to reach service: dial tcp {addr}: connect: connection refused")]
    Refused { addr: String },
}

/// Handle the API server holds to reach running containers.
pub struct Runtime {
    pub store: Arc<Store>,
    pub config: SimConfig,
}

impl Runtime {
    pub fn new(store: Arc<Store>, config: SimConfig) -> Self {
        Self { store, config }
    }

    /// Sends `GET path_and_query` to `port` of the pod (`pods/{pod}:{port}/proxy/...`).
    pub async fn proxy(
        &self,
        namespace: &str,
        pod: &str,
        port: u16,
        path_and_query: &str,
    ) -> Result<ProxyResponse, RuntimeError> {
        let _ = (namespace, port, path_and_query);
        Err(RuntimeError::PodNotFound(pod.to_string()))
    }

    /// Runs `command` in a container of the pod (`pods/{pod}/exec`).
    pub async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[String],
    ) -> Result<ExecOutput, RuntimeError> {
        let _ = (namespace, container, command);
        Err(RuntimeError::PodNotFound(pod.to_string()))
    }

    /// The log of a container (`pods/{pod}/log`), of its previous instance with `previous`.
    pub fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> Result<String, RuntimeError> {
        let _ = (namespace, container, previous);
        Err(RuntimeError::PodNotFound(pod.to_string()))
    }
}
