//! The scheduler: binds pods without `spec.nodeName` to a node that passes the filters real
//! kube-scheduler runs (unschedulable, taints/tolerations, node selector and required node
//! affinity, CPU/memory/pod count), spreading pods over the fewest-loaded nodes. A pod that
//! fits nowhere gets `PodScheduled=False/Unschedulable` with the real scheduler's message and a
//! `FailedScheduling` event. Retried when pods, nodes or claims change, and every second.
//!
//! Under `Quirk::WindowsScaleUp` ([`WindowsPool`]) the Windows pool is full and autoscaled:
//! a pod the scheduler would place on a Windows node stays Unschedulable, its Windows nodes
//! counted `Insufficient cpu`, with a `TriggeredScaleUp` event from `cluster-autoscaler`, until
//! its node "joins" [`WINDOWS_NODE_JOINS_AFTER`] (scaled) after the scheduler first held it;
//! then it is released onto the existing Windows nodes (no node object is added). A Windows pod
//! that would not fit even an empty Windows node gets `NotTriggerScaleUp`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, Pod, Taint, Toleration};
use serde_json::{json, Value};

use super::events::{self, Source};
use super::{quantity, set_condition};
use crate::config::SimConfig;
use crate::meta;
use crate::quirks::Quirk;
use crate::store::Store;

/// Under `Quirk::WindowsScaleUp`, how long after the scheduler first holds a Windows pod its
/// node joins (before `Fault::Slow`'s scaling).
pub(crate) const WINDOWS_NODE_JOINS_AFTER: Duration = Duration::from_secs(2);

/// The autoscaled Windows node group's name and maximum size in the quirk's events.
const WINDOWS_POOL: &str = "windows-pool";
const WINDOWS_POOL_MAX: usize = 10;

/// `Quirk::WindowsScaleUp`: the full Windows pool, and the Windows pods waiting for a node.
#[derive(Debug)]
pub(crate) struct WindowsPool {
    /// How long a held pod waits for its node.
    joins_after: Duration,
    /// When the scheduler first held each pod (by UID).
    held_since: HashMap<String, Instant>,
}

impl WindowsPool {
    /// The pool of a cluster with the quirk, or `None`.
    pub(crate) fn of(config: &SimConfig) -> Option<Self> {
        config
            .has_quirk(Quirk::WindowsScaleUp)
            .then(|| WindowsPool {
                joins_after: config.delay(WINDOWS_NODE_JOINS_AFTER),
                held_since: HashMap::new(),
            })
    }

    /// Whether the pod still waits for its node, and whether it was held just now (first).
    fn hold(&mut self, uid: &str, now: Instant) -> (bool, bool) {
        let mut first = false;
        let since = *self.held_since.entry(uid.to_string()).or_insert_with(|| {
            first = true;
            now
        });
        (now.duration_since(since) < self.joins_after, first)
    }
}

fn is_windows(node: &Node) -> bool {
    node.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("kubernetes.io/os"))
        .is_some_and(|os| os == "windows")
}

/// Why a node cannot take a pod (the wording of the real scheduler).
fn taint_reason(t: &Taint) -> String {
    format!(
        "node(s) had untolerated taint {{{}: {}}}",
        t.key,
        t.value.as_deref().unwrap_or("")
    )
}

const AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";

pub(crate) fn tolerates(tol: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = tol.effect.as_deref() {
        if !effect.is_empty() && effect != taint.effect {
            return false;
        }
    }
    let key = tol.key.as_deref().unwrap_or("");
    match tol.operator.as_deref().unwrap_or("Equal") {
        "Exists" => key.is_empty() || key == taint.key,
        _ => {
            key == taint.key
                && tol.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
    }
}

fn requirement_matches(req: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&req.key);
    let values = req.values.as_deref().unwrap_or(&[]);
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => !value.is_some_and(|v| values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if req.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// `nodeSelector` and required node affinity.
pub(crate) fn matches_node(pod: &Pod, node: &Node) -> bool {
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    if let Some(sel) = &spec.node_selector {
        if sel.iter().any(|(k, v)| labels.get(k) != Some(v)) {
            return false;
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    if let Some(required) = required {
        let node_name = node.metadata.name.clone().unwrap_or_default();
        let any = required.node_selector_terms.iter().any(|term| {
            let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
            let fields = term.match_fields.as_deref().unwrap_or(&[]);
            if exprs.is_empty() && fields.is_empty() {
                return false;
            }
            let field_labels: BTreeMap<String, String> =
                [("metadata.name".to_string(), node_name.clone())].into();
            exprs.iter().all(|r| requirement_matches(r, labels))
                && fields.iter().all(|r| requirement_matches(r, &field_labels))
        });
        if !any {
            return false;
        }
    }
    true
}

/// The first taint (NoSchedule/NoExecute) the pod does not tolerate.
pub(crate) fn untolerated_taint<'a>(pod: &Pod, node: &'a Node) -> Option<&'a Taint> {
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[]);
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[])
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
}

