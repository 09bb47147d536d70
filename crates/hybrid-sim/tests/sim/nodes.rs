//! Nodes as some real clusters have them, end to end through `kube::Client`: FQDN node names
//! with a short `kubernetes.io/hostname` label (placement by `matchFields: metadata.name`), a
//! virtual-kubelet node that takes no untolerating pods and serves no NodePorts, a Windows pod
//! that cannot reach a NodePort at its own node, Windows nodes whose NodePorts are silent
//! (fault `nodeport-silent-windows`), and the kubelet port every node answers on.

use std::time::{Duration, Instant};

use hybrid_sim::{Fault, Quirk, SimCluster, SimConfig};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::api::{Api, ListParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

const AGNHOST: &str = "registry.k8s.io/e2e-test-images/agnhost:2.53";
const NS: &str = "t";

struct Env {
    sim: SimCluster,
    client: Client,
}

async fn env(config: SimConfig) -> Env {
    let sim = SimCluster::start(config).await.expect("sim starts");
    let client = sim.client().await.expect("a client");
    crate::common::create_namespace(&client, NS).await;
    Env { sim, client }
}

fn with_quirk(quirk: Quirk) -> SimConfig {
    SimConfig {
        quirks: [quirk].into(),
        ..SimConfig::default()
    }
}

/// A netexec pod of `os`, with extra `spec` fields merged in.
fn netexec(name: &str, os: &str, extra: Value) -> Value {
    let mut spec = json!({"nodeSelector": {"kubernetes.io/os": os},
        "containers": [{"name": "netexec", "image": AGNHOST,
            "args": ["netexec", "--http-port=8080", "--udp-port=8081"],
            "ports": [{"containerPort": 8080}, {"containerPort": 8081, "protocol": "UDP"}]}]});
    if os == "windows" {
        spec["tolerations"] =
            json!([{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}]);
    }
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    json!({"metadata": {"name": name, "labels": {"app": name}}, "spec": spec})
}

impl Env {
    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), NS)
    }

    async fn create_pod(&self, pod: Value) {
        let pod: Pod = serde_json::from_value(pod).unwrap();
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .unwrap();
    }

    /// Polls the pod until `pred` holds; panics with the last state after 10 s.
    async fn wait_pod(&self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pod = serde_json::to_value(self.pods().get(name).await.unwrap()).unwrap();
            if pred(&pod) {
                return pod;
            }
            assert!(Instant::now() < deadline, "pod {name}: {pod:#}");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    async fn ready(&self, name: &str) -> Value {
        self.wait_pod(name, |p| {
            p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
        .await
    }

    async fn nodes(&self) -> Vec<Value> {
        Api::<Node>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|n| serde_json::to_value(n).unwrap())
            .collect()
    }

    /// A NodePort Service `web` for pod `server`, once its nodePort is allocated.
    async fn node_port_service(&self, server: &str) -> u16 {
        let api: Api<Service> = Api::namespaced(self.client.clone(), NS);
        let svc: Service = serde_json::from_value(json!({"metadata": {"name": "web"},
            "spec": {"type": "NodePort", "selector": {"app": server},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}))
        .unwrap();
        api.create(&PostParams::default(), &svc).await.unwrap();
        let svc = api.get("web").await.unwrap();
        let port = svc.spec.unwrap().ports.unwrap()[0].node_port.unwrap();
        u16::try_from(port).unwrap()
    }

    /// netexec `/dial` (HTTP, one try) from pod `from` to `host:port`, parsed.
    async fn dial(&self, from: &str, host: &str, port: u16) -> Value {
        let path = format!(
            "/api/v1/namespaces/{NS}/pods/{from}:8080/proxy/dial?request=hostname&host={host}&port={port}&protocol=http&tries=1"
        );
        let req = http::Request::get(path).body(Vec::new()).unwrap();
        let body = self.client.request_text(req).await.unwrap();
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// Retries the dial until it answers `server` (endpoints converge), panics after 5 s.
    async fn dial_answers(&self, from: &str, host: &str, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let r = self.dial(from, host, port).await;
            if r["responses"] == json!(["server"]) {
                return;
            }
            assert!(Instant::now() < deadline, "{from} -> {host}:{port}: {r}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn node_of(pod: &Value) -> String {
    pod["spec"]["nodeName"].as_str().unwrap_or_default().into()
}

fn address(node: &Value, kind: &str) -> String {
    node["status"]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["type"] == kind)
        .and_then(|a| a["address"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn named<'a>(nodes: &'a [Value], name: &str) -> &'a Value {
    nodes
        .iter()
        .find(|n| n["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no node {name}"))
}

/// How a TCP connect from the harness machine ends within 1.5 s.
async fn connect(host: &str, port: u16) -> &'static str {
    let attempt = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(Duration::from_millis(1500), attempt).await {
        Ok(Ok(_)) => "connected",
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => "refused",
        Ok(Err(_)) => "error",
        Err(_) => "timed out",
    }
}

/// Waits (at most 5 s) for the harness-side listener at `host:port` to connect.
async fn connects_soon(host: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while connect(host, port).await != "connected" {
        assert!(Instant::now() < deadline, "{host}:{port} never connected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn affinity(key_kind: &str, key: &str, operator: &str, value: &str) -> Value {
    json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{key_kind: [{"key": key, "operator": operator, "values": [value]}]}]}}}})
}

