//! Carries the mirror's writes out on the real API server: status changes as merge patches of
//! the `status` subresource, other changes as merge patches of the object, creations as POST,
//! removals as DELETE with the uid as precondition (a kubelet finishing a graceful deletion
//! sends grace period 0). Writes to one object keep their order; different objects go in
//! parallel over a few workers, and Events have workers of their own, so that a burst of them
//! (a namespace of pods being killed) never delays a pod's status or its final deletion.
//! What queued up while a worker was busy is coalesced first: successive updates of one object
//! become one, and a removal makes the updates before it moot.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::resources;
use crate::store::{Forward, ObjectKey};

/// How many writes of objects other than Events run at once (each object always on the same
/// worker).
const WORKERS: usize = 8;
/// How many Event writes run at once, beside those.
const EVENT_WORKERS: usize = 2;

/// Metadata the server owns: never sent back.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
];

/// Starts the writers; they end when `writes` closes.
pub(crate) fn spawn(
    client: kube::Client,
    mut writes: mpsc::UnboundedReceiver<Forward>,
) -> Vec<JoinHandle<()>> {
    let mut senders = Vec::with_capacity(WORKERS + EVENT_WORKERS);
    let mut tasks = Vec::with_capacity(WORKERS + EVENT_WORKERS + 1);
    for _ in 0..WORKERS + EVENT_WORKERS {
        let (tx, mut rx) = mpsc::unbounded_channel::<Forward>();
        senders.push(tx);
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while let Ok(next) = rx.try_recv() {
                    batch.push(next);
                }
                for write in coalesce(batch) {
                    carry_out(&client, write).await;
                }
            }
        }));
    }
    tasks.push(tokio::spawn(async move {
        while let Some(write) = writes.recv().await {
            let worker = worker_for(write.key());
            if senders[worker].send(write).is_err() {
                return;
            }
        }
    }));
    tasks
}

/// The writes of `batch` that still matter, in order: an update of an object whose previous
/// write in the batch is an update too is folded into that one (first `before`, last `after`);
/// a removal drops the updates of its object before it.
fn coalesce(batch: Vec<Forward>) -> Vec<Forward> {
    let mut out: Vec<Forward> = Vec::with_capacity(batch.len());
    for write in batch {
        match write {
            Forward::Update { key, before, after } => {
                let previous = out.iter_mut().rev().find(|w| w.key() == &key);
                if let Some(Forward::Update { after: last, .. }) = previous {
                    *last = after;
                } else {
                    out.push(Forward::Update { key, before, after });
                }
            }
            Forward::Remove { key, object } => {
                out.retain(|w| !(w.key() == &key && matches!(w, Forward::Update { .. })));
                out.push(Forward::Remove { key, object });
            }
            create @ Forward::Create { .. } => out.push(create),
        }
    }
    out
}

/// The worker of an object: one of the first `WORKERS`, or for an Event one of the rest.
fn worker_for(key: &ObjectKey) -> usize {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    let hash = hasher.finish();
    if key.resource == "events" {
        WORKERS + (hash % EVENT_WORKERS as u64) as usize
    } else {
        (hash % WORKERS as u64) as usize
    }
}

async fn carry_out(client: &kube::Client, write: Forward) {
    let key = write.key().clone();
    let result = match write {
        Forward::Create { object, .. } => create(client, &key, object).await,
        Forward::Update { before, after, .. } => update(client, &key, &before, &after).await,
        Forward::Remove { object, .. } => remove(client, &key, &object).await,
    };
    match result {
        Ok(()) => {}
        // Gone meanwhile, made by someone else first, or (an event about a pod being killed)
        // in a namespace that is being deleted: nothing left to do, as for a real kubelet.
        Err(kube::Error::Api(status))
            if status.code == 404
                || status.code == 409
                || (status.code == 403 && status.message.contains("is being terminated")) =>
        {
            tracing::debug!(resource = %key.resource, name = %key.name, %status.message, "write skipped");
        }
        Err(e) => {
            tracing::warn!(resource = %key.resource, namespace = %key.namespace, name = %key.name, error = %e, "write to the API server failed");
        }
    }
}

fn without_server_metadata(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in SERVER_METADATA {
            meta.remove(*field);
        }
    }
    object
}

async fn create(client: &kube::Client, key: &ObjectKey, object: Value) -> kube::Result<()> {
    let api = api(client, key)?;
    let object: DynamicObject =
        serde_json::from_value(without_server_metadata(object)).map_err(kube::Error::SerdeError)?;
    api.create(&PostParams::default(), &object).await.map(drop)
}