/// CPU (cores) and memory (bytes) a pod requests: app containers summed, init containers' max.
pub(crate) fn pod_requests(pod: &Pod) -> (f64, f64) {
    let Some(spec) = pod.spec.as_ref() else {
        return (0.0, 0.0);
    };
    let one = |c: &k8s_openapi::api::core::v1::Container, r: &str| {
        let res = c.resources.as_ref();
        res.and_then(|r| r.requests.as_ref())
            .and_then(|m| m.get(r))
            .or_else(|| res.and_then(|x| x.limits.as_ref()).and_then(|m| m.get(r)))
            .and_then(|q| quantity(&q.0))
            .unwrap_or(0.0)
    };
    let mut out = (0.0, 0.0);
    for c in &spec.containers {
        out.0 += one(c, "cpu");
        out.1 += one(c, "memory");
    }
    for c in spec.init_containers.iter().flatten() {
        out.0 = out.0.max(one(c, "cpu"));
        out.1 = out.1.max(one(c, "memory"));
    }
    out
}

fn allocatable(node: &Node, r: &str) -> f64 {
    node.status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .and_then(|a| a.get(r))
        .and_then(|q| quantity(&q.0))
        .unwrap_or(0.0)
}

/// What bound, unfinished pods use on a node.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Usage {
    pub(crate) cpu: f64,
    pub(crate) memory: f64,
    pub(crate) pods: usize,
}

/// Why the pod cannot go to this node, or `None` if it can.
pub(crate) fn filter(pod: &Pod, node: &Node, used: Usage) -> Option<String> {
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        return Some("node(s) were unschedulable".into());
    }
    if let Some(t) = untolerated_taint(pod, node) {
        return Some(taint_reason(t));
    }
    if !matches_node(pod, node) {
        return Some(AFFINITY.into());
    }
    if used.pods as f64 + 1.0 > allocatable(node, "pods") {
        return Some("Too many pods".into());
    }
    let (cpu, memory) = pod_requests(pod);
    if cpu > 0.0 && used.cpu + cpu > allocatable(node, "cpu") + 1e-9 {
        return Some("Insufficient cpu".into());
    }
    if memory > 0.0 && used.memory + memory > allocatable(node, "memory") {
        return Some("Insufficient memory".into());
    }
    None
}

/// The real scheduler's message for a pod no node accepts.
pub(crate) fn unschedulable_message(total: usize, reasons: &[String]) -> String {
    if total == 0 {
        return "no nodes available to schedule pods".into();
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reasons {
        *counts.entry(r).or_default() += 1;
    }
    let mut parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    format!(
        "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling.",
        parts.join(", ")
    )
}

/// A problem with the pod's claims that keeps it off every node.
fn claim_problem(store: &Store, pod: &Pod, ns: &str) -> Option<String> {
    let volumes = pod.spec.as_ref()?.volumes.as_ref()?;
    for v in volumes {
        let Some(pvc) = &v.persistent_volume_claim else {
            continue;
        };
        match store.get("persistentvolumeclaims", ns, &pvc.claim_name) {
            None => {
                return Some(format!(
                    "persistentvolumeclaim \"{}\" not found",
                    pvc.claim_name
                ))
            }
            Some(c) if c["status"]["phase"] != "Bound" => {
                return Some("pod has unbound immediate PersistentVolumeClaims".into())
            }
            Some(_) => {}
        }
    }
    None
}

fn is_finished(pod: &Value) -> bool {
    matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    )
}

