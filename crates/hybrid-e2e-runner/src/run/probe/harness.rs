//! The `http` step from the machine running the harness: find the nodes (or the host) it can
//! reach at all, then `GET` the NodePort on the ones `nodes::choose` picks, with the harness's
//! own client. Whether a node is reachable is judged on the kubelet's port 10250, not on the
//! NodePort under test, so a node whose NodePort is silent fails the check instead of being
//! dropped. When no node of the server's OS is reachable, the check cannot be made from here
//! and the test is skipped with that reason.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::check::check_every;
use super::client;
use super::error::ProbeError;
use super::expand_http;
use super::lookup::{node_port, ready_nodes, service_nodes, Endpoint, NodeView, Resolved};
use super::nodes::{self, Dialer, LeftOut};
use crate::catalog::{HttpExpect, Target, TargetKind};
use crate::run::scope::TestScope;

/// The port a node's reachability is judged on: the kubelet's, open on every real node to the
/// control plane (and commonly to the node's network), and unrelated to kube-proxy.
const KUBELET_PORT: u16 = 10250;

/// Runs an `http` step from the harness machine: plain HTTP to the NodePort on the reachable
/// nodes chosen (or to the host); skips the test when no node of the server's OS is reachable.
/// Passed, it returns notes for the test's log (the nodes dialled and left out).
pub(crate) async fn from_harness(
    scope: &TestScope<'_>,
    target: &Target,
    expect: &HttpExpect,
    deadline: Instant,
) -> Result<Vec<String>, ProbeError> {
    let (target, expect) = expand_http(scope, target, expect).await?;
    let (reach, notes) = match &target.kind {
        TargetKind::NodePort(name) => {
            let reach = node_ports(scope, name, &target).await?;
            let notes = reach.notes();
            (reach, notes)
        }
        TargetKind::Host(host) => (self::host(host, target.port).await?, vec![]),
        other => return Err(ProbeError::HarnessCannotReach(format!("{other:?}"))),
    };
    let path = &target.path;
    check_every(
        "the harness".to_string(),
        &reach.endpoints,
        reach.left_out,
        &target,
        &expect,
        deadline,
        |endpoint| {
            let (host, port) = (endpoint.host.clone(), endpoint.port);
            async move { Ok::<_, std::convert::Infallible>(client::get(&host, port, path).await) }
        },
    )
    .await?;
    Ok(notes)
}

/// The host, if it answers on `port` at all; else the test is skipped.
async fn host(host: &str, port: u16) -> Result<Resolved, ProbeError> {
    if !client::reachable(host, port).await {
        return Err(ProbeError::Skip(format!(
            "host {host} is not reachable on port {port} from the machine running the harness"
        )));
    }
    Ok(Resolved {
        endpoints: vec![Endpoint {
            host: host.to_string(),
            port,
            desc: format!("host {host}"),
        }],
        left_out: vec![],
    })
}

