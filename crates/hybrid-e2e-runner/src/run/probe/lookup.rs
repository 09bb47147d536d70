//! What a check names, looked up in the cluster: pods (with OS, node and IP, as messages name
//! them), Services, their nodePorts and the nodes of their pods, Ready nodes and their
//! addresses, and the addresses a target resolves to ([`Endpoint`]; for a nodePort, the nodes
//! `nodes::choose` picks, and the ones it left out).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::api::ListParams;
use kube::Api;

use super::error::ProbeError;
use super::nodes::{self, Dialer, LeftOut};
use crate::catalog::{Protocol, Target, TargetKind};
use crate::run::scope::TestScope;

/// A pod as a failure message names it.
pub(crate) struct PodView {
    /// The pod's name.
    pub(crate) name: String,
    /// The OS it was created for (`unknown OS` if not by this test).
    pub(crate) os: String,
    /// The node it runs on (`no node` before scheduling).
    pub(crate) node: String,
    /// Its IP (empty before it has one).
    pub(crate) ip: String,
}

impl PodView {
    /// `pod "client" (linux, node n1, IP 10.244.1.5)`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "pod \"{}\" ({}, node {}, IP {})",
            self.name,
            self.os,
            self.node,
            if self.ip.is_empty() {
                "none yet"
            } else {
                &self.ip
            }
        )
    }
}

/// Reads a pod of the test's namespace.
pub(crate) async fn pod_view(scope: &TestScope<'_>, name: &str) -> Result<PodView, ProbeError> {
    let pod = Api::<Pod>::namespaced(scope.env.client.clone(), &scope.namespace)
        .get(name)
        .await
        .map_err(|source| ProbeError::ReadPod {
            name: name.to_string(),
            source,
        })?;
    Ok(PodView {
        name: name.to_string(),
        os: scope
            .os_of
            .get(name)
            .map(|o| o.to_string())
            .unwrap_or_else(|| "unknown OS".into()),
        node: pod
            .spec
            .and_then(|s| s.node_name)
            .unwrap_or_else(|| "no node".into()),
        ip: pod.status.and_then(|s| s.pod_ip).unwrap_or_default(),
    })
}

/// One address a check dials: host (IP or name), port, and a description for messages.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// IP address or DNS name.
    pub(crate) host: String,
    /// TCP or UDP port.
    pub(crate) port: u16,
    /// What it is, for messages: `pod "server" (linux, node n1) at 10.244.1.5`.
    pub(crate) desc: String,
}

impl Endpoint {
    /// The nodePort of Service `service` on `node` (chosen as `why`) at `address`.
    pub(crate) fn node_port(
        service: &str,
        node: &NodeView,
        why: &str,
        address: String,
        port: u16,
    ) -> Self {
        Endpoint {
            desc: format!(
                "nodePort {port} of service \"{service}\" on node {} ({}, {why}) at {address}",
                node.name, node.os
            ),
            host: address,
            port,
        }
    }
}

/// The addresses a check dials, and the nodes it left out (for `node-port`).
pub(crate) struct Resolved {
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) left_out: Vec<LeftOut>,
}

impl Resolved {
    /// What a NodePort check dialled and which nodes it left out (and why), a line each, for
    /// the test's log and report.
    pub(crate) fn notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self
            .endpoints
            .iter()
            .map(|e| format!("dialled {}", e.desc))
            .collect();
        notes.extend(self.left_out.iter().map(|l| format!("left out {l}")));
        notes
    }
}

