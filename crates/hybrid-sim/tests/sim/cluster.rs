//! The simulated cluster's controllers end to end through `kube::Client`: scheduling by OS,
//! taints, image OS support, pod networking and DNS, volumes, restarts, probes, graceful
//! deletion, and for each controller-level fault the behaviour it breaks.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hybrid_sim::{Fault, SimCluster, SimConfig};
use k8s_openapi::api::core::v1::{
    Endpoints, Event, Namespace, PersistentVolumeClaim, Pod, Service,
};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

const AGNHOST: &str = "registry.k8s.io/e2e-test-images/agnhost:2.53";

struct Env {
    sim: SimCluster,
    client: Client,
    ns: String,
}

async fn env(faults: &[Fault]) -> Env {
    env_with(SimConfig {
        faults: faults.iter().copied().collect::<BTreeSet<_>>(),
        ..SimConfig::default()
    })
    .await
}

async fn env_with(config: SimConfig) -> Env {
    let sim = SimCluster::start(config).await.expect("sim starts");
    let client = sim
        .client()
        .await
        .expect("a client for the simulated cluster");
    let ns = "t".to_string();
    crate::common::create_namespace(&client, &ns).await;
    Env { sim, client, ns }
}

impl Env {
    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    async fn create_pod(&self, pod: Value) -> Pod {
        let pod: Pod = serde_json::from_value(pod).unwrap();
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .unwrap()
    }

