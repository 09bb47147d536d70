//! The real `kubectl` against the simulated cluster: discovery, tables, protobuf creates,
//! client-side apply (twice, then changed), label, delete, watch, run, wait, logs, exec and the
//! pod proxy. Skipped, with the reason printed, only where no kubectl is found.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use hybrid_sim::{SimCluster, SimConfig};
use tokio::process::Command;

/// kubectl from `$KUBECTL`, `/usr/bin/kubectl`, or `PATH`.
fn find_kubectl() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KUBECTL") {
        return Some(PathBuf::from(path));
    }
    let fixed = Path::new("/usr/bin/kubectl");
    if fixed.exists() {
        return Some(fixed.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("kubectl"))
            .find(|p| p.is_file())
    })
}

/// A simulated cluster and a kubectl pointed at it through a kubeconfig file.
struct Kubectl {
    binary: PathBuf,
    dir: tempfile::TempDir,
    _sim: SimCluster,
}

impl Kubectl {
    async fn start() -> Option<Kubectl> {
        let Some(binary) = find_kubectl() else {
            println!("skipped: no kubectl found ($KUBECTL, /usr/bin/kubectl, PATH)");
            return None;
        };
        let sim = SimCluster::start(SimConfig::default())
            .await
            .expect("sim starts");
        let dir = tempfile::tempdir().unwrap();
        sim.write_kubeconfig(&dir.path().join("kubeconfig"))
            .unwrap();
        Some(Kubectl {
            binary,
            dir,
            _sim: sim,
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Output {
        tokio::time::timeout(Duration::from_secs(60), self.command(args).output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} timed out"))
            .unwrap()
    }

    /// Runs kubectl and expects success; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl and expects failure; returns stderr.
    async fn fails(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = self.run(args).await;
        assert!(!out.status.success(), "kubectl {args:?} should fail");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }
}

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: demo
  labels:
    app: demo
data:
  color: blue
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_discovery_apply_label_delete() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let nodes = k.ok(&["get", "nodes", "-o", "wide"]).await;
    assert!(nodes.starts_with("NAME "), "a server-side table: {nodes}");
    assert!(
        nodes.contains("INTERNAL-IP") && nodes.contains("OS-IMAGE"),
        "{nodes}"
    );
    assert!(nodes.contains("Windows Server"), "{nodes}");
    assert!(nodes.contains(" Ready "), "{nodes}");

    let namespaces = k.ok(&["get", "ns"]).await;
    assert!(
        namespaces.contains("default") && namespaces.contains("Active"),
        "{namespaces}"
    );
    // `create namespace` posts protobuf.
    assert!(k
        .ok(&["create", "namespace", "demo"])
        .await
        .contains("created"));

    let file = k.write("cm.yaml", CONFIGMAP);
    assert!(k.ok(&["apply", "-f", &file]).await.contains("created"));
    assert!(k.ok(&["apply", "-f", &file]).await.contains("unchanged"));
    let changed = k.write("cm2.yaml", &CONFIGMAP.replace("blue", "green"));
    assert!(k
        .ok(&["apply", "-f", &changed])
        .await
        .contains("configured"));

    let json = k
        .ok(&["get", "cm", "settings", "-n", "demo", "-o", "json"])
        .await;
    let cm: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(cm["data"]["color"], "green");
    assert_eq!(cm["metadata"]["labels"]["app"], "demo");
    assert!(cm["metadata"]["resourceVersion"].is_string());

    k.ok(&["label", "cm", "settings", "-n", "demo", "tier=web"])
        .await;
    let selected = k
        .ok(&["get", "cm", "-n", "demo", "-l", "tier=web", "-o", "name"])
        .await;
    assert_eq!(selected.trim(), "configmap/settings");
    k.ok(&["label", "cm", "settings", "-n", "demo", "tier-"])
        .await;
    let selected = k
        .ok(&["get", "cm", "-n", "demo", "-l", "tier", "-o", "name"])
        .await;
    assert_eq!(selected.trim(), "");

    k.ok(&[
        "create",
        "configmap",
        "literal",
        "-n",
        "demo",
        "--from-literal=a=b",
    ])
    .await;
    k.ok(&[
        "create",
        "secret",
        "generic",
        "s",
        "-n",
        "demo",
        "--from-literal=p=q",
    ])
    .await;
    let secret = k
        .ok(&[
            "get",
            "secret",
            "s",
            "-n",
            "demo",
            "-o",
            "jsonpath={.data.p}",
        ])
        .await;
    assert_eq!(secret, "cQ==");

    k.ok(&["delete", "cm", "settings", "-n", "demo"]).await;
    let (_, err) = k.fails(&["get", "cm", "settings", "-n", "demo"]).await;
    assert!(
        err.contains("NotFound") && err.contains("not found"),
        "{err}"
    );
    let (_, err) = k.fails(&["get", "widgets"]).await;
    assert!(err.contains("widgets"), "{err}");

    k.ok(&["delete", "namespace", "demo", "--timeout=30s"])
        .await;
    let namespaces = k.ok(&["get", "ns", "-o", "name"]).await;
    assert!(!namespaces.contains("namespace/demo"), "{namespaces}");
}

/// Needs the controllers (scheduler, kubelet, workload model).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_run_wait_logs_exec_proxy_watch_delete() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&[
        "run",
        "web",
        "--image=registry.k8s.io/e2e-test-images/agnhost:2.53",
        "--",
        "netexec",
    ])
    .await;
    k.ok(&["wait", "--for=condition=Ready", "pod/web", "--timeout=30s"])
        .await;
    let pods = k.ok(&["get", "pods", "-A", "-o", "wide"]).await;
    assert!(pods.contains("Running") && pods.contains("1/1"), "{pods}");

    let logs = k.ok(&["logs", "web"]).await;
    assert!(logs.contains("8080"), "{logs}");

    let out = k.ok(&["exec", "web", "--", "sh", "-c", "echo hello"]).await;
    assert_eq!(out.trim(), "hello");
    let (code, _) = k.fails(&["exec", "web", "--", "sh", "-c", "exit 3"]).await;
    assert_eq!(code, Some(3), "kubectl exec passes the exit code on");

    let hostname = k
        .ok(&[
            "get",
            "--raw",
            "/api/v1/namespaces/default/pods/web:8080/proxy/hostname",
        ])
        .await;
    assert_eq!(hostname.trim(), "web");

    let mut watch = k
        .command(&["get", "pods", "-A", "-w"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    k.ok(&["delete", "pod", "web", "--timeout=60s"]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    watch.start_kill().unwrap();
    let out = watch.wait_with_output().await.unwrap();
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(seen.contains("Running"), "{seen}");
    assert!(seen.contains("Terminating"), "{seen}");
    let (_, err) = k.fails(&["get", "pod", "web"]).await;
    assert!(err.contains("not found"), "{err}");

    // Deployments: apply, the scale subresource, `get all`, cascading delete.
    let file = k.write("deploy.yaml", DEPLOYMENT);
    k.ok(&["apply", "-f", &file]).await;
    k.ok(&["rollout", "status", "deploy/web", "--timeout=30s"])
        .await;
    k.ok(&["scale", "deploy/web", "--replicas=3"]).await;
    k.ok(&["rollout", "status", "deploy/web", "--timeout=30s"])
        .await;
    let all = k.ok(&["get", "all"]).await;
    assert!(
        all.contains("deployment.apps/web") && all.contains("3/3"),
        "{all}"
    );
    let pods = k.ok(&["get", "pods", "-l", "app=web", "-o", "name"]).await;
    assert_eq!(pods.lines().count(), 3, "{pods}");
    k.ok(&["delete", "deploy", "web"]).await;
    k.ok(&[
        "wait",
        "--for=delete",
        "pod",
        "-l",
        "app=web",
        "--timeout=30s",
    ])
    .await;
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec]
";