/// One scheduling pass over every pending pod, without quirks.
#[cfg(test)]
pub(crate) fn schedule_pending(store: &Store) {
    schedule_pass(store, None);
}

/// One scheduling pass over every pending pod, holding Windows pods while `pool` (the quirk
/// `WindowsScaleUp`) says their node has not joined yet.
pub(crate) fn schedule_pass(store: &Store, mut pool: Option<&mut WindowsPool>) {
    let (nodes_raw, _) = store.list("nodes", None);
    let nodes: Vec<Node> = nodes_raw
        .into_iter()
        .filter_map(|n| serde_json::from_value(n).ok())
        .collect();
    let (pods, _) = store.list("pods", None);
    let mut usage: HashMap<String, Usage> = HashMap::new();
    let mut pending = Vec::new();
    for raw in pods {
        let node = raw["spec"]["nodeName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if node.is_empty() {
            if !meta::is_terminating(&raw) && !is_finished(&raw) {
                pending.push(raw);
            }
            continue;
        }
        if is_finished(&raw) {
            continue;
        }
        if let Ok(pod) = serde_json::from_value::<Pod>(raw) {
            let (cpu, memory) = pod_requests(&pod);
            let u = usage.entry(node).or_default();
            u.cpu += cpu;
            u.memory += memory;
            u.pods += 1;
        }
    }
    pending.sort_by(|a, b| {
        a["metadata"]["creationTimestamp"]
            .as_str()
            .cmp(&b["metadata"]["creationTimestamp"].as_str())
    });
    for raw in pending {
        let ns = meta::namespace(&raw).to_string();
        let name = meta::name(&raw).to_string();
        let pod: Pod = match serde_json::from_value(raw.clone()) {
            Ok(p) => p,
            Err(e) => {
                mark_unschedulable(store, &raw, &ns, &name, &format!("invalid pod: {e}"));
                continue;
            }
        };
        if let Some(problem) = claim_problem(store, &pod, &ns) {
            let total = nodes.len();
            let msg = format!(
                "0/{total} nodes are available: {problem}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
            );
            mark_unschedulable(store, &raw, &ns, &name, &msg);
            continue;
        }
        let mut reasons = Vec::new();
        let mut fits: Vec<bool> = Vec::new();
        let mut best: Option<(&Node, usize)> = None;
        for node in &nodes {
            let node_name = node.metadata.name.clone().unwrap_or_default();
            let used = usage.get(&node_name).copied().unwrap_or_default();
            match filter(&pod, node, used) {
                Some(r) => {
                    reasons.push(r);
                    fits.push(false);
                }
                None => {
                    reasons.push(String::new());
                    fits.push(true);
                    if best.is_none_or(|(_, n)| used.pods < n) {
                        best = Some((node, used.pods));
                    }
                }
            }
        }
        let uid = meta::uid(&raw).to_string();
        // Only a pod that nothing but Windows nodes would take waits for the Windows pool.
        let windows_only = nodes
            .iter()
            .zip(&fits)
            .all(|(n, fit)| !fit || is_windows(n));
        if let (Some(pool), true, Some(_)) = (pool.as_deref_mut(), windows_only, best) {
            let (waits, first) = pool.hold(&uid, Instant::now());
            if waits {
                // The pool is full: every Windows node that would take the pod has no room.
                let full: Vec<String> = reasons
                    .iter()
                    .zip(&fits)
                    .map(|(r, fit)| {
                        if *fit {
                            "Insufficient cpu".into()
                        } else {
                            r.clone()
                        }
                    })
                    .collect();
                let msg = unschedulable_message(nodes.len(), &full);
                let held = mark_unschedulable(store, &raw, &ns, &name, &msg);
                if let (Some(held), true) = (held, first) {
                    let windows = nodes.iter().filter(|n| is_windows(n)).count();
                    events::record(
                        store,
                        "Pod",
                        &held,
                        Source::Controller("cluster-autoscaler"),
                        false,
                        "TriggeredScaleUp",
                        &format!(
                            "pod triggered scale-up: [{{{WINDOWS_POOL} {windows}->{} (max: {WINDOWS_POOL_MAX})}}]",
                            windows + 1
                        ),
                    );
                }
                continue;
            }
        }
        let reasons: Vec<String> = reasons.into_iter().filter(|r| !r.is_empty()).collect();
        match best {
            Some((node, _)) => {
                if let Some(pool) = pool.as_deref_mut() {
                    pool.held_since.remove(&uid);
                }
                let node_name = node.metadata.name.clone().unwrap_or_default();
                if bind(store, &raw, &ns, &name, &node_name) {
                    let (cpu, memory) = pod_requests(&pod);
                    let u = usage.entry(node_name).or_default();
                    u.cpu += cpu;
                    u.memory += memory;
                    u.pods += 1;
                }
            }
            None => {
                let msg = unschedulable_message(nodes.len(), &reasons);
                let changed = mark_unschedulable(store, &raw, &ns, &name, &msg);
                if let (Some(_), Some(pod_now)) = (pool.as_deref(), changed) {
                    // The autoscaler's simulation: would an empty Windows node take it?
                    let too_big = nodes
                        .iter()
                        .filter(|n| is_windows(n) && untolerated_taint(&pod, n).is_none())
                        .filter(|n| matches_node(&pod, n))
                        .find_map(|n| filter(&pod, n, Usage::default()));
                    if let Some(why) = too_big {
                        events::record(
                            store,
                            "Pod",
                            &pod_now,
                            Source::Controller("cluster-autoscaler"),
                            false,
                            "NotTriggerScaleUp",
                            &format!("pod didn't trigger scale-up: 1 {why}"),
                        );
                    }
                }
            }
        }
    }
}

