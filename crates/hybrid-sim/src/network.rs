//! The simulated cluster network: node and pod addresses (IPv4, or IPv6 pod addresses under the
//! `ipv6` quirk), Service ClusterIPs and NodePorts, cluster DNS (`<svc>.<ns>.svc.<domain>` found
//! through the resolver's search list, as a pod's `/etc/resolv.conf` sets it: `ndots:5`, search
//! `<ns>.svc.<domain> svc.<domain> <domain>`; Windows pods under `windows-dns-pqdn` query
//! dotted names as-is only), where a dial to `IP:port` lands, and the network faults.
//! Dials themselves are carried out by `Runtime` (it knows the running processes).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
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
/// The kubelet's default `clusterDomain`.
pub(crate) const CLUSTER_DOMAIN: &str = "cluster.local";
/// The cluster domain under the `cluster-domain` quirk.
pub(crate) const QUIRK_CLUSTER_DOMAIN: &str = "cluster.example";
/// The resolver's `ndots` in pods with dnsPolicy ClusterFirst (the kubelet writes `ndots:5`).
pub(crate) const NDOTS: usize = 5;
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

/// Pod CIDR of the node with index `i`: `10.244.N.0/24`, or the /64 `fd00:10:244:N::/64` under
/// the `ipv6` quirk.
pub(crate) fn pod_cidr(config: &SimConfig, i: usize) -> String {
    if config.has_quirk(Quirk::Ipv6) {
        format!("fd00:10:244:{i:x}::/64")
    } else {
        format!("10.244.{i}.0/24")
    }
}

/// The cluster's DNS domain (the kubelet's `clusterDomain`).
pub(crate) fn cluster_domain(config: &SimConfig) -> &'static str {
    if config.has_quirk(Quirk::ClusterDomain) {
        QUIRK_CLUSTER_DOMAIN
    } else {
        CLUSTER_DOMAIN
    }
}

/// The resolver search list of a pod in `namespace` (dnsPolicy ClusterFirst).
pub(crate) fn search_list(namespace: &str, domain: &str) -> [String; 3] {
    [
        format!("{namespace}.svc.{domain}"),
        format!("svc.{domain}"),
        domain.to_string(),
    ]
}

/// `/etc/resolv.conf` as the kubelet writes it for a Linux pod with dnsPolicy ClusterFirst.
pub(crate) fn resolv_conf(namespace: &str, domain: &str) -> String {
    format!(
        "search {}\nnameserver {DNS_SERVICE_IP}\noptions ndots:{NDOTS}\n",
        search_list(namespace, domain).join(" ")
    )
}

/// An IP literal as a host (`10.0.0.1`, `fd00::1`, `[fd00::1]`), normalised; `None` for names.
pub(crate) fn ip_literal(host: &str) -> Option<String> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

