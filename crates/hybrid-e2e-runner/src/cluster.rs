//! What the cluster offers (version, Ready nodes by OS and Windows build, storage classes) and,
//! from that, why a test cell must be skipped. Skips are decided here, never in the runner.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::catalog::{Os, Requirement, TestCase};

const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
const WINDOWS_BUILD_LABEL: &str = "node.kubernetes.io/windows-build";
const OS_LABEL: &str = "kubernetes.io/os";

/// One node as the harness sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    pub name: String,
    /// `kubernetes.io/os` label (falls back to `status.nodeInfo.operatingSystem`).
    pub os: Option<Os>,
    pub windows_build: Option<String>,
    pub ready: bool,
    /// Not cordoned (`spec.unschedulable` unset).
    pub schedulable: bool,
}

impl NodeFacts {
    pub fn usable(&self) -> bool {
        self.ready && self.schedulable
    }
}

/// What the cluster offers to tests.
#[derive(Debug, Clone, Default)]
pub struct ClusterFacts {
    pub version: Option<String>,
    pub nodes: Vec<NodeFacts>,
    pub default_storage_class: Option<String>,
    /// Every StorageClass by name.
    pub storage_classes: Vec<String>,
    /// StorageClasses chosen per OS (`--storage-class`, `--storage-class-windows`) instead of
    /// the default one; set by the runner from the plan.
    pub chosen_storage_classes: BTreeMap<Os, String>,
}

/// Why the cluster could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the cluster's API server did not answer")]
    Unreachable(#[source] kube::Error),
    #[error("the credentials may not {verb} {resource}: {message}")]
    Forbidden {
        verb: &'static str,
        resource: &'static str,
        message: String,
    },
    #[error("cannot {verb} {resource}")]
    Api {
        verb: &'static str,
        resource: &'static str,
        #[source]
        source: kube::Error,
    },
}

fn api_error(verb: &'static str, resource: &'static str, source: kube::Error) -> DiscoveryError {
    match &source {
        kube::Error::Api(status) if status.code == 403 || status.code == 401 => {
            DiscoveryError::Forbidden {
                verb,
                resource,
                message: status.message.clone(),
            }
        }
        kube::Error::Api(_) => DiscoveryError::Api {
            verb,
            resource,
            source,
        },
        _ => DiscoveryError::Unreachable(source),
    }
}

/// Asks the cluster what it offers: version, nodes, default StorageClass.
pub async fn discover(client: &Client) -> Result<ClusterFacts, DiscoveryError> {
    let version = client
        .apiserver_version()
        .await
        .map_err(|e| api_error("get", "the server version", e))?;
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| api_error("list", "nodes", e))?;
    check_can_create_namespaces(client).await?;
    // Listing storage classes is not essential: without permission, PVC tests skip.
    let classes = Api::<StorageClass>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    Ok(ClusterFacts {
        version: Some(version.git_version),
        nodes: nodes.items.iter().map(node_facts).collect(),
        default_storage_class: classes
            .iter()
            .find(|c| {
                c.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                    .is_some_and(|v| v == "true")
            })
            .and_then(|c| c.metadata.name.clone()),
        storage_classes: classes
            .iter()
            .filter_map(|c| c.metadata.name.clone())
            .collect(),
        chosen_storage_classes: BTreeMap::new(),
    })
}

/// Every test needs its own namespace: ask the API server, with a dry run that creates nothing,
/// whether these credentials may create one, so a forbidden run stops before any test starts.
async fn check_can_create_namespaces(client: &Client) -> Result<(), DiscoveryError> {
    let probe = Namespace {
        metadata: ObjectMeta {
            name: Some(format!(
                "he2e-preflight-{}",
                crate::run::namespace::random_suffix(5)
            )),
            ..Default::default()
        },
        ..Default::default()
    };
    let params = PostParams {
        dry_run: true,
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&params, &probe)
        .await
        .map(|_| ())
        .map_err(|e| api_error("create", "namespaces", e))
}

