//! The catalog under a real control plane: it passes, and each node-side fault fails exactly
//! the cells it fails on the embedded cluster (same selection, same timeout scale), so the
//! embedded cluster's verdicts are the real ones.

use std::time::Duration;

use crate::support::{self, failures, hybrid_e2e, junit_schema, results, text, with_outcome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_catalog_passes_and_leaves_nothing_behind() {
    let Some(_one_at_a_time) = support::real_control_plane().await else {
        return;
    };
    let before = support::traces();
    let reports = tempfile::tempdir().unwrap();
    let report_dir = reports.path().to_str().unwrap();
    let out = hybrid_e2e(
        &[
            "run",
            "--sim",
            "--control-plane",
            "real",
            "--report-dir",
            report_dir,
        ],
        Duration::from_secs(900),
    )
    .await;
    let tests = results(reports.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr:\n{}\nfailed:\n{}",
        text(&out.stderr),
        failures(&tests)
    );
    assert!(tests.len() >= 90, "the whole catalog ran: {}", tests.len());
    let console = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        console.contains("(real control plane, simulated nodes) (v1.37.2)"),
        "the banner names the real server: {console}"
    );
    junit_schema::assert_valid_junit(&reports.path().join("junit.xml"));
    assert_eq!(
        support::traces(),
        before,
        "no process or folder left behind"
    );
}

/// Node-side faults, grouped so that each group's cells do not mask each other, with the tags
/// that hold every cell they break.
const FAULT_GROUPS: &[(&[&str], &str)] = &[
    (&["cross-os-network", "udp-drop"], "networking"),
    (&["dns", "nodeport-closed"], "networking"),
    (&["snat", "no-endpoints"], "networking"),
    (&["image-pull"], "scheduling"),
    (
        &["volume-data-loss", "configmap-stale", "provisioner-stuck"],
        "storage",
    ),
    (
        &["no-restarts", "prestop-skipped", "logs-lost"],
        "lifecycle",
    ),
    (&["probes-ignored", "grace-ignored"], "lifecycle"),
];

/// Runs the selection with `faults` under `control_plane`: the failed cells, and their messages.
async fn failed_cells(
    control_plane: &str,
    faults: &[&str],
    tags: &str,
) -> (std::collections::BTreeSet<String>, String) {
    let reports = tempfile::tempdir().unwrap();
    let mut args = vec![
        "run",
        "--sim",
        "--control-plane",
        control_plane,
        "--tags",
        tags,
        "--timeout-scale",
        "0.2",
        // Failing cells mostly wait out their timeouts: more at once, not more CPU.
        "--test-threads",
        "16",
        "--report-dir",
        reports.path().to_str().unwrap(),
    ];
    for fault in faults {
        args.extend(["--fault", fault]);
    }
    let out = hybrid_e2e(&args, Duration::from_secs(900)).await;
    let tests = results(reports.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "{faults:?} under {control_plane} fails some cells; stderr:\n{}",
        text(&out.stderr)
    );
    (with_outcome(&tests, "failed"), failures(&tests))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_side_faults_fail_the_same_cells_as_on_the_embedded_cluster() {
    let Some(_one_at_a_time) = support::real_control_plane().await else {
        return;
    };
    for (faults, tags) in FAULT_GROUPS {
        let (embedded, _) = failed_cells("embedded", faults, tags).await;
        let (real, why) = failed_cells("real", faults, tags).await;
        assert!(!embedded.is_empty(), "{faults:?} breaks something");
        assert_eq!(
            real, embedded,
            "{faults:?} ({tags}) fails the same cells under both control planes; real:\n{why}"
        );
    }
}
