//! The store as a mirror of a real API server: watches put the server's objects in verbatim
//! (`apply`, `delete`, `retain`), and the controllers' own writes are applied locally at once
//! (so a controller reads what it wrote) and handed out as [`Forward`]s to be carried out on
//! the server. The server's copy, when it comes back through the watch, replaces the local one.
//!
//! Ordering rule: an object from the watch replaces the local one only if its
//! `resourceVersion` is newer, so a late event cannot undo a local write that is still on its
//! way; objects removed here are never brought back by a late event for the same uid.

use std::collections::HashSet;

use serde_json::Value;
use tokio::sync::mpsc;

use super::{meta_str, ChangeKind, ObjectKey, Store};

/// A write made to a mirror, to be carried out on the real API server.
#[derive(Debug, Clone)]
pub(crate) enum Forward {
    /// A new object (metadata as the controller wrote it; no uid yet).
    Create { key: ObjectKey, object: Value },
    /// An object changed from `before` to `after`.
    Update {
        key: ObjectKey,
        before: Value,
        after: Value,
    },
    /// An object removed for good (the last local state, with its uid).
    Remove { key: ObjectKey, object: Value },
}

impl Forward {
    /// The object the write is about.
    pub(crate) fn key(&self) -> &ObjectKey {
        match self {
            Forward::Create { key, .. }
            | Forward::Update { key, .. }
            | Forward::Remove { key, .. } => key,
        }
    }
}

