//! No false passes: every kind of check the runner makes is shown failing, against the simulated
//! cluster, with the message a user would read. Each test below is a suite written to fail
//! (or a sim fault), run through the real binary.

use std::time::{Duration, Instant};

use hybrid_sim::{Fault, SimConfig};

const NEGATIVE_SUITE: &str = r#"
suite: negative
tests:
  - name: wrong-node-os
    steps:
      - create: { fixture: pause, name: p, os: linux }
      - wait: { pod: p, until: ready }
      - expect: { node-of: p, path: "$.metadata.labels['kubernetes.io/os']", equals: windows }
  - name: file-never-written
    steps:
      - create: { fixture: two-containers-emptydir, name: shared, os: windows }
      - wait: { pod: shared, until: ready }
      - exec:
          pod: shared
          container: reader
          command: [cmd, /c, 'type C:\data\missing']
          expect: { exit-code: 0, stdout: hello }
  - name: wrong-exit-code
    steps:
      - create: { fixture: shell-command, name: fails, os: linux, vars: { script: "exit 3" } }
      - wait: { pod: fails, until: completed }
      - expect: { pod: fails, path: "$.status.containerStatuses[0].state.terminated.exitCode", equals: 4 }
  - name: fails-while-waiting-for-success
    steps:
      - create: { fixture: shell-command, name: quick, os: windows, vars: { script: "exit 3" } }
      - wait: { pod: quick, until: succeeded }
  - name: closed-port
    steps:
      - create: { fixture: netexec, name: server, os: linux }
      - create: { fixture: netexec, name: client, os: windows }
      - wait: { pod: server, until: ready }
      - wait: { pod: client, until: ready }
      - http: { from: client, to: { pod: server, port: 9999, path: /hostname }, expect: { body: server } }
  - name: linux-image-on-windows
    steps:
      - create: { fixture: linux-only-image, name: bb, os: windows }
      - wait: { pod: bb, until: ready }
  - name: unschedulable
    steps:
      - create: { fixture: nowhere, name: lost, os: linux }
      - wait: { pod: lost, until: running }
  - name: logs-without-the-line
    steps:
      - create: { fixture: netexec, name: server, os: linux }
      - wait: { pod: server, until: ready }
      - logs: { pod: server, contains: "no such line" }
"#;

const EXTRA_FIXTURES: &[(&str, &str)] = &[
    (
        "linux-only-image.yaml",
        r#"
fixture: linux-only-image
description: busybox from Docker Hub, which has no Windows image.
objects:
  - apiVersion: v1
    kind: Pod
    metadata: { name: "${name}" }
    spec:
      containers:
        - { name: main, image: "docker.io/library/busybox:1.36", command: [sleep, "3600"] }
"#,
    ),
    (
        "nowhere.yaml",
        r#"
fixture: nowhere
description: A pod whose node selector no node matches.
objects:
  - apiVersion: v1
    kind: Pod
    metadata: { name: "${name}" }
    spec:
      nodeSelector: { hybrid-e2e.io/no-such-label: "true" }
      containers:
        - { name: pause, image: "${image.pause}" }
"#,
    ),
];

/// A harness run and how long it took.
struct Run {
    run: crate::common::harness::Run,
    took: Duration,
}