/// Resolves the target to the addresses to dial from pod `source` (one, or for `node-port`
/// the nodes `nodes::choose` picks).
pub(crate) async fn resolve(
    scope: &TestScope<'_>,
    target: &Target,
    source: &PodView,
) -> Result<Resolved, ProbeError> {
    let one = |host: String, desc: String| {
        Ok(Resolved {
            endpoints: vec![Endpoint {
                host,
                port: target.port,
                desc,
            }],
            left_out: vec![],
        })
    };
    match &target.kind {
        TargetKind::Pod(name) => {
            let view = pod_view(scope, name).await?;
            if view.ip.is_empty() {
                return Err(ProbeError::PodWithoutIp(name.clone()));
            }
            let desc = format!(
                "pod \"{name}\" ({}, node {}) at {}",
                view.os, view.node, view.ip
            );
            one(view.ip, desc)
        }
        TargetKind::Service(name) => {
            let svc = service(scope, name).await?;
            let ip = svc.spec.and_then(|s| s.cluster_ip).unwrap_or_default();
            if ip.is_empty() || ip == "None" {
                return Err(ProbeError::NoClusterIp(name.clone()));
            }
            one(ip.clone(), format!("service \"{name}\" at {ip}"))
        }
        TargetKind::Host(host) => {
            let desc = match service_of_host(host, &scope.namespace) {
                Some(svc) => match service(scope, svc).await {
                    Ok(s) => format!(
                        "host {host} (service \"{svc}\" at {})",
                        s.spec.and_then(|s| s.cluster_ip).unwrap_or_default()
                    ),
                    Err(_) => format!("host {host} (no service \"{svc}\")"),
                },
                None => format!("host {host}"),
            };
            one(host.clone(), desc)
        }
        TargetKind::NodePort(name) => {
            let node_port = node_port(scope, name, target).await?;
            let nodes = ready_nodes(scope).await?;
            if nodes.is_empty() {
                return Err(ProbeError::NoReadyNode);
            }
            let servers = service_nodes(scope, name).await?;
            let dialer = Dialer::Pod {
                node: &source.node,
                os: &source.os,
            };
            let choice = nodes::choose(&nodes, &servers, &dialer);
            if choice.dial.is_empty() {
                return Err(ProbeError::Skip(format!(
                    "no Ready node can serve this NodePort check: left out {}",
                    choice
                        .left_out
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                )));
            }
            let endpoints = choice
                .dial
                .iter()
                .filter_map(|c| {
                    let ip = c.node.internal_ip.clone()?;
                    Some(Endpoint::node_port(name, c.node, &c.why, ip, node_port))
                })
                .collect();
            Ok(Resolved {
                endpoints,
                left_out: choice.left_out,
            })
        }
    }
}

/// The nodes the pods of Service `name` (its selector, in the test's namespace) run on.
pub(crate) async fn service_nodes(
    scope: &TestScope<'_>,
    name: &str,
) -> Result<BTreeSet<String>, ProbeError> {
    let selector = service(scope, name)
        .await?
        .spec
        .and_then(|s| s.selector)
        .unwrap_or_default();
    if selector.is_empty() {
        return Ok(BTreeSet::new());
    }
    let labels = selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods = Api::<Pod>::namespaced(scope.env.client.clone(), &scope.namespace)
        .list(&ListParams::default().labels(&labels))
        .await
        .map_err(|source| ProbeError::ListPods {
            selector: labels.clone(),
            source,
        })?;
    Ok(pods
        .items
        .into_iter()
        .filter_map(|p| p.spec?.node_name)
        .collect())
}

/// The Service of this namespace a cluster DNS name names (`svc`, `svc.ns`, `svc.ns.svc`,
/// `svc.ns.svc.cluster.local`), for messages.
fn service_of_host<'a>(host: &'a str, namespace: &str) -> Option<&'a str> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let mut labels = host.trim_end_matches('.').split('.');
    let svc = labels.next()?;
    match labels.next() {
        None => Some(svc),
        Some(ns) if ns == namespace && matches!(labels.next(), None | Some("svc")) => Some(svc),
        Some(_) => None,
    }
}

/// Reads a Service of the test's namespace.
async fn service(scope: &TestScope<'_>, name: &str) -> Result<Service, ProbeError> {
    Api::<Service>::namespaced(scope.env.client.clone(), &scope.namespace)
        .get(name)
        .await
        .map_err(|source| ProbeError::ReadService {
            name: name.to_string(),
            source,
        })
}

