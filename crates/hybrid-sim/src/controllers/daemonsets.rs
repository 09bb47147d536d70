//! The DaemonSet controller of the embedded control plane: one pod per node that the
//! template's `nodeSelector` and required node affinity select and whose NoSchedule/NoExecute
//! taints it tolerates, created with `spec.nodeName` set (no scheduler involved), with the
//! tolerations the real controller adds to every daemon pod (`not-ready`, `unreachable`,
//! `unschedulable`, pressure taints). Pods on nodes that no longer fit, extra pods on a node,
//! and finished pods are deleted (a finished one is replaced on the next pass). Status:
//! `desiredNumberScheduled`, `currentNumberScheduled`, `numberReady`, `numberAvailable`,
//! `numberUnavailable`, `updatedNumberScheduled`, `numberMisscheduled`, `observedGeneration`.
//! Under `--control-plane real`, kube-controller-manager's own controller runs instead (this
//! one is started only by the embedded cluster).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{json, Value};

use super::events::{self, Source};
use super::scheduler::{matches_node, untolerated_taint};
use super::workloads::{create_pod, delete_pod, is_ready, owned_by, phase, write_status};
use crate::config::SimConfig;
use crate::meta;
use crate::store::Store;

/// The tolerations the real controller gives every daemon pod
/// (`pkg/controller/daemon/util.AddOrUpdateDaemonPodTolerations`).
fn daemon_tolerations() -> Vec<Value> {
    let exists =
        |key: &str, effect: &str| json!({"key": key, "operator": "Exists", "effect": effect});
    vec![
        exists("node.kubernetes.io/not-ready", "NoExecute"),
        exists("node.kubernetes.io/unreachable", "NoExecute"),
        exists("node.kubernetes.io/disk-pressure", "NoSchedule"),
        exists("node.kubernetes.io/memory-pressure", "NoSchedule"),
        exists("node.kubernetes.io/pid-pressure", "NoSchedule"),
        exists("node.kubernetes.io/unschedulable", "NoSchedule"),
    ]
}

/// `template` with the daemon tolerations added (those it lacks).
fn daemon_template(template: &Value) -> Value {
    let mut template = template.clone();
    let tolerations = super::field(&mut template, &["spec", "tolerations"]);
    if !tolerations.is_array() {
        *tolerations = json!([]);
    }
    if let Some(list) = tolerations.as_array_mut() {
        for toleration in daemon_tolerations() {
            if !list.contains(&toleration) {
                list.push(toleration);
            }
        }
    }
    template
}

/// The names of the nodes a pod from `template` belongs on, sorted.
fn wanted_nodes(template: &Value, nodes: &[Value]) -> Vec<String> {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
                     "spec": template["spec"].clone()});
    let Ok(pod) = serde_json::from_value::<Pod>(pod) else {
        return Vec::new();
    };
    let mut wanted: Vec<String> = nodes
        .iter()
        .filter_map(|raw| serde_json::from_value::<Node>(raw.clone()).ok())
        .filter(|node| matches_node(&pod, node) && untolerated_taint(&pod, node).is_none())
        .filter_map(|node| node.metadata.name)
        .collect();
    wanted.sort();
    wanted
}

fn event(store: &Store, ds: &Value, warning: bool, reason: &str, message: &str) {
    let source = Source::Controller("daemonset-controller");
    events::record(store, "DaemonSet", ds, source, warning, reason, message);
}

/// One pass of the DaemonSet controller.
pub(crate) fn reconcile(store: &Store, config: &SimConfig) {
    let (sets, _) = store.list("daemonsets", None);
    if sets.is_empty() {
        return;
    }
    let (nodes, _) = store.list("nodes", None);
    let (pods, _) = store.list("pods", None);
    for ds in &sets {
        if meta::is_terminating(ds) {
            continue;
        }
        reconcile_one(store, config, ds, &nodes, &pods);
    }
}