async fn run_suite(config: SimConfig, suite: Option<&str>, extra_args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = match suite {
        Some(suite) => crate::common::harness::custom_catalog(dir.path(), suite, EXTRA_FIXTURES),
        None => Vec::new(),
    };
    args.extend(extra_args.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let run =
        crate::common::harness::run_against_sim(config, &args, Duration::from_secs(300)).await;
    Run {
        run,
        took: started.elapsed(),
    }
}

fn message_of<'a>(run: &'a Run, name: &str) -> &'a str {
    run.run.failure(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_kind_of_check_can_fail_and_says_why() {
    let run = run_suite(
        SimConfig::default(),
        Some(NEGATIVE_SUITE),
        &["--timeout-scale", "0.1"],
    )
    .await;
    assert_eq!(run.run.code, Some(1), "{}", run.run.stderr);
    assert_eq!(run.run.tests.len(), 8);

    let m = message_of(&run, "negative/wrong-node-os");
    assert!(m.contains("the node of pod \"p\""), "{m}");
    assert!(
        m.contains("found \"linux\", expected == \"windows\""),
        "{m}"
    );

    let m = message_of(&run, "negative/file-never-written");
    assert!(
        m.contains("in pod \"shared\" (windows; node windows-node-"),
        "{m}"
    );
    assert!(m.contains(r#"volume "data" (emptyDir) at C:\data"#), "{m}");
    assert!(m.contains("exit code 1, expected 0"), "{m}");
    assert!(m.contains("stdout does not contain \"hello\""), "{m}");

    let m = message_of(&run, "negative/wrong-exit-code");
    assert!(m.contains("found 3, expected == 4"), "{m}");

    let m = message_of(&run, "negative/fails-while-waiting-for-success");
    assert!(
        m.contains("pod \"quick\" (windows): pod ended while waiting for it to be succeeded"),
        "{m}"
    );
    assert!(m.contains("terminated exit code 3"), "{m}");

    let m = message_of(&run, "negative/closed-port");
    assert!(
        m.contains("from pod \"client\" (windows, node windows-node-"),
        "{m}"
    );
    assert!(
        m.contains("to pod \"server\" (linux, node linux-node-"),
        "{m}"
    );
    assert!(m.contains("port 9999"), "{m}");
    assert!(m.contains("refused"), "{m}");

    let m = message_of(&run, "negative/linux-image-on-windows");
    assert!(m.contains("pod \"bb\" (windows)"), "{m}");
    assert!(
        m.contains("ErrImagePull") || m.contains("ImagePullBackOff"),
        "{m}"
    );
    assert!(m.contains("busybox"), "{m}");

    let m = message_of(&run, "negative/unschedulable");
    assert!(
        m.contains("pod is Unschedulable: 0/4 nodes are available"),
        "{m}"
    );

    let m = message_of(&run, "negative/logs-without-the-line");
    assert!(
        m.contains("logs of pod \"server\" (linux) do not contain \"no such line\""),
        "{m}"
    );
    assert!(
        m.contains("Started HTTP server"),
        "shows the last lines: {m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn waits_fail_fast_on_image_pull_errors_not_at_the_deadline() {
    // Default timeouts (180 s per wait): the run must end long before that.
    let run = run_suite(
        SimConfig {
            faults: [Fault::ImagePull].into(),
            ..SimConfig::default()
        },
        None,
        &["scheduling/"],
    )
    .await;
    assert_eq!(run.run.code, Some(1), "{}", run.run.stderr);
    assert_eq!(run.run.tests.len(), 2);
    for t in &run.run.tests {
        let m = t["message"].as_str().unwrap_or_default();
        assert!(
            m.contains("ErrImagePull") || m.contains("ImagePullBackOff"),
            "{m}"
        );
    }
    assert!(
        run.took < Duration::from_secs(60),
        "failed fast: {:?}",
        run.took
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_namespace_without_its_service_account_fails_before_the_first_step() {
    // 120 s × 0.02: the wait for the default ServiceAccount gives up after 2.4 s.
    let run = run_suite(
        SimConfig {
            faults: [Fault::ServiceAccountsMissing].into(),
            ..SimConfig::default()
        },
        None,
        &[
            "--timeout-scale",
            "0.02",
            "scheduling/lands-on-requested-os",
        ],
    )
    .await;
    assert_eq!(run.run.code, Some(1), "{}", run.run.stderr);
    assert_eq!(run.run.tests.len(), 2);
    for t in &run.run.tests {
        let m = t["message"].as_str().unwrap_or_default();
        assert!(
            m.contains(
                "is not ready for pods: its \"default\" ServiceAccount did not appear within 2s"
            ),
            "{m}"
        );
        assert!(
            m.contains("is the controller-manager running?"),
            "says what to check: {m}"
        );
    }
}