fn bind(store: &Store, raw: &Value, ns: &str, name: &str, node: &str) -> bool {
    let uid = raw["metadata"]["uid"].clone();
    let result = store.modify("pods", ns, name, |pod| {
        if pod["metadata"]["uid"] != uid
            || meta::is_terminating(pod)
            || pod["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
        {
            return false;
        }
        *super::field(pod, &["spec", "nodeName"]) = json!(node);
        if pod["status"]["phase"].is_null() {
            *super::field(pod, &["status", "phase"]) = json!("Pending");
        }
        set_condition(pod, "PodScheduled", "True", None, None);
        true
    });
    match result {
        Ok(pod) if pod["spec"]["nodeName"] == node => {
            events::record(
                store,
                "Pod",
                &pod,
                Source::Scheduler,
                false,
                "Scheduled",
                &format!("Successfully assigned {ns}/{name} to {node}"),
            );
            true
        }
        _ => false,
    }
}

/// Sets `PodScheduled=False/Unschedulable` with `message` and records `FailedScheduling`;
/// returns the pod when its condition changed (a new message).
fn mark_unschedulable(
    store: &Store,
    raw: &Value,
    ns: &str,
    name: &str,
    message: &str,
) -> Option<Value> {
    let uid = raw["metadata"]["uid"].clone();
    let mut changed = false;
    let result = store.modify("pods", ns, name, |pod| {
        if pod["metadata"]["uid"] != uid {
            return false;
        }
        let same = pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "PodScheduled" && c["message"] == message);
        if same {
            return false;
        }
        if pod["status"]["phase"].is_null() {
            *super::field(pod, &["status", "phase"]) = json!("Pending");
        }
        set_condition(
            pod,
            "PodScheduled",
            "False",
            Some("Unschedulable"),
            Some(message),
        );
        changed = true;
        true
    });
    match (result, changed) {
        (Ok(pod), true) => {
            events::record(
                store,
                "Pod",
                &pod,
                Source::Scheduler,
                true,
                "FailedScheduling",
                message,
            );
            Some(pod)
        }
        _ => None,
    }
}

