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
    /// The node's name.
    pub name: String,
    /// `kubernetes.io/os` label (falls back to `status.nodeInfo.operatingSystem`).
    pub os: Option<Os>,
    /// `node.kubernetes.io/windows-build` label, e.g. `10.0.20348`.
    pub windows_build: Option<String>,
    /// The `Ready` condition is `True`.
    pub ready: bool,
    /// Not cordoned (`spec.unschedulable` unset).
    pub schedulable: bool,
}

impl NodeFacts {
    /// Ready and not cordoned: tests may be scheduled here.
    pub fn usable(&self) -> bool {
        self.ready && self.schedulable
    }
}

/// What the cluster offers to tests.
#[derive(Debug, Clone, Default)]
pub struct ClusterFacts {
    /// The API server's `gitVersion`.
    pub version: Option<String>,
    /// Every node, usable or not.
    pub nodes: Vec<NodeFacts>,
    /// The StorageClass annotated as the default one.
    pub default_storage_class: Option<String>,
    /// Every StorageClass by name.
    pub storage_classes: Vec<String>,
}

/// Why the cluster could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// No answer from the API server.
    #[error("the cluster's API server did not answer")]
    Unreachable(#[source] kube::Error),
    /// The credentials are not allowed to do what a run needs.
    #[error("the credentials may not {verb} {resource}: {message}")]
    Forbidden {
        /// What was tried (`list`, `create`, ...).
        verb: &'static str,
        /// On what.
        resource: &'static str,
        /// The API server's message.
        message: String,
    },
    /// The API server refused otherwise.
    #[error("cannot {verb} {resource}")]
    Api {
        /// What was tried.
        verb: &'static str,
        /// On what.
        resource: &'static str,
        /// The API server's answer.
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
    })
}

/// Every test needs its own namespace: ask the API server, with a dry run that creates nothing,
/// whether these credentials may create one, so a forbidden run stops before any test starts.
/// The server picks the name (`generateName`), so no existing namespace can be in the way.
async fn check_can_create_namespaces(client: &Client) -> Result<(), DiscoveryError> {
    let probe = Namespace {
        metadata: ObjectMeta {
            generate_name: Some("he2e-preflight-".to_string()),
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
    /// Why this test cell cannot run on this cluster, if it cannot. `chosen_storage_classes`
    /// are the StorageClasses chosen per OS (`--storage-class`, `--storage-class-windows`)
    /// instead of the default one.
    pub fn skip_reason(
        &self,
        case: &TestCase,
        chosen_storage_classes: &BTreeMap<Os, String>,
    ) -> Option<String> {
        let mut reasons: Vec<String> = case
            .requires
            .iter()
            .filter_map(|r| self.unmet(r, case, chosen_storage_classes))
            .collect();
        reasons.dedup();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    fn unmet(
        &self,
        requirement: &Requirement,
        case: &TestCase,
        chosen_storage_classes: &BTreeMap<Os, String>,
    ) -> Option<String> {
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
                    .filter_map(|os| match chosen_storage_classes.get(os) {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::catalog::{Location, TestCase};
    use std::collections::{BTreeMap, BTreeSet};

    pub(crate) fn node(name: &str, os: Os, ready: bool) -> NodeFacts {
        NodeFacts {
            name: name.into(),
            os: Some(os),
            windows_build: (os == Os::Windows).then(|| "10.0.20348".to_string()),
            ready,
            schedulable: true,
        }
    }

    /// No StorageClass chosen for any OS.
    pub(crate) fn none() -> BTreeMap<Os, String> {
        BTreeMap::new()
    }

    pub(crate) fn case(requires: &[Requirement]) -> TestCase {
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
        let reason = facts.skip_reason(
            &case(&[
                Requirement::Nodes(Os::Linux),
                Requirement::Nodes(Os::Windows),
            ]),
            &none(),
        );
        assert_eq!(
            reason.as_deref(),
            Some("no Ready node with kubernetes.io/os=windows")
        );
        assert_eq!(
            facts.skip_reason(&case(&[Requirement::Nodes(Os::Linux)]), &none()),
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
            .skip_reason(&case(&[Requirement::Nodes(Os::Windows)]), &none())
            .is_some());
    }

    #[test]
    fn storage_requirement_needs_a_default_class() {
        let mut facts = ClusterFacts::default();
        assert!(facts
            .skip_reason(&case(&[Requirement::DefaultStorageClass]), &none())
            .unwrap()
            .contains("no default StorageClass"));
        facts.default_storage_class = Some("standard".into());
        assert_eq!(
            facts.skip_reason(&case(&[Requirement::DefaultStorageClass]), &none()),
            None
        );
    }

    #[test]
    fn a_chosen_storage_class_replaces_the_default_and_must_exist() {
        let facts = ClusterFacts {
            storage_classes: vec!["standard".into(), "ntfs".into()],
            ..Default::default()
        };
        let claims = case(&[Requirement::DefaultStorageClass]);
        let chosen = BTreeMap::from([(Os::Linux, "standard".to_string())]);
        assert_eq!(facts.skip_reason(&claims, &chosen), None);
        let missing = BTreeMap::from([(Os::Linux, "fast".to_string())]);
        assert_eq!(
            facts.skip_reason(&claims, &missing).as_deref(),
            Some("StorageClass \"fast\" chosen for linux does not exist (classes: standard, ntfs)")
        );
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