#[tokio::test]
async fn fqdn_node_names_place_by_match_fields_not_by_the_hostname_label() {
    let e = env(with_quirk(Quirk::HostnameLabelDiffers)).await;
    let nodes = e.nodes().await;
    let node = named(&nodes, "linux-node-2.ec2.internal");
    assert_eq!(
        node["metadata"]["labels"]["kubernetes.io/hostname"],
        "linux-node-2"
    );
    let name = "linux-node-2.ec2.internal";
    e.create_pod(netexec(
        "in",
        "linux",
        affinity("matchFields", "metadata.name", "In", name),
    ))
    .await;
    e.create_pod(netexec(
        "off",
        "linux",
        affinity("matchFields", "metadata.name", "NotIn", name),
    ))
    .await;
    let by_label = affinity("matchExpressions", "kubernetes.io/hostname", "In", name);
    e.create_pod(netexec("by-label", "linux", by_label)).await;
    assert_eq!(node_of(&e.ready("in").await), name);
    assert_eq!(node_of(&e.ready("off").await), "linux-node-1.ec2.internal");
    let stuck = e
        .wait_pod("by-label", |p| {
            p["status"]["conditions"][0]["reason"] == "Unschedulable"
        })
        .await;
    let message = stuck["status"]["conditions"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("node(s) didn't match Pod's node affinity/selector"),
        "{message}"
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn the_virtual_node_takes_only_tolerating_pods_and_serves_no_node_ports() {
    let e = env(with_quirk(Quirk::VirtualNode)).await;
    for i in 0..4 {
        e.create_pod(netexec(&format!("p{i}"), "linux", json!({})))
            .await;
    }
    for i in 0..4 {
        let pod = e.ready(&format!("p{i}")).await;
        assert_ne!(node_of(&pod), "virtual-node-aci-linux", "{pod:#}");
    }
    let tolerating = json!({"nodeSelector": {"type": "virtual-kubelet"},
        "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}]});
    e.create_pod(netexec("aci", "linux", tolerating)).await;
    assert_eq!(node_of(&e.ready("aci").await), "virtual-node-aci-linux");

    e.create_pod(netexec("server", "linux", json!({}))).await;
    e.ready("server").await;
    let port = e.node_port_service("server").await;
    let nodes = e.nodes().await;
    let virtual_node = named(&nodes, "virtual-node-aci-linux");
    let real = named(&nodes, "linux-node-1");
    e.dial_answers("p0", &address(real, "InternalIP"), port)
        .await;
    let r = e
        .dial("p0", &address(virtual_node, "InternalIP"), port)
        .await;
    let error = r["errors"][0].as_str().unwrap_or_default();
    assert!(error.contains("i/o timeout"), "{r}");

    connects_soon(&address(real, "ExternalIP"), port).await;
    let external = address(virtual_node, "ExternalIP");
    assert_eq!(connect(&external, port).await, "timed out");
    assert_eq!(
        connect(&external, 10250).await,
        "connected",
        "the kubelet port answers"
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn a_windows_pod_cannot_reach_a_node_port_at_its_own_node() {
    let e = env(with_quirk(Quirk::WindowsNoLocalNodeport)).await;
    e.create_pod(netexec("server", "linux", json!({}))).await;
    e.create_pod(netexec("client", "windows", json!({}))).await;
    e.ready("server").await;
    let client = e.ready("client").await;
    let port = e.node_port_service("server").await;
    let own_ip = client["status"]["hostIP"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let nodes = e.nodes().await;
    for node in &nodes {
        let ip = address(node, "InternalIP");
        if ip == own_ip {
            let r = e.dial("client", &ip, port).await;
            let error = r["errors"][0].as_str().unwrap_or_default();
            assert!(error.contains("i/o timeout"), "{r}");
        } else {
            e.dial_answers("client", &ip, port).await;
        }
    }
    e.sim.shutdown().await;
}

#[tokio::test]
async fn fault_nodeport_silent_windows_drops_node_ports_of_windows_nodes() {
    let e = env(SimConfig {
        faults: [Fault::NodeportSilentWindows].into(),
        ..SimConfig::default()
    })
    .await;
    e.create_pod(netexec("server", "windows", json!({}))).await;
    e.create_pod(netexec("client", "linux", json!({}))).await;
    e.ready("server").await;
    e.ready("client").await;
    let port = e.node_port_service("server").await;
    let nodes = e.nodes().await;
    let linux = named(&nodes, "linux-node-1");
    let windows = named(&nodes, "windows-node-1");
    e.dial_answers("client", &address(linux, "InternalIP"), port)
        .await;
    let r = e
        .dial("client", &address(windows, "InternalIP"), port)
        .await;
    assert!(
        r["errors"][0]
            .as_str()
            .unwrap_or_default()
            .contains("i/o timeout"),
        "{r}"
    );
    connects_soon(&address(linux, "ExternalIP"), port).await;
    let external = address(windows, "ExternalIP");
    // The black hole appears with the Service: give the listeners a moment.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(connect(&external, port).await, "timed out");
    assert_eq!(connect(&external, 10250).await, "connected");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn every_node_answers_on_the_kubelet_port_even_with_node_ports_closed() {
    let e = env(SimConfig {
        faults: [Fault::NodeportClosed].into(),
        ..SimConfig::default()
    })
    .await;
    e.create_pod(netexec("server", "linux", json!({}))).await;
    e.ready("server").await;
    let port = e.node_port_service("server").await;
    for node in e.nodes().await {
        let external = address(&node, "ExternalIP");
        connects_soon(&external, 10250).await;
        assert_eq!(connect(&external, port).await, "refused");
    }
    e.sim.shutdown().await;
}

#[tokio::test]
async fn a_memory_emptydir_on_windows_is_a_plain_folder() {
    let e = env(SimConfig::default()).await;
    let mut pod = netexec("mem", "windows", json!({}));
    pod["spec"]["volumes"] = json!([{"name": "data", "emptyDir": {"medium": "Memory"}}]);
    pod["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "data", "mountPath": "C:\\data"}]);
    e.create_pod(pod).await;
    e.ready("mem").await;
    e.sim.shutdown().await;
}
