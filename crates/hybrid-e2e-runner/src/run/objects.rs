//! The objects a step names (`pod: p`, `deployment: d`, `node-of: p`, ...): their API resource,
//! reading them as JSON, and the events that concern them.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, Node, PersistentVolumeClaim, Pod, Secret, Service,
};
use kube::api::{DynamicObject, ListParams};
use kube::core::ApiResource;
use kube::{Api, Client};
use serde_json::Value;

use crate::catalog::ObjectRef;

/// The namespaced API resource of a kind a step can name (`NodeOf` excluded).
pub fn resource(kind: &str) -> Option<ApiResource> {
    Some(match kind {
        "Pod" => ApiResource::erase::<Pod>(&()),
        "Service" => ApiResource::erase::<Service>(&()),
        "PersistentVolumeClaim" => ApiResource::erase::<PersistentVolumeClaim>(&()),
        "Deployment" => ApiResource::erase::<Deployment>(&()),
        "Job" => ApiResource::erase::<Job>(&()),
        "ConfigMap" => ApiResource::erase::<ConfigMap>(&()),
        "Secret" => ApiResource::erase::<Secret>(&()),
        _ => return None,
    })
}

/// `pod "p"`, `deployment "d"`, `the node of pod "p"`.
pub fn describe(object: &ObjectRef) -> String {
    match object.kind.as_str() {
        "NodeOf" => format!("the node of pod \"{}\"", object.name),
        "PersistentVolumeClaim" => format!("claim \"{}\"", object.name),
        kind => format!("{} \"{}\"", kind.to_lowercase(), object.name),
    }
}

/// Why an object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("cannot read {what}: {}", super::kube_error::api_message(.source))]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("pod \"{0}\" is not bound to a node")]
    Unbound(String),
    #[error("objects of kind {0} cannot be named in steps")]
    Kind(String),
}

/// Reads the object as JSON (for `NodeOf`: the Node the pod is bound to).
pub async fn fetch(
    client: &Client,
    namespace: &str,
    object: &ObjectRef,
) -> Result<Value, ObjectError> {
    let api_error = |source| ObjectError::Api {
        what: describe(object),
        source,
    };
    if object.kind == "NodeOf" {
        let pod = Api::<Pod>::namespaced(client.clone(), namespace)
            .get(&object.name)
            .await
            .map_err(api_error)?;
        let node = pod
            .spec
            .and_then(|s| s.node_name)
            .ok_or_else(|| ObjectError::Unbound(object.name.clone()))?;
        let node = Api::<Node>::all(client.clone())
            .get(&node)
            .await
            .map_err(api_error)?;
        return Ok(serde_json::to_value(node).unwrap_or(Value::Null));
    }
    let resource = resource(&object.kind).ok_or_else(|| ObjectError::Kind(object.kind.clone()))?;
    let found = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource)
        .get(&object.name)
        .await
        .map_err(api_error)?;
    Ok(serde_json::to_value(found).unwrap_or(Value::Null))
}

/// One event as a line: `Warning ProvisioningFailed: message`.
pub fn event_line(e: &Event) -> String {
    format!(
        "{} {}: {}",
        e.type_.as_deref().unwrap_or("Normal"),
        e.reason.as_deref().unwrap_or(""),
        e.message.as_deref().unwrap_or("").trim()
    )
}

/// The events of the namespace that concern this object, oldest first.
pub async fn events_of(
    client: &Client,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Result<Vec<Event>, kube::Error> {
    let list = Api::<Event>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?;
    Ok(list
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(name)
                && e.involved_object.kind.as_deref() == Some(kind)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nameable_kind_has_a_resource() {
        for (kind, plural) in [
            ("Pod", "pods"),
            ("Deployment", "deployments"),
            ("Job", "jobs"),
            ("PersistentVolumeClaim", "persistentvolumeclaims"),
            ("ConfigMap", "configmaps"),
        ] {
            assert_eq!(resource(kind).map(|r| r.plural), Some(plural.to_string()));
        }
        assert!(resource("NodeOf").is_none());
    }

    #[test]
    fn descriptions_read_naturally() {
        let r = |kind: &str| ObjectRef {
            kind: kind.into(),
            name: "x".into(),
        };
        assert_eq!(describe(&r("NodeOf")), "the node of pod \"x\"");
        assert_eq!(describe(&r("PersistentVolumeClaim")), "claim \"x\"");
        assert_eq!(describe(&r("Deployment")), "deployment \"x\"");
    }
}
