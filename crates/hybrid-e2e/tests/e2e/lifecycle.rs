//! The lifecycle suite against the simulated cluster, through the real binary: it passes on a
//! behaving cluster, and each kubelet fault (`no-restarts`, `probes-ignored`, `prestop-skipped`,
//! `grace-ignored`, `logs-lost`) fails exactly the checks that depend on it, with a message
//! saying what was expected and what was found.

use std::time::Duration;

use hybrid_sim::{Fault, SimConfig};

/// Timeouts for runs where failures are expected: eventually-checks give up in seconds.
const FAST_FAIL: &str = "0.1";

use crate::common::harness::{run_against_sim, Run};

/// Both cells (`[os=linux]`, `[os=windows]`) of each test, sorted.
fn cells(tests: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = tests
        .iter()
        .flat_map(|t| {
            ["linux", "windows"]
                .into_iter()
                .map(move |os| format!("lifecycle/{t}[os={os}]"))
        })
        .collect();
    out.sort();
    out
}

/// Runs the lifecycle suite against a fresh simulated cluster with `faults`.
async fn run_lifecycle(faults: &[Fault], args: &[&str]) -> Run {
    let config = SimConfig {
        faults: faults.iter().copied().collect(),
        ..SimConfig::default()
    };
    let mut args = args.to_vec();
    args.push("lifecycle/");
    run_against_sim(config, &args, Duration::from_secs(180)).await
}

/// Runs with one fault and checks exactly `failing` failed, everything else passed.
async fn only_these_fail(fault: Fault, failing: &[&str]) -> Run {
    // Every cell at once: the failing ones all wait out their (scaled) timeouts together.
    let run = run_lifecycle(
        &[fault],
        &["--timeout-scale", FAST_FAIL, "--test-threads", "40"],
    )
    .await;
    assert_eq!(run.code, Some(1), "{fault}: {}", run.stderr);
    assert_eq!(
        run.named("failed"),
        cells(failing),
        "{fault}: {:#?}",
        run.tests
    );
    assert_eq!(
        run.named("passed").len() + run.named("failed").len(),
        run.tests.len(),
        "{fault}: nothing skipped: {:#?}",
        run.tests
    );
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_lifecycle_suite_passes_on_a_behaving_cluster() {
    let run = run_lifecycle(&[], &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.named("passed").len(),
        run.tests.len(),
        "{:#?}",
        run.tests
    );
    let names = run.named("passed");
    let mut expected = cells(&[
        "exit-zero-succeeds",
        "exit-nonzero-fails",
        "on-failure-restarts-a-failing-container",
        "on-failure-leaves-a-succeeding-container",
        "always-restarts-a-container-exiting-zero",
        "init-containers-run-in-order",
        "liveness-failure-restarts-the-container",
        "readiness-failure-keeps-the-pod-unready",
        "startup-probe-delays-liveness",
        "prestop-hook-runs-before-stop",
        "grace-period-is-honoured",
        "logs-of-each-container",
        "previous-logs-after-a-restart",
        "exec-returns-stdout-and-exit-code",
        "deployment-rolls-out-and-scales",
        "job-completes",
        "memory-limit-counts-against-the-node",
    ]);
    expected.push("lifecycle/memory-limit-oom-kills[os=linux]".into());
    expected.push("lifecycle/linux-image-fails-to-pull-on-windows[os=windows]".into());
    expected.sort();
    assert_eq!(names, expected);
    // The negative test sees the pull failure at once, not at its 30 s deadline.
    let negative = run.test("lifecycle/linux-image-fails-to-pull-on-windows[os=windows]");
    let took = negative["duration"].as_f64().unwrap_or(f64::MAX);
    assert!(took < 10.0, "failed fast: {took}s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_restarts_fails_every_check_that_needs_a_restart() {
    let run = only_these_fail(
        Fault::NoRestarts,
        &[
            "on-failure-restarts-a-failing-container",
            "always-restarts-a-container-exiting-zero",
            "liveness-failure-restarts-the-container",
            "startup-probe-delays-liveness",
            "previous-logs-after-a-restart",
        ],
    )
    .await;
    let m = run.message("lifecycle/on-failure-restarts-a-failing-container[os=windows]");
    assert!(
        m.contains("expect pod \"crash\" $.status.containerStatuses[0].restartCount >= 2"),
        "{m}"
    );
    assert!(m.contains("found 0, expected >= 2"), "{m}");
    let m = run.message("lifecycle/previous-logs-after-a-restart[os=linux]");
    assert!(m.contains("[?@.name=='flaky'].restartCount >= 1"), "{m}");
    assert!(m.contains("found 0"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn probes_ignored_fails_the_probe_checks() {
    let run = only_these_fail(
        Fault::ProbesIgnored,
        &[
            "liveness-failure-restarts-the-container",
            "readiness-failure-keeps-the-pod-unready",
            "startup-probe-delays-liveness",
        ],
    )
    .await;
    let m = run.message("lifecycle/readiness-failure-keeps-the-pod-unready[os=windows]");
    assert!(m.contains("expect pod \"unready\""), "{m}");
    assert!(m.contains("found \"True\", expected == \"False\""), "{m}");
    let m = run.message("lifecycle/liveness-failure-restarts-the-container[os=linux]");
    assert!(m.contains("restartCount >= 1: found 0"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prestop_skipped_fails_the_hook_check() {
    let run = only_these_fail(Fault::PrestopSkipped, &["prestop-hook-runs-before-stop"]).await;
    for os in ["linux", "windows"] {
        let m = run.message(&format!("lifecycle/prestop-hook-runs-before-stop[os={os}]"));
        assert!(
            m.contains(&format!(
                "logs of pod \"sink\" ({os}) do not contain \"GET /echo?msg=prestop-ran\""
            )),
            "{m}"
        );
        assert!(
            m.contains("Started HTTP server on port 8080"),
            "shows the log: {m}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grace_ignored_fails_the_grace_period_check() {
    let run = only_these_fail(Fault::GraceIgnored, &["grace-period-is-honoured"]).await;
    let m = run.message("lifecycle/grace-period-is-honoured[os=windows]");
    assert!(m.contains("delete pod \"stubborn\""), "{m}");
    assert!(m.contains("pod \"stubborn\" was gone 0."), "{m}");
    assert!(
        m.contains("expected it to take at least 1.5s (graceful termination)"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logs_lost_fails_the_previous_logs_check() {
    let run = only_these_fail(Fault::LogsLost, &["previous-logs-after-a-restart"]).await;
    let m = run.message("lifecycle/previous-logs-after-a-restart[os=linux]");
    assert!(
        m.contains("previous logs of pod \"chatty\" container \"flaky\""),
        "{m}"
    );
    assert!(
        m.contains("previous terminated container \"flaky\" in pod \"chatty\" not found"),
        "{m}"
    );
}