/// The nodePort of the Service port the target names (port 0: the first of its protocol).
pub(crate) async fn node_port(
    scope: &TestScope<'_>,
    name: &str,
    target: &Target,
) -> Result<u16, ProbeError> {
    let svc = service(scope, name).await?;
    let spec = svc.spec.unwrap_or_default();
    let protocol = match target.protocol {
        Protocol::Http => "TCP",
        Protocol::Udp => "UDP",
    };
    spec.ports
        .unwrap_or_default()
        .iter()
        .filter(|p| p.protocol.as_deref().unwrap_or("TCP") == protocol)
        .find(|p| target.port == 0 || p.port == i32::from(target.port))
        .and_then(|p| p.node_port)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| ProbeError::NoNodePort {
            service: name.to_string(),
            service_type: spec.type_.as_deref().unwrap_or("ClusterIP").to_string(),
            protocol,
            port: target.port,
        })
}

/// A Ready node and its addresses.
#[derive(Debug, Clone)]
pub(crate) struct NodeView {
    /// The node's name.
    pub(crate) name: String,
    /// Its `kubernetes.io/os` label (`unknown OS` without one).
    pub(crate) os: String,
    /// Its first InternalIP: what pods dial.
    pub(crate) internal_ip: Option<String>,
    /// ExternalIP first, then InternalIP: what the harness machine may reach.
    pub(crate) addresses: Vec<String>,
    /// How many of `addresses` are ExternalIPs (they are tried before any InternalIP).
    pub(crate) external_count: usize,
    /// Why it is a virtual node that serves no NodePorts (virtual-kubelet, Fargate), if it is.
    pub(crate) virtual_node: Option<String>,
}

/// The Ready nodes of the cluster, in name order.
pub(crate) async fn ready_nodes(scope: &TestScope<'_>) -> Result<Vec<NodeView>, ProbeError> {
    let nodes = Api::<Node>::all(scope.env.client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|source| ProbeError::ListNodes { source })?;
    let mut out = Vec::new();
    for node in nodes.items {
        let virtual_node = crate::cluster::virtual_node_reason(&node);
        let status = node.status.unwrap_or_default();
        let ready = status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if !ready {
            continue;
        }
        let addresses = status.addresses.unwrap_or_default();
        let of_type = |t: &str| -> Vec<String> {
            addresses
                .iter()
                .filter(|a| a.type_ == t)
                .map(|a| a.address.clone())
                .collect()
        };
        let internal = of_type("InternalIP");
        let mut reachable = of_type("ExternalIP");
        let external_count = reachable.len();
        reachable.extend(internal.iter().cloned());
        out.push(NodeView {
            name: node.metadata.name.unwrap_or_default(),
            os: node
                .metadata
                .labels
                .unwrap_or_default()
                .get("kubernetes.io/os")
                .cloned()
                .unwrap_or_else(|| "unknown OS".into()),
            internal_ip: internal.first().cloned(),
            addresses: reachable,
            external_count,
            virtual_node,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_of_test_services() {
        assert_eq!(service_of_host("web", "t1"), Some("web"));
        assert_eq!(service_of_host("web.t1", "t1"), Some("web"));
        assert_eq!(
            service_of_host("web.t1.svc.cluster.local", "t1"),
            Some("web")
        );
        assert_eq!(
            service_of_host("web.t1.svc.cluster.example", "t1"),
            Some("web")
        );
        assert_eq!(service_of_host("web.t1.example.com", "t1"), None);
        assert_eq!(service_of_host("kubernetes.default", "t1"), None);
        assert_eq!(service_of_host("10.96.0.1", "t1"), None);
    }

    #[test]
    fn pods_without_an_ip_say_so() {
        let view = PodView {
            name: "client".into(),
            os: "windows".into(),
            node: "w1".into(),
            ip: String::new(),
        };
        assert_eq!(
            view.describe(),
            "pod \"client\" (windows, node w1, IP none yet)"
        );
    }
}
