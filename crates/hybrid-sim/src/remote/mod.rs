//! The node side of the simulated cluster as a client of a real API server (kube-rs): the
//! store becomes a mirror of the server (`watch.rs` fills it, `write.rs` carries the
//! controllers' writes back), and `nodes.rs` registers the nodes and keeps their Leases fresh.
//! The controllers on top (kubelets, kube-proxy and DNS, NodePorts, the provisioner) are the
//! same code as in the embedded cluster; they cannot tell which one they run in.

mod nodes;
pub(crate) mod resources;
mod watch;
mod write;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::store::Store;

/// How long the first list of every mirrored resource may take.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the node side could not attach to the API server.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AttachError {
    /// Registering nodes or the cluster's add-on objects failed.
    #[error(transparent)]
    Setup(#[from] nodes::SetupError),
    /// A resource could not be listed in time.
    #[error("the API server did not list {resource} within {seconds} s")]
    Sync {
        resource: &'static str,
        seconds: u64,
    },
    /// The store was attached to a server already.
    #[error("the simulated nodes are attached to an API server already")]
    AlreadyAttached,
}

/// Registers the nodes, makes `store` a mirror of the server behind `client` and waits for the
/// first complete list of every mirrored resource. The returned tasks keep it so until aborted.
pub(crate) async fn attach(
    client: kube::Client,
    store: Arc<Store>,
    config: &SimConfig,
) -> Result<Vec<JoinHandle<()>>, AttachError> {
    nodes::register(&client, config).await?;
    let (forward, writes) = mpsc::unbounded_channel();
    if !store.forward_writes(forward) {
        return Err(AttachError::AlreadyAttached);
    }
    let mut tasks = write::spawn(client.clone(), writes);
    let mut synced = Vec::new();
    for plural in resources::MIRRORED {
        let (done, wait) = oneshot::channel();
        tasks.push(tokio::spawn(watch::mirror(
            client.clone(),
            store.clone(),
            plural,
            done,
        )));
        synced.push((*plural, wait));
    }
    let deadline = tokio::time::Instant::now() + SYNC_TIMEOUT;
    for (resource, wait) in synced {
        if !matches!(tokio::time::timeout_at(deadline, wait).await, Ok(Ok(()))) {
            for task in &tasks {
                task.abort();
            }
            return Err(AttachError::Sync {
                resource,
                seconds: SYNC_TIMEOUT.as_secs(),
            });
        }
    }
    tasks.push(tokio::spawn(nodes::heartbeat(client, config.clone())));
    Ok(tasks)
}
