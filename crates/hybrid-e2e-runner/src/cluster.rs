//! What the cluster offers (version, Ready nodes by OS and Windows build, storage classes and
//! their provisioners, the CSI drivers each node's `CSINode` lists) and, from that, why a test
//! cell must be skipped. Skips are decided here, never in the runner. A Windows cell that
//! claims storage runs only on a class chosen with `--storage-class-windows`, or on one whose
//! provisioner a Windows node's `CSINode` lists (a CSI driver without a Windows node plugin
//! never mounts there); when CSINodes cannot be read, such cells skip saying so.
//! Also what marks a node that is not a real machine (virtual-kubelet, Fargate), which takes
//! no test pods and serves no NodePorts ([`virtual_node_reason`]). A node counts for a cell
//! only when the test pods land there: Ready, not cordoned, not virtual, and every
//! NoSchedule/NoExecute taint tolerated (`toleration.rs`: the OS tolerations plus
//! `--tolerate`); a skip for want of such nodes names the taints and the `--tolerate` that
//! would let the tests use them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Node, Taint};
use k8s_openapi::api::storage::v1::{CSINode, StorageClass};
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::catalog::{Os, Requirement, TestCase};
use crate::toleration::{taint_text, tolerated_by_test_pods, TestToleration};

const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
const WINDOWS_BUILD_LABEL: &str = "node.kubernetes.io/windows-build";
const OS_LABEL: &str = "kubernetes.io/os";
/// The prefix of in-tree volume plugins' provisioner names (`kubernetes.io/azure-disk`): they
/// have no CSINode entry, so nothing tells whether they serve Windows.
const IN_TREE_PROVISIONER_PREFIX: &str = "kubernetes.io/";

/// The StorageClasses chosen for test claims instead of the cluster's default one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageClassChoice {
    /// `--storage-class`: for the claims of every OS's test pods.
    pub every_os: Option<String>,
    /// `--storage-class-windows`: for Windows test pods' claims, trusted to serve Windows.
    pub windows: Option<String>,
}

impl StorageClassChoice {
    /// The class chosen for the claims of `os`'s test pods, if one is.
    pub fn for_os(&self, os: Os) -> Option<&str> {
        match os {
            Os::Windows => self.windows.as_deref().or(self.every_os.as_deref()),
            _ => self.every_os.as_deref(),
        }
    }
}

/// The CSI drivers each node's kubelet registered, from the cluster's `CSINode` objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsiDrivers {
    /// Driver names by node name (a node without a CSINode is absent).
    Known(BTreeMap<String, Vec<String>>),
    /// The CSINodes could not be listed; why.
    Unknown(String),
}

impl Default for CsiDrivers {
    fn default() -> Self {
        CsiDrivers::Unknown("CSINodes were not read".to_string())
    }
}

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
    /// NoSchedule/NoExecute taints the test pods of this node's OS do not tolerate, as
    /// `--tolerate` would name them (`key=value:effect`, `key:effect`; Windows test pods
    /// tolerate `os=windows:NoSchedule`, every test pod what `--tolerate` adds).
    pub untolerated_taints: Vec<String>,
    /// Why this is not a real machine (virtual-kubelet, Fargate), if it is not.
    pub virtual_node: Option<String>,
}

impl NodeFacts {
    /// Ready and not cordoned: tests may be scheduled here.
    pub fn usable(&self) -> bool {
        self.ready && self.schedulable
    }

    /// Whether the test pods stay off this node only for its taints (`--tolerate` would
    /// let them land here).
    pub fn only_taints_keep_test_pods_off(&self) -> bool {
        self.usable() && self.virtual_node.is_none() && !self.untolerated_taints.is_empty()
    }

    /// Why the test pods of this node's OS would not land here, if they would not: not
    /// Ready, cordoned, an untolerated taint, or a virtual node.
    pub fn why_no_test_pods(&self) -> Option<String> {
        if !self.ready {
            Some("not Ready".to_string())
        } else if !self.schedulable {
            Some("cordoned".to_string())
        } else if let Some(why) = &self.virtual_node {
            Some(why.clone())
        } else if !self.untolerated_taints.is_empty() {
            Some(format!("taint {}", self.untolerated_taints.join(", ")))
        } else {
            None
        }
    }
}

