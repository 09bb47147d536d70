//! The preflight: which API permissions the selected test cells need (derived from their steps
//! and fixtures, plus what every run does), and asking the API server, one
//! SelfSubjectAccessReview per permission, cluster-wide and concurrently, which of them the
//! credentials lack. A run that lacks one stops before any namespace is created.

use std::collections::BTreeSet;
use std::fmt;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{GroupVersionKind, PostParams};
use kube::core::ApiResource;
use kube::{Api, Client};

use super::{ProbeVia, RunError};
use crate::catalog::{Action, FixtureSet, ObjectKind, TargetKind, TestCase};
use crate::cluster::DiscoveryError;
use crate::kube_error::api_message;

/// One thing the harness does to the API: a verb on a resource (or subresource) of a group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    /// `""` for the core group, else `apps`, `batch`, ...
    pub group: String,
    /// The plural resource name (`pods`).
    pub resource: String,
    /// The subresource (`exec`, `log`, `proxy`), or `""`.
    pub subresource: String,
    /// `get`, `list`, `watch`, `create`, `patch`, `delete`.
    pub verb: String,
}

impl Permission {
    fn new(verb: &str, group: &str, resource: &str, subresource: &str) -> Permission {
        Permission {
            group: group.to_string(),
            resource: resource.to_string(),
            subresource: subresource.to_string(),
            verb: verb.to_string(),
        }
    }

    fn core(verb: &str, resource: &str) -> Permission {
        Permission::new(verb, "", resource, "")
    }

    /// `pods/exec`, `deployments.apps`: the resource as RBAC rules and messages name it.
    pub fn resource_name(&self) -> String {
        let resource = if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        };
        if self.group.is_empty() {
            resource
        } else {
            format!("{resource}.{}", self.group)
        }
    }
}

/// `get pods/exec`, `create deployments.apps`.
impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb, self.resource_name())
    }
}