async fn update(
    client: &kube::Client,
    key: &ObjectKey,
    before: &Value,
    after: &Value,
) -> kube::Result<()> {
    let api = api(client, key)?;
    let params = PatchParams::default();
    let (mut before, mut after) = (
        without_server_metadata(before.clone()),
        without_server_metadata(after.clone()),
    );
    if resources::has_status(&key.resource) {
        let (old, new) = (take_status(&mut before), take_status(&mut after));
        if let Some(diff) = merge_diff(&old, &new) {
            let patch = serde_json::json!({ "status": diff });
            api.patch_status(&key.name, &params, &Patch::Merge(&patch))
                .await?;
        }
    }
    if let Some(diff) = merge_diff(&before, &after) {
        api.patch(&key.name, &params, &Patch::Merge(&diff)).await?;
    }
    Ok(())
}

async fn remove(client: &kube::Client, key: &ObjectKey, object: &Value) -> kube::Result<()> {
    let api = api(client, key)?;
    let uid = object["metadata"]["uid"].as_str().map(str::to_string);
    let params = DeleteParams {
        // What a kubelet sends once a pod's containers are gone: delete it now.
        grace_period_seconds: (key.resource == "pods").then_some(0),
        preconditions: uid.map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    api.delete(&key.name, &params).await.map(drop)
}

fn api(client: &kube::Client, key: &ObjectKey) -> kube::Result<kube::Api<DynamicObject>> {
    resources::api(client, &key.resource, &key.namespace)
        .map_err(|e| kube::Error::Service(Box::new(e)))
}

fn take_status(object: &mut Value) -> Value {
    object
        .as_object_mut()
        .and_then(|map| map.remove("status"))
        .unwrap_or(Value::Null)
}

/// The JSON merge patch (RFC 7386) that turns `before` into `after`; `None` if they are equal.
fn merge_diff(before: &Value, after: &Value) -> Option<Value> {
    match (before, after) {
        _ if before == after => None,
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for (field, value) in new {
                match old.get(field) {
                    Some(previous) => {
                        if let Some(diff) = merge_diff(previous, value) {
                            patch.insert(field.clone(), diff);
                        }
                    }
                    None => {
                        patch.insert(field.clone(), value.clone());
                    }
                }
            }
            for field in old.keys().filter(|f| !new.contains_key(*f)) {
                patch.insert(field.clone(), Value::Null);
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        _ => Some(after.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_diff_sends_only_what_changed_and_nulls_what_went() {
        let before =
            json!({"phase": "Pending", "reason": "x", "conditions": [1], "deep": {"a": 1, "b": 2}});
        let after = json!({"phase": "Running", "conditions": [1, 2], "deep": {"a": 1, "b": 3}});
        assert_eq!(
            merge_diff(&before, &after),
            Some(
                json!({"phase": "Running", "reason": null, "conditions": [1, 2], "deep": {"b": 3}})
            )
        );
        assert_eq!(merge_diff(&after, &after), None);
        assert_eq!(
            merge_diff(&Value::Null, &json!({"a": 1})),
            Some(json!({"a": 1}))
        );
    }

    fn update(name: &str, phase: &str, next: &str) -> Forward {
        Forward::Update {
            key: ObjectKey::new("pods", "ns", name),
            before: json!({"status": {"phase": phase}}),
            after: json!({"status": {"phase": next}}),
        }
    }

    #[test]
    fn queued_updates_fold_into_one_and_a_removal_makes_them_moot() {
        let batch = vec![
            update("a", "Pending", "Running"),
            update("b", "Pending", "Running"),
            update("a", "Running", "Succeeded"),
        ];
        let folded = coalesce(batch);
        assert_eq!(folded.len(), 2);
        let Forward::Update { key, before, after } = &folded[0] else {
            panic!("an update")
        };
        assert_eq!(key.name, "a");
        assert_eq!(before["status"]["phase"], "Pending");
        assert_eq!(after["status"]["phase"], "Succeeded");

        let removal = Forward::Remove {
            key: ObjectKey::new("pods", "ns", "a"),
            object: json!({"metadata": {"uid": "u"}}),
        };
        let folded = coalesce(vec![
            update("a", "Pending", "Running"),
            update("b", "x", "y"),
            removal,
        ]);
        let kinds: Vec<(&str, bool)> = folded
            .iter()
            .map(|w| (w.key().name.as_str(), matches!(w, Forward::Remove { .. })))
            .collect();
        assert_eq!(kinds, vec![("b", false), ("a", true)]);
    }

    #[test]
    fn events_never_queue_before_other_writes() {
        for name in ["a", "b", "c", "d", "e", "f"] {
            let event = worker_for(&ObjectKey::new("events", "ns", name));
            let pod = worker_for(&ObjectKey::new("pods", "ns", name));
            assert!((WORKERS..WORKERS + EVENT_WORKERS).contains(&event));
            assert!(pod < WORKERS);
        }
    }

    #[test]
    fn the_servers_metadata_is_never_sent() {
        let object = json!({"metadata": {"name": "a", "uid": "u", "resourceVersion": "3", "labels": {"x": "y"}}});
        assert_eq!(
            without_server_metadata(object),
            json!({"metadata": {"name": "a", "labels": {"x": "y"}}})
        );
    }
}