/// The nodePort of Service `name` on the nodes chosen among those the harness reaches (each at
/// the first of its addresses whose kubelet port answers); every node is probed at once (a real
/// cluster's private addresses time out, and one at a time they would outlast a step timeout).
async fn node_ports(
    scope: &TestScope<'_>,
    name: &str,
    target: &Target,
) -> Result<Resolved, ProbeError> {
    let node_port = node_port(scope, name, target).await?;
    let nodes = ready_nodes(scope).await?;
    let servers = service_nodes(scope, name).await?;
    let mut left_out = Vec::new();
    let mut candidates = Vec::new();
    for node in &nodes {
        match nodes::unfit(node, &Dialer::Harness) {
            Some(reason) => left_out.push(LeftOut {
                node: node.name.clone(),
                reason,
            }),
            None => candidates.push(node),
        }
    }
    let found = futures::future::join_all(
        candidates
            .iter()
            .map(|node| answering_address(node, KUBELET_PORT)),
    )
    .await;
    let mut reachable: Vec<NodeView> = Vec::new();
    let mut address_of = BTreeMap::new();
    for (node, found) in candidates.into_iter().zip(found) {
        match found {
            Ok(address) => {
                address_of.insert(node.name.clone(), address);
                reachable.push(node.clone());
            }
            Err(tried) => left_out.push(LeftOut {
                node: node.name.clone(),
                reason: format!(
                    "not reachable from the machine running the harness: no answer on the \
                     kubelet port at {}",
                    if tried.is_empty() {
                        "any address (it has none)".to_string()
                    } else {
                        tried
                            .iter()
                            .map(|a| format!("{a}:{KUBELET_PORT}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            }),
        }
    }
    if let Some(reason) = unreachable_reason(&nodes, &servers, &reachable, &left_out) {
        return Err(ProbeError::Skip(reason));
    }
    let choice = nodes::choose(&reachable, &servers, &Dialer::Harness);
    let endpoints = choice
        .dial
        .iter()
        .filter_map(|c| {
            let address = address_of.get(&c.node.name)?.clone();
            Some(Endpoint::node_port(
                name, c.node, &c.why, address, node_port,
            ))
        })
        .collect();
    left_out.extend(choice.left_out);
    Ok(Resolved {
        endpoints,
        left_out,
    })
}

/// Why the check cannot be made from here, if it cannot: no node of the server's OS (the OS of
/// the nodes in `servers`) is among the `reachable` ones, or no node at all is.
fn unreachable_reason(
    nodes: &[NodeView],
    servers: &BTreeSet<String>,
    reachable: &[NodeView],
    left_out: &[LeftOut],
) -> Option<String> {
    let server_oses: BTreeSet<&str> = nodes
        .iter()
        .filter(|n| servers.contains(&n.name))
        .map(|n| n.os.as_str())
        .collect();
    let missing: Vec<&str> = server_oses
        .iter()
        .copied()
        .filter(|os| !reachable.iter().any(|n| n.os == *os))
        .collect();
    if !reachable.is_empty() && missing.is_empty() {
        return None;
    }
    let what = if missing.is_empty() {
        "no node is".to_string()
    } else {
        format!("no {} node (the server's OS) is", missing.join(" or "))
    };
    Some(format!(
        "{what} reachable from the machine running the harness (judged on the kubelet port \
         {KUBELET_PORT}); left out {}",
        if left_out.is_empty() {
            "none: no Ready node".to_string()
        } else {
            left_out
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        }
    ))
}

/// The first address of `node` that answers on `port`, or every address tried. Its
/// ExternalIPs first; its InternalIPs only when none of those answers.
async fn answering_address(node: &NodeView, port: u16) -> Result<String, Vec<String>> {
    let (external, internal) = node.addresses.split_at(node.external_count);
    let mut tried = Vec::new();
    for addresses in [external, internal] {
        let answers =
            futures::future::join_all(addresses.iter().map(|a| client::reachable(a, port))).await;
        if let Some((address, _)) = addresses.iter().zip(&answers).find(|(_, ok)| **ok) {
            return Ok(address.clone());
        }
        tried.extend(addresses.iter().cloned());
    }
    Err(tried)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(addresses: &[&str], external_count: usize) -> NodeView {
        NodeView {
            name: "n1".into(),
            os: "linux".into(),
            internal_ip: None,
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            external_count,
            virtual_node: None,
        }
    }

    async fn closed_port() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        listener.local_addr().expect("addr").port()
    }

    fn named(name: &str, os: &str) -> NodeView {
        NodeView {
            name: name.into(),
            os: os.into(),
            ..node(&[], 0)
        }
    }

    #[test]
    fn without_a_reachable_node_of_the_servers_os_the_check_is_skipped() {
        let nodes = [named("l1", "linux"), named("w1", "windows")];
        let servers = BTreeSet::from(["w1".to_string()]);
        let left_out = [LeftOut {
            node: "w1".into(),
            reason: "not reachable".into(),
        }];
        let reason = unreachable_reason(&nodes, &servers, &nodes[..1], &left_out);
        assert_eq!(
            reason.as_deref(),
            Some(
                "no windows node (the server's OS) is reachable from the machine running the \
                 harness (judged on the kubelet port 10250); left out node w1 (not reachable)"
            )
        );
        assert_eq!(unreachable_reason(&nodes, &servers, &nodes, &[]), None);
        let none = unreachable_reason(&nodes, &BTreeSet::new(), &[], &[]);
        assert!(none.is_some_and(|r| r.starts_with("no node is reachable")
            && r.ends_with("left out none: no Ready node")));
    }

    #[tokio::test]
    async fn external_addresses_are_tried_first() {
        let port = closed_port().await;
        let found = answering_address(&node(&["127.0.0.1", "127.0.0.2"], 1), port).await;
        assert_eq!(found, Ok("127.0.0.1".to_string()));
    }

    #[tokio::test]
    async fn a_node_without_addresses_tried_none() {
        let found = answering_address(&node(&[], 0), 80).await;
        assert_eq!(found, Err(vec![]));
    }
}
