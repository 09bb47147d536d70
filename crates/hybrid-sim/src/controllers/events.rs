//! Kubernetes Events written by the controllers, aggregated like the real recorder: the same
//! reason and message for the same object bump `count` and `lastTimestamp` of one Event.

use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{json, Value};

use crate::meta;
use crate::store::{now_rfc3339, Store};

/// Who reports an event (`source.component`, and the node for kubelets).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    Scheduler,
    Kubelet(&'a str),
    Controller(&'a str),
}

/// Records an event about `object` (any stored object with `kind` known by the caller).
pub(crate) fn record(
    store: &Store,
    kind: &str,
    object: &Value,
    source: Source<'_>,
    warning: bool,
    reason: &str,
    message: &str,
) {
    let name = meta::name(object);
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let uid = meta::uid(object);
    let mut h = DefaultHasher::new();
    (uid, reason, message).hash(&mut h);
    let event_name = format!("{name}.{:016x}", h.finish());
    let now = now_rfc3339();
    let bumped = store.modify("events", namespace, &event_name, |ev| {
        let count = ev["count"].as_i64().unwrap_or(1) + 1;
        ev["count"] = json!(count);
        ev["lastTimestamp"] = json!(now);
        true
    });
    if bumped.is_ok() {
        return;
    }
    let (component, host) = match source {
        Source::Scheduler => ("default-scheduler", None),
        Source::Kubelet(node) => ("kubelet", Some(node)),
        Source::Controller(c) => (c, None),
    };
    let mut source = json!({"component": component});
    if let Some(h) = host {
        source["host"] = json!(h);
    }
    let api_version = object["apiVersion"].as_str().unwrap_or("v1");
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_name, "namespace": namespace},
        "involvedObject": {
            "apiVersion": api_version,
            "kind": kind,
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": object["metadata"]["resourceVersion"].clone(),
        },
        "reason": reason,
        "message": message,
        "type": if warning { "Warning" } else { "Normal" },
        "source": source,
        "reportingComponent": component,
        "reportingInstance": host.unwrap_or(component),
        "firstTimestamp": now,
        "lastTimestamp": now,
        "eventTime": null,
        "count": 1,
    });
    // A concurrent creation of the same event is fine to lose.
    let _ = store.create("events", namespace, event);
}
