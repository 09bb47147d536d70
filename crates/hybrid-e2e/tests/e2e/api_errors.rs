//! Transient API errors are survived: under `api-errors` (one non-watch request in five answers
//! 500) and `watch-drop` the whole catalog passes and the retries are counted; an API server
//! that is down (`api-down`) ends the run with its message, reason and code after the retries,
//! never a hang or a Debug dump.

use std::path::Path;
use std::time::Duration;

use hybrid_e2e_runner::run::api_retry::client_with_retries;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::ListParams;
use kube::config::Kubeconfig;
use kube::Api;
use serde_json::Value;

use hybrid_sim::{Fault, SimConfig};

use crate::common::harness::{assert_passed_but_opt_in, results, text, Cluster, BIN};

/// What a user may never read: kube's Debug dumps of a Status.
const DUMPS: [&str; 3] = ["Some(", "Status {", "ErrorResponse {"];

fn assert_no_debug_dump(what: &str, text: &str) {
    for dump in DUMPS {
        assert!(!text.contains(dump), "{what} contains {dump:?}:\n{text}");
    }
}

/// results.json's `run.api_retries`.
fn api_retries(reports: &Path) -> u64 {
    let text = std::fs::read_to_string(reports.join("results.json")).expect("results.json");
    let json: Value = serde_json::from_str(&text).expect("JSON");
    json["run"]["api_retries"]
        .as_u64()
        .expect("run.api_retries")
}

/// Every test passed (but the opt-in cells, skipped), nothing reads as a dump; the retry count (> 0) from results.json.
fn assert_all_passed_with_retries(out: &std::process::Output, reports: &Path) -> u64 {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let tests = results(reports);
    let failed: Vec<String> = tests
        .iter()
        .filter(|t| t["outcome"] != "passed")
        .map(|t| format!("{}: {} {}", t["name"], t["message"], t["skip_reason"]))
        .collect();
    assert_eq!(out.status.code(), Some(0), "{failed:#?}\nstderr:\n{stderr}");
    assert!(tests.len() >= 10, "whole catalog ran");
    assert_passed_but_opt_in(&tests);
    assert_no_debug_dump("stderr", &stderr);
    assert_no_debug_dump("stdout", &stdout);
    let retries = api_retries(reports);
    assert!(
        retries > 0,
        "20% of requests failed, yet nothing was retried"
    );
    assert!(
        stderr.contains(&format!("API requests retried: {retries}\n")),
        "{stderr}"
    );
    let summary = std::fs::read_to_string(reports.join("summary.md")).expect("summary.md");
    assert!(
        summary.contains(&format!("API requests retried {retries}")),
        "{summary}"
    );
    retries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_catalog_passes_through_api_errors_and_counts_the_retries() {
    let cluster = Cluster::start(SimConfig {
        faults: [Fault::ApiErrors].into(),
        ..SimConfig::default()
    })
    .await;
    let out = cluster.run(&[]).await;
    assert_all_passed_with_retries(&out, &cluster.reports());
    // The harness's own client would trip over the fault too: this one retries like the run's.
    let kubeconfig = Kubeconfig::read_from(cluster.kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    let client = client_with_retries(config).expect("client");
    let left = Api::<Namespace>::all(client)
        .list(&ListParams::default().labels("hybrid-e2e.io/run-id"))
        .await
        .expect("namespaces listed");
    assert!(left.items.is_empty(), "namespaces left: {:?}", left.items);
}

/// `--sim` builds its client from the sim's kubeconfig through the same retrying stack.
#[test]
fn run_sim_passes_through_api_errors_and_watch_drops() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reports = dir.path().join("reports");
    let out = std::process::Command::new(BIN)
        .args([
            "run",
            "--sim",
            "--fault",
            "api-errors",
            "--fault",
            "watch-drop",
        ])
        .arg("--report-dir")
        .arg(&reports)
        .env_remove("KUBECONFIG")
        .output()
        .expect("binary runs");
    assert_all_passed_with_retries(&out, &reports);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_api_server_that_is_down_ends_the_run_with_its_message_after_the_retries() {
    let cluster = Cluster::start(SimConfig {
        faults: [Fault::ApiDown].into(),
        ..SimConfig::default()
    })
    .await;
    // Retries are bounded (8, at most 2 s apart): a run that hangs fails `run_within`.
    let out = cluster.run_within(&[], Duration::from_secs(60)).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].ends_with(
            "cannot get the server version: Internal error occurred: injected by fault api-down (InternalError, 500)"
        ),
        "{stderr}"
    );
    assert_no_debug_dump("stderr", &stderr);
    assert!(!text(&out.stdout).contains("running"), "no test started");
    assert_eq!(
        api_retries(&cluster.reports()),
        16,
        "two requests (the first permission review, then the server version), all their retries"
    );
    let xml = std::fs::read_to_string(cluster.reports().join("junit.xml")).expect("junit.xml");
    assert!(
        xml.contains("<error") && xml.contains("injected by fault api-down"),
        "{xml}"
    );
    assert_no_debug_dump("junit.xml", &xml);
}

/// A create that went through but whose answer was lost is retried and meets AlreadyExists:
/// the test namespace (by its labels) and each created object (by its create token) are ours,
/// so they count as created.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creates_whose_answer_was_lost_count_as_created() {
    let cluster = Cluster::start(SimConfig {
        faults: [Fault::CreateAnswersLost].into(),
        ..SimConfig::default()
    })
    .await;
    let out = cluster.run(&[]).await;
    let retries = assert_all_passed_with_retries(&out, &cluster.reports());
    let tests = results(&cluster.reports()).len() as u64;
    assert!(
        retries > tests,
        "each test's namespace and objects were created twice: {retries} retries, {tests} tests"
    );
}

/// `doctor` and `cleanup` against an API server that is down: one line each with the server's
/// message, reason and code, exit 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn doctor_and_cleanup_report_an_api_server_that_is_down_in_one_line() {
    let cluster = Cluster::start(SimConfig {
        faults: [Fault::ApiDown].into(),
        ..SimConfig::default()
    })
    .await;
    for command in ["doctor", "cleanup"] {
        let run = tokio::process::Command::new(BIN)
            .arg(command)
            .arg("--kubeconfig")
            .arg(cluster.kubeconfig())
            .env_remove("KUBECONFIG")
            .output();
        let out = tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .expect("ends after the retries")
            .expect("binary runs");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{command}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{command}: {stderr}");
        assert!(
            errors[0].ends_with(
                "Internal error occurred: injected by fault api-down (InternalError, 500)"
            ),
            "{command}: {stderr}"
        );
        assert_no_debug_dump(command, &stderr);
        assert_no_debug_dump(command, &text(&out.stdout));
    }
}
