//! Image pulls against the simulated cluster, through the real binary: transient pull errors
//! (quirk `transient-pull-errors`: each node's first pull of each image times out) are waited
//! through, and permanent ones (fault `image-pull`: every image "not found") end every wait at
//! once, Deployment and Job waits included, naming the pod and the pull error.

use std::time::{Duration, Instant};

use hybrid_sim::{Fault, Quirk, SimConfig};

use crate::common::harness::{run_against_sim, Cluster};

/// Under `transient-pull-errors` every first pull fails with an i/o timeout, so each cell's
/// first pod sees `ErrImagePull` and `ImagePullBackOff` before it runs. A harness that took
/// any pull error as final failed those cells; one that waits through back-off passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transient_pull_errors_are_waited_through_by_scheduling_and_lifecycle() {
    let run = run_against_sim(
        SimConfig {
            quirks: [Quirk::TransientPullErrors].into(),
            ..SimConfig::default()
        },
        &["scheduling/", "lifecycle/"],
        Duration::from_secs(240),
    )
    .await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert!(run.named("failed").is_empty(), "{}", run.failures());
    let passed = run.named("passed");
    for cell in [
        "lifecycle/deployment-rolls-out-and-scales[os=linux]",
        "lifecycle/job-completes[os=windows]",
        "lifecycle/linux-image-fails-to-pull-on-windows[os=windows]",
        "scheduling/lands-on-requested-os[os=linux]",
    ] {
        assert!(passed.contains(&cell.to_string()), "{cell}: {passed:?}");
    }
}

/// `--fault image-pull` (every pull: "not found"): each failed test names the pod and the pull
/// error, and no wait sits until its deadline (no timeout message). The wall times of a clean
/// whole-catalog run and of this one are printed (issue 13 wants the faulty run within 3×).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn permanent_pull_errors_end_every_wait_at_once_naming_pod_and_error() {
    let clean = Cluster::start(SimConfig::default()).await;
    let started = Instant::now();
    let out = clean.run(&[]).await;
    let clean_took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "clean run passes");
    clean.sim.shutdown().await;

    let run = run_against_sim(
        SimConfig {
            faults: [Fault::ImagePull].into(),
            ..SimConfig::default()
        },
        &[],
        Duration::from_secs(300),
    )
    .await;
    println!(
        "whole catalog: clean {clean_took:.1?}, --fault image-pull {:.1?} ({:.1}x)",
        run.took,
        run.took.as_secs_f64() / clean_took.as_secs_f64()
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let failed = run.named("failed");
    assert!(failed.len() > 10, "most cells need an image: {failed:?}");
    for name in &failed {
        let m = run.failure(name);
        assert!(m.contains("pod \""), "{name} names the pod: {m}");
        assert!(
            m.contains("ErrImagePull") || m.contains("ImagePullBackOff"),
            "{name} names the pull reason: {m}"
        );
        assert!(
            m.contains(": not found"),
            "{name} names the pull error: {m}"
        );
        assert!(!m.contains("; last state:"), "{name} timed out: {m}");
    }
    for (cell, kind, pod) in [
        (
            "lifecycle/deployment-rolls-out-and-scales[os=linux]",
            "deployment \"web\"",
            "pod \"web-",
        ),
        (
            "lifecycle/job-completes[os=windows]",
            "job \"batch\"",
            "pod \"batch-",
        ),
    ] {
        let m = run.failure(cell);
        assert!(m.contains(kind), "{cell}: {m}");
        assert!(m.contains(pod), "{cell} names the workload's pod: {m}");
        assert!(m.contains("(node "), "{cell} names its node: {m}");
        assert!(
            m.contains("container \"") && m.contains("is waiting: "),
            "{cell}: {m}"
        );
    }
    let windows_node = run.failure("lifecycle/job-completes[os=windows]");
    assert!(
        windows_node.contains(", windows): "),
        "names the OS: {windows_node}"
    );
}
