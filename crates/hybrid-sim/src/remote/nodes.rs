//! What the simulated nodes do at a real API server beyond pods: register their Node objects
//! (declaring `ExtendWebSocketsToKubelet`, so exec reaches them as WebSocket), renew their
//! Leases in `kube-node-lease` every 10 s and their Ready heartbeat every minute (else the
//! node-lifecycle controller taints them unreachable), write their CSINodes (the CSI driver
//! they register), and create what a cluster's add-ons
//! would: the `kube-dns` Service and the default StorageClass.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

use super::resources;

use crate::config::SimConfig;
use crate::controllers::nodes::{self as fixed, NodeSpec};
use crate::network;

/// Field manager of the simulated kubelets' writes.
const MANAGER: &str = "hybrid-sim-kubelet";
/// How often a kubelet renews its Lease (the real kubelet's default).
const LEASE_RENEW: Duration = Duration::from_secs(10);
/// `leaseDurationSeconds` of the Leases (the real kubelet's default).
const LEASE_SECONDS: i32 = 40;
/// Lease renewals between two Ready heartbeats in the Node's status.
const RENEWALS_PER_HEARTBEAT: u32 = 6;

/// Why the node side could not set itself up on the API server.
#[derive(Debug, thiserror::Error)]
#[error("cannot create {what} on the API server")]
pub(crate) struct SetupError {
    what: String,
    #[source]
    source: kube::Error,
}

/// The Node object a simulated kubelet registers: as in the embedded cluster, plus the node
/// features it declares.
fn registration(spec: &NodeSpec, config: &SimConfig) -> Value {
    let mut node = fixed::node_object(spec, config);
    node["status"]["declaredFeatures"] = json!(["ExtendWebSocketsToKubelet"]);
    node
}

/// Creates (or leaves alone, if there) each node, the `kube-dns` Service and the StorageClass.
/// Sent as raw JSON: `k8s-openapi`'s Node type predates `status.declaredFeatures`.
pub(crate) async fn register(client: &kube::Client, config: &SimConfig) -> Result<(), SetupError> {
    for spec in fixed::node_specs(config) {
        let what = format!("node {}", spec.name);
        create_unless_there(client, "nodes", "", registration(&spec, config), &what).await?;
        let what = format!("csinode {}", spec.name);
        let csi_node = fixed::csi_node_object(&spec, config);
        create_unless_there(client, "csinodes", "", csi_node, &what).await?;
    }
    let dns = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
        "spec": {"type": "ClusterIP", "clusterIP": network::DNS_SERVICE_IP,
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]},
    });
    let what = "service kube-system/kube-dns";
    create_unless_there(client, "services", "kube-system", dns, what).await?;
    if config.storage_class {
        let class = json!({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "standard",
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": fixed::PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": true,
        });
        create_unless_there(client, "storageclasses", "", class, "storageclass standard").await?;
    }
    Ok(())
}

async fn create_unless_there(
    client: &kube::Client,
    plural: &str,
    namespace: &str,
    object: Value,
    what: &str,
) -> Result<(), SetupError> {
    let error = |source| SetupError {
        what: what.to_string(),
        source,
    };
    let api = resources::api(client, plural, namespace)
        .map_err(|e| error(kube::Error::Service(Box::new(e))))?;
    let object: DynamicObject =
        serde_json::from_value(object).map_err(|e| error(kube::Error::SerdeError(e)))?;
    match api.create(&PostParams::default(), &object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(source) => Err(error(source)),
    }
}

/// `metav1.MicroTime` now.
fn micro_time_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Renews every node's Lease, and now and then its Ready heartbeat, until aborted.
pub(crate) async fn heartbeat(client: kube::Client, config: SimConfig) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let nodes: Api<Node> = Api::all(client);
    let specs = fixed::node_specs(&config);
    let apply = PatchParams::apply(MANAGER).force();
    let mut tick = tokio::time::interval(LEASE_RENEW);
    let mut renewals = 0u32;
    loop {
        tick.tick().await;
        for spec in &specs {
            let lease = json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": spec.name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": spec.name, "leaseDurationSeconds": LEASE_SECONDS,
                         "renewTime": micro_time_now()},
            });
            if let Err(e) = leases
                .patch(&spec.name, &apply, &Patch::Apply(&lease))
                .await
            {
                tracing::warn!(node = %spec.name, error = %e, "cannot renew the node's Lease");
            }
            if renewals % RENEWALS_PER_HEARTBEAT == 0 {
                let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                let status = json!({"status": {"conditions": [
                    {"type": "Ready", "lastHeartbeatTime": now}
                ]}});
                if let Err(e) = nodes
                    .patch_status(
                        &spec.name,
                        &PatchParams::default(),
                        &Patch::Strategic(&status),
                    )
                    .await
                {
                    tracing::warn!(node = %spec.name, error = %e, "cannot post the node's heartbeat");
                }
            }
        }
        renewals = renewals.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_nodes_declare_websocket_exec_and_parse_as_nodes() {
        let config = SimConfig::default();
        for spec in fixed::node_specs(&config) {
            let node = registration(&spec, &config);
            assert_eq!(
                node["status"]["declaredFeatures"],
                json!(["ExtendWebSocketsToKubelet"])
            );
            let typed: Node = serde_json::from_value(node).unwrap();
            assert_eq!(typed.metadata.name.as_deref(), Some(spec.name.as_str()));
        }
    }

    #[test]
    fn lease_times_have_microseconds() {
        let t = micro_time_now();
        assert!(t.ends_with('Z') && t.contains('.'), "{t}");
        assert_eq!(t.split('.').nth(1).map(str::len), Some(7), "{t}");
    }
}
