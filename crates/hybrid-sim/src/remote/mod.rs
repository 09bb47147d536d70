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
/// How long the node-lifecycle controller may take to lift the taint new nodes get.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The taint the `TaintNodesByCondition` admission puts on every new Node, lifted by
/// kube-controller-manager once it has seen the node Ready (it looks every 5 s).
const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";

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
    /// New nodes kept their not-ready taint (is kube-controller-manager running?).
    #[error(
        "nodes {nodes} still carry the {NOT_READY_TAINT} taint after {seconds} s (the \
         controller-manager lifts it once it sees them Ready; is it running?)"
    )]
    Unsettled { nodes: String, seconds: u64 },
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
    if let Err(e) = settled(&store).await {
        for task in &tasks {
            task.abort();
        }
        return Err(e);
    }
    Ok(tasks)
}

/// Waits until no node carries the not-ready taint of a new node: until then the scheduler
/// refuses every pod (`4 node(s) had untolerated taint(s)`), as on a real cluster whose nodes
/// have just joined.
async fn settled(store: &Store) -> Result<(), AttachError> {
    let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
    loop {
        let tainted = tainted_nodes(store);
        if tainted.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(AttachError::Unsettled {
                nodes: tainted.join(", "),
                seconds: SETTLE_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The nodes with the not-ready taint.
fn tainted_nodes(store: &Store) -> Vec<String> {
    store
        .list("nodes", None)
        .0
        .iter()
        .filter(|node| {
            node["spec"]["taints"]
                .as_array()
                .is_some_and(|taints| taints.iter().any(|t| t["key"] == NOT_READY_TAINT))
        })
        .map(|node| crate::meta::name(node).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_nodes_with_the_not_ready_taint_are_unsettled() {
        let store = Store::new();
        for (name, taints) in [
            (
                "new",
                json!([{"key": NOT_READY_TAINT, "effect": "NoSchedule"}]),
            ),
            (
                "windows",
                json!([{"key": "os", "value": "windows", "effect": "NoSchedule"}]),
            ),
            ("plain", json!(null)),
        ] {
            store
                .create(
                    "nodes",
                    "",
                    json!({"metadata": {"name": name}, "spec": {"taints": taints}}),
                )
                .unwrap();
        }
        assert_eq!(tainted_nodes(&store), vec!["new".to_string()]);
    }
}
