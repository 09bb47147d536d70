//! Discovery documents: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/<group>/<version>`.
//! Aggregated discovery (`apidiscovery.k8s.io/v2`) is not served: clients that ask for it get the
//! plain documents with `application/json`, and kubectl and kube-rs fall back to them.

use serde_json::{json, Value};

use super::registry::{self, ResourceDef};

/// The Kubernetes version the simulated cluster reports.
pub(crate) const GIT_VERSION: &str = "v1.33.1";

pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// The resources in the `all` category, as on a real cluster.
const ALL_CATEGORY: &[&str] = &["pods", "services", "deployments", "replicasets", "jobs"];

/// The group of SelfSubjectAccessReviews (`api::authorization`), served outside the registry:
/// reviews are answered, never stored.
const AUTHORIZATION_GROUP: &str = "authorization.k8s.io";

/// `/apis/authorization.k8s.io/v1`: the one review the simulated cluster answers.
fn authorization_resources() -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": super::authorization::GROUP_VERSION,
        "resources": [{
            "name": "selfsubjectaccessreviews",
            "singularName": "selfsubjectaccessreview",
            "namespaced": false,
            "kind": "SelfSubjectAccessReview",
            "verbs": ["create"],
        }],
    })
}

/// `/api`: the core group's versions.
pub(crate) fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    })
}

/// `/apis`: the named groups.
pub(crate) fn group_list() -> Value {
    let groups: Vec<Value> = registry::groups()
        .into_iter()
        .chain([AUTHORIZATION_GROUP])
        .map(|g| {
            let gv = json!({"groupVersion": format!("{g}/v1"), "version": "v1"});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/api/v1` or `/apis/<group>/<version>`; `None` when the group/version is not served.
pub(crate) fn resource_list(group: &str, version: &str) -> Option<Value> {
    if (group, version) == (AUTHORIZATION_GROUP, "v1") {
        return Some(authorization_resources());
    }
    let defs = registry::in_group_version(group, version);
    if defs.is_empty() {
        return None;
    }
    let group_version = defs[0].api_version();
    let mut resources = Vec::new();
    for def in defs {
        resources.push(resource_entry(def));
        for sub in def.subresources {
            resources.push(subresource_entry(def, sub));
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

fn resource_entry(def: &ResourceDef) -> Value {
    let mut entry = json!({
        "name": def.plural,
        "singularName": def.singular,
        "namespaced": def.namespaced,
        "kind": def.kind,
        "verbs": registry::verbs(),
    });
    if !def.short_names.is_empty() {
        entry["shortNames"] = json!(def.short_names);
    }
    // `kubectl get all` expands the `all` category.
    if ALL_CATEGORY.contains(&def.plural) {
        entry["categories"] = json!(["all"]);
    }
    entry
}

fn subresource_entry(def: &ResourceDef, sub: &str) -> Value {
    let (kind, verbs): (&str, &[&str]) = match sub {
        "status" => (def.kind, &["get", "patch", "update"]),
        "log" => ("Pod", &["get"]),
        "proxy" => ("PodProxyOptions", &["get"]),
        "exec" => ("PodExecOptions", &["create", "get"]),
        "scale" => ("Scale", &["get", "patch", "update"]),
        _ => (def.kind, &["get"]),
    };
    let mut entry = json!({
        "name": format!("{}/{}", def.plural, sub),
        "singularName": "",
        "namespaced": def.namespaced,
        "kind": kind,
        "verbs": verbs,
    });
    if sub == "scale" {
        entry["group"] = json!("autoscaling");
        entry["version"] = json!("v1");
    }
    entry
}
