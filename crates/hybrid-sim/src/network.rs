//! The simulated cluster network: node and pod addresses, Service ClusterIPs and NodePorts,
//! cluster DNS (`<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`, `<svc>.<ns>.svc.cluster.local` with the
//! caller's search path), where a dial to `IP:port` lands, and the network faults.
//! Dials themselves are carried out by `Runtime` (it knows the running processes).

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use serde_json::Value;

use super::config::SimConfig;
use super::controllers::nodes::is_virtual_kubelet;
use super::faults::Fault;
use super::quirks::Quirk;
use super::store::Store;
use super::workload::shell::Dns;
use crate::meta;

/// ClusterIP of the `kubernetes` Service.
pub(crate) const KUBERNETES_SERVICE_IP: &str = "10.96.0.1";
/// ClusterIP of cluster DNS (`kube-dns` in `kube-system`).
pub(crate) const DNS_SERVICE_IP: &str = "10.96.0.10";
pub(crate) const CLUSTER_DOMAIN: &str = "cluster.local";
/// Address API-server proxy requests come from (the control plane).
pub(crate) const CONTROL_PLANE_IP: &str = "10.240.0.2";
pub(crate) const NODE_PORT_RANGE: std::ops::RangeInclusive<u16> = 30000..=32767;

/// InternalIP of the node with index `i` (0-based, Linux nodes first).
pub(crate) fn node_ip(i: usize) -> String {
    format!("10.240.0.{}", 10 + i)
}

/// ExternalIP of the node with index `i`: a loopback address unique to the simulated cluster
/// serving its API on `api_port` (`127.<hi>.<lo>.<10+i>`), where its NodePorts really listen,
/// so the harness machine reaches them (Linux routes all of 127/8 to loopback).
pub(crate) fn node_external_ip(api_port: u16, i: usize) -> String {
    let [hi, lo] = api_port.to_be_bytes();
    format!("127.{hi}.{lo}.{}", 10 + i)
}

/// Pod CIDR of the node with index `i`.
pub(crate) fn pod_cidr(i: usize) -> String {
    format!("10.244.{i}.0/24")
}

/// Why a connection failed, worded by the caller in agnhost's style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DialFailure {
    /// Nothing answers (dropped packets, unknown address): `i/o timeout`.
    Timeout,
    /// Nothing listens on the port, or a Service has no endpoints: `connection refused`.
    Refused,
    /// The name does not resolve.
    NoSuchHost,
}

/// Mutable network bookkeeping (pod IPs in use, round-robin positions, source ports).
#[derive(Debug, Default)]
pub(crate) struct NetState {
    next_host: HashMap<String, u32>,
    in_use: HashSet<String>,
    round_robin: HashMap<String, usize>,
    ephemeral: u16,
}

impl NetState {
    /// A free pod IP from a node's `spec.podCIDR` (`10.244.N.0/24`).
    pub(crate) fn allocate_pod_ip(&mut self, pod_cidr: &str) -> Option<String> {
        let base: Ipv4Addr = pod_cidr.split('/').next()?.parse().ok()?;
        let base = u32::from(base);
        let next = self.next_host.entry(pod_cidr.to_string()).or_insert(2);
        for _ in 0..253 {
            let host = *next;
            *next = if host >= 254 { 2 } else { host + 1 };
            let ip = Ipv4Addr::from(base + host).to_string();
            if self.in_use.insert(ip.clone()) {
                return Some(ip);
            }
        }
        None
    }

    pub(crate) fn release_pod_ip(&mut self, ip: &str) {
        self.in_use.remove(ip);
    }

    /// The next of `n` endpoints for a Service (round robin).
    pub(crate) fn pick(&mut self, service: &str, n: usize) -> usize {
        let i = self.round_robin.entry(service.to_string()).or_default();
        let pick = *i % n.max(1);
        *i = i.wrapping_add(1);
        pick
    }

    /// A source port for an outgoing connection.
    pub(crate) fn source_port(&mut self) -> u16 {
        self.ephemeral = if self.ephemeral < 40000 || self.ephemeral >= 60999 {
            40000
        } else {
            self.ephemeral + 1
        };
        self.ephemeral
    }
}

/// Cluster DNS for pods of one namespace.
pub(crate) struct ClusterDns {
    pub(crate) store: Arc<Store>,
    pub(crate) namespace: String,
    pub(crate) broken: bool,
}

impl ClusterDns {
    pub(crate) fn new(store: Arc<Store>, config: &SimConfig, namespace: &str) -> Self {
        Self {
            store,
            namespace: namespace.to_string(),
            broken: config.has(Fault::Dns),
        }
    }
}

impl Dns for ClusterDns {
    fn lookup(&self, name: &str) -> Option<(String, String)> {
        if self.broken {
            return None;
        }
        resolve(&self.store, &self.namespace, name)
    }

    fn answering(&self) -> bool {
        !self.broken
    }
}

