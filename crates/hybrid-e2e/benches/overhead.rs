//! Harness overhead against the simulated cluster, reported as ratios measured in one run
//! (machines are noisy; absolute numbers are not comparable between runs):
//! - the `scheduling` suite through `hybrid-e2e run` vs. a bare kube-rs client doing the same
//!   pod creations and watch-based waits in one namespace;
//! - the whole catalog at `--test-threads 1` vs `8`;
//! - peak resident memory of the harness process.
//!
//! Run with `cargo bench --bench overhead`.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{DeleteParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;

use hybrid_sim::{SimCluster, SimConfig};

const BIN: &str = env!("CARGO_BIN_EXE_hybrid-e2e");

/// Runs the binary against `kubeconfig`; returns wall time and peak RSS (KiB, from VmHWM).
async fn harness(kubeconfig: &std::path::Path, args: &[&str]) -> (Duration, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let mut child = tokio::process::Command::new(BIN)
        .arg("run")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--report-dir")
        .arg(dir.path())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("binary runs");
    let pid = child.id().unwrap_or_default();
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kib) = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        tokio::select! {
            _ = child.wait() => break,
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
    (started.elapsed(), peak)
}

/// The same work as the scheduling suite with a bare client: a namespace, one pause pod per
/// OS, a watch until each is Ready, then the namespace deleted.
async fn bare_client(sim: &SimCluster) -> Duration {
    let client = sim
        .client()
        .await
        .expect("a client for the simulated cluster");
    let started = Instant::now();
    let namespaces = Api::<Namespace>::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "bench"}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
    let pods = Api::<Pod>::namespaced(client.clone(), "bench");
    for os in ["linux", "windows"] {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": os},
            "spec": {
                "nodeSelector": {"kubernetes.io/os": os},
                "os": {"name": os},
                "tolerations": [{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}],
                "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10"}]
            }
        }))
        .expect("pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("pod created");
        let mut stream = watcher::watch_object(pods.clone(), os)
            .default_backoff()
            .boxed();
        while let Some(Ok(Some(p))) = stream.next().await {
            let ready = p
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            if ready {
                break;
            }
        }
    }
    namespaces
        .delete("bench", &DeleteParams::default())
        .await
        .expect("deleted");
    started.elapsed()
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let sim = SimCluster::start(SimConfig::default()).await.expect("sim starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");

        let bare = bare_client(&sim).await;
        let (scheduling, _) = harness(&kubeconfig, &["scheduling/", "--test-threads", "1"]).await;
        let (serial, serial_rss) = harness(&kubeconfig, &["--test-threads", "1"]).await;
        let (parallel, parallel_rss) = harness(&kubeconfig, &["--test-threads", "8"]).await;

        println!("scheduling suite via hybrid-e2e: {scheduling:.2?}; bare kube-rs client, same pods: {bare:.2?}");
        println!(
            "  ratio harness / bare client: {:.1} (includes process start, discovery, preflight, reports)",
            scheduling.as_secs_f64() / bare.as_secs_f64()
        );
        println!("whole catalog: 1 thread {serial:.2?}, 8 threads {parallel:.2?}");
        println!(
            "  ratio 1 thread / 8 threads: {:.1}",
            serial.as_secs_f64() / parallel.as_secs_f64()
        );
        println!("peak RSS of hybrid-e2e: {serial_rss} KiB (1 thread), {parallel_rss} KiB (8 threads)");
        sim.shutdown().await;
    });
}
