//! Unschedulable pods against the simulated cluster, through the real binary: under the quirk
//! `windows-scale-up` (a full, autoscaled Windows pool: each new Windows pod is Unschedulable
//! with `Insufficient cpu` and a `TriggeredScaleUp` event until its node joins) the Windows
//! cells wait and pass, where a harness that took the first `Unschedulable` as final failed
//! them; a pod no node can ever take still fails at once with the scheduler's message, and one
//! short of capacity with no autoscaler sign fails when the (scaled) grace runs out.

use std::time::Duration;

use hybrid_sim::{Quirk, SimConfig};

use crate::common::harness::{custom_catalog, run_against_sim};

fn scale_up() -> SimConfig {
    SimConfig {
        quirks: [Quirk::WindowsScaleUp].into(),
        ..SimConfig::default()
    }
}

/// The Windows cells of scheduling and of the lifecycle's pod, Job and Deployment waits all
/// meet the full pool. Before Unschedulable was a state they failed at once with "pod is
/// Unschedulable: 0/4 nodes are available: 2 Insufficient cpu, ...".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn windows_cells_wait_for_the_scaled_up_node_and_pass() {
    let run = run_against_sim(
        scale_up(),
        &[
            "scheduling/",
            "lifecycle/exit-zero-succeeds",
            "lifecycle/job-completes",
            "lifecycle/deployment-rolls-out-and-scales",
            "lifecycle/memory-limit-counts-against-the-node",
        ],
        Duration::from_secs(240),
    )
    .await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    let passed = run.named("passed");
    for cell in [
        "scheduling/lands-on-requested-os[os=windows]",
        "scheduling/lands-on-requested-os[os=linux]",
        "lifecycle/exit-zero-succeeds[os=windows]",
        "lifecycle/job-completes[os=windows]",
        "lifecycle/deployment-rolls-out-and-scales[os=windows]",
        // The 512Gi pod: the expected reason (Insufficient memory) ends its wait at once.
        "lifecycle/memory-limit-counts-against-the-node[os=windows]",
    ] {
        assert!(passed.contains(&cell.to_string()), "{cell}: {passed:?}");
    }
}

const NOWHERE_SUITE: &str = r#"
suite: stuck
tests:
  - name: nowhere
    steps:
      - create: { fixture: nowhere, name: lost, os: windows }
      - wait: { pod: lost, until: running }
        timeout: 600s
  - name: deadline-first
    steps:
      - create: { fixture: plain, name: early, os: windows }
      - wait: { pod: early, until: running }
        timeout: 20s
  - name: too-big
    steps:
      - create: { fixture: too-big, name: big, os: linux }
      - wait: { pod: big, until: running }
        timeout: 600s
"#;

const FIXTURES: &[(&str, &str)] = &[
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
    (
        "plain.yaml",
        r#"
fixture: plain
description: A pod any node of its OS takes.
objects:
  - apiVersion: v1
    kind: Pod
    metadata: { name: "${name}" }
    spec:
      containers:
        - { name: pause, image: "${image.pause}" }
"#,
    ),
    (
        "too-big.yaml",
        r#"
fixture: too-big
description: A pod asking for more CPU than any node has.
objects:
  - apiVersion: v1
    kind: Pod
    metadata: { name: "${name}" }
    spec:
      containers:
        - name: pause
          image: "${image.pause}"
          resources: { requests: { cpu: "500" } }
"#,
    ),
];

/// A node selector nothing matches is static: the wait ends at once (not after the grace, nor
/// at the 600 s deadline) quoting the scheduler and the pod's events, even under the quirk.
/// A pod short of CPU with no autoscaler sign waits out the grace (3 min × 0.05 = 9 s) and
/// fails then, saying so. A Windows pod whose node is coming waits, but not beyond its step's
/// deadline (20 s × 0.05 = 1 s, before the node joins), which names the autoscaler's event.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn static_reasons_fail_at_once_and_capacity_after_the_grace() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = custom_catalog(dir.path(), NOWHERE_SUITE, FIXTURES);
    // The Windows scale stays 1 so that deadline-first's deadline (20 s × 0.05) comes before
    // the simulated node joins (2 s).
    args.extend(["--timeout-scale", "0.05", "--windows-timeout-scale", "1"].map(str::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_against_sim(scale_up(), &args, Duration::from_secs(120)).await;
    assert_eq!(run.code, Some(1), "{}{}", run.stderr, run.failures());

    let nowhere = run.failure("stuck/nowhere");
    assert!(
        nowhere.contains("pod is Unschedulable: 0/4 nodes are available: 4 node(s) didn't match Pod's node affinity/selector"),
        "{nowhere}"
    );
    assert!(nowhere.contains("no node can take it"), "{nowhere}");
    assert!(
        nowhere.contains("events: Warning FailedScheduling: 0/4 nodes are available"),
        "{nowhere}"
    );
    assert!(!nowhere.contains("TriggeredScaleUp"), "{nowhere}");
    let waited = seconds_waited(nowhere);
    assert!(waited < 9.0, "ends before the 9 s grace: {nowhere}");

    let early = run.failure("stuck/deadline-first");
    assert!(early.contains("not running after "), "{early}");
    assert!(early.contains("; Unschedulable for "), "{early}");
    assert!(
        early.contains(
            "Normal TriggeredScaleUp: pod triggered scale-up: [{windows-pool 2->3 (max: 10)}]"
        ),
        "{early}"
    );

    let big = run.failure("stuck/too-big");
    assert!(
        big.contains("pod is Unschedulable: 0/4 nodes are available: 2 Insufficient cpu"),
        "{big}"
    );
    assert!(big.contains("no node came within the grace of 9s"), "{big}");
    let waited = seconds_waited(big);
    assert!(waited >= 9.0, "waits out the grace, not less: {big}");
}

/// The `waited N.Ns` of an Unschedulable failure.
fn seconds_waited(message: &str) -> f64 {
    let (_, rest) = message
        .split_once("waited ")
        .unwrap_or_else(|| panic!("says how long it waited: {message}"));
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let value: f64 = number.parse().expect("a number of seconds");
    if rest[number.len()..].starts_with("ms") {
        value / 1000.0
    } else {
        value
    }
}