fn node_facts(node: &Node) -> NodeFacts {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let status = node.status.as_ref();
    let os = labels
        .get(OS_LABEL)
        .cloned()
        .or_else(|| {
            status
                .and_then(|s| s.node_info.as_ref())
                .map(|i| i.operating_system.clone())
        })
        .and_then(|s| Os::parse(&s));
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    NodeFacts {
        name: node.metadata.name.clone().unwrap_or_default(),
        os,
        windows_build: labels.get(WINDOWS_BUILD_LABEL).cloned(),
        ready,
        schedulable: !node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false),
    }
}

impl ClusterFacts {
    /// Why this test cell cannot run on this cluster, if it cannot.
    pub fn skip_reason(&self, case: &TestCase) -> Option<String> {
        let mut reasons: Vec<String> = case
            .requires
            .iter()
            .filter_map(|r| self.unmet(r, case))
            .collect();
        reasons.dedup();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// The StorageClass claims of pods on `os` get: the chosen one, else the default (None).
    pub fn storage_class_for(&self, os: Os) -> Option<&str> {
        self.chosen_storage_classes.get(&os).map(String::as_str)
    }

    fn unmet(&self, requirement: &Requirement, case: &TestCase) -> Option<String> {
        match requirement {
            Requirement::Nodes(os) => (!self.nodes.iter().any(|n| n.os == Some(*os) && n.usable()))
                .then(|| format!("no Ready node with {OS_LABEL}={os}")),
            Requirement::DefaultStorageClass => {
                let oses: Vec<Os> = if case.oses.is_empty() {
                    vec![Os::Linux]
                } else {
                    case.oses.iter().copied().collect()
                };
                let problems: Vec<String> = oses
                    .iter()
                    .filter_map(|os| match self.chosen_storage_classes.get(os) {
                        Some(class) if !self.storage_classes.contains(class) => Some(format!(
                            "StorageClass \"{class}\" chosen for {os} does not exist (classes: {})",
                            if self.storage_classes.is_empty() { "none".to_string() } else { self.storage_classes.join(", ") }
                        )),
                        Some(_) => None,
                        None => self.default_storage_class.is_none().then(|| {
                            "no default StorageClass (annotation storageclass.kubernetes.io/is-default-class=true; or choose one with --storage-class)".to_string()
                        }),
                    })
                    .collect();
                (!problems.is_empty()).then(|| problems.join("; "))
            }
            Requirement::LoadBalancer => Some("no LoadBalancer support detected".to_string()),
        }
    }

    /// Usable nodes by OS and build, e.g. `linux=2`, `windows/10.0.20348=2` (for reports).
    pub fn node_summary(&self) -> Vec<String> {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for node in self.nodes.iter().filter(|n| n.usable()) {
            let key = match (node.os, &node.windows_build) {
                (Some(Os::Windows), Some(build)) => format!("windows/{build}"),
                (Some(os), _) => os.to_string(),
                (None, _) => "unknown".to_string(),
            };
            *counts.entry(key).or_default() += 1;
        }
        counts
            .into_iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect()
    }
}

/// The `doctor` report: the cluster, its nodes, and what would run or skip (and why).
pub fn describe(facts: &ClusterFacts, server: &str, cases: &[TestCase]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Cluster   {server} ({})",
        facts.version.as_deref().unwrap_or("unknown version")
    );
    let _ = writeln!(
        out,
        "Nodes     {}",
        if facts.nodes.is_empty() { "none" } else { "" }
    );
    for node in &facts.nodes {
        let os = node
            .os
            .map(|o| o.to_string())
            .unwrap_or_else(|| "unknown OS".to_string());
        let build = node
            .windows_build
            .as_deref()
            .map(|b| format!(" {b}"))
            .unwrap_or_default();
        let state = match (node.ready, node.schedulable) {
            (true, true) => "Ready",
            (true, false) => "Ready, cordoned",
            (false, _) => "NotReady",
        };
        let _ = writeln!(out, "  {:30} {os}{build:12} {state}", node.name);
    }
    let _ = writeln!(
        out,
        "Storage   default StorageClass: {}",
        facts.default_storage_class.as_deref().unwrap_or("none")
    );
    let mut skips: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for case in cases {
        if let Some(reason) = facts.skip_reason(case) {
            skips.entry(reason).or_default().push(&case.name);
        }
    }
    let skipped: usize = skips.values().map(Vec::len).sum();
    let _ = writeln!(
        out,
        "Tests     {} would run, {skipped} would skip",
        cases.len() - skipped
    );
    for (reason, names) in &skips {
        let _ = writeln!(out, "  skip ({}): {reason}", names.len());
        for name in names {
            let _ = writeln!(out, "    {name}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Location, TestCase};
    use std::collections::{BTreeMap, BTreeSet};

    fn node(name: &str, os: Os, ready: bool) -> NodeFacts {
        NodeFacts {
            name: name.into(),
            os: Some(os),
            windows_build: (os == Os::Windows).then(|| "10.0.20348".to_string()),
            ready,
            schedulable: true,
        }
    }

    fn case(requires: &[Requirement]) -> TestCase {
        TestCase {
            name: "s/t".into(),
            suite: "s".into(),
            test: "t".into(),
            description: String::new(),
            tags: BTreeSet::new(),
            cell: BTreeMap::new(),
            oses: BTreeSet::new(),
            requires: requires.iter().cloned().collect(),
            linux_only: None,
            steps: vec![],
            location: Location {
                file: "s.yaml".into(),
                line: 1,
            },
        }
    }

    #[test]
    fn a_cell_needing_windows_skips_without_a_ready_windows_node() {
        let facts = ClusterFacts {
            nodes: vec![node("l1", Os::Linux, true), node("w1", Os::Windows, false)],
            ..Default::default()
        };
        let reason = facts.skip_reason(&case(&[
            Requirement::Nodes(Os::Linux),
            Requirement::Nodes(Os::Windows),
        ]));
        assert_eq!(
            reason.as_deref(),
            Some("no Ready node with kubernetes.io/os=windows")
        );
        assert_eq!(
            facts.skip_reason(&case(&[Requirement::Nodes(Os::Linux)])),
            None
        );
    }

    #[test]
    fn cordoned_nodes_do_not_count() {
        let mut w = node("w1", Os::Windows, true);
        w.schedulable = false;
        let facts = ClusterFacts {
            nodes: vec![w],
            ..Default::default()
        };
        assert!(facts
            .skip_reason(&case(&[Requirement::Nodes(Os::Windows)]))
            .is_some());
    }

    #[test]
    fn storage_requirement_needs_a_default_class() {
        let mut facts = ClusterFacts::default();
        assert!(facts
            .skip_reason(&case(&[Requirement::DefaultStorageClass]))
            .unwrap()
            .contains("no default StorageClass"));
        facts.default_storage_class = Some("standard".into());
        assert_eq!(
            facts.skip_reason(&case(&[Requirement::DefaultStorageClass])),
            None
        );
    }

    #[test]
    fn doctor_groups_skips_by_reason() {
        let facts = ClusterFacts {
            version: Some("v1.33.1".into()),
            nodes: vec![node("l1", Os::Linux, true)],
            default_storage_class: None,
            ..Default::default()
        };
        let mut windows = case(&[Requirement::Nodes(Os::Windows)]);
        windows.name = "s/t[os=windows]".into();
        let text = describe(
            &facts,
            "https://c",
            &[case(&[Requirement::Nodes(Os::Linux)]), windows],
        );
        assert!(text.contains("1 would run, 1 would skip"), "{text}");
        assert!(
            text.contains(
                "skip (1): no Ready node with kubernetes.io/os=windows\n    s/t[os=windows]"
            ),
            "{text}"
        );
        assert!(text.contains("l1"), "{text}");
    }

    #[test]
    fn node_summary_counts_usable_nodes_by_os_and_build() {
        let facts = ClusterFacts {
            nodes: vec![
                node("l1", Os::Linux, true),
                node("l2", Os::Linux, true),
                node("w1", Os::Windows, true),
                node("w2", Os::Windows, false),
            ],
            ..Default::default()
        };
        assert_eq!(
            facts.node_summary(),
            vec!["linux=2", "windows/10.0.20348=1"]
        );
    }
}