/// `host:port` as Go's `net.JoinHostPort` writes it (`[v6]:port`).
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
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
    /// A free pod IP from a node's pod CIDR (`10.244.N.0/24` or `fd00:10:244:N::/64`; hosts
    /// 2 to 254 of it either way).
    pub(crate) fn allocate_pod_ip(&mut self, pod_cidr: &str) -> Option<String> {
        let base: IpAddr = pod_cidr.split('/').next()?.parse().ok()?;
        let next = self.next_host.entry(pod_cidr.to_string()).or_insert(2);
        for _ in 0..253 {
            let host = *next;
            *next = if host >= 254 { 2 } else { host + 1 };
            let ip = match base {
                IpAddr::V4(v4) => Ipv4Addr::from(u32::from(v4) + host).to_string(),
                IpAddr::V6(v6) => Ipv6Addr::from(u128::from(v6) + u128::from(host)).to_string(),
            };
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

/// Cluster DNS as the resolver of one pod sees it.
pub(crate) struct ClusterDns {
    pub(crate) store: Arc<Store>,
    pub(crate) resolver: Resolver,
    pub(crate) broken: bool,
}

impl ClusterDns {
    /// The DNS of a pod in `namespace` on a Windows or Linux node.
    pub(crate) fn new(
        store: Arc<Store>,
        config: &SimConfig,
        namespace: &str,
        windows: bool,
    ) -> Self {
        Self {
            store,
            resolver: Resolver::of_pod(config, namespace, windows),
            broken: config.has(Fault::Dns),
        }
    }
}

impl Dns for ClusterDns {
    fn lookup(&self, name: &str) -> Option<(String, String)> {
        if self.broken {
            return None;
        }
        resolve(&self.store, &self.resolver, name)
    }

    fn answering(&self) -> bool {
        !self.broken
    }

    fn queries(&self, name: &str) -> usize {
        self.resolver.queries(name).len().max(1)
    }
}

/// How a pod's resolver turns a name into the names it asks the DNS server for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolver {
    /// The cluster domain (`cluster.local`).
    pub(crate) domain: String,
    pub(crate) search: Vec<String>,
    /// Names with a dot are queried as they are, without the search list (Windows'
    /// devolution-free resolver under the `windows-dns-pqdn` quirk).
    pub(crate) dotted_as_is: bool,
}

impl Resolver {
    pub(crate) fn of_pod(config: &SimConfig, namespace: &str, windows: bool) -> Self {
        let domain = cluster_domain(config);
        Self {
            domain: domain.to_string(),
            search: search_list(namespace, domain).to_vec(),
            dotted_as_is: windows && config.has_quirk(Quirk::WindowsDnsPqdn),
        }
    }

    /// The names queried for `name`, in order (glibc/BIND: fewer dots than `ndots` → the search
    /// list first and the name itself last; otherwise the name first; a trailing dot → only it).
    pub(crate) fn queries(&self, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        if let Some(absolute) = name.strip_suffix('.') {
            return vec![absolute.to_string()];
        }
        let dots = name.matches('.').count();
        if self.dotted_as_is && dots > 0 {
            return vec![name];
        }
        let searched = self.search.iter().map(|s| format!("{name}.{s}"));
        if dots < NDOTS {
            searched.chain(std::iter::once(name.clone())).collect()
        } else {
            std::iter::once(name.clone()).chain(searched).collect()
        }
    }
}

/// Resolves `name` with a pod's resolver: `(fqdn, ClusterIP)` of the first query answered.
pub(crate) fn resolve(store: &Store, resolver: &Resolver, name: &str) -> Option<(String, String)> {
    if name.trim_end_matches('.').is_empty() {
        return None;
    }
    if name.eq_ignore_ascii_case("localhost") {
        return Some(("localhost".into(), "127.0.0.1".into()));
    }
    if let Some(ip) = ip_literal(name) {
        return Some((ip.clone(), ip));
    }
    let suffix = format!(".svc.{}", resolver.domain);
    resolver.queries(name).into_iter().find_map(|fqdn| {
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
    fn ipv6_pod_ips_come_from_the_node_slash_64() {
        let mut net = NetState::default();
        let config = SimConfig {
            quirks: [Quirk::Ipv6].into(),
            ..SimConfig::default()
        };
        let cidr = pod_cidr(&config, 1);
        assert_eq!(cidr, "fd00:10:244:1::/64");
        assert_eq!(
            net.allocate_pod_ip(&cidr).as_deref(),
            Some("fd00:10:244:1::2")
        );
        assert_eq!(
            join_host_port("fd00:10:244:1::2", 8080),
            "[fd00:10:244:1::2]:8080"
        );
        assert_eq!(ip_literal("[fd00::1]").as_deref(), Some("fd00::1"));
        assert_eq!(ip_literal("web"), None);
    }

    fn store_with_services() -> Store {
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
        store
    }

    #[test]
    fn dns_names_resolve_with_the_search_path() {
        let store = store_with_services();
        let config = SimConfig::default();
        let ip = |ns: &str, n: &str| {
            resolve(&store, &Resolver::of_pod(&config, ns, false), n).map(|(_, ip)| ip)
        };
        assert_eq!(ip("web", "front").as_deref(), Some("10.96.1.7"));
        assert_eq!(ip("other", "front"), None);
        assert_eq!(ip("other", "front.web").as_deref(), Some("10.96.1.7"));
        assert_eq!(ip("other", "front.web.svc").as_deref(), Some("10.96.1.7"));
        assert_eq!(
            ip("other", "front.web.svc.cluster.local").as_deref(),
            Some("10.96.1.7")
        );
        assert_eq!(
            ip("other", "front.web.svc.cluster.local.").as_deref(),
            Some("10.96.1.7")
        );
        assert_eq!(
            ip("web", "kubernetes.default").as_deref(),
            Some("10.96.0.1")
        );
        assert_eq!(ip("web", "nope"), None);
    }

    #[test]
    fn the_cluster_domain_quirk_moves_every_name() {
        let store = store_with_services();
        let config = SimConfig {
            quirks: [Quirk::ClusterDomain].into(),
            ..SimConfig::default()
        };
        let resolver = Resolver::of_pod(&config, "other", false);
        let ip = |n: &str| resolve(&store, &resolver, n);
        assert_eq!(
            ip("front.web"),
            Some(("front.web.svc.cluster.example".into(), "10.96.1.7".into()))
        );
        assert_eq!(ip("front.web.svc.cluster.local"), None);
        assert_eq!(
            resolv_conf("other", cluster_domain(&config)),
            "search other.svc.cluster.example svc.cluster.example cluster.example\n\
             nameserver 10.96.0.10\noptions ndots:5\n"
        );
    }

    #[test]
    fn windows_pods_under_the_pqdn_quirk_query_dotted_names_as_is() {
        let store = store_with_services();
        let config = SimConfig {
            quirks: [Quirk::WindowsDnsPqdn].into(),
            ..SimConfig::default()
        };
        let windows = Resolver::of_pod(&config, "web", true);
        let linux = Resolver::of_pod(&config, "web", false);
        let ip = |r: &Resolver, n: &str| resolve(&store, r, n).map(|(_, ip)| ip);
        assert_eq!(ip(&windows, "front").as_deref(), Some("10.96.1.7"));
        assert_eq!(ip(&windows, "front.web"), None);
        assert_eq!(ip(&windows, "kubernetes.default"), None);
        assert_eq!(
            ip(&windows, "front.web.svc.cluster.local").as_deref(),
            Some("10.96.1.7")
        );
        assert_eq!(
            ip(&linux, "kubernetes.default").as_deref(),
            Some("10.96.0.1")
        );
        assert_eq!(windows.queries("front.web"), vec!["front.web".to_string()]);
        assert_eq!(linux.queries("front.web").len(), 4);
    }
}
