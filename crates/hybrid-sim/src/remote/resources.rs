//! The resources the node side mirrors from a real API server, and a dynamic `kube::Api` for
//! any resource the store keeps (found by its plural in the simulated API's registry).

use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::{json, Value};

use crate::api::registry::{self, ResourceDef};

/// What the kubelets, kube-proxy, DNS, NodePort listeners and the provisioner read.
pub(crate) const MIRRORED: &[&str] = &[
    "nodes",
    "pods",
    "services",
    "endpointslices",
    "configmaps",
    "secrets",
    "persistentvolumeclaims",
    "persistentvolumes",
    "storageclasses",
];

/// Why a resource cannot be reached dynamically.
#[derive(Debug, thiserror::Error)]
#[error("the simulated cluster knows no resource {0:?}")]
pub(crate) struct UnknownResource(pub(crate) String);

fn definition(plural: &str) -> Result<&'static ResourceDef, UnknownResource> {
    registry::by_store_key(plural).ok_or_else(|| UnknownResource(plural.to_string()))
}

/// The `ApiResource` of `plural`.
pub(crate) fn api_resource(plural: &str) -> Result<ApiResource, UnknownResource> {
    let def = definition(plural)?;
    Ok(ApiResource {
        group: def.group.to_string(),
        version: def.version.to_string(),
        api_version: def.api_version(),
        kind: def.kind.to_string(),
        plural: def.plural.to_string(),
    })
}

/// Whether `plural` has a `status` subresource.
pub(crate) fn has_status(plural: &str) -> bool {
    definition(plural).is_ok_and(ResourceDef::has_status)
}

/// An `Api` for objects of `plural` in `namespace` (ignored for cluster-scoped resources).
pub(crate) fn api(
    client: &kube::Client,
    plural: &str,
    namespace: &str,
) -> Result<Api<DynamicObject>, UnknownResource> {
    let def = definition(plural)?;
    let resource = api_resource(plural)?;
    Ok(if def.namespaced {
        Api::namespaced_with(client.clone(), namespace, &resource)
    } else {
        Api::all_with(client.clone(), &resource)
    })
}

/// An object from the server as the store keeps it: JSON, with `apiVersion` and `kind` (list
/// items come without them).
pub(crate) fn to_stored(resource: &ApiResource, object: &DynamicObject) -> Option<Value> {
    let mut value = serde_json::to_value(object).ok()?;
    let map = value.as_object_mut()?;
    map.entry("apiVersion")
        .or_insert_with(|| json!(resource.api_version));
    map.entry("kind").or_insert_with(|| json!(resource.kind));
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mirrored_resource_is_known_and_typed() {
        for plural in MIRRORED {
            let resource = api_resource(plural).unwrap();
            assert_eq!(resource.plural, *plural);
        }
        assert_eq!(
            api_resource("storageclasses").unwrap().api_version,
            "storage.k8s.io/v1"
        );
        assert!(has_status("pods") && has_status("nodes"));
        assert!(!has_status("events"));
        assert!(api_resource("widgets").is_err());
    }

    #[test]
    fn list_items_get_their_type_back() {
        let resource = api_resource("pods").unwrap();
        let object: DynamicObject =
            serde_json::from_value(json!({"metadata": {"name": "a"}})).unwrap();
        let stored = to_stored(&resource, &object).unwrap();
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["kind"], "Pod");
    }
}