/// Resolves `name` as a pod in `namespace` would (search path `<ns>.svc.cluster.local`,
/// `svc.cluster.local`, `cluster.local`): `(fqdn, ClusterIP)`.
pub(crate) fn resolve(store: &Store, namespace: &str, name: &str) -> Option<(String, String)> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return None;
    }
    if name == "localhost" {
        return Some(("localhost".into(), "127.0.0.1".into()));
    }
    if name.parse::<Ipv4Addr>().is_ok() {
        return Some((name.clone(), name));
    }
    let suffix = format!(".svc.{CLUSTER_DOMAIN}");
    let mut candidates = Vec::new();
    if name.ends_with(CLUSTER_DOMAIN) {
        candidates.push(name.clone());
    } else {
        candidates.push(format!("{name}.{namespace}{suffix}"));
        candidates.push(format!("{name}.svc.{CLUSTER_DOMAIN}"));
        candidates.push(format!("{name}.{CLUSTER_DOMAIN}"));
    }
    candidates.into_iter().find_map(|fqdn| {
        let short = fqdn.strip_suffix(&suffix)?;
        let (svc, ns) = short.split_once('.')?;
        if ns.contains('.') {
            return None;
        }
        let svc_obj = store.get("services", ns, svc)?;
        let ip = svc_obj["spec"]["clusterIP"].as_str()?;
        if ip.is_empty() || ip == "None" {
            // Headless: the first ready endpoint.
            let addr = slices_of(store, ns, svc)
                .iter()
                .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
                .filter(endpoint_is_ready)
                .find_map(|e| e["addresses"][0].as_str().map(str::to_string))?;
            return Some((fqdn.clone(), addr));
        }
        Some((fqdn.clone(), ip.to_string()))
    })
}

/// Whether traffic between pods on these nodes' operating systems is dropped.
pub(crate) fn drops(config: &SimConfig, src_windows: bool, dst_windows: bool) -> bool {
    config.has(Fault::CrossOsNetwork) && src_windows != dst_windows
}

/// Whether a UDP datagram between pods is lost.
pub(crate) fn drops_udp(config: &SimConfig) -> bool {
    config.has(Fault::UdpDrop)
}

/// The source address a destination sees for traffic from a pod: the pod's IP, or its node's
/// IP under the `snat` fault.
pub(crate) fn source_ip<'a>(config: &SimConfig, pod_ip: &'a str, node_ip: &'a str) -> &'a str {
    if config.has(Fault::Snat) {
        node_ip
    } else {
        pod_ip
    }
}

/// A pod a NodePort dial comes from: its OS and its node's InternalIP.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodePortClient<'a> {
    pub(crate) windows: bool,
    pub(crate) host_ip: &'a str,
}

/// Whether a TCP/UDP dial to `port` of `node` (a Node object) is silently dropped, so that it
/// times out: a virtual-kubelet node has no node network at all (nothing answers at its
/// addresses); under `nodeport-silent-windows` a Windows node never programmed its NodePorts;
/// under `Quirk::WindowsNoLocalNodeport` a Windows pod cannot reach a NodePort at its own
/// node's address. `from`: the pod dialling, `None` for a client outside the cluster.
pub(crate) fn node_port_dropped(
    config: &SimConfig,
    node: &Value,
    port: u16,
    from: Option<NodePortClient<'_>>,
) -> bool {
    if is_virtual_kubelet(node) {
        return true;
    }
    if !NODE_PORT_RANGE.contains(&port) {
        return false;
    }
    let windows_node = node["metadata"]["labels"]["kubernetes.io/os"] == "windows";
    if windows_node && config.has(Fault::NodeportSilentWindows) {
        return true;
    }
    from.is_some_and(|client| {
        client.windows
            && config.has_quirk(Quirk::WindowsNoLocalNodeport)
            && node_internal_ip(node).as_deref() == Some(client.host_ip)
    })
}

/// The node whose InternalIP is `ip`.
pub(crate) fn node_with_internal_ip(store: &Store, ip: &str) -> Option<Value> {
    store
        .list("nodes", None)
        .0
        .into_iter()
        .find(|n| node_internal_ip(n).as_deref() == Some(ip))
}

/// A backend a dial reaches after Service translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backend {
    pub(crate) namespace: String,
    pub(crate) pod: String,
    pub(crate) port: u16,
}

