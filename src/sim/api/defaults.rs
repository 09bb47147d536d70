//! What the API server fills in on create, as a real one does: `apiVersion`/`kind`, the initial
//! status of kinds with a status subresource, and the pod defaults clients read back.

use serde_json::{json, Value};

use super::registry::ResourceDef;

/// Prepares a new object of `def` for the store.
pub fn on_create(def: &ResourceDef, object: &mut Value) {
    set_type(def, object);
    if def.has_status() {
        let status = match def.plural {
            "pods" => json!({"phase": "Pending", "qosClass": "BestEffort"}),
            "namespaces" => json!({"phase": "Active"}),
            "persistentvolumeclaims" | "persistentvolumes" => json!({"phase": "Pending"}),
            // Nodes report their own status (the controllers create them directly).
            "nodes" => object.get("status").cloned().unwrap_or_else(|| json!({})),
            _ => json!({}),
        };
        object["status"] = status;
    }
    match def.plural {
        "pods" => pod_defaults(object),
        "namespaces" if object["spec"]["finalizers"].is_null() => {
            object["spec"] = json!({"finalizers": ["kubernetes"]});
        }
        _ => {}
    }
}

/// Sets `apiVersion` and `kind` (stored objects always carry them).
pub fn set_type(def: &ResourceDef, object: &mut Value) {
    if let Value::Object(map) = object {
        map.insert("apiVersion".into(), json!(def.api_version()));
        map.insert("kind".into(), json!(def.kind));
    }
}

fn pod_defaults(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for (key, value) in [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("serviceAccountName", json!("default")),
        ("securityContext", json!({})),
        ("enableServiceLinks", json!(true)),
        ("priority", json!(0)),
    ] {
        spec.entry(key).or_insert(value);
    }
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
            let latest =
                image.ends_with(":latest") || !image.rsplit('/').next().unwrap_or("").contains(':');
            let policy = if latest { "Always" } else { "IfNotPresent" };
            c.entry("imagePullPolicy").or_insert(json!(policy));
            c.entry("terminationMessagePath")
                .or_insert(json!("/dev/termination-log"));
            c.entry("terminationMessagePolicy").or_insert(json!("File"));
            c.entry("resources").or_insert(json!({}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::api::registry;

    #[test]
    fn pods_start_pending_with_defaults() {
        let def = registry::find("", "v1", "pods").unwrap();
        let mut pod = json!({"metadata": {"name": "p"}, "status": {"phase": "Running"},
            "spec": {"containers": [{"name": "a", "image": "busybox"}]}});
        on_create(def, &mut pod);
        assert_eq!(pod["kind"], "Pod");
        assert_eq!(pod["status"]["phase"], "Pending");
        assert_eq!(pod["spec"]["restartPolicy"], "Always");
        assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
    }
}
