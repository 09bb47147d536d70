//! The `http` step from the machine running the harness: find the node addresses (or the
//! host) it can reach at all, then `GET` each with the harness's own client. When it reaches
//! none, the check cannot be made from here and the test is skipped.

use std::time::Instant;

use super::check::check_every;
use super::client;
use super::error::ProbeError;
use super::expand_http;
use super::lookup::{node_port, ready_nodes, Endpoint, NodeView};
use crate::catalog::{HttpExpect, Target, TargetKind};
use crate::run::scope::TestScope;

/// Runs an `http` step from the harness machine: plain HTTP to every node address it can
/// reach; skips the test when it reaches none.
pub(crate) async fn from_harness(
    scope: &TestScope<'_>,
    target: &Target,
    expect: &HttpExpect,
    deadline: Instant,
) -> Result<(), ProbeError> {
    let (target, expect) = expand_http(scope, target, expect).await?;
    let reach = match &target.kind {
        TargetKind::NodePort(name) => node_ports(scope, name, &target).await?,
        TargetKind::Host(host) => self::host(host, target.port).await,
        other => return Err(ProbeError::HarnessCannotReach(format!("{other:?}"))),
    };
    if reach.endpoints.is_empty() {
        return Err(ProbeError::Skip(format!(
            "no node address is reachable from the machine running the harness (tried {})",
            if reach.unreachable.is_empty() {
                "none: no Ready node".to_string()
            } else {
                reach.unreachable.join(", ")
            }
        )));
    }
    let path = &target.path;
    check_every(
        "the harness".to_string(),
        &reach.endpoints,
        &target,
        &expect,
        deadline,
        |endpoint| {
            let (host, port) = (endpoint.host.clone(), endpoint.port);
            async move { Ok::<_, std::convert::Infallible>(client::get(&host, port, path).await) }
        },
    )
    .await
}

/// What the harness can reach: the endpoints to check, and the addresses that did not answer.
struct Reach {
    endpoints: Vec<Endpoint>,
    /// `node address:port` (or the host) for each address that did not answer.
    unreachable: Vec<String>,
}

/// The host, if it answers on `port` at all.
async fn host(host: &str, port: u16) -> Reach {
    if client::reachable(host, port).await {
        Reach {
            endpoints: vec![Endpoint {
                host: host.to_string(),
                port,
                desc: format!("host {host}"),
            }],
            unreachable: vec![],
        }
    } else {
        Reach {
            endpoints: vec![],
            unreachable: vec![host.to_string()],
        }
    }
}

/// The nodePort of Service `name` on every Ready node, at the first of the node's addresses
/// that answers. Every node at once (a real cluster's private addresses time out, and one at
/// a time they would outlast a scaled-down step timeout).
async fn node_ports(
    scope: &TestScope<'_>,
    name: &str,
    target: &Target,
) -> Result<Reach, ProbeError> {
    let node_port = node_port(scope, name, target).await?;
    let nodes = ready_nodes(scope).await?;
    let found =
        futures::future::join_all(nodes.iter().map(|node| answering_address(node, node_port)))
            .await;
    let mut reach = Reach {
        endpoints: vec![],
        unreachable: vec![],
    };
    for (node, found) in nodes.iter().zip(found) {
        match found {
            Ok(address) => reach
                .endpoints
                .push(Endpoint::node_port(name, node, address, node_port)),
            Err(tried) => reach.unreachable.extend(
                tried
                    .iter()
                    .map(|a| format!("{} {a}:{node_port}", node.name)),
            ),
        }
    }
    Ok(reach)
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
        }
    }

    async fn closed_port() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        listener.local_addr().expect("addr").port()
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