/// Why the preflight could not ask.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// No answer from the API server.
    #[error("the cluster's API server did not answer")]
    Unreachable(#[source] kube::Error),
    /// The SelfSubjectAccessReview API is absent (404) or refused (403).
    #[error("the API server does not answer SelfSubjectAccessReviews: {}", api_message(.0))]
    Unavailable(#[source] kube::Error),
    /// A review failed otherwise (5xx after every retry, ...).
    #[error("a SelfSubjectAccessReview failed: {}", api_message(.0))]
    Failed(#[source] kube::Error),
}

/// What every run asks of the API, whatever its tests: test namespaces (create, delete, the
/// end-of-run sweep's list and watch), waiting for their `default` ServiceAccount, discovery's
/// node list, and what the diagnostics of a failed test read (pods, events, logs).
fn every_run() -> [Permission; 10] {
    [
        Permission::core("create", "namespaces"),
        Permission::core("delete", "namespaces"),
        Permission::core("list", "namespaces"),
        Permission::core("watch", "namespaces"),
        Permission::core("list", "serviceaccounts"),
        Permission::core("watch", "serviceaccounts"),
        Permission::core("list", "nodes"),
        Permission::core("list", "pods"),
        Permission::core("list", "events"),
        Permission::new("get", "", "pods", "log"),
    ]
}

/// What a run uses when it may, and does without: listing StorageClasses (without it, cells
/// that claim storage skip) and CSINodes (without it, Windows cells that claim storage skip
/// unless `--storage-class-windows` chooses their class). Never a reason to stop a run.
pub fn nice_to_have() -> BTreeSet<Permission> {
    BTreeSet::from([
        Permission::new("list", "storage.k8s.io", "storageclasses", ""),
        Permission::new("list", "storage.k8s.io", "csinodes", ""),
    ])
}

/// Every permission the cells `cases` need (fixtures resolved in `fixtures`), beyond
/// [`nice_to_have`]: what every run does, plus what each step's code calls; an `http` step
/// from a pod needs what its transport `via` calls (`pods/exec` or `pods/proxy`).
pub fn needed<'c>(
    cases: impl IntoIterator<Item = &'c TestCase>,
    fixtures: &FixtureSet,
    via: ProbeVia,
) -> BTreeSet<Permission> {
    let mut needed: BTreeSet<Permission> = every_run().into_iter().collect();
    for case in cases {
        for step in &case.steps {
            step_needs(&step.action, fixtures, via, &mut needed);
        }
    }
    needed
}

/// The group and plural of an object kind a step names.
fn kind_resource(kind: ObjectKind) -> (&'static str, &'static str) {
    match kind {
        ObjectKind::Pod | ObjectKind::NodeOf => ("", "pods"),
        ObjectKind::Service => ("", "services"),
        ObjectKind::PersistentVolumeClaim => ("", "persistentvolumeclaims"),
        ObjectKind::Deployment => ("apps", "deployments"),
        ObjectKind::Job => ("batch", "jobs"),
        ObjectKind::ConfigMap => ("", "configmaps"),
        ObjectKind::Secret => ("", "secrets"),
    }
}

fn on_kind(verb: &str, kind: ObjectKind) -> Permission {
    let (group, resource) = kind_resource(kind);
    Permission::new(verb, group, resource, "")
}

/// Adds what one step's code calls (read from `run/steps`, `run/wait.rs`, `run/probe`,
/// `run/objects.rs` and `run/placeholders.rs`).
fn step_needs(
    action: &Action,
    fixtures: &FixtureSet,
    via: ProbeVia,
    needed: &mut BTreeSet<Permission>,
) {
    let exec = [
        // A WebSocket exec is a GET: RBAC checks `get`, and from 1.35 `create` as well.
        Permission::new("get", "", "pods", "exec"),
        Permission::new("create", "", "pods", "exec"),
    ];
    // `${ip.POD}`, `${node-name.POD}`, `${cluster-ip.SVC}`, ...: read when the step runs.
    if serde_json::to_string(action).is_ok_and(|text| text.contains("${")) {
        needed.extend([
            Permission::core("get", "pods"),
            Permission::core("get", "nodes"),
            Permission::core("get", "services"),
        ]);
    }
    match action {
        Action::Create { fixture, .. } => {
            let objects = fixtures.get(fixture).map(|f| f.objects.as_slice());
            for object in objects.unwrap_or_default() {
                let api_version = object.get("apiVersion").and_then(|v| v.as_str());
                let kind = object.get("kind").and_then(|v| v.as_str());
                if let (Some(api_version), Some(kind)) = (api_version, kind) {
                    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
                    let resource =
                        ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
                    needed.insert(Permission::new("create", group, &resource.plural, ""));
                }
            }
        }
        Action::Wait { object, .. } => {
            needed.extend([on_kind("list", object.kind), on_kind("watch", object.kind)]);
            if object.kind == ObjectKind::PersistentVolumeClaim {
                // A claim's wait reads it first and fails on its Warning events.
                needed.extend([
                    on_kind("get", object.kind),
                    Permission::core("list", "events"),
                ]);
            }
        }
        Action::Http { to, .. } => {
            needed.insert(Permission::core("get", "pods"));
            match via {
                ProbeVia::Exec => needed.extend(exec),
                ProbeVia::Proxy => {
                    needed.insert(Permission::new("get", "", "pods", "proxy"));
                }
            }
            target_needs(&to.kind, needed);
        }
        Action::HttpFromHarness { to, .. } => target_needs(&to.kind, needed),
        Action::Dns { .. } | Action::Exec { .. } => needed.extend(exec),
        Action::Logs { .. } => {
            needed.insert(Permission::new("get", "", "pods", "log"));
        }
        Action::Expect { object, .. } => {
            needed.insert(on_kind("get", object.kind));
            if object.kind == ObjectKind::NodeOf {
                needed.insert(Permission::core("get", "nodes"));
            }
        }
        Action::Event { .. } => {
            needed.insert(Permission::core("list", "events"));
        }
        Action::Patch { object, .. } => {
            needed.insert(on_kind("patch", object.kind));
        }
        Action::Sleep(_) => {}
        Action::Delete { object, wait, .. } => {
            needed.insert(on_kind("delete", object.kind));
            if *wait {
                // Waiting for it to go (`gone-after`, `gone-within`) watches it.
                needed.extend([on_kind("list", object.kind), on_kind("watch", object.kind)]);
            }
        }
    }
}

/// What finding an `http` target's addresses reads.
fn target_needs(target: &TargetKind, needed: &mut BTreeSet<Permission>) {
    match target {
        TargetKind::Pod(_) => {
            needed.insert(Permission::core("get", "pods"));
        }
        TargetKind::Service(_) => {
            needed.insert(Permission::core("get", "services"));
        }
        // The name is dialed as given (a Service is read only to word a message).
        TargetKind::Host(_) => {}
        TargetKind::NodePort(_) => {
            needed.insert(Permission::core("get", "services"));
            needed.insert(Permission::core("list", "nodes"));
        }
    }
}

/// Asks the API server, one SelfSubjectAccessReview per permission (cluster-wide: no namespace
/// in the attributes), which of `permissions` the credentials lack: the first alone (a server
/// that cannot answer reviews is asked once, not once per permission), then the others all at
/// once. Transient errors are retried by the client's retry layer.
pub async fn missing(
    client: &Client,
    permissions: &BTreeSet<Permission>,
) -> Result<Vec<Permission>, PreflightError> {
    let reviews = Api::<SelfSubjectAccessReview>::all(client.clone());
    let mut permissions = permissions.iter();
    let Some(first) = permissions.next() else {
        return Ok(Vec::new());
    };
    let first_allowed = allowed(&reviews, first).await?;
    let rest: Vec<&Permission> = permissions.collect();
    let answers = futures::future::join_all(rest.iter().map(|p| allowed(&reviews, p))).await;
    let mut missing = Vec::new();
    if !first_allowed {
        missing.push(first.clone());
    }
    for (permission, answer) in rest.into_iter().zip(answers) {
        if !answer? {
            missing.push(permission.clone());
        }
    }
    Ok(missing)
}

/// The review of one permission: whether it is allowed.
async fn allowed(
    reviews: &Api<SelfSubjectAccessReview>,
    permission: &Permission,
) -> Result<bool, PreflightError> {
    match reviews
        .create(&PostParams::default(), &review_of(permission))
        .await
    {
        Ok(answer) => Ok(answer.status.is_some_and(|s| s.allowed)),
        Err(kube::Error::Api(status)) if matches!(status.code, 403 | 404) => {
            Err(PreflightError::Unavailable(kube::Error::Api(status)))
        }
        Err(error @ kube::Error::Api(_)) => Err(PreflightError::Failed(error)),
        Err(error) => Err(PreflightError::Unreachable(error)),
    }
}

fn review_of(permission: &Permission) -> SelfSubjectAccessReview {
    let optional = |s: &str| (!s.is_empty()).then(|| s.to_string());
    SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(permission.verb.clone()),
                group: Some(permission.group.clone()),
                resource: Some(permission.resource.clone()),
                subresource: optional(&permission.subresource),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// What `--prepull` asks of the API beyond every run's rights: its DaemonSets (create, and
/// list for their status) and its pods' statuses (`list pods`, which every run needs).
pub fn for_prepull() -> BTreeSet<Permission> {
    BTreeSet::from([
        Permission::new("create", "apps", "daemonsets", ""),
        Permission::new("list", "apps", "daemonsets", ""),
    ])
}

/// `cannot get pods/exec cluster-wide; cannot create pods/exec cluster-wide`.
pub fn describe_missing(missing: &[Permission]) -> String {
    let prepull = for_prepull();
    missing
        .iter()
        .map(|p| match prepull.contains(p) {
            true => format!("cannot {p} cluster-wide ({PREPULL_HINT})"),
            false => format!("cannot {p} cluster-wide"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a missing right of [`for_prepull`] is for, and how to do without it.
const PREPULL_HINT: &str =
    "for --prepull, on by default against real clusters; --prepull off does without";

/// The preflight of a run of `cases` (with `--prepull` when `prepull`): why the run must stop
/// before its tests, if it must.
/// When the API server cannot answer reviews, it says so and lets the run go on (discovery's
/// dry-run namespace create still stops a run that may not create namespaces).
pub(crate) async fn stop_reason(
    client: &Client,
    server: &str,
    cases: &[TestCase],
    fixtures: &FixtureSet,
    via: ProbeVia,
    prepull: bool,
) -> Option<RunError> {
    let mut needed = needed(cases, fixtures, via);
    if prepull {
        needed.extend(for_prepull());
    }
    match missing(client, &needed).await {
        Ok(missing) if missing.is_empty() => None,
        Ok(missing) => Some(RunError::MissingPermissions {
            server: server.to_string(),
            missing,
        }),
        Err(PreflightError::Unreachable(source)) => Some(RunError::Discovery {
            server: server.to_string(),
            source: DiscoveryError::Unreachable(source),
        }),
        Err(other) => {
            tracing::warn!(
                "cannot check permissions before the run: {}; checking only that namespaces may be created",
                crate::kube_error::error_chain(&other)
            );
            None
        }
    }
}

/// The `Rights` lines of `doctor`: what the selected `cases` need and the credentials lack (a
/// line each), the optional rights they lack, or that the reviews could not be asked. `doctor`
/// asks for the default probe transport's rights.
pub async fn doctor_lines(client: &Client, cases: &[TestCase], fixtures: &FixtureSet) -> String {
    let needed = needed(cases, fixtures, ProbeVia::default());
    let optional = nice_to_have();
    let (needed_missing, optional_missing, prepull_missing) = match futures::future::join3(
        missing(client, &needed),
        missing(client, &optional),
        missing(client, &for_prepull()),
    )
    .await
    {
        (Ok(needed), Ok(optional), Ok(prepull)) => (needed, optional, prepull),
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => {
            return format!(
                "Rights    not checked: {}\n",
                crate::kube_error::error_chain(&error)
            )
        }
    };
    let mut text = String::new();
    if needed_missing.is_empty() {
        text.push_str(&format!(
            "Rights    all {} the selected tests need are granted\n",
            needed.len()
        ));
    }
    for permission in &needed_missing {
        text.push_str(&format!(
            "Rights    cannot {permission} cluster-wide (a run stops)\n"
        ));
    }
    for permission in &optional_missing {
        text.push_str(&format!(
            "Rights    cannot {permission} cluster-wide (optional: tests that claim storage skip)\n"
        ));
    }
    for permission in &prepull_missing {
        text.push_str(&format!(
            "Rights    cannot {permission} cluster-wide ({PREPULL_HINT})\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    /// The ClusterRole and binding shipped for users.
    const RBAC_YAML: &str = include_str!("../../../../deploy/rbac.yaml");

    fn catalog() -> Catalog {
        Catalog::load(None, None).unwrap()
    }

    fn exec(verb: &str) -> Permission {
        Permission::new(verb, "", "pods", "exec")
    }

    /// Every (group, resource, verb) the ClusterRole `hybrid-e2e` of deploy/rbac.yaml grants.
    fn granted_by_deploy_rbac() -> BTreeSet<Permission> {
        let mut granted = BTreeSet::new();
        let mut roles = 0;
        for document in serde_yaml_ng::Deserializer::from_str(RBAC_YAML) {
            let object: serde_json::Value = serde::Deserialize::deserialize(document).unwrap();
            if object["kind"] != "ClusterRole" {
                continue;
            }
            roles += 1;
            assert_eq!(object["metadata"]["name"], "hybrid-e2e");
            for rule in object["rules"].as_array().unwrap() {
                let strings = |key: &str| -> Vec<String> {
                    rule[key]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string())
                        .collect()
                };
                for group in strings("apiGroups") {
                    for resource in strings("resources") {
                        let (resource, sub) = resource.split_once('/').unwrap_or((&resource, ""));
                        for verb in strings("verbs") {
                            assert_ne!(verb, "*", "no wildcards");
                            granted.insert(Permission::new(&verb, &group, resource, sub));
                        }
                    }
                }
            }
        }
        assert_eq!(roles, 1, "one ClusterRole");
        granted
    }

    #[test]
    fn deploy_rbac_grants_exactly_what_the_preflight_asks_for_the_whole_catalog() {
        let catalog = catalog();
        // The ClusterRole serves either probe transport (`--probe-via exec|proxy`).
        let mut asked = needed(&catalog.tests, &catalog.fixtures, ProbeVia::Exec);
        asked.extend(needed(&catalog.tests, &catalog.fixtures, ProbeVia::Proxy));
        asked.extend(nice_to_have());
        asked.extend(for_prepull());
        let granted = granted_by_deploy_rbac();
        let too_much: Vec<String> = granted.difference(&asked).map(|p| p.to_string()).collect();
        let too_little: Vec<String> = asked.difference(&granted).map(|p| p.to_string()).collect();
        assert!(
            too_much.is_empty() && too_little.is_empty(),
            "deploy/rbac.yaml grants more: {too_much:?}; less: {too_little:?}"
        );
        assert!(RBAC_YAML.contains("kind: ClusterRoleBinding"));
    }

    #[test]
    fn a_missing_prepull_right_says_how_to_do_without() {
        let missing = [
            Permission::new("create", "apps", "daemonsets", ""),
            exec("get"),
        ];
        assert_eq!(
            describe_missing(&missing),
            "cannot create daemonsets.apps cluster-wide (for --prepull, on by default against real clusters; --prepull off does without); cannot get pods/exec cluster-wide"
        );
    }

    #[test]
    fn exec_rights_are_needed_only_by_cells_that_exec() {
        let catalog = catalog();
        let (with, without): (Vec<&TestCase>, Vec<&TestCase>) =
            catalog.tests.iter().partition(|case| {
                case.steps.iter().any(|s| {
                    matches!(
                        s.action,
                        Action::Exec { .. } | Action::Dns { .. } | Action::Http { .. }
                    )
                })
            });
        assert!(!with.is_empty() && !without.is_empty());
        let needs = needed(without.iter().copied(), &catalog.fixtures, ProbeVia::Exec);
        assert!(!needs.contains(&exec("get")) && !needs.contains(&exec("create")));
        for case in with {
            let needs = needed([case], &catalog.fixtures, ProbeVia::Exec);
            assert!(
                needs.contains(&exec("get")) && needs.contains(&exec("create")),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn http_steps_need_the_rights_of_their_probe_transport() {
        let catalog = catalog();
        let http_only = catalog
            .tests
            .iter()
            .find(|case| {
                case.steps
                    .iter()
                    .any(|s| matches!(s.action, Action::Http { .. }))
                    && !case
                        .steps
                        .iter()
                        .any(|s| matches!(s.action, Action::Exec { .. } | Action::Dns { .. }))
            })
            .expect("a cell whose only pod probes are http steps");
        let proxy = Permission::new("get", "", "pods", "proxy");
        let by_exec = needed([http_only], &catalog.fixtures, ProbeVia::Exec);
        assert!(by_exec.contains(&exec("create")) && !by_exec.contains(&proxy));
        let by_proxy = needed([http_only], &catalog.fixtures, ProbeVia::Proxy);
        assert!(by_proxy.contains(&proxy) && !by_proxy.contains(&exec("create")));
    }

    #[test]
    fn every_run_needs_its_namespaces_and_nothing_of_steps_it_has_not() {
        let needs = needed(std::iter::empty(), &FixtureSet::default(), ProbeVia::Exec);
        assert!(needs.contains(&Permission::core("create", "namespaces")));
        assert!(needs.contains(&Permission::core("watch", "serviceaccounts")));
        assert!(!needs.contains(&Permission::core("create", "pods")));
        assert!(!nice_to_have().iter().any(|p| needs.contains(p)));
    }

    #[test]
    fn fixture_kinds_become_create_rights_of_their_group() {
        let catalog = catalog();
        let deploying = catalog
            .tests
            .iter()
            .find(|case| {
                case.steps.iter().any(|s| match &s.action {
                    Action::Create { fixture, .. } => catalog
                        .fixtures
                        .get(fixture)
                        .is_some_and(|f| f.kinds().contains(&"Deployment")),
                    _ => false,
                })
            })
            .unwrap();
        let needs = needed([deploying], &catalog.fixtures, ProbeVia::Exec);
        assert!(needs.contains(&Permission::new("create", "apps", "deployments", "")));
    }

    #[test]
    fn permissions_read_as_rbac_names_them() {
        assert_eq!(exec("get").to_string(), "get pods/exec");
        assert_eq!(
            Permission::new("create", "apps", "deployments", "").to_string(),
            "create deployments.apps"
        );
        assert_eq!(
            describe_missing(&[exec("create"), exec("get")]),
            "cannot create pods/exec cluster-wide; cannot get pods/exec cluster-wide"
        );
    }

    /// A loopback API server that answers every request with `status` and this Status body.
    async fn answering(status: u16, reason: &str, message: &str) -> Client {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let body = serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": status,
        })
        .to_string();
        let reason = reason.to_string();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (body, reason) = (body.clone(), reason.clone());
                tokio::spawn(async move {
                    // Read the request head and its body, then answer and close.
                    let mut seen = Vec::new();
                    let mut buffer = [0u8; 4096];
                    loop {
                        let n = socket.read(&mut buffer).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buffer[..n]);
                        let text = String::from_utf8_lossy(&seen).to_lowercase();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if seen.len() >= end + 4 + length {
                                break;
                            }
                        }
                    }
                    let answer = format!(
                        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        let config = kube::Config::new(url.parse().unwrap());
        Client::try_from(config).unwrap()
    }

    #[tokio::test]
    async fn without_the_review_api_the_run_goes_on() {
        let client = answering(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .await;
        let catalog = catalog();
        let needs = needed(&catalog.tests, &catalog.fixtures, ProbeVia::Exec);
        let error = missing(&client, &needs).await.unwrap_err();
        assert!(matches!(error, PreflightError::Unavailable(_)), "{error:?}");
        assert_eq!(
            error.to_string(),
            "the API server does not answer SelfSubjectAccessReviews: the server could not find the requested resource (NotFound, 404)"
        );
        assert!(stop_reason(
            &client,
            "k",
            &catalog.tests,
            &catalog.fixtures,
            ProbeVia::Exec,
            false
        )
        .await
        .is_none());
    }

    #[tokio::test]
    async fn a_server_that_keeps_failing_reviews_does_not_stop_the_run() {
        let client = answering(500, "InternalError", "etcd is down").await;
        let catalog = catalog();
        let error = missing(&client, &nice_to_have()).await.unwrap_err();
        assert!(matches!(error, PreflightError::Failed(_)), "{error:?}");
        assert!(stop_reason(
            &client,
            "k",
            &catalog.tests,
            &catalog.fixtures,
            ProbeVia::Exec,
            false
        )
        .await
        .is_none());
    }

    #[tokio::test]
    async fn an_unreachable_server_stops_the_run_as_discovery_would() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let client = Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
        let stop = stop_reason(
            &client,
            "k",
            &[],
            &FixtureSet::default(),
            ProbeVia::Exec,
            false,
        )
        .await;
        assert!(
            matches!(
                stop,
                Some(RunError::Discovery {
                    source: DiscoveryError::Unreachable(_),
                    ..
                })
            ),
            "{stop:?}"
        );
    }

    #[test]
    fn reviews_are_cluster_wide() {
        let review = review_of(&exec("get"));
        let attributes = review.spec.resource_attributes.unwrap();
        assert_eq!(attributes.namespace, None);
        assert_eq!(attributes.subresource.as_deref(), Some("exec"));
        assert_eq!(attributes.group.as_deref(), Some(""));
    }
}
