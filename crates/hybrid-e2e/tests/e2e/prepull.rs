//! `run --prepull` end to end against the simulated cluster (its DaemonSet controller): every
//! node gets the selected tests' images first, with a progress line per node on stderr, and the
//! pre-pull namespace is gone after the run; the sim's `windows-pause-pull` fault is one error
//! case `hybrid-e2e/prepull` naming each Windows node and the pull error (the tests still run),
//! while transient pull errors are waited out;
//! a timeout names the nodes still pulling; Ctrl-C during the pre-pull leaves no namespace;
//! a bad `--prepull-timeout` is a usage error.

use hybrid_sim::{Fault, Quirk, SimConfig};

use std::time::Duration;

use crate::common::harness::{hybrid_e2e, results, run_sim, signal_and_wait, text, Cluster};

const NODES: [&str; 4] = [
    "linux-node-1",
    "linux-node-2",
    "windows-node-1",
    "windows-node-2",
];

/// A cluster with `quirk` (`slow-windows`: Windows pulls take 6 s each, so a pre-pull lasts).
async fn with_quirk(quirk: Quirk) -> Cluster {
    let config = SimConfig {
        quirks: [quirk].into(),
        ..SimConfig::default()
    };
    Cluster::start(config).await
}

/// `results.json` as a whole (its `prepull` field).
fn results_json(cluster: &Cluster) -> serde_json::Value {
    let text = std::fs::read_to_string(cluster.reports().join("results.json")).expect("written");
    serde_json::from_str(&text).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepull_on_pulls_every_image_on_every_node_then_the_tests_pass() {
    let cluster = Cluster::start(SimConfig::default()).await;
    let out = cluster
        .run(&["--prepull", "on", "--tags", "scheduling"])
        .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}{}", text(&out.stdout));
    assert!(stderr.contains("Pre-pulling images: "), "{stderr}");
    for node in NODES {
        let done = stderr
            .lines()
            .rfind(|l| l.starts_with(&format!("prepull: {node} ")))
            .unwrap_or_else(|| panic!("a progress line for {node}: {stderr}"));
        let counts = done
            .trim_start_matches(&format!("prepull: {node} "))
            .trim_end_matches(" images");
        let (pulled, total) = counts.split_once('/').expect("N/M");
        assert_eq!(pulled, total, "{node} has every image: {stderr}");
        assert_ne!(total, "0", "{stderr}");
    }
    assert!(stderr.contains("Pre-pull done in "), "{stderr}");
    let tests = results(&cluster.reports());
    assert!(!tests.is_empty());
    assert!(tests.iter().all(|t| t["outcome"] == "passed"), "{tests:#?}");
    assert!(results_json(&cluster)["prepull"].is_null());
    let junit = std::fs::read_to_string(cluster.reports().join("junit.xml")).unwrap();
    assert!(!junit.contains("hybrid-e2e/prepull"), "{junit}");
    assert!(cluster.leftover_namespaces().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_windows_pull_error_is_one_error_case_naming_the_nodes_and_the_tests_still_run() {
    let cluster = Cluster::start(SimConfig {
        faults: [Fault::WindowsPausePull].into(),
        ..SimConfig::default()
    })
    .await;
    let cell = "scheduling/lands-on-requested-os[os=windows]";
    let linux = "scheduling/lands-on-requested-os[os=linux]";
    let out = cluster
        .run(&["--prepull", "on", "--exact", cell, linux])
        .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    crate::common::junit_schema::assert_valid_junit(&cluster.reports().join("junit.xml"));
    let junit = std::fs::read_to_string(cluster.reports().join("junit.xml")).unwrap();
    assert_eq!(
        junit
            .matches("<testcase name=\"hybrid-e2e/prepull\" classname=\"hybrid-e2e\"")
            .count(),
        1,
        "{junit}"
    );
    assert!(junit.contains("type=\"PrepullFailed\""), "{junit}");
    let prepull = results_json(&cluster)["prepull"]
        .as_str()
        .expect("results.json names the pre-pull failure")
        .to_string();
    for node in ["windows-node-1", "windows-node-2"] {
        assert!(
            prepull.contains(&format!("{node}: registry.k8s.io/pause:3.10.2: ")),
            "{prepull}"
        );
    }
    assert!(
        prepull.contains(
            "no match for platform in manifest: not found (simulated fault windows-pause-pull)"
        ),
        "{prepull}"
    );
    assert!(
        !prepull.contains("linux-node"),
        "Linux nodes pulled: {prepull}"
    );
    assert!(stderr.contains("error: pre-pull ("), "{stderr}");
    // Not a test failure: the tests ran, their own pulls telling the same.
    let tests = results(&cluster.reports());
    assert_eq!(tests.len(), 2, "{tests:#?}");
    let windows = tests.iter().find(|t| t["name"] == cell).expect("ran");
    assert_eq!(windows["outcome"], "failed", "{windows}");
    assert!(
        windows["message"]
            .as_str()
            .unwrap_or_default()
            .contains("windows-pause-pull"),
        "{windows}"
    );
    let linux = tests.iter().find(|t| t["name"] == linux).expect("ran");
    assert_eq!(linux["outcome"], "passed", "{linux}");
    assert!(cluster.leftover_namespaces().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_pull_errors_are_waited_out_not_reported() {
    // Each node's first pull of each image times out; the kubelet's retry gets it.
    let cluster = with_quirk(Quirk::TransientPullErrors).await;
    let out = cluster
        .run(&["--prepull", "on", "--tags", "scheduling"])
        .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Pre-pull done in "), "{stderr}");
    assert!(results_json(&cluster)["prepull"].is_null(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_was_lost_does_not_fail_the_prepull() {
    let flags = "--fault create-answers-lost --prepull on --exact";
    let mut args: Vec<&str> = flags.split(' ').collect();
    args.push("scheduling/lands-on-requested-os[os=linux]");
    let run = run_sim(&args).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("Pre-pull done in "), "{}", run.stderr);
    assert!(!run.junit.contains("hybrid-e2e/prepull"), "{}", run.junit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepull_past_its_timeout_names_the_nodes_still_pulling_and_fails_the_run() {
    // Each Windows pull takes 6 s under slow-windows; the pre-pull may take 1 s.
    let cluster = with_quirk(Quirk::SlowWindows).await;
    let linux = "scheduling/lands-on-requested-os[os=linux]";
    let out = cluster
        .run(&[
            "--prepull",
            "on",
            "--prepull-timeout",
            "1s",
            "--exact",
            linux,
            "scheduling/lands-on-requested-os[os=windows]",
        ])
        .await;
    let stderr = text(&out.stderr);
    let prepull = results_json(&cluster)["prepull"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        prepull.starts_with("timed out after 1s (--prepull-timeout): "),
        "{prepull}\n{stderr}"
    );
    assert!(prepull.contains("windows-node-1: 0/1 images"), "{prepull}");
    // The tests passed (their Windows pod waited out its slow pull): the pre-pull alone fails
    // the run.
    let tests = results(&cluster.reports());
    assert!(tests.iter().all(|t| t["outcome"] == "passed"), "{tests:#?}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "error: the pre-pull failed (see the hybrid-e2e/prepull case of the reports)"
        ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_the_prepull_deletes_its_namespace_and_exits_130() {
    let cluster = with_quirk(Quirk::SlowWindows).await;
    let child = cluster
        .run_command(&["--prepull", "on", "--tags", "scheduling"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("binary runs");
    let mut pulling = false;
    for _ in 0..400 {
        if cluster
            .leftover_namespaces()
            .await
            .iter()
            .any(|n| n.ends_with("-prepull"))
        {
            pulling = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(pulling, "the pre-pull namespace appeared");
    let out = signal_and_wait(child, "INT").await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("Pre-pulling images: "), "{stderr}");
    assert!(cluster.leftover_namespaces().await.is_empty(), "{stderr}");
    let tests = results(&cluster.reports());
    assert!(
        tests.iter().all(|t| t["outcome"] == "skipped"),
        "{tests:#?}"
    );
}

#[test]
fn a_bad_prepull_timeout_or_mode_is_a_usage_error_naming_the_flag() {
    for (flag, value) in [
        ("--prepull-timeout", "soon"),
        ("--prepull-timeout", "0s"),
        ("--prepull-timeout", "-5m"),
        ("--prepull", "sometimes"),
    ] {
        let (code, _, stderr) = hybrid_e2e(&["run", "--sim", flag, value]);
        assert_eq!(code, Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag), "{flag} {value}: {stderr}");
    }
    let (_, _, stderr) = hybrid_e2e(&["run", "--sim", "--prepull-timeout", "soon"]);
    assert!(stderr.contains("is not a duration above zero"), "{stderr}");
}
