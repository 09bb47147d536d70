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

use crate::catalog::{ObjectKind, ObjectRef};

/// The API resource of a kind a step can name. `NodeOf` is the cluster-scoped Node, which
/// [`fetch`] reads through the pod; the catalog lets no step patch or delete it.
pub(crate) fn resource(kind: ObjectKind) -> ApiResource {
    match kind {
        ObjectKind::Pod => ApiResource::erase::<Pod>(&()),
        ObjectKind::Service => ApiResource::erase::<Service>(&()),
        ObjectKind::PersistentVolumeClaim => ApiResource::erase::<PersistentVolumeClaim>(&()),
        ObjectKind::Deployment => ApiResource::erase::<Deployment>(&()),
        ObjectKind::Job => ApiResource::erase::<Job>(&()),
        ObjectKind::ConfigMap => ApiResource::erase::<ConfigMap>(&()),
        ObjectKind::Secret => ApiResource::erase::<Secret>(&()),
        ObjectKind::NodeOf => ApiResource::erase::<Node>(&()),
    }
}

/// `pod "p"`, `deployment "d"`, `the node of pod "p"`.
pub(crate) fn describe(object: &ObjectRef) -> String {
    match object.kind {
        ObjectKind::NodeOf => format!("the node of pod \"{}\"", object.name),
        ObjectKind::PersistentVolumeClaim => format!("claim \"{}\"", object.name),
        kind => format!("{} \"{}\"", kind.as_str().to_lowercase(), object.name),
    }
}

/// Why an object could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ObjectError {
    /// The API server did not give it.
    #[error("cannot read {what}: {}", crate::kube_error::api_message(.source))]
    Api {
        /// What was read (`pod "p"`, `the node of pod "p"`).
        what: String,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
    /// `node-of` a pod that runs on no node yet.
    #[error("pod \"{0}\" is not bound to a node")]
    Unbound(String),
}

/// Reads the object as JSON (for `NodeOf`: the Node the pod is bound to).
pub(crate) async fn fetch(
    client: &Client,
    namespace: &str,
    object: &ObjectRef,
) -> Result<Value, ObjectError> {
    let api_error = |source| ObjectError::Api {
        what: describe(object),
        source,
    };
    if object.kind == ObjectKind::NodeOf {
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
    let resource = resource(object.kind);
    let found = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource)
        .get(&object.name)
        .await
        .map_err(api_error)?;
    Ok(serde_json::to_value(found).unwrap_or(Value::Null))
}

/// One event as a line: `Warning ProvisioningFailed: message`.
pub(crate) fn event_line(e: &Event) -> String {
    format!(
        "{} {}: {}",
        e.type_.as_deref().unwrap_or("Normal"),
        e.reason.as_deref().unwrap_or(""),
        e.message.as_deref().unwrap_or("").trim()
    )
}

/// The events of the namespace that concern this object, oldest first.
pub(crate) async fn events_of(
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
            (ObjectKind::Pod, "pods"),
            (ObjectKind::Deployment, "deployments"),
            (ObjectKind::Job, "jobs"),
            (ObjectKind::PersistentVolumeClaim, "persistentvolumeclaims"),
            (ObjectKind::ConfigMap, "configmaps"),
            (ObjectKind::NodeOf, "nodes"),
        ] {
            assert_eq!(resource(kind).plural, plural);
        }
    }

    #[test]
    fn descriptions_read_naturally() {
        let r = |kind| ObjectRef {
            kind,
            name: "x".into(),
        };
        assert_eq!(describe(&r(ObjectKind::NodeOf)), "the node of pod \"x\"");
        assert_eq!(
            describe(&r(ObjectKind::PersistentVolumeClaim)),
            "claim \"x\""
        );
        assert_eq!(describe(&r(ObjectKind::Deployment)), "deployment \"x\"");
        assert_eq!(describe(&r(ObjectKind::ConfigMap)), "configmap \"x\"");
    }
}
