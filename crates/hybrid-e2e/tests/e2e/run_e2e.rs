//! End-to-end tests of `hybrid-e2e run` / `list`: the real binary against the simulated cluster
//! started in this process, over loopback, exactly as a user would point it at a cluster.

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use serde_json::Value;

use hybrid_sim::{Fault, SimConfig};

use crate::common::harness::{
    assert_passed_but_opt_in, opt_in_cells, results, signal_and_wait, text, Cluster, BIN,
    OPT_IN_HINT,
};

fn names_with_outcome(results: &[Value], outcome: &str) -> Vec<String> {
    results
        .iter()
        .filter(|t| t["outcome"] == outcome)
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `name: message` of every failed test, one per line, for assertion messages.
fn failure_messages(results: &[Value]) -> String {
    results
        .iter()
        .filter(|t| t["outcome"] == "failed")
        .map(|t| format!("{}: {}", t["name"], t["message"]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_first_catalog_passes_and_its_junit_validates() {
    let cluster = Cluster::start(SimConfig::default()).await;
    let out = cluster.run(&[]).await;
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{stderr}",
        text(&out.stdout)
    );
    let results = results(&cluster.reports());
    assert!(results.len() >= 10, "whole catalog ran: {results:?}");
    assert_passed_but_opt_in(&results);
    let junit = cluster.reports().join("junit.xml");
    crate::common::junit_schema::assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    for suite in ["scheduling", "networking", "storage", "lifecycle"] {
        assert!(
            xml.contains(&format!("<testsuite name=\"{suite}\"")),
            "suite {suite} in JUnit"
        );
    }
    assert!(cluster.leftover_namespaces().await.is_empty());
}

/// `run --sim --quirk all`, as a user types it: a cluster with every legitimate difference
/// at once passes the whole catalog; what cannot run there is skipped, each skip with its
/// reason (an admission denial quoted, an opt-in tag named), never failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_catalog_passes_under_every_quirk_at_once() {
    let run = crate::common::harness::run_sim(&["--quirk", "all"]).await;
    let results = &run.tests;
    assert_eq!(
        run.code,
        Some(0),
        "{}\nstderr:\n{}",
        run.failures(),
        run.stderr
    );
    assert!(results.len() >= 90, "whole catalog ran: {}", results.len());
    assert!(names_with_outcome(results, "failed").is_empty());
    assert!(names_with_outcome(results, "error").is_empty());
    let skipped: Vec<&Value> = results
        .iter()
        .filter(|t| t["outcome"] == "skipped")
        .collect();
    for t in &skipped {
        let reason = t["skip_reason"].as_str().unwrap_or_default();
        assert!(reason.len() > 20, "a skip quotes its reason: {t}");
    }
    for name in crate::common::harness::opt_in_cells() {
        assert!(
            skipped.iter().any(|t| t["name"] == name.as_str()),
            "{name} skipped"
        );
    }
    assert!(
        skipped.len() * 4 < results.len(),
        "most of the catalog runs: {} of {} skipped",
        skipped.len(),
        results.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cross_os_network_fault_fails_exactly_the_cross_os_pod_to_pod_cells() {
    let config = SimConfig {
        faults: [Fault::CrossOsNetwork].into(),
        ..SimConfig::default()
    };
    let cluster = Cluster::start(config).await;
    // A broken path must fail within its step timeout: 60 s × 0.1. Of the networking suite only
    // pod-to-pod runs here; tests/networking.rs checks every networking cell under this fault.
    let out = cluster
        .run(&[
            "--timeout-scale",
            "0.1",
            "--tags",
            "!networking || conformance",
        ])
        .await;
    assert_eq!(out.status.code(), Some(1), "stderr:\n{}", text(&out.stderr));
    let results = results(&cluster.reports());
    let mut failed = names_with_outcome(&results, "failed");
    failed.sort();
    assert_eq!(
        failed,
        vec![
            "networking/pod-to-pod[client=linux,server=windows]",
            "networking/pod-to-pod[client=windows,server=linux]"
        ],
        "why each failed:\n{}",
        failure_messages(&results)
    );
    for t in results.iter().filter(|t| t["outcome"] == "failed") {
        let message = t["message"].as_str().unwrap_or_default();
        let (client_os, server_os) = if t["name"].as_str().unwrap().contains("client=linux") {
            ("linux", "windows")
        } else {
            ("windows", "linux")
        };
        assert!(
            message.contains(&format!(
                "from pod \"client\" ({client_os}, node {client_os}-node"
            )),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "to pod \"server\" ({server_os}, node {server_os}-node"
            )),
            "{message}"
        );
        assert!(message.contains("timeout"), "says what happened: {message}");
        assert!(
            message.contains("attempt"),
            "says how often it tried: {message}"
        );
    }
    crate::common::junit_schema::assert_valid_junit(&cluster.reports().join("junit.xml"));
    assert!(cluster.leftover_namespaces().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_windows_nodes_every_windows_cell_is_skipped_with_its_reason() {
    let config = SimConfig {
        windows_nodes: 0,
        ..SimConfig::default()
    };
    let cluster = Cluster::start(config).await;
    let out = cluster.run(&[]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let results = results(&cluster.reports());
    for t in &results {
        let windows = t["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|tag| tag == "windows");
        let opt_in = opt_in_cells().contains(t["name"].as_str().unwrap_or_default());
        if windows {
            assert_eq!(t["outcome"], "skipped", "{t}");
            // An opt-in cell says how to select it too.
            let hint = if opt_in { OPT_IN_HINT } else { "" };
            let reason = t["skip_reason"].as_str().unwrap_or_default();
            assert!(
                reason.starts_with("no Ready node with kubernetes.io/os=windows")
                    && reason.ends_with(hint)
                    && (opt_in || reason == "no Ready node with kubernetes.io/os=windows"),
                "{t}"
            );
        } else {
            assert_eq!(t["outcome"], "passed", "{t}");
        }
    }
    assert!(names_with_outcome(&results, "passed").len() >= 4);
    let xml = std::fs::read_to_string(cluster.reports().join("junit.xml")).unwrap();
    assert!(xml.contains("no Ready node with kubernetes.io/os=windows"));
    assert!(cluster.leftover_namespaces().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_cluster_exits_3_and_still_writes_junit() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:1'}\n\
         users:\n- name: u\n  user: {}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let out = tokio::process::Command::new(BIN)
        .args(["run", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--report-dir")
        .arg(&reports)
        .output()
        .await
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "{stderr}");
    assert!(error_lines[0].contains("127.0.0.1:1"), "{stderr}");
    assert!(
        error_lines[0].to_lowercase().contains("connect"),
        "cause chain: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let junit = reports.join("junit.xml");
    crate::common::junit_schema::assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<error"), "{xml}");
}

/// Ctrl-C, SIGTERM (CI timeouts, a Job's deadline) and SIGHUP each stop a run the same way: no
/// namespace is left, the tests that were running are error cases naming the signal, the JUnit
/// validates, and the exit code is 130.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_run_deletes_its_namespaces_and_exits_130() {
    let cluster = Cluster::start(SimConfig::default()).await;
    for (signal, named) in [
        ("INT", "Ctrl-C (SIGINT)"),
        ("TERM", "SIGTERM"),
        ("HUP", "SIGHUP"),
    ] {
        let reports = cluster.reports().join(signal);
        let child = tokio::process::Command::new(BIN)
            .arg("run")
            .arg("--kubeconfig")
            .arg(cluster.kubeconfig())
            .arg("--report-dir")
            .arg(&reports)
            // Stopped during its tests, not its pre-pull (the prepull module stops that).
            .args(["--prepull", "off"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until a test has a namespace, then stop the run.
        let created = cluster.until_a_test_namespace().await;
        assert!(created, "SIG{signal}: the run created test namespaces");
        let out = signal_and_wait(child, signal).await;
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(130),
            "SIG{signal}: stderr:\n{stderr}"
        );
        assert!(
            stderr.contains(&format!("Interrupted by {named}: starting no more tests")),
            "{stderr}"
        );
        assert!(
            cluster.leftover_namespaces().await.is_empty(),
            "SIG{signal}: {stderr}"
        );
        let junit = reports.join("junit.xml");
        crate::common::junit_schema::assert_valid_junit(&junit);
        let tests = results(&reports);
        let interrupted: Vec<&Value> = tests.iter().filter(|t| t["outcome"] == "error").collect();
        assert!(
            !interrupted.is_empty(),
            "SIG{signal}: a running test ends as an error case: {stderr}"
        );
        for test in &interrupted {
            let message = test["message"].as_str().unwrap_or_default();
            assert!(
                message.ends_with(&format!("interrupted by {named}")),
                "SIG{signal}: {message}"
            );
        }
        assert!(
            tests
                .iter()
                .any(|t| t["skip_reason"] == "not started: the run was interrupted"),
            "SIG{signal}: the tests not started are skipped"
        );
        let xml = std::fs::read_to_string(&junit).expect("junit.xml");
        assert!(
            xml.contains(&format!(
                "interrupted by {named}; tests not started were skipped"
            )),
            "SIG{signal}: the JUnit says what stopped the run"
        );
        assert_eq!(
            xml.matches("<error ").count(),
            interrupted.len() + 1,
            "SIG{signal}: one <error> per interrupted test, and the run's abort"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn doctor_shows_nodes_and_why_tests_would_skip() {
    let config = SimConfig {
        windows_nodes: 0,
        ..SimConfig::default()
    };
    let cluster = Cluster::start(config).await;
    let out = tokio::process::Command::new(BIN)
        .arg("doctor")
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .output()
        .await
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("linux-node-1"), "{stdout}");
    assert!(
        stdout.contains("default StorageClass: standard"),
        "{stdout}"
    );
    // The count grows with the suites.
    assert!(
        stdout.contains("): no Ready node with kubernetes.io/os=windows"),
        "{stdout}"
    );
    assert!(
        stdout.contains("    networking/pod-to-pod[client=linux,server=windows]"),
        "{stdout}"
    );
    assert!(
        cluster.leftover_namespaces().await.is_empty(),
        "doctor creates nothing"
    );
}

/// With one Windows node, the cells that need two Windows nodes are skipped with that reason,
/// in a run and in `doctor`, never left Unschedulable.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_one_windows_node_the_two_node_cells_skip_in_runs_and_in_doctor() {
    let config = SimConfig {
        windows_nodes: 1,
        ..SimConfig::default()
    };
    let cluster = Cluster::start(config).await;
    const CELL: &str = "networking/pod-to-pod-other-node[os=windows]";
    const REASON: &str = "needs two schedulable nodes with kubernetes.io/os=windows (pods on different nodes), found 1 (windows-node-1)";
    let out = tokio::process::Command::new(BIN)
        .arg("doctor")
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .output()
        .await
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains(REASON), "{stdout}");
    assert!(stdout.contains(&format!("    {CELL}")), "{stdout}");

    let out = cluster.run(&["--exact", CELL]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let results = results(&cluster.reports());
    assert_eq!(names_with_outcome(&results, "skipped"), [CELL]);
    assert_eq!(results[0]["skip_reason"], REASON);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cleanup_deletes_what_earlier_runs_left_behind() {
    let cluster = Cluster::start(SimConfig::default()).await;
    let api = Api::<Namespace>::all(
        cluster
            .sim
            .client()
            .await
            .expect("a client for the simulated cluster"),
    );
    for (name, run) in [
        ("he2e-old-1", "old"),
        ("he2e-old-2", "old"),
        ("unrelated", ""),
    ] {
        let mut ns: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
        if !run.is_empty() {
            ns.metadata.labels =
                Some([("hybrid-e2e.io/run-id".to_string(), run.to_string())].into());
        }
        api.create(&Default::default(), &ns).await.unwrap();
    }
    let out = tokio::process::Command::new(BIN)
        .arg("cleanup")
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(cluster.leftover_namespaces().await.is_empty());
    assert!(
        api.get_opt("unrelated").await.unwrap().is_some(),
        "only labelled namespaces go"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forbidden_credentials_exit_3_before_any_test_and_still_write_junit() {
    let config = SimConfig {
        faults: [Fault::ForbidNamespaces].into(),
        ..SimConfig::default()
    };
    let cluster = Cluster::start(config).await;
    let out = cluster.run(&[]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].ends_with("cannot create namespaces cluster-wide"),
        "the preflight's review names it: {stderr}"
    );
    assert!(!text(&out.stdout).contains("running"), "no test started");
    let junit = cluster.reports().join("junit.xml");
    crate::common::junit_schema::assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<error") && xml.contains("cannot create namespaces cluster-wide"),
        "{xml}"
    );
    assert!(cluster.leftover_namespaces().await.is_empty());
}
