//! What the API server fills in on create, as a real one does: `apiVersion`/`kind`, the initial
//! status of kinds with a status subresource, and the pod defaults clients read back.

use serde_json::{json, Value};

use super::registry::ResourceDef;

/// Prepares a new object of `def` for the store.
pub(crate) fn on_create(def: &ResourceDef, object: &mut Value) {
    set_type(def, object);
    if def.has_status() {
        let status = match def.plural {
            "pods" => json!({"phase": "Pending", "qosClass": qos_class(&object["spec"])}),
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
pub(crate) fn set_type(def: &ResourceDef, object: &mut Value) {
    if let Value::Object(map) = object {
        map.insert("apiVersion".into(), json!(def.api_version()));
        map.insert("kind".into(), json!(def.kind));
    }
}

/// The QoS class the API server assigns: Guaranteed when every container's CPU and memory
/// requests equal their limits, BestEffort when nothing is set, else Burstable.
fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .flat_map(|list| spec[*list].as_array().into_iter().flatten())
        .collect();
    let resources = |c: &Value, kind: &str, name: &str| c["resources"][kind][name].clone();
    let any_set = containers.iter().any(|c| {
        ["requests", "limits"].iter().any(|k| {
            c["resources"][*k]
                .as_object()
                .is_some_and(|m| !m.is_empty())
        })
    });
    if !any_set {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let limit = resources(c, "limits", r);
            let request = resources(c, "requests", r);
            !limit.is_null() && (request.is_null() || request == limit)
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
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
    use crate::api::registry;

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
        assert_eq!(pod["status"]["qosClass"], "BestEffort");
    }

    #[test]
    fn qos_classes() {
        let spec =
            |resources: Value| json!({"containers": [{"name": "a", "resources": resources}]});
        assert_eq!(qos_class(&spec(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&spec(json!({"requests": {"cpu": "100m"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&spec(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&spec(json!({"limits": {"cpu": "1", "memory": "1Gi"},
                                   "requests": {"cpu": "500m", "memory": "1Gi"}}))),
            "Burstable"
        );
    }
}
