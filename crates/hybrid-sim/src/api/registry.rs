//! The resources the simulated API server serves: group, version, kind, scope, short names,
//! verbs and subresources (what discovery reports and what routing accepts).

/// One served resource.
#[derive(Debug)]
pub(crate) struct ResourceDef {
    /// `""` for the core group.
    pub(crate) group: &'static str,
    pub(crate) version: &'static str,
    pub(crate) plural: &'static str,
    pub(crate) singular: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) namespaced: bool,
    pub(crate) short_names: &'static [&'static str],
    /// Subresources beyond the object itself (`status`, `log`, `proxy`, `exec`).
    pub(crate) subresources: &'static [&'static str],
}

impl ResourceDef {
    /// `v1` or `apps/v1`.
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The key under which the store keeps these objects (the plural; unique in this registry).
    pub(crate) fn store_key(&self) -> &'static str {
        self.plural
    }

    /// `pods` or `deployments.apps`, as error messages name the resource.
    pub(crate) fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub(crate) fn has_status(&self) -> bool {
        self.subresources.contains(&"status")
    }
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The verbs of every resource here (all of them are fully served).
pub(crate) fn verbs() -> &'static [&'static str] {
    VERBS
}

macro_rules! res {
    ($group:expr, $plural:expr, $singular:expr, $kind:expr, $ns:expr, [$($short:expr),*], [$($sub:expr),*]) => {
        ResourceDef {
            group: $group,
            version: "v1",
            plural: $plural,
            singular: $singular,
            kind: $kind,
            namespaced: $ns,
            short_names: &[$($short),*],
            subresources: &[$($sub),*],
        }
    };
}

/// Every served resource.
pub(crate) static RESOURCES: &[ResourceDef] = &[
    res!(
        "",
        "namespaces",
        "namespace",
        "Namespace",
        false,
        ["ns"],
        ["status"]
    ),
    res!("", "nodes", "node", "Node", false, ["no"], ["status"]),
    res!(
        "",
        "pods",
        "pod",
        "Pod",
        true,
        ["po"],
        ["status", "log", "proxy", "exec"]
    ),
    res!(
        "",
        "services",
        "service",
        "Service",
        true,
        ["svc"],
        ["status"]
    ),
    res!("", "endpoints", "endpoints", "Endpoints", true, ["ep"], []),
    res!("", "configmaps", "configmap", "ConfigMap", true, ["cm"], []),
    res!("", "secrets", "secret", "Secret", true, [], []),
    res!("", "events", "event", "Event", true, ["ev"], []),
    res!(
        "",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        true,
        ["pvc"],
        ["status"]
    ),
    res!(
        "",
        "persistentvolumes",
        "persistentvolume",
        "PersistentVolume",
        false,
        ["pv"],
        ["status"]
    ),
    res!(
        "",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        true,
        ["sa"],
        []
    ),
    res!(
        "discovery.k8s.io",
        "endpointslices",
        "endpointslice",
        "EndpointSlice",
        true,
        [],
        []
    ),
    res!(
        "storage.k8s.io",
        "storageclasses",
        "storageclass",
        "StorageClass",
        false,
        ["sc"],
        []
    ),
    res!(
        "storage.k8s.io",
        "csinodes",
        "csinode",
        "CSINode",
        false,
        [],
        []
    ),
    res!(
        "apps",
        "deployments",
        "deployment",
        "Deployment",
        true,
        ["deploy"],
        ["status", "scale"]
    ),
    res!(
        "apps",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        true,
        ["rs"],
        ["status", "scale"]
    ),
    res!("batch", "jobs", "job", "Job", true, [], ["status"]),
    res!(
        "apps",
        "daemonsets",
        "daemonset",
        "DaemonSet",
        true,
        ["ds"],
        ["status"]
    ),
];

/// The named groups, in discovery order (each served at `v1` only).
pub(crate) fn groups() -> Vec<&'static str> {
    let mut groups: Vec<&'static str> = Vec::new();
    for r in RESOURCES {
        if !r.group.is_empty() && !groups.contains(&r.group) {
            groups.push(r.group);
        }
    }
    groups
}

/// The resource `plural` of `group`/`version`, if served.
pub(crate) fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource the store keeps under `plural` (plurals are unique in this registry).
pub(crate) fn by_store_key(plural: &str) -> Option<&'static ResourceDef> {
    RESOURCES.iter().find(|r| r.store_key() == plural)
}

/// The resources of one group/version.
pub(crate) fn in_group_version(group: &str, version: &str) -> Vec<&'static ResourceDef> {
    RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect()
}