/// Where `ip:port` leads when it is a Service's ClusterIP or a node's `InternalIP:nodePort`.
/// `None`: not a Service address (maybe a pod IP). `Some(Err)`: a Service address that refuses.
pub(crate) fn service_backend(
    store: &Store,
    config: &SimConfig,
    net: &mut NetState,
    ip: &str,
    port: u16,
    udp: bool,
) -> Option<Result<Backend, DialFailure>> {
    let protocol = if udp { "UDP" } else { "TCP" };
    let (services, _) = store.list("services", None);
    let is_node_ip = store
        .list("nodes", None)
        .0
        .iter()
        .any(|n| node_internal_ip(n).as_deref() == Some(ip));
    for svc in &services {
        let cluster_ip = svc["spec"]["clusterIP"].as_str().unwrap_or_default();
        let ports = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
        let matched = ports.iter().find(|p| {
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            if proto != protocol {
                return false;
            }
            if cluster_ip == ip {
                p["port"].as_u64() == Some(u64::from(port))
            } else {
                is_node_ip && p["nodePort"].as_u64() == Some(u64::from(port))
            }
        });
        let Some(sp) = matched else { continue };
        if cluster_ip != ip && config.has(Fault::NodeportClosed) {
            return Some(Err(DialFailure::Refused));
        }
        let ns = meta::namespace(svc);
        let name = meta::name(svc);
        let port_name = sp["name"].as_str().unwrap_or_default();
        // Under a real control plane the Endpoints exist; this kube-proxy then ignores them.
        let backends = if config.has(Fault::NoEndpoints) {
            Vec::new()
        } else {
            ready_backends(store, ns, name, port_name, protocol)
        };
        if backends.is_empty() {
            return Some(Err(DialFailure::Refused));
        }
        let i = net.pick(&format!("{ns}/{name}/{port}"), backends.len());
        return Some(Ok(backends[i].clone()));
    }
    if is_node_ip {
        return Some(Err(DialFailure::Refused));
    }
    None
}

/// The EndpointSlices of a Service (label `kubernetes.io/service-name`), as kube-proxy reads
/// them: a real controller may split one Service over several, named `<service>-<random>`.
fn slices_of(store: &Store, ns: &str, svc: &str) -> Vec<Value> {
    store
        .list("endpointslices", Some(ns))
        .0
        .into_iter()
        .filter(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] == svc)
        .collect()
}

/// Whether kube-proxy sends traffic to a slice endpoint: ready (absent counts as ready).
fn endpoint_is_ready(endpoint: &Value) -> bool {
    endpoint["conditions"]["ready"].as_bool().unwrap_or(true)
}

/// The ready endpoints of a Service's EndpointSlices for the port named `port_name`.
fn ready_backends(
    store: &Store,
    ns: &str,
    svc: &str,
    port_name: &str,
    protocol: &str,
) -> Vec<Backend> {
    let mut out = Vec::new();
    for slice in slices_of(store, ns, svc) {
        let port = slice["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| {
                p["name"].as_str().unwrap_or_default() == port_name
                    && p["protocol"].as_str().unwrap_or("TCP") == protocol
            })
            .and_then(|p| p["port"].as_u64())
            .and_then(|p| u16::try_from(p).ok());
        let Some(port) = port else { continue };
        for endpoint in slice["endpoints"].as_array().into_iter().flatten() {
            if !endpoint_is_ready(endpoint) {
                continue;
            }
            if let Some(pod) = endpoint["targetRef"]["name"].as_str() {
                out.push(Backend {
                    namespace: ns.to_string(),
                    pod: pod.to_string(),
                    port,
                });
            }
        }
    }
    // Several slices come in no fixed order: keep round robin stable.
    out.sort_by(|a, b| a.pod.cmp(&b.pod));
    out
}

pub(crate) fn node_internal_ip(node: &Value) -> Option<String> {
    node["status"]["addresses"]
        .as_array()?
        .iter()
        .find(|a| a["type"] == "InternalIP")?["address"]
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_ips_come_from_the_node_cidr_and_are_reused_after_release() {
        let mut net = NetState::default();
        let a = net.allocate_pod_ip("10.244.1.0/24").unwrap();
        let b = net.allocate_pod_ip("10.244.1.0/24").unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("10.244.1.2", "10.244.1.3"));
        net.release_pod_ip(&a);
        assert_ne!(net.allocate_pod_ip("10.244.1.0/24").unwrap(), b);
    }

    #[test]
    fn dns_names_resolve_with_the_search_path() {
        let store = Store::new();
        store
            .create(
                "services",
                "web",
                json!({"metadata": {"name": "front"}, "spec": {"clusterIP": "10.96.1.7"}}),
            )
            .unwrap();
        store
            .create(
                "services",
                "default",
                json!({"metadata": {"name": "kubernetes"}, "spec": {"clusterIP": "10.96.0.1"}}),
            )
            .unwrap();
        let ip = |ns: &str, n: &str| resolve(&store, ns, n).map(|(_, ip)| ip);
        assert_eq!(ip("web", "front").as_deref(), Some("10.96.1.7"));
        assert_eq!(ip("other", "front"), None);
        assert_eq!(ip("other", "front.web").as_deref(), Some("10.96.1.7"));
        assert_eq!(ip("other", "front.web.svc").as_deref(), Some("10.96.1.7"));
        assert_eq!(
            ip("other", "front.web.svc.cluster.local").as_deref(),
            Some("10.96.1.7")
        );
        assert_eq!(
            ip("web", "kubernetes.default").as_deref(),
            Some("10.96.0.1")
        );
        assert_eq!(ip("web", "nope"), None);
    }
}