/// Runs scheduling passes when pods, nodes or claims change, and every second.
pub(crate) async fn run(store: Arc<Store>, config: SimConfig) {
    let mut pool = WindowsPool::of(&config);
    schedule_pass(&store, pool.as_mut());
    let watched = ["pods", "nodes", "persistentvolumeclaims"];
    super::on_changes(&store, &watched, || schedule_pass(&store, pool.as_mut())).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;
    use crate::controllers::nodes;

    fn cluster() -> Store {
        let store = Store::new();
        nodes::create_fixed(&store, &SimConfig::default());
        store
    }

    fn pod(store: &Store, name: &str, spec: Value) -> Value {
        let mut spec = spec;
        spec["containers"] = json!([{"name": "c", "image": "registry.k8s.io/pause:3.10"}]);
        store
            .create(
                "pods",
                "t",
                json!({"metadata": {"name": name}, "spec": spec}),
            )
            .unwrap()
    }

    #[test]
    fn binds_by_os_and_spreads_over_nodes() {
        let store = cluster();
        pod(
            &store,
            "a",
            json!({"nodeSelector": {"kubernetes.io/os": "linux"}}),
        );
        pod(
            &store,
            "b",
            json!({"nodeSelector": {"kubernetes.io/os": "linux"}}),
        );
        pod(
            &store,
            "w",
            json!({"nodeSelector": {"kubernetes.io/os": "windows"},
                   "tolerations": [{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}]}),
        );
        schedule_pending(&store);
        let node = |n: &str| store.get("pods", "t", n).unwrap()["spec"]["nodeName"].clone();
        assert_ne!(node("a"), node("b"));
        assert!(node("a").as_str().unwrap().starts_with("linux-"));
        assert!(node("w").as_str().unwrap().starts_with("windows-"));
        let (events, _) = store.list("events", Some("t"));
        assert!(events.iter().any(|e| e["reason"] == "Scheduled"));
    }

    #[test]
    fn untolerated_windows_pod_gets_the_real_message() {
        let store = cluster();
        pod(
            &store,
            "w",
            json!({"nodeSelector": {"kubernetes.io/os": "windows"}}),
        );
        schedule_pending(&store);
        let p = store.get("pods", "t", "w").unwrap();
        assert!(p["spec"]["nodeName"].is_null());
        let cond = &p["status"]["conditions"][0];
        assert_eq!(cond["reason"], "Unschedulable");
        assert_eq!(
            cond["message"],
            "0/4 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, 2 node(s) had untolerated taint {os: windows}. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
        );
        let (events, _) = store.list("events", Some("t"));
        assert!(events
            .iter()
            .any(|e| e["reason"] == "FailedScheduling" && e["type"] == "Warning"));
    }

    #[test]
    fn a_tainted_linux_pool_takes_only_pods_that_tolerate_its_taint() {
        let store = Store::new();
        let mut config = SimConfig::default();
        config.quirks.insert(crate::quirks::Quirk::TaintedLinuxPool);
        nodes::create_fixed(&store, &config);
        let off_the_first = |tolerations: Value| {
            json!({"nodeSelector": {"kubernetes.io/os": "linux"},
                   "tolerations": tolerations,
                   "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                       "nodeSelectorTerms": [{"matchFields": [
                           {"key": "metadata.name", "operator": "NotIn", "values": ["linux-node-1"]}]}]}}}})
        };
        pod(&store, "plain", off_the_first(json!([])));
        pod(
            &store,
            "tolerant",
            off_the_first(
                json!([{"key": "CriticalAddonsOnly", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]),
            ),
        );
        pod(
            &store,
            "any",
            json!({"nodeSelector": {"kubernetes.io/os": "linux"}}),
        );
        schedule_pending(&store);
        let get = |n: &str| store.get("pods", "t", n).unwrap();
        assert_eq!(get("tolerant")["spec"]["nodeName"], "linux-node-2");
        assert_eq!(get("any")["spec"]["nodeName"], "linux-node-1");
        let plain = get("plain");
        assert!(plain["spec"]["nodeName"].is_null());
        assert_eq!(
            plain["status"]["conditions"][0]["message"],
            "0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {CriticalAddonsOnly: true}, 2 node(s) had untolerated taint {os: windows}. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn affinity_operators_tolerate_all_and_resources() {
        let store = cluster();
        pod(
            &store,
            "aff",
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/os", "operator": "NotIn", "values": ["linux"]},
                    {"key": "node.kubernetes.io/windows-build", "operator": "Exists"}]}]}}},
                   "tolerations": [{"operator": "Exists"}]}),
        );
        let mut big = json!({"nodeSelector": {"kubernetes.io/os": "linux"}});
        big["containers"] = json!([]);
        store
            .create(
                "pods",
                "t",
                json!({"metadata": {"name": "big"}, "spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "8", "memory": "1Gi"}}}]}}),
            )
            .unwrap();
        schedule_pending(&store);
        let aff = store.get("pods", "t", "aff").unwrap();
        assert!(aff["spec"]["nodeName"]
            .as_str()
            .unwrap()
            .starts_with("windows-"));
        let big = store.get("pods", "t", "big").unwrap();
        let msg = big["status"]["conditions"][0]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(msg.contains("2 Insufficient cpu"), "{msg}");
    }

    #[test]
    fn a_full_windows_pool_holds_windows_pods_until_their_node_joins() {
        let store = cluster();
        let mut config = SimConfig::default();
        config.quirks.insert(Quirk::WindowsScaleUp);
        let mut pool = WindowsPool::of(&config).unwrap();
        assert_eq!(pool.joins_after, WINDOWS_NODE_JOINS_AFTER);
        assert!(WindowsPool::of(&SimConfig::default()).is_none());
        let windows = json!({"nodeSelector": {"kubernetes.io/os": "windows"},
            "tolerations": [{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}]});
        pod(&store, "w", windows.clone());
        pod(
            &store,
            "l",
            json!({"nodeSelector": {"kubernetes.io/os": "linux"}}),
        );
        let mut huge = windows.clone();
        huge["containers"] =
            json!([{"name": "c", "image": "x", "resources": {"limits": {"memory": "512Gi"}}}]);
        store
            .create(
                "pods",
                "t",
                json!({"metadata": {"name": "huge"}, "spec": huge}),
            )
            .unwrap();
        schedule_pass(&store, Some(&mut pool));
        schedule_pass(&store, Some(&mut pool));
        let get = |n: &str| store.get("pods", "t", n).unwrap();
        assert!(get("l")["spec"]["nodeName"]
            .as_str()
            .unwrap()
            .starts_with("linux-"));
        let held = get("w");
        assert!(held["spec"]["nodeName"].is_null());
        assert_eq!(held["status"]["conditions"][0]["reason"], "Unschedulable");
        assert_eq!(
            held["status"]["conditions"][0]["message"],
            "0/4 nodes are available: 2 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
        );
        let (events, _) = store.list("events", Some("t"));
        let about = |pod: &str, reason: &str| {
            events
                .iter()
                .filter(|e| e["involvedObject"]["name"] == pod && e["reason"] == reason)
                .cloned()
                .collect::<Vec<_>>()
        };
        let scale_up = about("w", "TriggeredScaleUp");
        assert_eq!(scale_up.len(), 1);
        assert_eq!(scale_up[0]["count"], 1, "one event per pod, not per pass");
        assert_eq!(scale_up[0]["type"], "Normal");
        assert_eq!(scale_up[0]["source"]["component"], "cluster-autoscaler");
        assert_eq!(
            scale_up[0]["message"],
            "pod triggered scale-up: [{windows-pool 2->3 (max: 10)}]"
        );
        assert!(about("l", "TriggeredScaleUp").is_empty());
        // A pod no new node would fit is told so, and gets no scale-up.
        let declined = about("huge", "NotTriggerScaleUp");
        assert_eq!(declined.len(), 1);
        assert_eq!(
            declined[0]["message"],
            "pod didn't trigger scale-up: 1 Insufficient memory"
        );
        assert!(about("huge", "TriggeredScaleUp").is_empty());
        // Its node joins: the pod lands on a Windows node.
        for since in pool.held_since.values_mut() {
            *since -= WINDOWS_NODE_JOINS_AFTER;
        }
        schedule_pass(&store, Some(&mut pool));
        assert!(get("w")["spec"]["nodeName"]
            .as_str()
            .unwrap()
            .starts_with("windows-"));
        assert!(pool.held_since.is_empty());
    }
}
