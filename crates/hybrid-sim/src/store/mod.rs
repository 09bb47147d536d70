//! In-memory object store of the simulated API server: JSON objects keyed by resource, namespace
//! and name, one global `resourceVersion` counter, and a change feed that watches replay and follow.
//!
//! The store is deliberately dumb: it knows nothing about Kubernetes semantics beyond metadata
//! bookkeeping (uid, creationTimestamp, resourceVersion, generateName, generation). Validation,
//! graceful deletion and namespace termination live in the API layer and the controllers.
//!
//! Under a real control plane the store is a *mirror* (`mirror.rs`): watches of the real API
//! server fill it, and the controllers' writes are applied locally and forwarded there.

mod mirror;

pub(crate) use mirror::Forward;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

/// How many past changes are kept for watches that resume from an older `resourceVersion`.
/// A watch that asks for something older gets 410 Gone, as from a real API server.
const HISTORY_LEN: usize = 20_000;

/// Identifies one object: resource plural (e.g. `pods`, `deployments`), namespace (`""` for
/// cluster-scoped objects) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjectKey {
    pub(crate) resource: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl ObjectKey {
    pub(crate) fn new(resource: &str, namespace: &str, name: &str) -> Self {
        Self {
            resource: resource.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// The error for an object that is not there.
    fn not_found(&self) -> StoreError {
        StoreError::NotFound {
            resource: self.resource.clone(),
            name: self.name.clone(),
        }
    }
}

/// What happened to an object, as a watch reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    /// The watch event `type` for this change.
    pub(crate) fn as_watch_type(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

/// One change to the store, in `resourceVersion` order.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) kind: ChangeKind,
    pub(crate) key: ObjectKey,
    pub(crate) resource_version: u64,
    /// The object after the change (for `Deleted`, the last state, with the deletion's version).
    pub(crate) object: Arc<Value>,
}

/// Why a store operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("{resource} \"{name}\" not found")]
    NotFound { resource: String, name: String },
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists { resource: String, name: String },
    #[error("Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again")]
    Conflict { resource: String, name: String },
    #[error("object has no metadata.name and no metadata.generateName")]
    MissingName,
    #[error("too old resource version: {requested} (oldest kept: {oldest})")]
    Gone { requested: u64, oldest: u64 },
}

#[derive(Default)]
struct State {
    resource_version: u64,
    objects: BTreeMap<ObjectKey, Value>,
    history: VecDeque<Change>,
    /// The `resourceVersion` of the oldest change dropped from `history` (0: none dropped).
    compacted_through: u64,
    /// In a mirror: uids of objects removed here, so a late watch event cannot bring them back.
    removed_uids: HashSet<String>,
}

/// The object store. Cheap to share behind an `Arc`.
pub(crate) struct Store {
    state: Mutex<State>,
    feed: broadcast::Sender<Change>,
    /// Set in a mirror: where local writes go to be carried out on the real API server.
    forward: OnceLock<mpsc::UnboundedSender<Forward>>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    pub(crate) fn new() -> Self {
        let (feed, _) = broadcast::channel(HISTORY_LEN);
        Self {
            state: Mutex::new(State::default()),
            feed,
            forward: OnceLock::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The newest `resourceVersion` handed out (what a list reports).
    pub(crate) fn resource_version(&self) -> u64 {
        self.lock().resource_version
    }

    /// Creates an object. Fills `metadata.name` from `generateName`, `namespace`, `uid`,
    /// `creationTimestamp`, `resourceVersion` and `generation`.
    pub(crate) fn create(
        &self,
        resource: &str,
        namespace: &str,
        mut object: Value,
    ) -> Result<Value, StoreError> {
        let mut state = self.lock();
        let name = match meta_str(&object, "name") {
            Some(name) if !name.is_empty() => name,
            _ => match meta_str(&object, "generateName") {
                Some(prefix) if !prefix.is_empty() => {
                    let mut candidate;
                    loop {
                        candidate = format!("{prefix}{}", random_suffix());
                        if !state
                            .objects
                            .contains_key(&ObjectKey::new(resource, namespace, &candidate))
                        {
                            break;
                        }
                    }
                    candidate
                }
                _ => return Err(StoreError::MissingName),
            },
        };
        let key = ObjectKey::new(resource, namespace, &name);
        if state.objects.contains_key(&key) {
            return Err(StoreError::AlreadyExists {
                resource: resource.to_string(),
                name,
            });
        }
        state.resource_version += 1;
        let rv = state.resource_version;
        let meta = metadata_mut(&mut object);
        meta.insert("name".into(), json!(name));
        if namespace.is_empty() {
            meta.remove("namespace");
        } else {
            meta.insert("namespace".into(), json!(namespace));
        }
        if let Some(forward) = self.forward.get() {
            // The real API server assigns uid, timestamps and the version; until its copy comes
            // back through the watch, the local one has version 0.
            meta.insert("resourceVersion".into(), json!("0"));
            state.objects.insert(key.clone(), object.clone());
            self.record(&mut state, ChangeKind::Added, key.clone(), &object, rv);
            let _ = forward.send(Forward::Create {
                key,
                object: object.clone(),
            });
            return Ok(object);
        }
        meta.insert("uid".into(), json!(new_uid()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        meta.insert("generation".into(), json!(1));
        meta.remove("deletionTimestamp");
        state.objects.insert(key.clone(), object.clone());
        self.record(&mut state, ChangeKind::Added, key, &object, rv);
        Ok(object)
    }

    /// Reads one object.
    pub(crate) fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.lock()
            .objects
            .get(&ObjectKey::new(resource, namespace, name))
            .cloned()
    }

    /// Lists objects of a resource, in one namespace or (with `None`) in all, with the store's
    /// `resourceVersion` at the time of the list.
    pub(crate) fn list(&self, resource: &str, namespace: Option<&str>) -> (Vec<Value>, u64) {
        let state = self.lock();
        let items = state
            .objects
            .iter()
            .filter(|(k, _)| k.resource == resource && namespace.is_none_or(|ns| k.namespace == ns))
            .map(|(_, v)| v.clone())
            .collect();
        (items, state.resource_version)
    }

    /// Replaces an object. If the new object carries a `resourceVersion`, it must be the current
    /// one (optimistic concurrency), else `Conflict`. Immutable metadata is carried over.
    pub(crate) fn update(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
        mut object: Value,
    ) -> Result<Value, StoreError> {
        let mut state = self.lock();
        let key = ObjectKey::new(resource, namespace, name);
        let current = state.objects.get(&key).ok_or_else(|| key.not_found())?;
        if let Some(rv) = meta_str(&object, "resourceVersion") {
            if !rv.is_empty()
                && Some(rv.as_str()) != meta_str(current, "resourceVersion").as_deref()
            {
                return Err(StoreError::Conflict {
                    resource: resource.to_string(),
                    name: name.to_string(),
                });
            }
        }
        carry_immutable_metadata(current, &mut object);
        if current.get("spec") != object.get("spec") {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            metadata_mut(&mut object).insert("generation".into(), json!(generation));
        }
        let before = current.clone();
        Ok(self.commit(&mut state, key, before, object))
    }

    /// Changes an object in place under the store's lock (for controllers and the API's
    /// subresources). `edit` returns `false` to leave the object untouched (no new version).
    pub(crate) fn modify(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
        edit: impl FnOnce(&mut Value) -> bool,
    ) -> Result<Value, StoreError> {
        let mut state = self.lock();
        let key = ObjectKey::new(resource, namespace, name);
        let current = state.objects.get(&key).ok_or_else(|| key.not_found())?;
        let mut object = current.clone();
        if !edit(&mut object) {
            return Ok(object);
        }
        carry_immutable_metadata(current, &mut object);
        let before = current.clone();
        Ok(self.commit(&mut state, key, before, object))
    }

    /// Removes an object for good and reports `Deleted` to watchers.
    pub(crate) fn remove(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, StoreError> {
        let mut state = self.lock();
        let key = ObjectKey::new(resource, namespace, name);
        let mut object = state.objects.remove(&key).ok_or_else(|| key.not_found())?;
        state.resource_version += 1;
        let rv = state.resource_version;
        if let Some(forward) = self.forward.get() {
            if let Some(uid) = meta_str(&object, "uid") {
                state.removed_uids.insert(uid);
            }
            self.record(&mut state, ChangeKind::Deleted, key.clone(), &object, rv);
            let _ = forward.send(Forward::Remove {
                key,
                object: object.clone(),
            });
            return Ok(object);
        }
        metadata_mut(&mut object).insert("resourceVersion".into(), json!(rv.to_string()));
        self.record(&mut state, ChangeKind::Deleted, key, &object, rv);
        Ok(object)
    }

    /// The changes after `resource_version` (for a watch that resumes), and a receiver for what
    /// comes next, taken atomically so nothing is missed or seen twice. `Gone` when the history
    /// no longer reaches back that far.
    pub(crate) fn watch_from(
        &self,
        resource_version: u64,
    ) -> Result<(Vec<Change>, broadcast::Receiver<Change>), StoreError> {
        let state = self.lock();
        if resource_version < state.compacted_through {
            return Err(StoreError::Gone {
                requested: resource_version,
                oldest: state.compacted_through,
            });
        }
        let backlog = state
            .history
            .iter()
            .filter(|c| c.resource_version > resource_version)
            .cloned()
            .collect();
        Ok((backlog, self.feed.subscribe()))
    }

    /// Forgets the change history up to now, as etcd compaction does: a watch that resumes from
    /// an older `resourceVersion` then gets 410 Gone (for the simulated cluster's tests).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn compact(&self) {
        let mut state = self.lock();
        state.history.clear();
        state.compacted_through = state.resource_version;
    }

    /// A receiver for every change from now on (controllers use this).
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.feed.subscribe()
    }

    /// Stores the new state of an object that was `before`. In a mirror the object keeps the
    /// real API server's version it was based on, and the change is forwarded there.
    fn commit(&self, state: &mut State, key: ObjectKey, before: Value, mut object: Value) -> Value {
        state.resource_version += 1;
        let rv = state.resource_version;
        let forward = self.forward.get();
        if forward.is_none() {
            metadata_mut(&mut object).insert("resourceVersion".into(), json!(rv.to_string()));
        }
        state.objects.insert(key.clone(), object.clone());
        self.record(state, ChangeKind::Modified, key.clone(), &object, rv);
        if let Some(forward) = forward {
            let _ = forward.send(Forward::Update {
                key,
                before,
                after: object.clone(),
            });
        }
        object
    }

    fn record(&self, state: &mut State, kind: ChangeKind, key: ObjectKey, object: &Value, rv: u64) {
        let change = Change {
            kind,
            key,
            resource_version: rv,
            object: Arc::new(object.clone()),
        };
        if state.history.len() == HISTORY_LEN {
            if let Some(old) = state.history.pop_front() {
                state.compacted_through = old.resource_version;
            }
        }
        state.history.push_back(change.clone());
        // No receivers is fine: nobody is watching.
        let _ = self.feed.send(change);
    }
}

fn meta_str(object: &Value, field: &str) -> Option<String> {
    object
        .get("metadata")?
        .get(field)?
        .as_str()
        .map(str::to_string)
}

/// The object's `metadata` map, created if missing or not a map.
pub(crate) fn metadata_mut(object: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !object.is_object() {
        *object = json!({});
    }
    let Value::Object(map) = object else {
        unreachable!("made an object above")
    };
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    match meta {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

fn carry_immutable_metadata(current: &Value, object: &mut Value) {
    let meta = metadata_mut(object);
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "generation",
    ] {
        match current["metadata"].get(field) {
            Some(v) => {
                meta.insert(field.into(), v.clone());
            }
            None => {
                meta.remove(field);
            }
        }
    }
    // A deletion in progress cannot be undone by an update.
    if let Some(ts) = current["metadata"].get("deletionTimestamp") {
        meta.insert("deletionTimestamp".into(), ts.clone());
    }
}

/// Current time as Kubernetes writes it (RFC 3339, seconds, `Z`).
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn new_uid() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        (u16::from_be_bytes([b[6], b[7]]) & 0x0fff) | 0x4000,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

/// Five lowercase alphanumerics, as the API server appends to `generateName`.
pub(crate) fn random_suffix() -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| CHARS[rand::random_range(0..CHARS.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_fills_metadata_and_rejects_duplicates() {
        let store = Store::new();
        let pod = store
            .create("pods", "ns", json!({"metadata": {"name": "a"}}))
            .unwrap();
        assert_eq!(pod["metadata"]["namespace"], "ns");
        assert_eq!(pod["metadata"]["resourceVersion"], "1");
        assert!(pod["metadata"]["uid"].as_str().unwrap().len() == 36);
        let err = store
            .create("pods", "ns", json!({"metadata": {"name": "a"}}))
            .unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists { .. }));
    }

    #[test]
    fn generate_name_appends_a_suffix() {
        let store = Store::new();
        let pod = store
            .create("pods", "ns", json!({"metadata": {"generateName": "web-"}}))
            .unwrap();
        let name = pod["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    }

    #[test]
    fn update_with_stale_version_conflicts() {
        let store = Store::new();
        let v1 = store
            .create(
                "configmaps",
                "ns",
                json!({"metadata": {"name": "c"}, "data": {"a": "1"}}),
            )
            .unwrap();
        let mut v2 = v1.clone();
        v2["data"]["a"] = json!("2");
        store.update("configmaps", "ns", "c", v2).unwrap();
        let mut stale = v1.clone();
        stale["data"]["a"] = json!("3");
        let err = store.update("configmaps", "ns", "c", stale).unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }));
        assert_eq!(
            store.get("configmaps", "ns", "c").unwrap()["data"]["a"],
            "2"
        );
    }

    #[test]
    fn watch_from_replays_later_changes_and_reports_gone() {
        let store = Store::new();
        store
            .create("pods", "ns", json!({"metadata": {"name": "a"}}))
            .unwrap();
        let rv = store.resource_version();
        store
            .create("pods", "ns", json!({"metadata": {"name": "b"}}))
            .unwrap();
        store.remove("pods", "ns", "a").unwrap();
        let (backlog, _rx) = store.watch_from(rv).unwrap();
        let kinds: Vec<_> = backlog
            .iter()
            .map(|c| (c.kind, c.key.name.clone()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (ChangeKind::Added, "b".to_string()),
                (ChangeKind::Deleted, "a".to_string())
            ]
        );
        store.compact();
        assert!(matches!(store.watch_from(1), Err(StoreError::Gone { .. })));
        let (backlog, _rx) = store.watch_from(store.resource_version()).unwrap();
        assert!(backlog.is_empty());
    }

    #[test]
    fn modify_returning_false_keeps_the_version() {
        let store = Store::new();
        store
            .create("pods", "ns", json!({"metadata": {"name": "a"}}))
            .unwrap();
        let before = store.resource_version();
        store.modify("pods", "ns", "a", |_| false).unwrap();
        assert_eq!(store.resource_version(), before);
        store
            .modify("pods", "ns", "a", |o| {
                o["status"] = json!({"phase": "Running"});
                true
            })
            .unwrap();
        assert_eq!(store.resource_version(), before + 1);
    }
}