    async fn create<K>(&self, obj: Value) -> K
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let obj: K = serde_json::from_value(obj).unwrap();
        Api::<K>::namespaced(self.client.clone(), &self.ns)
            .create(&PostParams::default(), &obj)
            .await
            .unwrap()
    }

    /// Polls the pod (as JSON) until `pred` holds; panics with the last state after `secs`.
    async fn wait_pod(&self, name: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let last = match self.pods().get_opt(name).await.unwrap() {
                Some(p) => serde_json::to_value(&p).unwrap(),
                None => Value::Null,
            };
            if pred(&last) {
                return last;
            }
            if Instant::now() > deadline {
                panic!("pod {name}: condition not met in {secs}s; last state: {last:#}");
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    async fn ready(&self, name: &str) -> Value {
        self.wait_pod(name, 10, is_ready).await
    }

    /// `GET` through the API server's pod proxy.
    async fn proxy(&self, pod: &str, port: u16, path: &str) -> String {
        let req = http::Request::get(format!(
            "/api/v1/namespaces/{}/pods/{pod}:{port}/proxy{path}",
            self.ns
        ))
        .body(Vec::new())
        .unwrap();
        self.client.request_text(req).await.unwrap()
    }

    /// netexec `/dial` from `from` to `host:port`, parsed.
    async fn dial(&self, from: &str, host: &str, port: u16, protocol: &str, tries: u32) -> Value {
        let body = self
            .proxy(
                from,
                8080,
                &format!("/dial?request=hostname&host={host}&port={port}&protocol={protocol}&tries={tries}"),
            )
            .await;
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    async fn shell(&self, pod: &str, cmd: &str) -> Value {
        let q: String = form_urlencoded::byte_serialize(cmd.as_bytes()).collect();
        let body = self.proxy(pod, 8080, &format!("/shell?cmd={q}")).await;
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    async fn events(&self, pod: &str) -> Vec<(String, String, String)> {
        Api::<Event>::namespaced(self.client.clone(), &self.ns)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(pod))
            .map(|e| {
                (
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.message.unwrap_or_default(),
                )
            })
            .collect()
    }

    async fn delete(&self, name: &str, grace: Option<u32>) {
        let dp = DeleteParams {
            grace_period_seconds: grace,
            ..DeleteParams::default()
        };
        self.pods().delete(name, &dp).await.unwrap();
    }

    async fn gone(&self, name: &str, secs: u64) {
        self.wait_pod(name, secs, Value::is_null).await;
    }
}

fn is_ready(p: &Value) -> bool {
    p["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn os_fields(os: &str) -> Value {
    let mut spec = json!({"nodeSelector": {"kubernetes.io/os": os}});
    if os == "windows" {
        spec["tolerations"] =
            json!([{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}]);
    }
    spec
}

fn netexec(name: &str, os: &str, labels: Value) -> Value {
    let mut spec = os_fields(os);
    spec["containers"] = json!([{"name": "netexec", "image": AGNHOST,
        "args": ["netexec", "--http-port=8080", "--udp-port=8081"],
        "ports": [{"name": "http", "containerPort": 8080}, {"name": "udp", "containerPort": 8081, "protocol": "UDP"}]}]);
    json!({"metadata": {"name": name, "labels": labels}, "spec": spec})
}

fn node_of(p: &Value) -> String {
    p["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn ip_of(p: &Value) -> String {
    p["status"]["podIP"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn nodes_have_os_labels_taints_and_the_cluster_basics() {
    let e = env(&[]).await;
    let nodes = Api::<k8s_openapi::api::core::v1::Node>::all(e.client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let names: Vec<String> = nodes
        .items
        .iter()
        .map(|n| n.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&"windows-node-2".to_string()));
    let svc: Service = Api::namespaced(e.client.clone(), "default")
        .get("kubernetes")
        .await
        .unwrap();
    assert_eq!(svc.spec.unwrap().cluster_ip.as_deref(), Some("10.96.0.1"));
    e.sim.shutdown().await;
}

#[tokio::test]
async fn pods_schedule_by_os_and_windows_taint_needs_a_toleration() {
    let e = env(&[]).await;
    e.create_pod(netexec("lin", "linux", json!({}))).await;
    e.create_pod(netexec("win", "windows", json!({}))).await;
    let mut untolerated = netexec("bare", "windows", json!({}));
    untolerated["spec"]
        .as_object_mut()
        .unwrap()
        .remove("tolerations");
    e.create_pod(untolerated).await;
    let lin = e.ready("lin").await;
    let win = e.ready("win").await;
    assert!(node_of(&lin).starts_with("linux-node-"), "{lin:#}");
    assert!(node_of(&win).starts_with("windows-node-"), "{win:#}");
    assert!(ip_of(&win).starts_with("10.244."));
    let bare = e
        .wait_pod("bare", 5, |p| {
            p["status"]["conditions"][0]["reason"] == "Unschedulable"
        })
        .await;
    assert_eq!(
        bare["status"]["conditions"][0]["message"],
        "0/4 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, 2 node(s) had untolerated taint {os: windows}. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
    );
    let events = e.events("bare").await;
    assert!(
        events
            .iter()
            .any(|(t, r, _)| t == "Warning" && r == "FailedScheduling"),
        "{events:?}"
    );
    let events = e.events("lin").await;
    for reason in ["Scheduled", "Pulling", "Pulled", "Created", "Started"] {
        assert!(
            events.iter().any(|(_, r, _)| r == reason),
            "{reason} missing: {events:?}"
        );
    }
    e.sim.shutdown().await;
}

#[tokio::test]
async fn same_os_pods_spread_over_nodes() {
    let e = env(&[]).await;
    e.create_pod(netexec("a", "linux", json!({}))).await;
    e.create_pod(netexec("b", "linux", json!({}))).await;
    let a = e.ready("a").await;
    let b = e.ready("b").await;
    assert_ne!(node_of(&a), node_of(&b));
    e.sim.shutdown().await;
}

#[tokio::test]
async fn linux_only_image_on_windows_ends_in_image_pull_backoff() {
    let e = env(&[]).await;
    let mut spec = os_fields("windows");
    spec["containers"] =
        json!([{"name": "bb", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 3600"]}]);
    e.create_pod(json!({"metadata": {"name": "bb"}, "spec": spec}))
        .await;
    let p = e
        .wait_pod("bb", 5, |p| {
            p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"
        })
        .await;
    let msg = p["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.contains("failed to pull and unpack image \"docker.io/library/busybox:1.36\": no match for platform in manifest: not found"),
        "{msg}"
    );
    assert_eq!(p["status"]["phase"], "Pending");
    let events = e.events("bb").await;
    assert!(
        events
            .iter()
            .any(|(t, r, _)| t == "Warning" && r == "Failed"),
        "{events:?}"
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn fault_image_pull_fails_every_pull_as_not_found() {
    let e = env(&[Fault::ImagePull]).await;
    e.create_pod(netexec("n", "linux", json!({}))).await;
    let p = e
        .wait_pod("n", 5, |p| {
            let reason = &p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"];
            reason == "ErrImagePull" || reason == "ImagePullBackOff"
        })
        .await;
    let msg = p["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(msg.contains(&format!("{AGNHOST}: not found")), "{msg}");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn transient_pull_errors_fail_each_nodes_first_pull_then_succeed() {
    let e = env_with(SimConfig {
        quirks: [hybrid_sim::Quirk::TransientPullErrors].into(),
        ..SimConfig::default()
    })
    .await;
    e.create_pod(netexec("first", "linux", json!({}))).await;
    let p = e
        .wait_pod("first", 5, |p| {
            p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"
        })
        .await;
    let msg = p["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        msg.contains("ErrImagePull: failed to pull and unpack image"),
        "{msg}"
    );
    assert!(msg.contains("i/o timeout"), "{msg}");
    let first = e.ready("first").await;
    // The same node has the image now: a second pod there pulls at the first try.
    let node = node_of(&first);
    let mut second = netexec("second", "linux", json!({}));
    second["spec"]["nodeName"] = json!(node);
    e.create_pod(second).await;
    e.ready("second").await;
    let events = e.events("second").await;
    assert!(
        !events
            .iter()
            .any(|(_, r, _)| r == "Failed" || r == "BackOff"),
        "{events:?}"
    );
    let events = e.events("first").await;
    assert!(
        events
            .iter()
            .any(|(t, r, m)| t == "Warning" && r == "Failed" && m.contains("i/o timeout")),
        "{events:?}"
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn dial_reaches_pods_of_both_oses_and_cross_os_fault_drops_only_cross_os() {
    for faults in [vec![], vec![Fault::CrossOsNetwork]] {
        let broken = !faults.is_empty();
        let e = env(&faults).await;
        e.create_pod(netexec("client", "linux", json!({}))).await;
        e.create_pod(netexec("lin", "linux", json!({}))).await;
        e.create_pod(netexec("win", "windows", json!({}))).await;
        e.ready("client").await;
        let lin = e.ready("lin").await;
        let win = e.ready("win").await;
        let same = e.dial("client", &ip_of(&lin), 8080, "http", 2).await;
        assert_eq!(same["responses"], json!(["lin", "lin"]), "{same}");
        let udp = e.dial("client", &ip_of(&lin), 8081, "udp", 1).await;
        assert_eq!(udp["responses"], json!(["lin"]), "{udp}");
        let cross = e.dial("client", &ip_of(&win), 8080, "http", 1).await;
        if broken {
            let err = cross["errors"][0].as_str().unwrap();
            assert!(err.contains("i/o timeout"), "{cross}");
            assert!(cross.get("responses").is_none());
        } else {
            assert_eq!(cross["responses"], json!(["win"]), "{cross}");
        }
        // Nothing listens on 9999: refused, like agnhost reports it.
        let refused = e.dial("client", &ip_of(&lin), 9999, "http", 1).await;
        assert!(
            refused["errors"][0]
                .as_str()
                .unwrap()
                .contains("connection refused"),
            "{refused}"
        );
        // clientip: the server sees the client pod's IP.
        let client = e.wait_pod("client", 1, |_| true).await;
        let seen = e
            .proxy(
                "client",
                8080,
                &format!(
                    "/dial?request=clientip&host={}&port=8080&protocol=http&tries=1",
                    ip_of(&lin)
                ),
            )
            .await;
        assert!(seen.contains(&format!("{}:", ip_of(&client))), "{seen}");
        e.sim.shutdown().await;
    }
}

#[tokio::test]
async fn services_resolve_by_dns_and_balance_over_mixed_os_endpoints() {
    for faults in [vec![], vec![Fault::Dns]] {
        let e = env(&faults).await;
        e.create_pod(netexec("client", "linux", json!({}))).await;
        e.create_pod(netexec("web-l", "linux", json!({"app": "web"})))
            .await;
        e.create_pod(netexec("web-w", "windows", json!({"app": "web"})))
            .await;
        let _: Service = e
            .create(
                json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
            )
            .await;
        for p in ["client", "web-l", "web-w"] {
            e.ready(p).await;
        }
        // Endpoints list both backends once they are Ready.
        let eps: Api<Endpoints> = Api::namespaced(e.client.clone(), &e.ns);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ep = serde_json::to_value(eps.get_opt("web").await.unwrap()).unwrap();
            if ep["subsets"][0]["addresses"]
                .as_array()
                .is_some_and(|a| a.len() == 2)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "endpoints never got 2 addresses: {ep:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for name in ["web", "web.t", "web.t.svc", "web.t.svc.cluster.local"] {
            let r = e.dial("client", name, 80, "http", 4).await;
            if faults.is_empty() {
                let got: BTreeSet<String> = r["responses"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{name}: {r}"))
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect();
                assert_eq!(
                    got,
                    BTreeSet::from(["web-l".to_string(), "web-w".to_string()]),
                    "{name}: {r}"
                );
            } else {
                let err = r["errors"][0].as_str().unwrap();
                assert!(
                    err.contains(&format!("lookup {name} on 10.96.0.10:53: no such host")),
                    "{r}"
                );
            }
        }
        let out = e.shell("client", "nslookup kubernetes.default").await;
        if faults.is_empty() {
            assert!(
                out["output"]
                    .as_str()
                    .unwrap()
                    .contains("Address: 10.96.0.1"),
                "{out}"
            );
        } else {
            assert_eq!(out["error"], "exit status 1", "{out}");
        }
        e.sim.shutdown().await;
    }
}

#[tokio::test]
async fn emptydir_is_shared_between_containers_on_both_oses() {
    let e = env(&[]).await;
    for (os, writer, path) in [
        (
            "linux",
            json!(["sh", "-c", "echo shared > /cache/f && sleep 3600"]),
            "/cache/f",
        ),
        (
            "windows",
            json!([
                "cmd",
                "/c",
                "echo shared> C:\\cache\\f & ping -n 3600 127.0.0.1 >nul"
            ]),
            "C:\\cache\\f",
        ),
    ] {
        let name = format!("ed-{os}");
        let mut pod = netexec(&name, os, json!({}));
        pod["spec"]["volumes"] = json!([{"name": "cache", "emptyDir": {}}]);
        pod["spec"]["containers"][0]["volumeMounts"] =
            json!([{"name": "cache", "mountPath": "/cache"}]);
        pod["spec"]["containers"].as_array_mut().unwrap().push(json!({"name": "writer", "image": AGNHOST,
            "command": writer, "volumeMounts": [{"name": "cache", "mountPath": if os == "windows" {"C:\\cache"} else {"/cache"}}]}));
        e.create_pod(pod).await;
        e.ready(&name).await;
        let cmd = if os == "windows" {
            format!("type {path}")
        } else {
            format!("cat {path}")
        };
        let out = e.shell(&name, &cmd).await;
        assert_eq!(out["output"].as_str().unwrap().trim(), "shared", "{out}");
    }
    e.sim.shutdown().await;
}

async fn pvc_roundtrip(faults: &[Fault]) -> Value {
    let e = env(faults).await;
    let _: PersistentVolumeClaim = e
        .create(
            json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}}}}),
        )
        .await;
    let with_pvc = |name: &str| {
        let mut pod = netexec(name, "linux", json!({}));
        pod["spec"]["volumes"] =
            json!([{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]);
        pod["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "d", "mountPath": "/data"}]);
        pod
    };
    e.create_pod(with_pvc("writer")).await;
    e.ready("writer").await;
    let w = e.shell("writer", "echo kept > /data/f").await;
    assert!(w.get("error").is_none(), "{w}");
    e.delete("writer", None).await;
    e.gone("writer", 5).await;
    e.create_pod(with_pvc("reader")).await;
    e.ready("reader").await;
    let out = e.shell("reader", "cat /data/f").await;
    let pvc: PersistentVolumeClaim = Api::namespaced(e.client.clone(), &e.ns)
        .get("data")
        .await
        .unwrap();
    assert_eq!(pvc.status.unwrap().phase.as_deref(), Some("Bound"));
    e.sim.shutdown().await;
    out
}

#[tokio::test]
async fn pvc_data_outlives_the_pod() {
    let out = pvc_roundtrip(&[]).await;
    assert_eq!(out["output"], "kept\n", "{out}");
}

#[tokio::test]
async fn fault_volume_data_loss_wipes_the_volume() {
    let out = pvc_roundtrip(&[Fault::VolumeDataLoss]).await;
    assert_eq!(out["error"], "exit status 1", "{out}");
    assert!(
        out["output"].as_str().unwrap().contains("No such file"),
        "{out}"
    );
}

#[tokio::test]
async fn claims_without_a_class_stay_pending_and_block_their_pods() {
    let e = env_with(SimConfig {
        storage_class: false,
        ..SimConfig::default()
    })
    .await;
    let _: PersistentVolumeClaim = e
        .create(
            json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}}}}),
        )
        .await;
    let mut pod = netexec("p", "linux", json!({}));
    pod["spec"]["volumes"] = json!([{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]);
    e.create_pod(pod).await;
    let p = e
        .wait_pod("p", 5, |p| {
            p["status"]["conditions"][0]["reason"] == "Unschedulable"
        })
        .await;
    assert!(
        p["status"]["conditions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("pod has unbound immediate PersistentVolumeClaims"),
        "{p:#}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = e.events("data").await;
    assert!(
        events.iter().any(|(_, r, m)| r == "FailedBinding"
            && m == "no persistent volumes available for this claim and no storage class is set"),
        "{events:?}"
    );
    e.sim.shutdown().await;
}

fn shell_pod(name: &str, os: &str, policy: &str, script: &str) -> Value {
    let mut spec = os_fields(os);
    let command = if os == "windows" {
        json!(["cmd", "/c", script])
    } else {
        json!(["sh", "-c", script])
    };
    spec["restartPolicy"] = json!(policy);
    spec["containers"] = json!([{"name": "main", "image": AGNHOST, "command": command}]);
    json!({"metadata": {"name": name}, "spec": spec})
}

#[tokio::test]
async fn exit_codes_set_the_phase_on_both_oses() {
    let e = env(&[]).await;
    e.create_pod(shell_pod("ok-l", "linux", "Never", "echo done; exit 0"))
        .await;
    e.create_pod(shell_pod("bad-l", "linux", "Never", "exit 3"))
        .await;
    e.create_pod(shell_pod("bad-w", "windows", "Never", "exit /b 3"))
        .await;
    e.wait_pod("ok-l", 5, |p| p["status"]["phase"] == "Succeeded")
        .await;
    for name in ["bad-l", "bad-w"] {
        let p = e
            .wait_pod(name, 5, |p| p["status"]["phase"] == "Failed")
            .await;
        assert_eq!(
            p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
            3
        );
        assert_eq!(
            p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
            "Error"
        );
    }
    let logs = e.pods().logs("ok-l", &LogParams::default()).await.unwrap();
    assert_eq!(logs, "done\n");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn unmodeled_commands_fail_loudly() {
    let e = env(&[]).await;
    e.create_pod(shell_pod(
        "odd",
        "linux",
        "Never",
        "wget http://example.com",
    ))
    .await;
    let p = e
        .wait_pod("odd", 5, |p| p["status"]["phase"] == "Failed")
        .await;
    assert_eq!(
        p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        127
    );
    let logs = e.pods().logs("odd", &LogParams::default()).await.unwrap();
    assert!(
        logs.contains("not modeled by the simulated cluster: wget http://example.com"),
        "{logs}"
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn failing_containers_restart_into_crash_loop_back_off_with_previous_logs() {
    let e = env(&[]).await;
    e.create_pod(shell_pod(
        "crash",
        "linux",
        "Always",
        "echo attempt; exit 1",
    ))
    .await;
    e.wait_pod("crash", 5, |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    })
    .await;
    let p = e
        .wait_pod("crash", 5, |p| {
            p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(2)
        })
        .await;
    assert_eq!(
        p["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"],
        1
    );
    let prev = e
        .pods()
        .logs(
            "crash",
            &LogParams {
                previous: true,
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(prev, "attempt\n");
    let events = e.events("crash").await;
    assert!(
        events
            .iter()
            .any(|(t, r, _)| t == "Warning" && r == "BackOff"),
        "{events:?}"
    );
    // OnFailure does not restart a container that succeeded.
    e.create_pod(shell_pod("once", "windows", "OnFailure", "echo hi"))
        .await;
    let p = e
        .wait_pod("once", 5, |p| p["status"]["phase"] == "Succeeded")
        .await;
    assert_eq!(p["status"]["containerStatuses"][0]["restartCount"], 0);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn init_containers_run_in_order_before_the_app() {
    let e = env(&[]).await;
    let mut pod = netexec("init", "linux", json!({}));
    pod["spec"]["volumes"] = json!([{"name": "w", "emptyDir": {}}]);
    pod["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "w", "mountPath": "/w"}]);
    pod["spec"]["initContainers"] = json!([
        {"name": "one", "image": AGNHOST, "command": ["sh", "-c", "echo one >> /w/order"], "volumeMounts": [{"name": "w", "mountPath": "/w"}]},
        {"name": "two", "image": AGNHOST, "command": ["sh", "-c", "echo two >> /w/order"], "volumeMounts": [{"name": "w", "mountPath": "/w"}]},
    ]);
    e.create_pod(pod).await;
    let p = e.ready("init").await;
    assert_eq!(
        p["status"]["initContainerStatuses"][1]["state"]["terminated"]["reason"],
        "Completed"
    );
    let out = e.shell("init", "cat /w/order").await;
    assert_eq!(out["output"], "one\ntwo\n");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn liveness_failure_restarts_the_container() {
    let e = env(&[]).await;
    let mut spec = os_fields("windows");
    spec["containers"] = json!([{"name": "live", "image": AGNHOST, "args": ["liveness"],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1, "failureThreshold": 1}}]);
    e.create_pod(json!({"metadata": {"name": "live"}, "spec": spec}))
        .await;
    e.wait_pod("live", 8, |p| {
        p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(1)
    })
    .await;
    let events = e.events("live").await;
    assert!(
        events.iter().any(|(t, r, m)| t == "Warning"
            && r == "Unhealthy"
            && m == "Liveness probe failed: HTTP probe failed with statuscode: 500"),
        "{events:?}"
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn readiness_gates_service_endpoints() {
    let e = env(&[]).await;
    let mut pod = netexec("gated", "linux", json!({"app": "gated"}));
    pod["spec"]["containers"][0]["readinessProbe"] = json!({"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1, "failureThreshold": 1});
    e.create_pod(pod).await;
    let _: Service = e
        .create(
            json!({"metadata": {"name": "gated"}, "spec": {"selector": {"app": "gated"},
            "ports": [{"port": 80, "targetPort": 8080}]}}),
        )
        .await;
    e.wait_pod("gated", 5, |p| p["status"]["phase"] == "Running")
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let p = e.wait_pod("gated", 1, |_| true).await;
    assert!(!is_ready(&p), "{p:#}");
    let eps: Api<Endpoints> = Api::namespaced(e.client.clone(), &e.ns);
    let ep = serde_json::to_value(eps.get("gated").await.unwrap()).unwrap();
    assert!(ep["subsets"][0].get("addresses").is_none(), "{ep:#}");
    assert_eq!(
        ep["subsets"][0]["notReadyAddresses"][0]["ip"],
        p["status"]["podIP"]
    );
    e.shell("gated", "touch /tmp/ready").await;
    e.ready("gated").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ep = serde_json::to_value(eps.get("gated").await.unwrap()).unwrap();
    assert_eq!(
        ep["subsets"][0]["addresses"][0]["ip"], p["status"]["podIP"],
        "{ep:#}"
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn graceful_deletion_runs_pre_stop_and_honours_the_grace_period() {
    let e = env(&[]).await;
    // A shell (PID 1) ignores SIGTERM: it is killed when the grace period ends.
    let mut pod = shell_pod("sleeper", "linux", "Always", "sleep 3600");
    pod["spec"]["terminationGracePeriodSeconds"] = json!(2);
    e.create_pod(pod).await;
    // netexec exits on SIGTERM: gone at once although the grace period is long.
    let mut quick = netexec("quick", "windows", json!({}));
    quick["spec"]["volumes"] = json!([{"name": "v", "emptyDir": {}}]);
    e.create_pod(quick).await;
    e.ready("sleeper").await;
    e.ready("quick").await;
    let start = Instant::now();
    e.delete("sleeper", None).await;
    e.gone("sleeper", 6).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(3500),
        "{took:?}"
    );
    let start = Instant::now();
    e.delete("quick", None).await;
    e.gone("quick", 5).await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let events = e.events("quick").await;
    assert!(
        events
            .iter()
            .any(|(_, r, m)| r == "Killing" && m == "Stopping container netexec"),
        "{events:?}"
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn pre_stop_hook_runs_before_the_container_stops() {
    let e = env(&[]).await;
    let _: PersistentVolumeClaim = e
        .create(
            json!({"metadata": {"name": "hook"}, "spec": {"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}}}}),
        )
        .await;
    let mut pod = netexec("hooked", "linux", json!({}));
    pod["spec"]["volumes"] = json!([{"name": "d", "persistentVolumeClaim": {"claimName": "hook"}}]);
    pod["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "d", "mountPath": "/data"}]);
    pod["spec"]["containers"][0]["lifecycle"] =
        json!({"preStop": {"exec": {"command": ["sh", "-c", "echo stopped > /data/prestop"]}}});
    e.create_pod(pod.clone()).await;
    e.ready("hooked").await;
    e.delete("hooked", None).await;
    e.gone("hooked", 5).await;
    pod["metadata"]["name"] = json!("after");
    pod["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("lifecycle");
    e.create_pod(pod).await;
    e.ready("after").await;
    let out = e.shell("after", "cat /data/prestop").await;
    assert_eq!(out["output"], "stopped\n", "{out}");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn fault_slow_makes_pods_start_ten_times_slower() {
    let mut took = Vec::new();
    for faults in [vec![], vec![Fault::Slow]] {
        let e = env(&faults).await;
        let start = Instant::now();
        e.create_pod(netexec("p", "linux", json!({}))).await;
        e.ready("p").await;
        took.push(start.elapsed());
        e.sim.shutdown().await;
    }
    assert!(took[1] >= Duration::from_millis(400), "{took:?}");
    assert!(took[1] > took[0] * 2, "{took:?}");
}

#[tokio::test]
async fn deployments_roll_out_and_scale_and_jobs_complete() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::batch::v1::Job;
    let e = env(&[]).await;
    let template = netexec("x", "windows", json!({"app": "web"}));
    let _: Deployment = e
        .create(json!({"metadata": {"name": "web"}, "spec": {"replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": template["spec"]}}}))
        .await;
    let deployments: Api<Deployment> = Api::namespaced(e.client.clone(), &e.ns);
    let wait_ready = |n: i32| {
        let deployments = deployments.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(8);
            loop {
                let d = deployments.get("web").await.unwrap();
                let s = d.status.clone().unwrap_or_default();
                if s.ready_replicas.unwrap_or(0) == n && s.replicas.unwrap_or(0) == n {
                    return d;
                }
                assert!(
                    Instant::now() < deadline,
                    "deployment never had {n} ready: {s:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait_ready(1).await;
    for n in [3, 1] {
        let patch = json!({"spec": {"replicas": n}});
        deployments
            .patch(
                "web",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .unwrap();
        wait_ready(n).await;
    }
    let pods = e
        .pods()
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    for p in &pods.items {
        let node = p
            .spec
            .as_ref()
            .unwrap()
            .node_name
            .clone()
            .unwrap_or_default();
        assert!(node.starts_with("windows-node-"), "{node}");
        assert!(p
            .metadata
            .owner_references
            .as_ref()
            .is_some_and(|o| o[0].kind == "ReplicaSet"));
    }

    let mut spec = os_fields("linux");
    spec["restartPolicy"] = json!("Never");
    spec["containers"] = json!([{"name": "work", "image": AGNHOST, "command": ["sh", "-c", "echo working; exit 0"]}]);
    let _: Job = e
        .create(json!({"metadata": {"name": "once"}, "spec": {"completions": 2, "template": {"spec": spec}}}))
        .await;
    let jobs: Api<Job> = Api::namespaced(e.client.clone(), &e.ns);
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let s = jobs.get("once").await.unwrap().status.unwrap_or_default();
        let complete = s
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Complete" && c.status == "True");
        if complete {
            assert_eq!(s.succeeded, Some(2));
            break;
        }
        assert!(Instant::now() < deadline, "job never completed: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    e.sim.shutdown().await;
}

async fn exec(e: &Env, pod: &str, command: &[&str]) -> (i32, String, String) {
    use kube::api::AttachParams;
    use tokio::io::AsyncReadExt;
    let params = AttachParams::default()
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let mut process = e
        .pods()
        .exec(
            pod,
            command.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &params,
        )
        .await
        .unwrap();
    let status = process.take_status();
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = process.stdout() {
        let _ = s.read_to_string(&mut out).await;
    }
    if let Some(mut s) = process.stderr() {
        let _ = s.read_to_string(&mut err).await;
    }
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    let _ = process.join().await;
    let code = match status {
        Some(s) if s.status.as_deref() == Some("Success") => 0,
        Some(s) => s
            .details
            .and_then(|d| d.causes)
            .into_iter()
            .flatten()
            .find(|c| c.reason.as_deref() == Some("ExitCode"))
            .and_then(|c| c.message)
            .and_then(|m| m.parse().ok())
            .unwrap_or(-1),
        None => -1,
    };
    (code, out, err)
}

#[tokio::test]
async fn exec_runs_the_shell_subset_on_both_oses() {
    let e = env(&[]).await;
    e.create_pod(netexec("l", "linux", json!({}))).await;
    e.create_pod(netexec("w", "windows", json!({}))).await;
    e.ready("l").await;
    e.ready("w").await;
    assert_eq!(
        exec(&e, "l", &["sh", "-c", "echo hi; exit 4"]).await,
        (4, "hi\n".into(), String::new())
    );
    assert_eq!(
        exec(&e, "w", &["cmd", "/c", "echo hi"]).await,
        (0, "hi\r\n".into(), String::new())
    );
    let (code, _, err) = exec(&e, "l", &["wget", "-qO-", "http://x"]).await;
    assert_eq!(code, 127);
    assert!(
        err.contains("not modeled by the simulated cluster: wget -qO- http://x"),
        "{err}"
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn nodeports_answer_on_every_node_address() {
    let e = env(&[]).await;
    e.create_pod(netexec("client", "windows", json!({}))).await;
    e.create_pod(netexec("server", "linux", json!({"app": "np"})))
        .await;
    let svc: Service = e
        .create(json!({"metadata": {"name": "np"}, "spec": {"type": "NodePort", "selector": {"app": "np"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080},
                      {"name": "udp", "port": 81, "targetPort": 8081, "protocol": "UDP"}]}}))
        .await;
    e.ready("client").await;
    e.ready("server").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let svc: Service = Api::namespaced(e.client.clone(), &e.ns)
        .get(&svc.metadata.name.unwrap())
        .await
        .unwrap();
    let ports = svc.spec.unwrap().ports.unwrap();
    let node_port = ports[0].node_port.unwrap() as u16;
    assert!((30000..=32767).contains(&node_port));
    for node_ip in ["10.240.0.10", "10.240.0.13"] {
        let r = e.dial("client", node_ip, node_port, "http", 1).await;
        assert_eq!(r["responses"], json!(["server"]), "{r}");
    }
    let udp = e.dial("client", "np", 81, "udp", 1).await;
    assert_eq!(udp["responses"], json!(["server"]), "{udp}");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn configmap_and_secret_volumes_project_keys_and_follow_updates() {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    let e = env(&[]).await;
    let _: ConfigMap = e
        .create(json!({"metadata": {"name": "cfg"}, "data": {"greeting": "hello"}}))
        .await;
    let _: Secret = e
        .create(json!({"metadata": {"name": "sec"}, "data": {"token": "czNjcjN0"}}))
        .await;
    let mut pod = netexec("vols", "windows", json!({}));
    pod["spec"]["volumes"] = json!([{"name": "c", "configMap": {"name": "cfg"}}, {"name": "s", "secret": {"secretName": "sec"}}]);
    pod["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "c", "mountPath": "C:\\cfg"}, {"name": "s", "mountPath": "C:\\sec"}]);
    e.create_pod(pod).await;
    e.ready("vols").await;
    assert_eq!(
        e.shell("vols", "type C:\\cfg\\greeting").await["output"],
        "hello"
    );
    assert_eq!(
        e.shell("vols", "type C:\\sec\\token").await["output"],
        "s3cr3t"
    );
    let denied = e.shell("vols", "echo x> C:\\cfg\\greeting").await;
    assert_eq!(denied["error"], "exit status 1", "{denied}");
    let patch = json!({"data": {"greeting": "bonjour"}});
    Api::<ConfigMap>::namespaced(e.client.clone(), &e.ns)
        .patch(
            "cfg",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if e.shell("vols", "type C:\\cfg\\greeting").await["output"] == "bonjour" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "configMap update never reached the file"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    e.sim.shutdown().await;
}

#[tokio::test]
async fn netexec_exit_ends_the_container_and_it_restarts() {
    let e = env(&[]).await;
    e.create_pod(netexec("ex", "linux", json!({}))).await;
    e.ready("ex").await;
    e.proxy("ex", 8080, "/exit?code=5").await;
    let p = e
        .wait_pod("ex", 5, |p| {
            p["status"]["containerStatuses"][0]["restartCount"] == 1
        })
        .await;
    assert_eq!(
        p["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"],
        5
    );
    e.ready("ex").await;
    e.sim.shutdown().await;
}

#[tokio::test]
async fn a_startup_probe_holds_back_liveness_and_readiness() {
    let e = env(&[]).await;
    let mut pod = netexec("slowstart", "windows", json!({}));
    pod["spec"]["containers"][0]["startupProbe"] = json!({"exec": {"command": ["cmd", "/c", "type C:\\started"]},
        "periodSeconds": 1, "failureThreshold": 30});
    pod["spec"]["containers"][0]["livenessProbe"] =
        json!({"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1});
    e.create_pod(pod).await;
    e.wait_pod("slowstart", 5, |p| p["status"]["phase"] == "Running")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let p = e.wait_pod("slowstart", 1, |_| true).await;
    assert!(
        !is_ready(&p),
        "ready before its startup probe passed: {p:#}"
    );
    assert_eq!(p["status"]["containerStatuses"][0]["started"], false);
    e.shell("slowstart", "echo yes> C:\\started").await;
    let p = e.ready("slowstart").await;
    assert_eq!(p["status"]["containerStatuses"][0]["started"], true);
    assert_eq!(p["status"]["containerStatuses"][0]["restartCount"], 0);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn sub_path_host_path_and_downward_api_volumes() {
    let e = env(&[]).await;
    let mut pod = netexec("paths", "linux", json!({"tier": "web"}));
    pod["spec"]["volumes"] = json!([
        {"name": "scratch", "emptyDir": {}},
        {"name": "host", "hostPath": {"path": "/tmp/shared"}},
        {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
    ]);
    pod["spec"]["containers"][0]["volumeMounts"] = json!([
        {"name": "scratch", "mountPath": "/sub", "subPath": "a/b"},
        {"name": "scratch", "mountPath": "/whole"},
        {"name": "host", "mountPath": "/host"},
        {"name": "info", "mountPath": "/etc/podinfo"},
    ]);
    e.create_pod(pod).await;
    e.ready("paths").await;
    e.shell("paths", "echo deep > /sub/f").await;
    assert_eq!(
        e.shell("paths", "cat /whole/a/b/f").await["output"],
        "deep\n"
    );
    assert_eq!(
        e.shell("paths", "cat /etc/podinfo/labels").await["output"],
        "tier=\"web\""
    );
    let w = e.shell("paths", "echo on-node > /host/x").await;
    assert!(w.get("error").is_none(), "{w}");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn deleting_a_namespace_with_running_pods_finishes() {
    let e = env(&[]).await;
    e.create_pod(netexec("a", "linux", json!({"app": "a"})))
        .await;
    // A shell ignores SIGTERM: it holds the namespace for its grace period (1 s here).
    let mut b = shell_pod("b", "windows", "Always", "ping -n 3600 127.0.0.1 >nul");
    b["spec"]["terminationGracePeriodSeconds"] = json!(1);
    e.create_pod(b).await;
    let _: Service = e
        .create(json!({"metadata": {"name": "a"}, "spec": {"selector": {"app": "a"}, "ports": [{"port": 80}]}}))
        .await;
    e.ready("a").await;
    e.ready("b").await;
    let namespaces: Api<Namespace> = Api::all(e.client.clone());
    let dp = DeleteParams::default();
    namespaces.delete(&e.ns, &dp).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while namespaces.get_opt(&e.ns).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "namespace still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    e.sim.shutdown().await;
}

#[tokio::test]
async fn a_pod_whose_os_field_does_not_match_its_node_is_rejected() {
    let e = env(&[]).await;
    let mut pod = netexec("wrong", "linux", json!({}));
    pod["spec"]["os"] = json!({"name": "windows"});
    pod["spec"]["nodeName"] = json!("linux-node-1");
    e.create_pod(pod).await;
    let p = e
        .wait_pod("wrong", 5, |p| p["status"]["phase"] == "Failed")
        .await;
    assert_eq!(p["status"]["reason"], "PodOSNotSupported");
    // Deleting it still works (nothing runs).
    e.delete("wrong", None).await;
    e.gone("wrong", 5).await;
    e.sim.shutdown().await;
}

#[tokio::test]
async fn exceeding_the_memory_limit_is_oom_killed_on_linux() {
    let e = env(&[]).await;
    for (name, total) in [("hog", "300Mi"), ("fits", "50Mi")] {
        let mut spec = os_fields("linux");
        spec["restartPolicy"] = json!("Never");
        spec["containers"] = json!([{"name": "stress", "image": "registry.k8s.io/stress:v1",
            "args": ["-mem-total", total, "-mem-alloc-size", "10Mi"],
            "resources": {"limits": {"memory": "100Mi"}, "requests": {"memory": "100Mi"}}}]);
        e.create_pod(json!({"metadata": {"name": name}, "spec": spec}))
            .await;
    }
    let p = e
        .wait_pod("hog", 5, |p| p["status"]["phase"] == "Failed")
        .await;
    let term = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (term["reason"].as_str(), term["exitCode"].as_i64()),
        (Some("OOMKilled"), Some(137))
    );
    e.ready("fits").await;
    e.sim.shutdown().await;
}
