//! Windows timing and shutdown, end to end against the simulated cluster: under the quirk
//! `slow-windows` (Windows pulls take a minute and starts five seconds, scaled) the lifecycle and
//! scheduling suites pass with the default `--windows-timeout-scale 3` and fail, naming the
//! timeout, with `--windows-timeout-scale 1` (restart checks still pass there: they count from
//! the container's first start, not from the pull); under `windows-shutdown-kills` (a process without
//! a shutdown handler dies at once on deletion) the Windows grace-period cell still passes,
//! because its process is agnhost netexec with `--delay-shutdown`, while a `cmd /c ping`
//! sleeper is gone at once. Bad scales exit 2 naming the flag.

use std::time::Duration;

use hybrid_sim::{Quirk, SimConfig};

use crate::common::harness::{custom_catalog, hybrid_e2e, run_against_sim, Run};

/// Short enough that the suites run in a minute, long enough for every Linux cell: a wait gets
/// 18 s, and a Windows pod with three containers pulls for 18 s before it is ready, which fits
/// only at the default Windows scale (54 s). Restart checks count from the first start, so
/// their pulls do not count against them.
const TIMEOUT_SCALE: &str = "0.1";

/// The lifecycle and scheduling suites under `slow-windows`, all cells at once.
async fn slow_windows(windows_scale: &str) -> Run {
    run_against_sim(
        SimConfig {
            quirks: [Quirk::SlowWindows].into(),
            ..SimConfig::default()
        },
        &[
            "--timeout-scale",
            TIMEOUT_SCALE,
            "--windows-timeout-scale",
            windows_scale,
            "--test-threads",
            "40",
            "lifecycle/",
            "scheduling/",
        ],
        Duration::from_secs(300),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_windows_passes_with_the_default_windows_scale_and_fails_at_one() {
    let run = slow_windows("3").await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert!(run.named("failed").is_empty(), "{}", run.failures());
    let passed = run.named("passed");
    for cell in [
        "lifecycle/previous-logs-after-a-restart[os=windows]",
        "lifecycle/init-containers-run-in-order[os=windows]",
        "scheduling/lands-on-requested-os[os=windows]",
        "lifecycle/on-failure-restarts-a-failing-container[os=linux]",
    ] {
        assert!(passed.contains(&cell.to_string()), "{cell}: {passed:?}");
    }

    let run = slow_windows("1").await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let failed = run.named("failed");
    println!("slow-windows at --windows-timeout-scale 1 fails: {failed:#?}");
    assert!(
        failed.contains(&"lifecycle/init-containers-run-in-order[os=windows]".to_string()),
        "three slow pulls outlast an unscaled wait: {failed:?}"
    );
    // Restart checks get 6 s here, less than their pods' pulls (6 s a container): they pass
    // because their clocks start at the container's first start.
    let passed = run.named("passed");
    for cell in [
        "lifecycle/previous-logs-after-a-restart[os=windows]",
        "lifecycle/always-restarts-a-container-exiting-zero[os=windows]",
    ] {
        assert!(
            passed.contains(&cell.to_string()),
            "{cell}: {}",
            run.failures()
        );
    }
    for name in &failed {
        assert!(name.contains("windows"), "only Windows cells fail: {name}");
        let message = run.failure(name);
        assert!(
            message.contains("after 18s")
                || message.contains("timed out after")
                || message.contains("s timeout"),
            "{name} names the timeout: {message}"
        );
    }
}

/// The Windows grace-period cell keeps its process alive through the grace period, so the
/// quirk changes nothing for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_windows_shutdown_kills_the_grace_period_cell_still_passes() {
    let run = run_against_sim(
        SimConfig {
            quirks: [Quirk::WindowsShutdownKills].into(),
            ..SimConfig::default()
        },
        &["lifecycle/grace-period-is-honoured", "lifecycle/prestop"],
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert_eq!(
        run.named("passed"),
        [
            "lifecycle/grace-period-is-honoured[os=linux]",
            "lifecycle/grace-period-is-honoured[os=windows]",
            "lifecycle/prestop-hook-runs-before-stop[os=linux]",
            "lifecycle/prestop-hook-runs-before-stop[os=windows]",
        ]
    );
}

/// The sleeper the grace-period cell used before (`cmd /c ping`): the quirk is real, its pod is
/// gone at once whatever its grace period.
const PING_SLEEPER: &str = r#"fixture: ping-sleeper
description: cmd /c ping for an hour, with no shutdown handler (${grace} s grace).
params:
  grace: 2
objects:
  - apiVersion: v1
    kind: Pod
    metadata:
      name: "${name}"
    spec:
      terminationGracePeriodSeconds: ${grace}
      containers:
        - name: main
          image: "${image.agnhost}"
          resources: { requests: { cpu: 10m, memory: 64Mi }, limits: { cpu: 500m, memory: 256Mi } }
          command: [cmd, /c, "ping -n 3600 127.0.0.1 >nul"]
"#;

const PING_SUITE: &str = r#"suite: custom
description: A Windows process without a shutdown handler against its grace period.
tests:
  - name: ping-grace
    description: cmd /c ping keeps its pod for the grace period.
    matrix: { os: [windows] }
    steps:
      - create: { fixture: ping-sleeper, name: stubborn, os: "${os}" }
      - wait: { pod: stubborn, until: ready }
      - delete: { pod: stubborn, gone-after: 1500ms, gone-within: 8s }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_windows_shutdown_kills_a_process_without_a_handler_is_gone_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flags = custom_catalog(
        dir.path(),
        PING_SUITE,
        &[("ping-sleeper.yaml", PING_SLEEPER)],
    );
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.push("custom/");
    let quirk = SimConfig {
        quirks: [Quirk::WindowsShutdownKills].into(),
        ..SimConfig::default()
    };
    let run = run_against_sim(quirk, &args, Duration::from_secs(120)).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let message = run.failure("custom/ping-grace[os=windows]");
    assert!(
        message.contains("expected it to take at least 1.5s"),
        "{message}"
    );
    let run = run_against_sim(SimConfig::default(), &args, Duration::from_secs(120)).await;
    assert_eq!(run.code, Some(0), "without the quirk: {}", run.failures());
}

#[test]
fn timeout_scales_that_are_not_positive_numbers_exit_2_naming_the_flag() {
    for flag in ["--windows-timeout-scale", "--timeout-scale"] {
        for value in ["0", "-1", "nan", "inf"] {
            let (code, _, stderr) = hybrid_e2e(&["run", "--sim", flag, value]);
            assert_eq!(code, Some(2), "{flag} {value}: {stderr}");
            assert!(stderr.contains(&format!("'{flag} <F>'")), "{stderr}");
            assert!(stderr.contains("positive"), "{stderr}");
        }
    }
}
