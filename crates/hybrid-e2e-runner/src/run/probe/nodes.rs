//! Which nodes a NodePort check dials ([`choose`]): the nodes the Service's pods run on, plus
//! one node of each OS, never a node that cannot serve NodePorts (virtual-kubelet and Fargate
//! nodes), and, for a Windows client, never its own node, which Windows cannot reach a NodePort
//! on. What was left out is said, with why ([`LeftOut`]), so a result can name it.
//!
//! One node per OS and the server's node check what matters on any cluster size: the NodePort
//! reaches the backend from a node of each OS, locally and remotely. Dialling every node made
//! one black-holed node of a large cluster eat the step's deadline.

use std::collections::BTreeSet;
use std::fmt;

use super::lookup::NodeView;

/// Kubernetes' Windows networking limitations: "Local NodePort access from the node itself"
/// is not supported (it works from other nodes and external clients).
pub(crate) const WINDOWS_LOCAL_NODEPORT: &str =
    "https://kubernetes.io/docs/concepts/services-networking/windows-networking/#limitations";

/// A node chosen to dial, and why it was.
#[derive(Debug)]
pub(crate) struct Chosen<'a> {
    pub(crate) node: &'a NodeView,
    /// `the server's node`, `one node per OS`.
    pub(crate) why: String,
}

/// A node left out of a check, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeftOut {
    /// The node's name.
    pub(crate) node: String,
    /// Why it was left out.
    pub(crate) reason: String,
}

impl fmt::Display for LeftOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {} ({})", self.node, self.reason)
    }
}

/// The nodes to dial and the ones left out.
#[derive(Debug)]
pub(crate) struct Choice<'a> {
    pub(crate) dial: Vec<Chosen<'a>>,
    pub(crate) left_out: Vec<LeftOut>,
}

/// Who dials: a pod (its node and OS), or the harness machine.
pub(crate) enum Dialer<'a> {
    Pod { node: &'a str, os: &'a str },
    Harness,
}

/// Why `node` cannot serve this dialer a NodePort, if it cannot.
pub(crate) fn unfit(node: &NodeView, dialer: &Dialer<'_>) -> Option<String> {
    if let Some(virtual_node) = &node.virtual_node {
        return Some(format!("{virtual_node}: serves no NodePorts"));
    }
    if let Dialer::Pod { node: own, os } = dialer {
        if *os == "windows" && node.name == *own {
            return Some(format!(
                "the Windows client's own node: Windows does not support NodePort access from \
                 the node itself ({WINDOWS_LOCAL_NODEPORT})"
            ));
        }
        if node.internal_ip.is_none() {
            return Some("no InternalIP".to_string());
        }
    }
    None
}

/// Chooses from `nodes` (Ready, in name order) the ones to dial: every fit node in
/// `server_nodes`, then for each OS the first fit node not chosen yet (a node other than the
/// server's, so the NodePort is also crossed between nodes). Unfit nodes are left out, with why.
pub(crate) fn choose<'a>(
    nodes: &'a [NodeView],
    server_nodes: &BTreeSet<String>,
    dialer: &Dialer<'_>,
) -> Choice<'a> {
    let mut left_out = Vec::new();
    let mut fit = Vec::new();
    for node in nodes {
        match unfit(node, dialer) {
            Some(reason) => left_out.push(LeftOut {
                node: node.name.clone(),
                reason,
            }),
            None => fit.push(node),
        }
    }
    let mut dial: Vec<Chosen<'a>> = fit
        .iter()
        .filter(|n| server_nodes.contains(&n.name))
        .map(|node| Chosen {
            node,
            why: "the server's node".to_string(),
        })
        .collect();
    let oses: BTreeSet<&str> = fit.iter().map(|n| n.os.as_str()).collect();
    for os in oses {
        let taken = |n: &NodeView| dial.iter().any(|c| c.node.name == n.name);
        if let Some(node) = fit.iter().find(|n| n.os == os && !taken(n)) {
            dial.push(Chosen {
                node,
                why: "one node per OS".to_string(),
            });
        }
    }
    Choice { dial, left_out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, os: &str) -> NodeView {
        NodeView {
            name: name.into(),
            os: os.into(),
            internal_ip: Some(format!("10.0.0.{}", name.len())),
            addresses: vec![],
            external_count: 0,
            virtual_node: None,
        }
    }

    fn names(choice: &Choice<'_>) -> Vec<(String, String)> {
        choice
            .dial
            .iter()
            .map(|c| (c.node.name.clone(), c.why.clone()))
            .collect()
    }

    fn cluster() -> Vec<NodeView> {
        let mut vk = node("vk", "linux");
        vk.virtual_node = Some("virtual-kubelet node (label type=virtual-kubelet)".into());
        vec![
            node("l1", "linux"),
            node("l2", "linux"),
            node("l3", "linux"),
            vk,
            node("w1", "windows"),
            node("w2", "windows"),
        ]
    }

    #[test]
    fn the_servers_node_and_one_other_node_per_os() {
        let nodes = cluster();
        let server = BTreeSet::from(["l2".to_string()]);
        let choice = choose(
            &nodes,
            &server,
            &Dialer::Pod {
                node: "l1",
                os: "linux",
            },
        );
        assert_eq!(
            names(&choice),
            [
                ("l2".into(), "the server's node".into()),
                ("l1".into(), "one node per OS".into()),
                ("w1".into(), "one node per OS".into()),
            ]
        );
        assert_eq!(
            choice.left_out,
            [LeftOut {
                node: "vk".into(),
                reason: "virtual-kubelet node (label type=virtual-kubelet): serves no NodePorts"
                    .into()
            }]
        );
    }

    #[test]
    fn a_windows_client_never_dials_its_own_node() {
        let nodes = cluster();
        let server = BTreeSet::from(["w1".to_string()]);
        let choice = choose(
            &nodes,
            &server,
            &Dialer::Pod {
                node: "w1",
                os: "windows",
            },
        );
        assert_eq!(
            names(&choice),
            [
                ("l1".into(), "one node per OS".into()),
                ("w2".into(), "one node per OS".into()),
            ]
        );
        let own = &choice.left_out[1];
        assert_eq!(own.node, "w1");
        assert!(own.reason.contains("Windows client's own node"), "{own}");
        assert!(own.reason.contains(WINDOWS_LOCAL_NODEPORT), "{own}");
    }

    #[test]
    fn a_linux_client_dials_its_own_node() {
        let nodes = cluster();
        let choice = choose(
            &nodes,
            &BTreeSet::new(),
            &Dialer::Pod {
                node: "l1",
                os: "linux",
            },
        );
        assert_eq!(choice.dial[0].node.name, "l1");
        assert_eq!(choice.left_out.len(), 1);
    }

    #[test]
    fn the_harness_keeps_nodes_without_internal_ip() {
        let mut external_only = node("e1", "linux");
        external_only.internal_ip = None;
        let nodes = vec![external_only];
        let harness = choose(&nodes, &BTreeSet::new(), &Dialer::Harness);
        assert_eq!(harness.dial.len(), 1);
        let pod = choose(
            &nodes,
            &BTreeSet::new(),
            &Dialer::Pod {
                node: "x",
                os: "linux",
            },
        );
        assert!(pod.dial.is_empty());
        assert_eq!(pod.left_out[0].reason, "no InternalIP");
    }
}
