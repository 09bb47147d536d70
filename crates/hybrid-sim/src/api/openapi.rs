//! A minimal OpenAPI v3 (`/openapi/v3`, `/openapi/v3/<api|apis/group>/<version>`): one PATCH
//! operation per resource, tagged with its group/version/kind and the `fieldValidation` query
//! parameter. That is what kubectl looks for before it lets the server validate (`kubectl apply`
//! without `--validate=false`); it then builds strategic merge patches from its compiled-in types.
//! No schemas: `kubectl explain` is not served. `/openapi/v2` stays 404 (kubectl copes).

use serde_json::{json, Map, Value};

use super::registry::{self, ResourceDef};

/// The discovery root: where each group/version's document lives.
pub(crate) fn root() -> Value {
    let mut paths = Map::new();
    for gv in group_versions() {
        paths.insert(
            gv.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{gv}")}),
        );
    }
    json!({"paths": paths})
}

/// `api/v1`, `apis/apps/v1`, ...
fn group_versions() -> Vec<String> {
    let mut out = vec!["api/v1".to_string()];
    out.extend(
        registry::groups()
            .into_iter()
            .map(|g| format!("apis/{g}/v1")),
    );
    out
}

/// The document of one group/version (`api/v1`, `apis/apps/v1`); `None` if not served.
pub(crate) fn document(group_version: &str) -> Option<Value> {
    let (group, version) = match group_version.split('/').collect::<Vec<_>>().as_slice() {
        ["api", version] => ("", *version),
        ["apis", group, version] => (*group, *version),
        _ => return None,
    };
    let defs = registry::in_group_version(group, version);
    if defs.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    for def in defs {
        paths.insert(object_path(def), json!({"patch": patch_operation(def)}));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (hybrid-e2e simulated cluster)", "version": super::discovery::GIT_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

fn object_path(def: &ResourceDef) -> String {
    let prefix = if def.group.is_empty() {
        format!("/api/{}", def.version)
    } else {
        format!("/apis/{}/{}", def.group, def.version)
    };
    if def.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", def.plural)
    } else {
        format!("{prefix}/{}/{{name}}", def.plural)
    }
}

fn patch_operation(def: &ResourceDef) -> Value {
    json!({
        "operationId": format!("patch{}", def.kind),
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {
            "group": def.group, "version": def.version, "kind": def.kind,
        },
        "parameters": [
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        ],
        "requestBody": {"content": {
            "application/merge-patch+json": {"schema": {"type": "object"}},
        }},
        "responses": {"200": {"description": "OK"}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_points_at_each_group_version_document() {
        let root = root();
        let url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        let doc = document(url.strip_prefix("/openapi/v3/").unwrap()).unwrap();
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(document("api/v1").unwrap()["paths"]
            .get("/api/v1/nodes/{name}")
            .is_some());
        assert!(document("apis/example.com/v1").is_none());
    }
}