/// The labels and taint keys that mark nodes which are not machines of their own: AKS virtual
/// nodes and other virtual-kubelet providers, EKS Fargate. They run pods elsewhere, have no
/// kube-proxy (no NodePorts) and take only pods that tolerate them.
const VIRTUAL_LABELS: &[(&str, &str, &str)] = &[
    ("type", "virtual-kubelet", "virtual-kubelet node"),
    ("eks.amazonaws.com/compute-type", "fargate", "Fargate node"),
];
const VIRTUAL_TAINTS: &[(&str, &str)] = &[
    ("virtual-kubelet.io/provider", "virtual-kubelet node"),
    ("eks.amazonaws.com/compute-type", "Fargate node"),
];

/// Why a node is a virtual-kubelet or Fargate node, by its labels and taints:
/// `virtual-kubelet node (label type=virtual-kubelet)`.
pub(crate) fn virtual_node_reason(node: &Node) -> Option<String> {
    let labels = node.metadata.labels.as_ref();
    let by_label = VIRTUAL_LABELS.iter().find_map(|(key, value, what)| {
        (labels.and_then(|l| l.get(*key)).map(String::as_str) == Some(*value))
            .then(|| format!("{what} (label {key}={value})"))
    });
    by_label.or_else(|| {
        taints_of(node).iter().find_map(|t| {
            VIRTUAL_TAINTS
                .iter()
                .find(|(key, _)| t.key == *key)
                .map(|(key, what)| format!("{what} (taint {key})"))
        })
    })
}

fn taints_of(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[])
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
    /// The provisioner of each StorageClass, by class name.
    pub storage_provisioners: BTreeMap<String, String>,
    /// The CSI drivers of each node (its `CSINode`).
    pub csi_drivers: CsiDrivers,
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

/// Asks the cluster what it offers: version, nodes, default StorageClass. `tolerations` are
/// those `--tolerate` gives every test pod: taints they tolerate do not keep tests off a node.
pub async fn discover(
    client: &Client,
    tolerations: &[TestToleration],
) -> Result<ClusterFacts, DiscoveryError> {
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
        nodes: nodes
            .items
            .iter()
            .map(|n| node_facts(n, tolerations))
            .collect(),
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
        storage_provisioners: classes
            .iter()
            .filter_map(|c| Some((c.metadata.name.clone()?, c.provisioner.clone())))
            .collect(),
        csi_drivers: csi_drivers(client).await,
    })
}

