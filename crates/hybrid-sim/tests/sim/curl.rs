//! `curl` in simulated agnhost containers through `kube::Client` exec, as the harness's
//! `--probe-via exec` uses it, and the quirk `pod-proxy-blocked`: the pod proxy fails as a
//! real kube-apiserver does when it cannot dial the pod, while exec and logs keep working.

use std::time::{Duration, Instant};

use hybrid_sim::{Quirk, SimCluster, SimConfig};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, LogParams, PostParams};
use kube::Client;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

const AGNHOST: &str = "registry.k8s.io/e2e-test-images/agnhost:2.53";

struct Env {
    sim: SimCluster,
    client: Client,
}

impl Env {
    async fn start(config: SimConfig) -> Env {
        let sim = SimCluster::start(config).await.expect("sim starts");
        let client = sim.client().await.expect("a client");
        crate::common::create_namespace(&client, "t").await;
        Env { sim, client }
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "t")
    }

    /// Creates a netexec pod on `os` and waits (10 s at most) until it is Ready; its IP.
    async fn netexec(&self, name: &str, os: &str) -> String {
        let mut spec = json!({"nodeSelector": {"kubernetes.io/os": os},
            "containers": [{"name": "netexec", "image": AGNHOST,
                "args": ["netexec", "--http-port=8080"],
                "ports": [{"containerPort": 8080}]}]});
        if os == "windows" {
            spec["tolerations"] = json!([{"key": "os", "operator": "Equal", "value": "windows",
                "effect": "NoSchedule"}]);
        }
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pod = serde_json::to_value(self.pods().get(name).await.unwrap()).unwrap();
            let ready = pod["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            if ready {
                return pod["status"]["podIP"].as_str().unwrap().to_string();
            }
            assert!(Instant::now() < deadline, "pod {name} not Ready: {pod:#}");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// Runs `command` in the pod: exit code, stdout, stderr.
    async fn exec(&self, pod: &str, command: &[&str]) -> (i32, String, String) {
        let params = AttachParams::default().stdout(true).stderr(true);
        let mut process = self
            .pods()
            .exec(pod, command.iter().map(|s| s.to_string()), &params)
            .await
            .unwrap();
        let status = process.take_status();
        let (mut out, mut err) = (String::new(), String::new());
        if let Some(mut s) = process.stdout() {
            s.read_to_string(&mut out).await.unwrap();
        }
        if let Some(mut s) = process.stderr() {
            s.read_to_string(&mut err).await.unwrap();
        }
        let status = status.expect("a status channel").await.expect("a status");
        let _ = process.join().await;
        let code = if status.status.as_deref() == Some("Success") {
            0
        } else {
            status
                .details
                .and_then(|d| d.causes)
                .into_iter()
                .flatten()
                .find(|c| c.reason.as_deref() == Some("ExitCode"))
                .and_then(|c| c.message)
                .and_then(|m| m.parse().ok())
                .unwrap_or(-1)
        };
        (code, out, err)
    }
}

/// The `/dial` of netexec in `from`, asked by curl in that same pod on 127.0.0.1.
fn dial_url(host: &str, port: u16) -> String {
    format!(
        "http://127.0.0.1:8080/dial?request=hostname&host={host}&port={port}&protocol=http&tries=1"
    )
}

#[tokio::test]
async fn curl_in_a_pod_asks_its_own_netexec_to_dial() {
    let e = Env::start(SimConfig::default()).await;
    e.netexec("client", "linux").await;
    let server = e.netexec("server", "windows").await;
    let (code, out, err) = e
        .exec(
            "client",
            &["curl", "-sS", "-m", "10", &dial_url(&server, 8080)],
        )
        .await;
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let answer: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(answer, json!({"responses": ["server"]}));

    // Windows agnhost has C:\curl\curl.exe on PATH; netexec reports a refused dial in errors[].
    let (code, out, _) = e
        .exec(
            "server",
            &["curl.exe", "-sS", "-m", "10", &dial_url(&server, 9999)],
        )
        .await;
    assert_eq!(code, 0, "{out}");
    let answer: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let errors = answer["errors"][0].as_str().unwrap_or_default();
    assert!(errors.contains("connect: connection refused"), "{answer}");

    // curl's own failures: nothing on 127.0.0.1:9999, an unknown name.
    let (code, out, err) = e
        .exec("client", &["curl", "-sS", "http://127.0.0.1:9999/"])
        .await;
    assert_eq!((code, out.as_str()), (7, ""));
    assert!(
        err.starts_with("curl: (7) Failed to connect to 127.0.0.1 port 9999 after ")
            && err.ends_with(" ms: Couldn't connect to server\n"),
        "{err}"
    );
    let (code, _, err) = e
        .exec(
            "client",
            &["curl", "-sS", "http://nope.t.svc.cluster.local/"],
        )
        .await;
    assert_eq!(code, 6);
    assert_eq!(
        err,
        "curl: (6) Could not resolve host: nope.t.svc.cluster.local\n"
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn a_blocked_pod_proxy_answers_503_while_exec_and_logs_work() {
    let e = Env::start(SimConfig {
        quirks: [Quirk::PodProxyBlocked].into(),
        ..SimConfig::default()
    })
    .await;
    let ip = e.netexec("client", "linux").await;
    // kube's own retry layer would try a 503 fifteen times over minutes: ask once.
    let mut config = kube::Config::new(e.sim.url().parse().unwrap());
    config.default_retry = false;
    let once = Client::try_from(config).unwrap();
    let request = http::Request::get("/api/v1/namespaces/t/pods/client:8080/proxy/hostname")
        .body(Vec::new())
        .unwrap();
    let error = once.request_text(request).await.unwrap_err();
    let kube::Error::Api(status) = error else {
        panic!("not a Status: {error:?}");
    };
    assert_eq!(
        (status.code, status.reason.as_str()),
        (503, "ServiceUnavailable")
    );
    assert_eq!(
        status.message,
        format!("error trying to reach service: dial tcp {ip}:8080: i/o timeout")
    );

    let (code, out, _) = e
        .exec(
            "client",
            &["curl", "-sS", "-m", "10", "http://127.0.0.1:8080/hostname"],
        )
        .await;
    assert_eq!((code, out.as_str()), (0, "client"));
    let logs = e.pods().logs("client", &LogParams::default()).await;
    assert!(logs.is_ok(), "{logs:?}");
    e.sim.shutdown().await;
}
