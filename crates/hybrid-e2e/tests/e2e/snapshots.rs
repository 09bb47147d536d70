//! Snapshots (insta) of what users read: `--help`, `run --help`, `sim --help`, `list --tags windows`,
//! `doctor` on the default simulated cluster, and `summary.md` of a run, with times and ids
//! redacted. A changed text fails here; `cargo insta review` (or `INSTA_UPDATE=always`)
//! accepts it after a look.

use std::time::Duration;

use hybrid_sim::SimConfig;

use crate::common::harness::{hybrid_e2e, text, Cluster, BIN};

/// Filters that replace what changes from run to run.
fn redactions() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"\d{8}-\d{6}-[a-z0-9]{4}", "[run-id]"),
        (r"https?://127\.0\.0\.1:\d+/?", "[server]"),
        (r"\b\d+(\.\d+)?\s?(ms|s)\b", "[duration]"),
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[time]"),
        (r"/tmp/\.tmp[A-Za-z0-9]+", "[tmp]"),
    ]
}

macro_rules! assert_redacted_snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ filters => redactions(), prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

#[test]
fn help() {
    let (code, stdout, _) = hybrid_e2e(&["--help"]);
    assert_eq!(code, Some(0));
    assert_redacted_snapshot!("help", stdout);
}

#[test]
fn run_help() {
    let (code, stdout, _) = hybrid_e2e(&["run", "--help"]);
    assert_eq!(code, Some(0));
    assert_redacted_snapshot!("run_help", stdout);
}

/// `list-images --help` says what each column holds and how to mirror with it.
#[test]
fn list_images_help() {
    let (code, stdout, _) = hybrid_e2e(&["list-images", "--help"]);
    assert_eq!(code, Some(0));
    assert_redacted_snapshot!("list_images_help", stdout);
}

/// `sim --help` lists every fault and every quirk with what it does.
#[test]
fn sim_help() {
    let (code, stdout, _) = hybrid_e2e(&["sim", "--help"]);
    assert_eq!(code, Some(0));
    assert_redacted_snapshot!("sim_help", stdout);
}

#[test]
fn list_windows() {
    let (code, stdout, stderr) = hybrid_e2e(&["list", "--tags", "windows"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_redacted_snapshot!("list_windows", format!("{stdout}\n--- stderr\n{stderr}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_on_the_default_simulated_cluster() {
    let cluster = Cluster::start(SimConfig::default()).await;
    let out = tokio::process::Command::new(BIN)
        .arg("doctor")
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .env_remove("KUBECONFIG")
        .output()
        .await
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_redacted_snapshot!("doctor", text(&out.stdout));
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_of_a_scheduling_run() {
    let cluster = Cluster::start(SimConfig {
        windows_nodes: 0,
        ..SimConfig::default()
    })
    .await;
    let out = cluster
        .run_within(&["--tags", "scheduling"], Duration::from_secs(120))
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary = std::fs::read_to_string(cluster.reports().join("summary.md")).expect("summary");
    assert_redacted_snapshot!("summary_scheduling", summary);
    cluster.sim.shutdown().await;
}