/// The CSI drivers of every node, or why they are unknown. Listing CSINodes is an optional
/// right (`list csinodes.storage.k8s.io`): without it, Windows cells that claim storage on a
/// class not chosen with `--storage-class-windows` skip, saying the drivers are unknown.
async fn csi_drivers(client: &Client) -> CsiDrivers {
    match Api::<CSINode>::all(client.clone())
        .list(&ListParams::default())
        .await
    {
        Ok(list) => CsiDrivers::Known(
            list.items
                .iter()
                .filter_map(|n| {
                    let drivers = n.spec.drivers.iter().map(|d| d.name.clone()).collect();
                    Some((n.metadata.name.clone()?, drivers))
                })
                .collect(),
        ),
        Err(error) => CsiDrivers::Unknown(format!(
            "cannot list CSINodes: {}",
            crate::kube_error::api_message(&error)
        )),
    }
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

fn node_facts(node: &Node, tolerations: &[TestToleration]) -> NodeFacts {
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
    let untolerated_taints = taints_of(node)
        .iter()
        .filter(|t| !tolerated_by_test_pods(t, os, tolerations))
        .map(taint_text)
        .collect();
    NodeFacts {
        name: node.metadata.name.clone().unwrap_or_default(),
        untolerated_taints,
        virtual_node: virtual_node_reason(node),
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
    /// are the StorageClasses chosen (`--storage-class`, `--storage-class-windows`) instead of
    /// the default one.
    pub fn skip_reason(
        &self,
        case: &TestCase,
        chosen_storage_classes: &StorageClassChoice,
    ) -> Option<String> {
        let unmet: Vec<(&Requirement, String)> = case
            .requires
            .iter()
            .filter_map(|r| Some((r, self.unmet(r, case, chosen_storage_classes)?)))
            .collect();
        // Without one node of an OS, "needs two of them" says nothing more.
        let mut reasons: Vec<String> = unmet
            .iter()
            .filter(|(r, _)| match r {
                Requirement::TwoNodes(os) => !unmet
                    .iter()
                    .any(|(other, _)| **other == Requirement::Nodes(*os)),
                _ => true,
            })
            .map(|(_, reason)| reason.clone())
            .collect();
        reasons.dedup();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    fn unmet(
        &self,
        requirement: &Requirement,
        case: &TestCase,
        chosen_storage_classes: &StorageClassChoice,
    ) -> Option<String> {
        match requirement {
            Requirement::Nodes(os) => self.no_node_missing(*os),
            Requirement::TwoNodes(os) => self.two_nodes_missing(*os),
            Requirement::DefaultStorageClass => {
                let oses: Vec<Os> = if case.oses.is_empty() {
                    vec![Os::Linux]
                } else {
                    case.oses.iter().copied().collect()
                };
                let problems: Vec<String> = oses
                    .iter()
                    .filter_map(|os| self.storage_problem(*os, chosen_storage_classes))
                    .collect();
                (!problems.is_empty()).then(|| problems.join("; "))
            }
            Requirement::LoadBalancer => Some("no LoadBalancer support detected".to_string()),
            // Still here: the selection did not opt in (see `Selection::grant_opt_ins`).
            Requirement::OptIn { tag, reason } => {
                Some(Requirement::opt_in_skip_reason(tag, reason))
            }
        }
    }

    /// Why there is no node of `os` the test pods land on, if there is none: no Ready,
    /// uncordoned one at all, or each one's reason (taints named, with the `--tolerate` that
    /// would let the tests use them).
    fn no_node_missing(&self, os: Os) -> Option<String> {
        let of_os: Vec<&NodeFacts> = self.nodes.iter().filter(|n| n.os == Some(os)).collect();
        if of_os.iter().any(|n| n.why_no_test_pods().is_none()) {
            return None;
        }
        if !of_os.iter().any(|n| n.usable()) {
            return Some(format!("no Ready node with {OS_LABEL}={os}"));
        }
        let not_counted: Vec<String> = of_os
            .iter()
            .filter_map(|n| Some(format!("{}: {}", n.name, n.why_no_test_pods()?)))
            .collect();
        let mut reason = format!(
            "no node with {OS_LABEL}={os} takes the test pods ({})",
            not_counted.join("; ")
        );
        reason.push_str(&tolerate_hint(&of_os));
        Some(reason)
    }

    /// Why the claims of `os`'s test pods have no StorageClass to use, if they have none: the
    /// chosen class does not exist, there is no default one, or (Windows, class not chosen
    /// with `--storage-class-windows`) no Windows node's CSINode lists its provisioner.
    fn storage_problem(&self, os: Os, chosen: &StorageClassChoice) -> Option<String> {
        let class = match chosen.for_os(os) {
            Some(class) if !self.storage_classes.iter().any(|c| c == class) => {
                return Some(format!(
                    "StorageClass \"{class}\" chosen for {os} does not exist (classes: {})",
                    if self.storage_classes.is_empty() {
                        "none".to_string()
                    } else {
                        self.storage_classes.join(", ")
                    }
                ))
            }
            Some(class) => class,
            None => match &self.default_storage_class {
                Some(class) => class.as_str(),
                None => return Some(
                    "no default StorageClass (annotation storageclass.kubernetes.io/is-default-class=true; or choose one with --storage-class)".to_string(),
                ),
            },
        };
        if os != Os::Windows || chosen.windows.is_some() {
            return None;
        }
        self.windows_csi_problem(class)
    }

    /// Why `class` may not serve Windows pods, if it may not: its CSI driver is listed by no
    /// CSINode of a Windows node the test pods land on, it is an in-tree provisioner (which
    /// CSINodes never list), or the CSINodes could not be read. Without such a Windows node
    /// the node requirement says why, not this.
    fn windows_csi_problem(&self, class: &str) -> Option<String> {
        const HOW: &str = "--storage-class-windows CLASS chooses a class for Windows claims";
        let windows_nodes: Vec<&NodeFacts> = self
            .nodes
            .iter()
            .filter(|n| n.os == Some(Os::Windows) && n.why_no_test_pods().is_none())
            .collect();
        if windows_nodes.is_empty() {
            return None;
        }
        let Some(provisioner) = self.storage_provisioners.get(class) else {
            return Some(format!(
                "the provisioner of StorageClass \"{class}\" is unknown, so whether it serves Windows is too; {HOW}"
            ));
        };
        if provisioner.starts_with(IN_TREE_PROVISIONER_PREFIX) {
            return Some(format!(
                "StorageClass \"{class}\" uses the in-tree provisioner {provisioner}, which no CSINode lists, so whether it serves Windows is unknown; {HOW}"
            ));
        }
        let drivers = match &self.csi_drivers {
            CsiDrivers::Known(drivers) => drivers,
            CsiDrivers::Unknown(why) => {
                return Some(format!(
                    "whether StorageClass \"{class}\" (provisioner {provisioner}) serves Windows is unknown: {why}; {HOW}"
                ))
            }
        };
        let mut lacking = Vec::new();
        for node in &windows_nodes {
            match drivers.get(&node.name) {
                Some(listed) if listed.contains(provisioner) => return None,
                Some(listed) if listed.is_empty() => {
                    lacking.push(format!("{}: no drivers", node.name))
                }
                Some(listed) => lacking.push(format!("{}: {}", node.name, listed.join(", "))),
                None => lacking.push(format!("{}: no CSINode", node.name)),
            }
        }
        Some(format!(
            "StorageClass \"{class}\" (provisioner {provisioner}) does not serve Windows: no Windows node's CSINode lists its driver ({}); {HOW}",
            lacking.join("; ")
        ))
    }

    /// Why there are not two nodes of `os` the test pods land on, if there are not.
    fn two_nodes_missing(&self, os: Os) -> Option<String> {
        let of_os = self.nodes.iter().filter(|n| n.os == Some(os));
        let (fit, unfit): (Vec<&NodeFacts>, Vec<&NodeFacts>) =
            of_os.partition(|n| n.why_no_test_pods().is_none());
        if fit.len() >= 2 {
            return None;
        }
        let found: Vec<&str> = fit.iter().map(|n| n.name.as_str()).collect();
        let mut reason = format!(
            "needs two schedulable nodes with {OS_LABEL}={os} (pods on different nodes), found {}",
            if found.is_empty() {
                "none".to_string()
            } else {
                format!("{} ({})", found.len(), found.join(", "))
            }
        );
        let not_counted: Vec<String> = unfit
            .iter()
            .filter_map(|n| Some(format!("{}: {}", n.name, n.why_no_test_pods()?)))
            .collect();
        if !not_counted.is_empty() {
            reason.push_str(&format!("; not counted: {}", not_counted.join("; ")));
        }
        reason.push_str(&tolerate_hint(&unfit));
        Some(reason)
    }

    /// Why the Windows pods of a cell that runs `images` land on no Windows node, if they do
    /// not: every Windows node the test pods would take has a `node.kubernetes.io/windows-build`
    /// that one of the images has no variant for, by containerd's rule
    /// (`windows_build::host_runs`): the build, the image and the builds it serves. A node
    /// without the label, an image the catalogue does not know and a Linux-only image (which
    /// a cell may run on Windows on purpose) never make this skip. Without any Windows node
    /// the node requirement says why, not this.
    pub fn windows_build_problem(&self, images: &[String]) -> Option<String> {
        let windows_nodes: Vec<&NodeFacts> = self
            .nodes
            .iter()
            .filter(|n| n.os == Some(Os::Windows) && n.why_no_test_pods().is_none())
            .collect();
        if windows_nodes.is_empty() {
            return None;
        }
        let mut problems: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for node in &windows_nodes {
            let Some(build) = &node.windows_build else {
                return None;
            };
            let unserved: Vec<String> = images
                .iter()
                .filter_map(|image| crate::windows_build::unserved(image, build))
                .collect();
            if unserved.is_empty() {
                return None;
            }
            let key = format!("build {build}: {}", unserved.join("; "));
            problems.entry(key).or_default().push(&node.name);
        }
        let each: Vec<String> = problems
            .into_iter()
            .map(|(problem, nodes)| format!("{} ({problem})", nodes.join(", ")))
            .collect();
        Some(format!(
            "no Windows node runs this cell's images: {} (containerd runs an image on a Windows host only with a variant of the host's build, or on 10.0.26100 and later of the LTSC before it)",
            each.join("; ")
        ))
    }

    /// Warnings for the run banner and `doctor`: each Windows build of the nodes the test pods
    /// take that one of `images` (the catalogue's) has no variant for.
    pub fn windows_build_warnings<'a>(
        &self,
        images: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        let mut builds: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for node in &self.nodes {
            if let (Some(Os::Windows), Some(build), None) =
                (node.os, &node.windows_build, node.why_no_test_pods())
            {
                builds.entry(build).or_default().push(&node.name);
            }
        }
        let images: Vec<&str> = images.into_iter().collect();
        builds
            .into_iter()
            .flat_map(|(build, nodes)| {
                let images = &images;
                images.iter().filter_map(move |image| {
                    let why = crate::windows_build::unserved(image, build)?;
                    Some(format!(
                        "Windows build {build} ({}): {why}; Windows cells that run it skip",
                        nodes.join(", ")
                    ))
                })
            })
            .collect()
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

/// `; --tolerate K=V:NoSchedule would let the tests use n2, n3` for the nodes among `nodes`
/// that only taints keep test pods off; empty when there are none.
fn tolerate_hint(nodes: &[&NodeFacts]) -> String {
    let tainted: Vec<&&NodeFacts> = nodes
        .iter()
        .filter(|n| n.only_taints_keep_test_pods_off())
        .collect();
    if tainted.is_empty() {
        return String::new();
    }
    let mut taints: Vec<&str> = tainted
        .iter()
        .flat_map(|n| n.untolerated_taints.iter().map(String::as_str))
        .collect();
    taints.sort_unstable();
    taints.dedup();
    let flags: Vec<String> = taints.iter().map(|t| format!("--tolerate {t}")).collect();
    let names: Vec<&str> = tainted.iter().map(|n| n.name.as_str()).collect();
    format!(
        "; {} would let the tests use {}",
        flags.join(" "),
        names.join(", ")
    )
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
            untolerated_taints: vec![],
            virtual_node: None,
        }
    }

    fn windows_at(name: &str, build: &str) -> NodeFacts {
        let mut node = node(name, Os::Windows, true);
        node.windows_build = Some(build.to_string());
        node
    }

    #[test]
    fn a_windows_build_no_image_variant_serves_skips_naming_build_image_and_builds() {
        let images = vec![
            "registry.k8s.io/e2e-test-images/agnhost:2.66.1".to_string(),
            "registry.k8s.io/pause:3.10".to_string(),
        ];
        let facts = ClusterFacts {
            nodes: vec![node("l1", Os::Linux, true), windows_at("w1", "10.0.19041")],
            ..ClusterFacts::default()
        };
        let reason = facts.windows_build_problem(&images).expect("skips");
        assert!(reason.starts_with("no Windows node runs this cell's images: w1 (build 10.0.19041: image registry.k8s.io/e2e-test-images/agnhost:2.66.1 serves Windows builds 10.0.17763, 10.0.20348, 10.0.26100 only; image registry.k8s.io/pause:3.10 serves Windows builds 10.0.17763, 10.0.20348 only)"), "{reason}");
        // One Windows node that runs every image is enough.
        let facts = ClusterFacts {
            nodes: vec![
                windows_at("w1", "10.0.19041"),
                windows_at("w2", "10.0.26100"),
            ],
            ..ClusterFacts::default()
        };
        assert_eq!(facts.windows_build_problem(&images), None);
        // ltsc2025 hosts run pause 3.10's ltsc2022 variant (stable ABI).
        let facts = ClusterFacts {
            nodes: vec![windows_at("w1", "10.0.26100")],
            ..ClusterFacts::default()
        };
        assert_eq!(facts.windows_build_problem(&images), None);
        // A Linux-only image on Windows is a test's own business; unknown images and
        // unlabelled nodes make no claim.
        let facts = ClusterFacts {
            nodes: vec![windows_at("w1", "10.0.19041")],
            ..ClusterFacts::default()
        };
        let linux_only = ["registry.k8s.io/stress:v1".to_string(), "x/y:1".to_string()];
        assert_eq!(facts.windows_build_problem(&linux_only), None);
        let mut unlabelled = windows_at("w2", "");
        unlabelled.windows_build = None;
        let facts = ClusterFacts {
            nodes: vec![windows_at("w1", "10.0.19041"), unlabelled],
            ..ClusterFacts::default()
        };
        assert_eq!(facts.windows_build_problem(&images), None);
    }

    #[test]
    fn warnings_name_each_build_and_image_without_a_variant() {
        let facts = ClusterFacts {
            nodes: vec![
                windows_at("w1", "10.0.17763"),
                windows_at("w2", "10.0.26100"),
                windows_at("w3", "10.0.26100"),
            ],
            ..ClusterFacts::default()
        };
        let warnings = facts
            .windows_build_warnings(["registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10.2"]);
        assert!(warnings.is_empty(), "{warnings:?}");
        let facts = ClusterFacts {
            nodes: vec![
                windows_at("w1", "10.0.19041"),
                windows_at("w2", "10.0.26100"),
            ],
            ..ClusterFacts::default()
        };
        assert_eq!(
            facts.windows_build_warnings(["registry.k8s.io/pause:3.10.2"]),
            ["Windows build 10.0.19041 (w1): image registry.k8s.io/pause:3.10.2 serves Windows builds 10.0.17763, 10.0.20348, 10.0.26100 only; Windows cells that run it skip"]
        );
    }

    #[test]
    fn two_nodes_count_only_nodes_the_test_pods_land_on() {
        let mut tainted = node("w2", Os::Windows, true);
        tainted.untolerated_taints = vec!["gpu=true:NoSchedule".into()];
        let mut virtual_node = node("vk", Os::Linux, true);
        virtual_node.virtual_node =
            Some("virtual-kubelet node (label type=virtual-kubelet)".into());
        let facts = ClusterFacts {
            nodes: vec![
                node("l1", Os::Linux, true),
                virtual_node,
                node("w1", Os::Windows, true),
                tainted,
                node("w3", Os::Windows, true),
            ],
            ..ClusterFacts::default()
        };
        let linux = facts.skip_reason(&case(&[Requirement::TwoNodes(Os::Linux)]), &none());
        assert_eq!(
            linux.as_deref(),
            Some(
                "needs two schedulable nodes with kubernetes.io/os=linux (pods on different nodes), \
                 found 1 (l1); not counted: vk: virtual-kubelet node (label type=virtual-kubelet)"
            )
        );
        let windows = case(&[Requirement::TwoNodes(Os::Windows)]);
        assert_eq!(facts.skip_reason(&windows, &none()), None, "w1 and w3");
    }

    fn tainted(name: &str, os: Os, taint: &str) -> NodeFacts {
        NodeFacts {
            untolerated_taints: vec![taint.into()],
            ..node(name, os, true)
        }
    }

    #[test]
    fn node_facts_leave_out_the_taints_test_pods_tolerate() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "l2", "labels": {"kubernetes.io/os": "linux"}},
            "spec": {"taints": [
                {"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"},
                {"key": "node-role.kubernetes.io/infra", "effect": "NoExecute"},
                {"key": "spot", "value": "true", "effect": "PreferNoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }))
        .unwrap();
        assert_eq!(
            node_facts(&node, &[]).untolerated_taints,
            [
                "CriticalAddonsOnly=true:NoSchedule",
                "node-role.kubernetes.io/infra:NoExecute"
            ]
        );
        let tolerate = [
            TestToleration::parse("CriticalAddonsOnly=true:NoSchedule").unwrap(),
            TestToleration::parse("node-role.kubernetes.io/infra:NoExecute").unwrap(),
        ];
        let facts = node_facts(&node, &tolerate);
        assert!(facts.untolerated_taints.is_empty());
        assert_eq!(facts.why_no_test_pods(), None);
    }

    #[test]
    fn a_tainted_pool_skips_two_node_cells_naming_the_taint_and_the_flag() {
        let facts = ClusterFacts {
            nodes: vec![
                node("l1", Os::Linux, true),
                tainted("l2", Os::Linux, "CriticalAddonsOnly=true:NoSchedule"),
                node("w1", Os::Windows, true),
            ],
            ..ClusterFacts::default()
        };
        let linux = case(&[
            Requirement::Nodes(Os::Linux),
            Requirement::TwoNodes(Os::Linux),
        ]);
        assert_eq!(
            facts.skip_reason(&linux, &none()).as_deref(),
            Some(
                "needs two schedulable nodes with kubernetes.io/os=linux (pods on different nodes), \
                 found 1 (l1); not counted: l2: taint CriticalAddonsOnly=true:NoSchedule; \
                 --tolerate CriticalAddonsOnly=true:NoSchedule would let the tests use l2"
            )
        );
        assert_eq!(
            facts.skip_reason(&case(&[Requirement::Nodes(Os::Linux)]), &none()),
            None,
            "l1 takes the test pods"
        );
    }

    #[test]
    fn when_taints_keep_test_pods_off_every_node_of_an_os_the_cell_skips() {
        let mut cordoned = tainted("l3", Os::Linux, "dedicated=gpu:NoExecute");
        cordoned.schedulable = false;
        let facts = ClusterFacts {
            nodes: vec![
                tainted("l1", Os::Linux, "CriticalAddonsOnly=true:NoSchedule"),
                tainted("l2", Os::Linux, "dedicated=gpu:NoExecute"),
                cordoned,
                node("w1", Os::Windows, true),
            ],
            ..ClusterFacts::default()
        };
        let linux = case(&[
            Requirement::Nodes(Os::Linux),
            Requirement::TwoNodes(Os::Linux),
        ]);
        assert_eq!(
            facts.skip_reason(&linux, &none()).as_deref(),
            Some(
                "no node with kubernetes.io/os=linux takes the test pods (l1: taint \
                 CriticalAddonsOnly=true:NoSchedule; l2: taint dedicated=gpu:NoExecute; l3: \
                 cordoned); --tolerate CriticalAddonsOnly=true:NoSchedule --tolerate \
                 dedicated=gpu:NoExecute would let the tests use l1, l2"
            ),
            "the cordoned node is not offered; the two-nodes reason is not repeated"
        );
        let not_ready = ClusterFacts {
            nodes: vec![node("l1", Os::Linux, false)],
            ..ClusterFacts::default()
        };
        assert_eq!(
            not_ready
                .skip_reason(&case(&[Requirement::Nodes(Os::Linux)]), &none())
                .as_deref(),
            Some("no Ready node with kubernetes.io/os=linux")
        );
    }

    #[test]
    fn without_any_node_of_the_os_the_two_nodes_reason_is_not_repeated() {
        let facts = ClusterFacts {
            nodes: vec![node("l1", Os::Linux, true)],
            ..ClusterFacts::default()
        };
        let windows = case(&[
            Requirement::Nodes(Os::Windows),
            Requirement::TwoNodes(Os::Windows),
        ]);
        assert_eq!(
            facts.skip_reason(&windows, &none()).as_deref(),
            Some("no Ready node with kubernetes.io/os=windows")
        );
        let linux = case(&[
            Requirement::Nodes(Os::Linux),
            Requirement::TwoNodes(Os::Linux),
        ]);
        assert!(
            facts
                .skip_reason(&linux, &none())
                .is_some_and(|r| r.starts_with("needs two schedulable nodes")),
            "one Linux node: the two-nodes reason stays"
        );
    }

    #[test]
    fn virtual_and_fargate_nodes_are_known_by_labels_and_taints() {
        let node = |value: serde_json::Value| -> Node { serde_json::from_value(value).unwrap() };
        let aks = node(
            serde_json::json!({"metadata": {"name": "v", "labels": {"type": "virtual-kubelet"}}}),
        );
        assert_eq!(
            virtual_node_reason(&aks).as_deref(),
            Some("virtual-kubelet node (label type=virtual-kubelet)")
        );
        let fargate = node(
            serde_json::json!({"metadata": {"name": "f"}, "spec": {"taints": [
            {"key": "eks.amazonaws.com/compute-type", "value": "fargate", "effect": "NoSchedule"}]}}),
        );
        assert_eq!(
            virtual_node_reason(&fargate).as_deref(),
            Some("Fargate node (taint eks.amazonaws.com/compute-type)")
        );
        let windows_taint: Taint = serde_json::from_value(
            serde_json::json!({"key": "os", "value": "windows", "effect": "NoSchedule"}),
        )
        .unwrap();
        assert!(tolerated_by_test_pods(
            &windows_taint,
            Some(Os::Windows),
            &[]
        ));
        assert!(!tolerated_by_test_pods(
            &windows_taint,
            Some(Os::Linux),
            &[]
        ));
    }

    /// No StorageClass chosen for any OS.
    pub(crate) fn none() -> StorageClassChoice {
        StorageClassChoice::default()
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
    fn an_opt_in_left_in_the_case_skips_with_its_reason_and_how_to_select_it() {
        let facts = ClusterFacts {
            nodes: vec![node("l1", Os::Linux, true), node("w1", Os::Windows, true)],
            ..Default::default()
        };
        let opt_in = Requirement::OptIn {
            tag: "windows-pqdn".into(),
            reason: "not on Windows".into(),
        };
        let windows = case(&[Requirement::Nodes(Os::Windows), opt_in.clone()]);
        assert_eq!(
            facts.skip_reason(&windows, &none()).as_deref(),
            Some("not on Windows; opt-in: select it with --tags windows-pqdn")
        );
        // The cluster's own reasons come first; the opt-in still says how to select the cell.
        let no_windows = ClusterFacts {
            nodes: vec![node("l1", Os::Linux, true)],
            ..Default::default()
        };
        assert_eq!(
            no_windows.skip_reason(&windows, &none()).as_deref(),
            Some("no Ready node with kubernetes.io/os=windows; not on Windows; opt-in: select it with --tags windows-pqdn")
        );
        // Granted (dropped by the selection): it runs.
        let granted = case(&[Requirement::Nodes(Os::Windows)]);
        assert_eq!(facts.skip_reason(&granted, &none()), None);
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
        let chosen = StorageClassChoice {
            every_os: Some("standard".into()),
            windows: None,
        };
        assert_eq!(facts.skip_reason(&claims, &chosen), None);
        let missing = StorageClassChoice {
            every_os: Some("fast".into()),
            windows: Some("ntfs".into()),
        };
        assert_eq!(
            facts.skip_reason(&claims, &missing).as_deref(),
            Some("StorageClass \"fast\" chosen for linux does not exist (classes: standard, ntfs)")
        );
    }

    /// Two Linux and two Windows nodes, the default class `standard` of `provisioner`, and the
    /// CSINodes `drivers`.
    fn storage_facts(provisioner: &str, drivers: CsiDrivers) -> ClusterFacts {
        ClusterFacts {
            nodes: vec![
                node("l1", Os::Linux, true),
                node("w1", Os::Windows, true),
                node("w2", Os::Windows, true),
            ],
            default_storage_class: Some("standard".into()),
            storage_classes: vec!["standard".into(), "smb".into()],
            storage_provisioners: BTreeMap::from([
                ("standard".to_string(), provisioner.to_string()),
                ("smb".to_string(), "smb.csi.k8s.io".to_string()),
            ]),
            csi_drivers: drivers,
            ..ClusterFacts::default()
        }
    }

    fn windows_claims() -> TestCase {
        let mut case = case(&[Requirement::DefaultStorageClass]);
        case.oses = BTreeSet::from([Os::Windows]);
        case
    }

    fn drivers(of: &[(&str, &[&str])]) -> CsiDrivers {
        CsiDrivers::Known(
            of.iter()
                .map(|(node, d)| (node.to_string(), d.iter().map(|s| s.to_string()).collect()))
                .collect(),
        )
    }

    #[test]
    fn a_windows_claim_needs_a_windows_csinode_listing_the_provisioner() {
        let disk = "disk.csi.example.com";
        let lacking = storage_facts(
            disk,
            drivers(&[("l1", &[disk]), ("w1", &[]), ("w2", &["smb.csi.k8s.io"])]),
        );
        assert_eq!(
            lacking.skip_reason(&windows_claims(), &none()).as_deref(),
            Some(
                "StorageClass \"standard\" (provisioner disk.csi.example.com) does not serve \
                 Windows: no Windows node's CSINode lists its driver (w1: no drivers; w2: \
                 smb.csi.k8s.io); --storage-class-windows CLASS chooses a class for Windows claims"
            )
        );
        let linux = case(&[Requirement::DefaultStorageClass]);
        assert_eq!(
            lacking.skip_reason(&linux, &none()),
            None,
            "Linux is not asked"
        );
        // --storage-class-windows is trusted; --storage-class is checked like the default.
        let windows_chosen = StorageClassChoice {
            every_os: None,
            windows: Some("standard".into()),
        };
        assert_eq!(
            lacking.skip_reason(&windows_claims(), &windows_chosen),
            None
        );
        let every_os = StorageClassChoice {
            every_os: Some("smb".into()),
            windows: None,
        };
        assert_eq!(
            lacking.skip_reason(&windows_claims(), &every_os),
            None,
            "w2 lists smb.csi.k8s.io"
        );
        // One Windows node with the driver is enough; a node without a CSINode lacks it.
        let one = storage_facts(disk, drivers(&[("w2", &[disk])]));
        assert_eq!(one.skip_reason(&windows_claims(), &none()), None);
        let none_listed = storage_facts(disk, drivers(&[]));
        assert!(none_listed
            .skip_reason(&windows_claims(), &none())
            .is_some_and(|r| r.contains("(w1: no CSINode; w2: no CSINode)")));
    }

    #[test]
    fn in_tree_provisioners_and_unreadable_csinodes_skip_windows_claims_saying_why() {
        let in_tree = storage_facts("kubernetes.io/azure-disk", drivers(&[]));
        assert_eq!(
            in_tree.skip_reason(&windows_claims(), &none()).as_deref(),
            Some(
                "StorageClass \"standard\" uses the in-tree provisioner kubernetes.io/azure-disk, \
                 which no CSINode lists, so whether it serves Windows is unknown; \
                 --storage-class-windows CLASS chooses a class for Windows claims"
            )
        );
        let forbidden = storage_facts(
            "disk.csi.example.com",
            CsiDrivers::Unknown("cannot list CSINodes: csinodes is forbidden".into()),
        );
        assert_eq!(
            forbidden.skip_reason(&windows_claims(), &none()).as_deref(),
            Some(
                "whether StorageClass \"standard\" (provisioner disk.csi.example.com) serves \
                 Windows is unknown: cannot list CSINodes: csinodes is forbidden; \
                 --storage-class-windows CLASS chooses a class for Windows claims"
            )
        );
        // Without a Windows node the test pods land on, the node requirement speaks alone.
        let mut no_windows = forbidden.clone();
        no_windows.nodes.retain(|n| n.os == Some(Os::Linux));
        assert_eq!(no_windows.skip_reason(&windows_claims(), &none()), None);
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
