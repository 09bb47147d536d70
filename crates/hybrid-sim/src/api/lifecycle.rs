//! Background cleanup the API server owes its clients: namespace termination (delete everything
//! in a `Terminating` namespace, pods through the graceful path, then the namespace) and
//! `ownerReferences` garbage collection (background propagation).

use std::collections::HashSet;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::delete::delete_object;
use super::registry::{ResourceDef, RESOURCES};
use super::ApiState;
use crate::meta;
use crate::store::ChangeKind;

/// How often the task looks even when nothing woke it (pods the kubelet is still terminating).
const PERIOD: Duration = Duration::from_millis(500);

/// Spawns the cleanup task; it runs until the cluster shuts down.
pub(crate) fn spawn(state: ApiState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut changes = state.store.subscribe();
        let mut ticker = tokio::time::interval(PERIOD);
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => break,
                _ = state.lifecycle.notified() => {}
                _ = ticker.tick() => {}
                change = changes.recv() => match change {
                    Ok(c) if c.kind == ChangeKind::Deleted || c.key.resource == "namespaces" => {}
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
            }
            sweep(&state);
        }
    })
}

/// One pass: terminate namespaces, then collect orphans.
pub(crate) fn sweep(state: &ApiState) {
    terminate_namespaces(state);
    collect_garbage(state);
}

fn namespaced() -> impl Iterator<Item = &'static ResourceDef> {
    RESOURCES.iter().filter(|r| r.namespaced)
}

fn terminate_namespaces(state: &ApiState) {
    let (namespaces, _) = state.store.list("namespaces", None);
    for ns in namespaces {
        if !meta::is_terminating(&ns) {
            continue;
        }
        let ns_name = meta::name(&ns);
        let mut remaining = 0;
        for def in namespaced() {
            let (items, _) = state.store.list(def.store_key(), Some(ns_name));
            for item in items {
                let name = meta::name(&item);
                if def.plural != "pods" {
                    // Finalizers do not hold up a namespace in the simulated cluster.
                    let _ = state.store.modify(def.store_key(), ns_name, name, |o| {
                        o["metadata"]
                            .as_object_mut()
                            .and_then(|m| m.remove("finalizers"))
                            .is_some()
                    });
                }
                if let Ok(super::delete::Deleted::Pending(_)) =
                    delete_object(state, def, ns_name, name, None)
                {
                    remaining += 1;
                }
            }
        }
        if remaining == 0 {
            let _ = state.store.remove("namespaces", "", ns_name);
            tracing::debug!(namespace = ns_name, "sim api: namespace terminated");
        }
    }
}

fn collect_garbage(state: &ApiState) {
    let mut all = Vec::new();
    let mut uids = HashSet::new();
    for def in RESOURCES {
        let (items, _) = state.store.list(def.store_key(), None);
        for item in items {
            if let Some(uid) = item["metadata"]["uid"].as_str() {
                uids.insert(uid.to_string());
            }
            all.push((def, item));
        }
    }
    for (def, item) in all {
        let Some(owners) = item["metadata"]["ownerReferences"].as_array() else {
            continue;
        };
        let orphaned = !owners.is_empty()
            && owners
                .iter()
                .all(|o| o["uid"].as_str().is_none_or(|uid| !uids.contains(uid)));
        if orphaned && !meta::is_terminating(&item) {
            let (ns, name) = (meta::namespace(&item), meta::name(&item));
            tracing::debug!(
                resource = def.plural,
                ns,
                name,
                "sim api: collecting orphan"
            );
            let _ = delete_object(state, def, ns, name, None);
        }
    }
}