/// The `resourceVersion` as a number (the real API server's are etcd revisions; a local
/// object not yet confirmed by the server has 0).
fn version(object: &Value) -> u64 {
    meta_str(object, "resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn key_of(resource: &str, object: &Value) -> Option<ObjectKey> {
    let name = meta_str(object, "name")?;
    let namespace = meta_str(object, "namespace").unwrap_or_default();
    Some(ObjectKey::new(resource, &namespace, &name))
}

impl Store {
    /// Makes this store a mirror: from now on its writes are also sent to `forward`.
    /// Returns `false` if it was a mirror already.
    pub(crate) fn forward_writes(&self, forward: mpsc::UnboundedSender<Forward>) -> bool {
        self.forward.set(forward).is_ok()
    }

    /// Whether this store mirrors a real API server.
    pub(crate) fn is_mirror(&self) -> bool {
        self.forward.get().is_some()
    }

    /// Puts the server's `object` of `resource` in, unless the local copy is as new or newer, or
    /// the object was removed here. Returns whether it changed the store.
    pub(crate) fn mirror_apply(&self, resource: &str, object: Value) -> bool {
        let Some(key) = key_of(resource, &object) else {
            return false;
        };
        let mut state = self.lock();
        if meta_str(&object, "uid").is_some_and(|uid| state.removed_uids.contains(&uid)) {
            return false;
        }
        let kind = match state.objects.get(&key) {
            Some(local) if version(local) >= version(&object) => return false,
            Some(_) => ChangeKind::Modified,
            None => ChangeKind::Added,
        };
        state.resource_version += 1;
        let rv = state.resource_version;
        state.objects.insert(key.clone(), object.clone());
        self.record(&mut state, kind, key, &object, rv);
        true
    }

    /// Takes out an object the server deleted (if the local one is the same object).
    pub(crate) fn mirror_delete(&self, resource: &str, object: &Value) {
        let Some(key) = key_of(resource, object) else {
            return;
        };
        let mut state = self.lock();
        let same = state
            .objects
            .get(&key)
            .is_some_and(|local| meta_str(local, "uid") == meta_str(object, "uid"));
        if !same {
            return;
        }
        if let Some(gone) = state.objects.remove(&key) {
            state.resource_version += 1;
            let rv = state.resource_version;
            self.record(&mut state, ChangeKind::Deleted, key, &gone, rv);
        }
    }

    /// After a full list from the server: takes out the confirmed objects of `resource` the list
    /// did not have (deleted while the watch was down). Local objects the server has not
    /// confirmed yet (version 0) stay.
    pub(crate) fn mirror_retain(&self, resource: &str, listed: &HashSet<ObjectKey>) {
        let mut state = self.lock();
        let stale: Vec<ObjectKey> = state
            .objects
            .iter()
            .filter(|(k, v)| k.resource == resource && !listed.contains(k) && version(v) > 0)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            if let Some(gone) = state.objects.remove(&key) {
                state.resource_version += 1;
                let rv = state.resource_version;
                self.record(&mut state, ChangeKind::Deleted, key, &gone, rv);
            }
        }
    }

    /// The key an object of `resource` would have here.
    pub(crate) fn mirror_key(resource: &str, object: &Value) -> Option<ObjectKey> {
        key_of(resource, object)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(rv: &str, phase: &str) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns", "uid": "u1", "resourceVersion": rv},
               "status": {"phase": phase}})
    }

    fn mirror() -> (Store, mpsc::UnboundedReceiver<Forward>) {
        let store = Store::new();
        let (tx, rx) = mpsc::unbounded_channel();
        assert!(store.forward_writes(tx));
        (store, rx)
    }

    #[test]
    fn a_local_write_survives_a_late_event_and_yields_to_a_newer_one() {
        let (store, mut rx) = mirror();
        assert!(store.mirror_apply("pods", pod("10", "Pending")));
        store
            .modify("pods", "ns", "a", |p| {
                p["status"]["phase"] = json!("Running");
                true
            })
            .unwrap();
        let Ok(Forward::Update { before, after, .. }) = rx.try_recv() else {
            panic!("the write is forwarded");
        };
        assert_eq!(before["status"]["phase"], "Pending");
        assert_eq!(after["status"]["phase"], "Running");
        assert_eq!(after["metadata"]["resourceVersion"], "10", "keeps its base");
        // The event for version 10 arrives late: the local write stays.
        assert!(!store.mirror_apply("pods", pod("10", "Pending")));
        assert_eq!(
            store.get("pods", "ns", "a").unwrap()["status"]["phase"],
            "Running"
        );
        // The server's next version replaces it.
        assert!(store.mirror_apply("pods", pod("11", "Running")));
        assert_eq!(
            store.get("pods", "ns", "a").unwrap()["metadata"]["resourceVersion"],
            "11"
        );
    }

    #[test]
    fn a_removed_object_is_not_brought_back_by_a_late_event() {
        let (store, mut rx) = mirror();
        store.mirror_apply("pods", pod("10", "Running"));
        store.remove("pods", "ns", "a").unwrap();
        assert!(matches!(rx.try_recv(), Ok(Forward::Remove { .. })));
        assert!(!store.mirror_apply("pods", pod("12", "Running")));
        assert!(store.get("pods", "ns", "a").is_none());
    }

    #[test]
    fn creates_are_forwarded_and_replaced_by_the_servers_copy() {
        let (store, mut rx) = mirror();
        let local = store
            .create(
                "events",
                "ns",
                json!({"metadata": {"name": "e"}, "count": 1}),
            )
            .unwrap();
        assert_eq!(local["metadata"]["resourceVersion"], "0");
        assert!(
            local["metadata"].get("uid").is_none(),
            "the server assigns it"
        );
        assert!(matches!(rx.try_recv(), Ok(Forward::Create { .. })));
        let server = json!({"metadata": {"name": "e", "namespace": "ns", "uid": "u", "resourceVersion": "7"}, "count": 1});
        assert!(store.mirror_apply("events", server));
    }

    #[test]
    fn retain_drops_what_a_relist_lacks_but_keeps_unconfirmed_objects() {
        let (store, _rx) = mirror();
        store.mirror_apply("pods", pod("10", "Running"));
        store
            .create("pods", "ns", json!({"metadata": {"name": "local"}}))
            .unwrap();
        store.mirror_retain("pods", &HashSet::new());
        assert!(store.get("pods", "ns", "a").is_none());
        assert!(store.get("pods", "ns", "local").is_some());
    }

    #[test]
    fn a_delete_of_another_uid_leaves_the_local_object() {
        let (store, _rx) = mirror();
        store.mirror_apply("pods", pod("10", "Running"));
        let mut other = pod("11", "Running");
        other["metadata"]["uid"] = json!("u2");
        store.mirror_delete("pods", &other);
        assert!(store.get("pods", "ns", "a").is_some());
        store.mirror_delete("pods", &pod("12", "Running"));
        assert!(store.get("pods", "ns", "a").is_none());
    }
}
