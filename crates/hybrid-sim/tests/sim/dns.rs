//! Cluster DNS and pod addressing as pods see them under the quirks of real clusters: BIND
//! `nslookup` output on both OSes, `/etc/resolv.conf`, the `cluster-domain` quirk (names and
//! answers under `cluster.example`), `windows-dns-pqdn` (Windows pods query dotted names as-is)
//! and `ipv6` (pod IPs, `/clientip` and dials in IPv6 form).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hybrid_sim::{Fault, Quirk, SimCluster, SimConfig};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, PostParams};
use kube::Client;
use serde_json::{json, Value};

const AGNHOST: &str = "registry.k8s.io/e2e-test-images/agnhost:2.53";
const NS: &str = "t";

struct Env {
    sim: SimCluster,
    client: Client,
}

async fn env(quirks: &[Quirk], faults: &[Fault]) -> Env {
    let config = SimConfig {
        quirks: quirks.iter().copied().collect::<BTreeSet<_>>(),
        faults: faults.iter().copied().collect::<BTreeSet<_>>(),
        ..SimConfig::default()
    };
    let sim = SimCluster::start(config).await.expect("sim starts");
    let client = sim.client().await.expect("a client");
    crate::common::create_namespace(&client, NS).await;
    let env = Env { sim, client };
    for (name, os, labels) in [
        ("lin", "linux", json!({"app": "web"})),
        ("win", "windows", json!({})),
    ] {
        env.create_pod(netexec(name, os, labels)).await;
    }
    let svc: Service = serde_json::from_value(json!({"metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}))
    .unwrap();
    Api::<Service>::namespaced(env.client.clone(), NS)
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
    for p in ["lin", "win"] {
        env.ready(p).await;
    }
    env
}

fn netexec(name: &str, os: &str, labels: Value) -> Value {
    let mut spec = json!({"nodeSelector": {"kubernetes.io/os": os},
        "containers": [{"name": "netexec", "image": AGNHOST,
            "args": ["netexec", "--http-port=8080"], "ports": [{"containerPort": 8080}]}]});
    if os == "windows" {
        spec["tolerations"] =
            json!([{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}]);
    }
    json!({"metadata": {"name": name, "labels": labels}, "spec": spec})
}

impl Env {
    async fn ready(&self, name: &str) -> Value {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), NS);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pod = serde_json::to_value(pods.get(name).await.unwrap()).unwrap();
            let ready = pod["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            if ready {
                return pod;
            }
            assert!(Instant::now() < deadline, "{name} never Ready: {pod:#}");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    async fn create_pod(&self, pod: Value) {
        let pod: Pod = serde_json::from_value(pod).unwrap();
        Api::<Pod>::namespaced(self.client.clone(), NS)
            .create(&PostParams::default(), &pod)
            .await
            .unwrap();
    }

    async fn proxy(&self, pod: &str, path: &str) -> String {
        let req = http::Request::get(format!(
            "/api/v1/namespaces/{NS}/pods/{pod}:8080/proxy{path}"
        ))
        .body(Vec::new())
        .unwrap();
        self.client.request_text(req).await.unwrap()
    }

    /// netexec `/shell` in `pod`: `(output, exit code)`.
    async fn shell(&self, pod: &str, cmd: &str) -> (String, i32) {
        let q: String = form_urlencoded::byte_serialize(cmd.as_bytes()).collect();
        let body = self.proxy(pod, &format!("/shell?cmd={q}")).await;
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        let code = v["error"]
            .as_str()
            .and_then(|e| e.strip_prefix("exit status "))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (v["output"].as_str().unwrap_or_default().to_string(), code)
    }

    /// netexec `/dial` (HTTP, request `request`) from `from` to `host:port`.
    async fn dial(&self, from: &str, host: &str, port: u16, request: &str) -> Value {
        let body = self
            .proxy(
                from,
                &format!("/dial?request={request}&host={host}&port={port}&protocol=http&tries=1"),
            )
            .await;
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }
}

#[tokio::test]
async fn nslookup_prints_binds_output_on_both_oses() {
    let e = env(&[], &[]).await;
    for pod in ["lin", "win"] {
        let (out, code) = e.shell(pod, "nslookup web").await;
        assert_eq!(code, 0, "{pod}: {out}");
        assert!(out.contains("Address:\t10.96.0.10#53"), "{pod}: {out}");
        assert!(
            out.contains("Name:\tweb.t.svc.cluster.local"),
            "{pod}: {out}"
        );
        let (out, code) = e
            .shell(pod, "nslookup no-such-service.t.svc.cluster.local")
            .await;
        assert_eq!(code, 1, "{pod}: {out}");
        assert!(
            out.contains("** server can't find no-such-service.t.svc.cluster.local: NXDOMAIN"),
            "{pod}: {out}"
        );
    }
    let (conf, code) = e.shell("lin", "cat /etc/resolv.conf").await;
    assert_eq!(
        (conf.as_str(), code),
        (
            "search t.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n",
            0
        )
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn without_a_dns_server_nslookup_times_out_for_each_searched_name() {
    let e = env(&[], &[Fault::Dns]).await;
    let (out, code) = e.shell("lin", "nslookup web").await;
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out.matches(";; connection timed out; trying next origin")
            .count(),
        3,
        "{out}"
    );
    assert!(
        out.contains(";; connection timed out; no servers could be reached"),
        "{out}"
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn the_cluster_domain_quirk_moves_names_answers_and_resolv_conf() {
    let e = env(&[Quirk::ClusterDomain], &[]).await;
    let (out, code) = e.shell("lin", "nslookup web.t").await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Name:\tweb.t.svc.cluster.example"), "{out}");
    let (out, code) = e.shell("lin", "nslookup web.t.svc.cluster.local").await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NXDOMAIN"), "{out}");
    let (conf, _) = e.shell("lin", "cat /etc/resolv.conf").await;
    assert!(
        conf.starts_with("search t.svc.cluster.example svc.cluster.example cluster.example\n"),
        "{conf}"
    );
    let r = e
        .dial("win", "web.t.svc.cluster.example", 80, "hostname")
        .await;
    assert_eq!(r["responses"], json!(["lin"]), "{r}");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn windows_pods_under_the_pqdn_quirk_resolve_only_short_names_and_fqdns() {
    let e = env(&[Quirk::WindowsDnsPqdn], &[]).await;
    for name in ["web.t", "kubernetes.default"] {
        let (out, code) = e.shell("win", &format!("nslookup {name}")).await;
        assert_eq!(code, 1, "{name}: {out}");
        assert!(
            out.contains(&format!("** server can't find {name}: NXDOMAIN")),
            "{name}: {out}"
        );
        let r = e.dial("win", name, 80, "hostname").await;
        let err = r["errors"][0].as_str().unwrap_or_default();
        assert!(
            err.contains(&format!("lookup {name} on 10.96.0.10:53: no such host")),
            "{r}"
        );
        // Linux pods keep their search list.
        let (out, code) = e.shell("lin", &format!("nslookup {name}")).await;
        assert_eq!(code, 0, "{name}: {out}");
    }
    for name in ["web", "web.t.svc.cluster.local"] {
        let (out, code) = e.shell("win", &format!("nslookup {name}")).await;
        assert_eq!(code, 0, "{name}: {out}");
        let r = e.dial("win", name, 80, "hostname").await;
        assert_eq!(r["responses"], json!(["lin"]), "{name}: {r}");
    }
    e.sim.shutdown().await;
}

#[tokio::test]
async fn under_the_ipv6_quirk_pod_ips_clientip_and_dials_are_ipv6() {
    let e = env(&[Quirk::Ipv6], &[]).await;
    let lin = e.ready("lin").await;
    let win = e.ready("win").await;
    let lin_ip = lin["status"]["podIP"].as_str().unwrap().to_string();
    let win_ip = win["status"]["podIP"].as_str().unwrap().to_string();
    for ip in [&lin_ip, &win_ip] {
        assert!(ip.starts_with("fd00:10:244:"), "{ip}");
    }
    assert_eq!(lin["status"]["podIPs"], json!([{"ip": lin_ip}]));
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(e.client.clone());
    let node = nodes
        .get(lin["spec"]["nodeName"].as_str().unwrap())
        .await
        .unwrap();
    let cidr = node.spec.and_then(|s| s.pod_cidr).unwrap_or_default();
    assert!(cidr.ends_with("::/64"), "{cidr}");
    // A dial to the pod IP, given without brackets, answers with Go's [IP]:PORT.
    let r = e.dial("win", &lin_ip, 8080, "clientip").await;
    let seen = r["responses"][0].as_str().unwrap_or_default();
    assert!(seen.starts_with(&format!("[{win_ip}]:")), "{r}");
    // Services keep IPv4 ClusterIPs.
    let r = e.dial("win", "web", 80, "hostname").await;
    assert_eq!(r["responses"], json!(["lin"]), "{r}");
    e.sim.shutdown().await;
}