fn reconcile_one(store: &Store, config: &SimConfig, ds: &Value, nodes: &[Value], pods: &[Value]) {
    let ns = meta::namespace(ds);
    let uid = &ds["metadata"]["uid"];
    let template = daemon_template(&ds["spec"]["template"]);
    let wanted = wanted_nodes(&template, nodes);
    let mut by_node: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for pod in pods
        .iter()
        .filter(|p| meta::namespace(p) == ns && owned_by(p, uid) && !meta::is_terminating(p))
    {
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
        by_node.entry(node.to_string()).or_default().push(pod);
    }
    let owner = json!([{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": meta::name(ds),
                        "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
    let mut misscheduled = 0;
    for (node, mine) in &by_node {
        let belongs = wanted.contains(node);
        if !belongs {
            misscheduled += 1;
        }
        // Keep one running pod per wanted node; finished and surplus ones go.
        let mut kept = false;
        for pod in mine {
            let finished = matches!(phase(pod), "Succeeded" | "Failed");
            if belongs && !kept && !finished {
                kept = true;
                continue;
            }
            delete_pod(store, pod);
            let message = format!("Deleted pod: {}", meta::name(pod));
            event(store, ds, false, "SuccessfulDelete", &message);
        }
    }
    for node in &wanted {
        let running = by_node.get(node).is_some_and(|mine| {
            mine.iter()
                .any(|p| !matches!(phase(p), "Succeeded" | "Failed"))
        });
        if running {
            continue;
        }
        let mut placed = template.clone();
        *super::field(&mut placed, &["spec", "nodeName"]) = json!(node);
        let prefix = format!("{}-", meta::name(ds));
        match create_pod(
            store,
            config,
            ns,
            &prefix,
            &placed,
            owner.clone(),
            &json!({}),
        ) {
            Ok(Some(pod)) => {
                let message = format!("Created pod: {}", meta::name(&pod));
                event(store, ds, false, "SuccessfulCreate", &message);
            }
            Ok(None) => {}
            Err(refused) => {
                let message = format!("Error creating: {refused}");
                event(store, ds, true, "FailedCreate", &message);
                // As the real controller backs off: the next pass tries again.
                break;
            }
        }
    }
    let scheduled: Vec<&&Value> = by_node
        .iter()
        .filter(|(node, _)| wanted.contains(node))
        .filter_map(|(_, mine)| mine.first())
        .collect();
    let ready = scheduled.iter().filter(|p| is_ready(p)).count();
    write_status(
        store,
        "daemonsets",
        ds,
        json!({
            "desiredNumberScheduled": wanted.len(),
            "currentNumberScheduled": scheduled.len(),
            "updatedNumberScheduled": scheduled.len(),
            "numberReady": ready,
            "numberAvailable": ready,
            "numberUnavailable": wanted.len().saturating_sub(ready),
            "numberMisscheduled": misscheduled,
            "observedGeneration": ds["metadata"]["generation"],
        }),
    );
}

/// Runs the controller when DaemonSets, their pods or nodes change, and every second.
pub(crate) async fn run(store: std::sync::Arc<Store>, config: SimConfig) {
    super::on_changes(&store, &["daemonsets", "pods", "nodes"], || {
        reconcile(&store, &config)
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_nodes() -> Store {
        let store = Store::new();
        super::super::nodes::create_fixed(&store, &SimConfig::default());
        store
    }

    fn daemonset(store: &Store, os: &str, tolerations: Value) -> Value {
        let ds = json!({"metadata": {"name": "pull"}, "spec": {
            "selector": {"matchLabels": {"app": "pull"}},
            "template": {"metadata": {"labels": {"app": "pull"}}, "spec": {
                "nodeSelector": {"kubernetes.io/os": os},
                "tolerations": tolerations,
                "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10.2"}]}}}});
        store.create("daemonsets", "ns", ds).unwrap()
    }

    fn nodes_of_pods(store: &Store) -> Vec<String> {
        let (pods, _) = store.list("pods", Some("ns"));
        let mut nodes: Vec<String> = pods
            .iter()
            .filter(|p| !meta::is_terminating(p))
            .map(|p| {
                p["spec"]["nodeName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        nodes.sort();
        nodes
    }

    #[test]
    fn one_pod_per_selected_node_once_with_node_name_and_status() {
        let store = store_with_nodes();
        daemonset(&store, "linux", json!([]));
        reconcile(&store, &SimConfig::default());
        reconcile(&store, &SimConfig::default());
        assert_eq!(nodes_of_pods(&store), ["linux-node-1", "linux-node-2"]);
        let (pods, _) = store.list("pods", Some("ns"));
        assert!(pods.iter().all(|p| meta::name(p).starts_with("pull-")));
        assert_eq!(
            pods[0]["metadata"]["ownerReferences"][0]["kind"],
            "DaemonSet"
        );
        let tolerations = pods[0]["spec"]["tolerations"].to_string();
        assert!(
            tolerations.contains("node.kubernetes.io/not-ready"),
            "{tolerations}"
        );
        let ds = store.get("daemonsets", "ns", "pull").unwrap();
        assert_eq!(ds["status"]["desiredNumberScheduled"], 2);
        assert_eq!(ds["status"]["currentNumberScheduled"], 2);
        assert_eq!(ds["status"]["numberReady"], 0);
        assert_eq!(ds["status"]["observedGeneration"], 1);
    }

    #[test]
    fn tainted_nodes_get_pods_only_when_tolerated() {
        let store = store_with_nodes();
        daemonset(&store, "windows", json!([]));
        reconcile(&store, &SimConfig::default());
        assert!(nodes_of_pods(&store).is_empty(), "os=windows:NoSchedule");
        let ds = store.get("daemonsets", "ns", "pull").unwrap();
        assert_eq!(ds["status"]["desiredNumberScheduled"], 0);

        store.remove("daemonsets", "ns", "pull").unwrap();
        let tolerate = json!([{"key": "os", "operator": "Equal", "value": "windows",
                               "effect": "NoSchedule"}]);
        daemonset(&store, "windows", tolerate);
        reconcile(&store, &SimConfig::default());
        assert_eq!(nodes_of_pods(&store), ["windows-node-1", "windows-node-2"]);
    }

    #[test]
    fn pods_on_nodes_that_no_longer_fit_are_deleted_and_finished_ones_replaced() {
        let store = store_with_nodes();
        daemonset(&store, "linux", json!([]));
        reconcile(&store, &SimConfig::default());
        let (pods, _) = store.list("pods", Some("ns"));
        let first = meta::name(&pods[0]).to_string();
        store
            .modify("pods", "ns", &first, |p| {
                p["status"]["phase"] = json!("Failed");
                true
            })
            .unwrap();
        store
            .modify("daemonsets", "ns", "pull", |d| {
                d["spec"]["template"]["spec"]["nodeSelector"] =
                    json!({"kubernetes.io/hostname": "linux-node-2"});
                true
            })
            .unwrap();
        reconcile(&store, &SimConfig::default());
        reconcile(&store, &SimConfig::default());
        assert_eq!(nodes_of_pods(&store), ["linux-node-2"]);
        let ds = store.get("daemonsets", "ns", "pull").unwrap();
        assert_eq!(ds["status"]["desiredNumberScheduled"], 1);
    }
}
