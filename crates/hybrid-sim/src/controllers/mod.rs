//! The simulated cluster's controllers, as tokio tasks over the store's change feed: node
//! objects (`nodes`), scheduler, kubelet (one task per pod), Services and EndpointSlices,
//! storage provisioner, Deployments and Jobs, DaemonSets (embedded control plane only).

pub(crate) mod daemonsets;
pub(crate) mod events;
pub(crate) mod kubelet;
pub(crate) mod nodeports;
pub(crate) mod nodes;
pub(crate) mod scheduler;
pub(crate) mod serviceaccounts;
pub(crate) mod services;
pub(crate) mod storage;
pub(crate) mod workloads;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::task::JoinHandle;

use super::config::SimConfig;
use super::runtime::Runtime;
use super::store::{now_rfc3339, Store};

/// Creates the cluster's fixed objects (nodes, the `default` and `kubernetes` namespaces' content,
/// StorageClass) synchronously, then spawns the controllers. Must be called inside a tokio runtime.
/// The returned tasks are aborted when the cluster shuts down.
pub(crate) fn start(
    store: Arc<Store>,
    runtime: Arc<Runtime>,
    config: &SimConfig,
) -> Vec<JoinHandle<()>> {
    nodes::create_fixed(&store, config);
    // The system namespaces have had theirs since long before anyone connects.
    serviceaccounts::reconcile(&store);
    vec![
        tokio::spawn(serviceaccounts::run(store.clone(), config.clone())),
        tokio::spawn(scheduler::run(store.clone(), config.clone())),
        tokio::spawn(kubelet::run(runtime.clone())),
        tokio::spawn(services::run(runtime.clone())),
        tokio::spawn(storage::run(runtime.clone())),
        tokio::spawn(workloads::run(store.clone(), config.clone())),
        tokio::spawn(daemonsets::run(store.clone(), config.clone())),
    ]
}

/// The node side alone, under a real control plane (the store mirrors its API server, whose
/// scheduler, controllers and admission do the rest): kubelets, NodePort listeners and the
/// storage provisioner.
pub(crate) fn start_node_side(runtime: Arc<Runtime>) -> Vec<JoinHandle<()>> {
    let listeners = runtime.clone();
    vec![
        tokio::spawn(kubelet::run(runtime.clone())),
        tokio::spawn(storage::run(runtime)),
        tokio::spawn(async move {
            // The listeners live as long as this task.
            let _listeners = nodeports::spawn(listeners);
            std::future::pending::<()>().await
        }),
    ]
}

/// Runs `pass` every second and shortly after each change to one of `resources` (a burst of
/// changes coalesced into one pass, a lagging feed counted as a change), until the store closes.
pub(crate) async fn on_changes(store: &Store, resources: &[&str], mut pass: impl FnMut()) {
    let mut feed = store.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            change = feed.recv() => match change {
                Ok(c) if resources.contains(&c.key.resource.as_str()) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    while let Ok(_) | Err(TryRecvError::Lagged(_)) = feed.try_recv() {}
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {}
        }
        pass();
    }
}

/// A Kubernetes quantity in base units (`100m` → 0.1, `64Mi` → 67108864, `1e3` → 1000).
pub(crate) fn quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        _ => return None,
    };
    Some(n * mult)
}

/// The value at `keys`, turning every step that is not an object into one, so controllers can
/// write into objects users shaped oddly without panicking.
pub(crate) fn field<'a>(value: &'a mut Value, keys: &[&str]) -> &'a mut Value {
    let mut cur = value;
    for key in keys {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Value::Object(map) = cur else {
            unreachable!("made an object above")
        };
        cur = map.entry(key.to_string()).or_insert(Value::Null);
    }
    cur
}

/// Sets a condition in `status.conditions`, keeping `lastTransitionTime` when the status does
/// not change.
pub(crate) fn set_condition(
    obj: &mut Value,
    kind: &str,
    status: &str,
    reason: Option<&str>,
    message: Option<&str>,
) {
    let conds = field(obj, &["status", "conditions"]);
    if !conds.is_array() {
        *conds = json!([]);
    }
    let Some(conds) = conds.as_array_mut() else {
        return;
    };
    let old = conds.iter().position(|c| c["type"] == kind);
    let transition = match old {
        Some(i) if conds[i]["status"] == status => conds[i]["lastTransitionTime"].clone(),
        _ => json!(now_rfc3339()),
    };
    let mut cond = json!({"type": kind, "status": status, "lastProbeTime": null,
                          "lastTransitionTime": transition});
    if let Some(r) = reason {
        cond["reason"] = json!(r);
    }
    if let Some(m) = message {
        cond["message"] = json!(m);
    }
    match old {
        Some(i) => conds[i] = cond,
        None => conds.push(cond),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_makes_objects_on_the_way() {
        let mut v = json!({"status": "odd"});
        *field(&mut v, &["status", "phase"]) = json!("Running");
        assert_eq!(v, json!({"status": {"phase": "Running"}}));
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity("100m"), Some(0.1));
        assert_eq!(quantity("2"), Some(2.0));
        assert_eq!(quantity("64Mi"), Some(67108864.0));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert_eq!(quantity("12880736Ki"), Some(12880736.0 * 1024.0));
        assert_eq!(quantity("bogus"), None);
    }
}
