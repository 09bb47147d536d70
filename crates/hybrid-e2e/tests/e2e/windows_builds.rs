//! Images against Windows builds, end to end: under `--quirk ltsc2025` (Windows nodes at
//! 10.0.26100 whose containerd pulls only ltsc2022/ltsc2025 variants) the catalog passes with
//! agnhost 2.66.1 and pause 3.10.2; on Windows nodes at a build no image has a variant for
//! (`--windows-build 10.0.19041`, before ltsc2022: containerd needs that very build) the
//! Windows cells skip naming the build, the image and the builds it serves, the run banner
//! warns, and `doctor` does too.

use hybrid_sim::{Quirk, SimConfig};

use crate::common::harness::{opt_in_cells, run_sim, text, Cluster, BIN};

/// A build before ltsc2022 for which no image of the catalogue has a variant.
const UNSERVED_BUILD: &str = "10.0.19041";
/// The one Windows cell that runs a Linux-only image on purpose (and expects the pull to fail).
const WRONG_OS_CELL: &str = "lifecycle/linux-image-fails-to-pull-on-windows[os=windows]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_ltsc2025_the_catalog_passes_with_images_that_have_ltsc2025_variants() {
    let run = run_sim(&["--quirk", "ltsc2025"]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert!(run.with_outcome("failed").is_empty(), "{}", run.failures());
    assert_eq!(run.with_outcome("skipped"), opt_in_cells());
    assert!(
        run.stderr.contains("windows/10.0.26100=2"),
        "the banner shows the build: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("warning:"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_build_no_image_serves_the_windows_cells_skip_naming_build_and_image() {
    let run = run_sim(&["--windows-build", UNSERVED_BUILD]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert!(run.with_outcome("failed").is_empty(), "{}", run.failures());
    let opt_ins = opt_in_cells();
    let windows_skips: Vec<String> = run
        .with_outcome("skipped")
        .into_iter()
        .filter(|name| !opt_ins.contains(name))
        .collect();
    assert!(
        windows_skips.len() >= 10,
        "the Windows cells skip: {windows_skips:?}"
    );
    for name in &windows_skips {
        assert!(!name.ends_with("[os=linux]"), "{name} has Windows pods");
        let reason = run.field(name, "skip_reason");
        assert!(
            reason.starts_with("no Windows node runs this cell's images: windows-node-1, windows-node-2 (build 10.0.19041: image "),
            "{name}: {reason}"
        );
        assert!(
            reason.contains("serves Windows builds 10.0.17763, 10.0.20348"),
            "{name}: {reason}"
        );
    }
    // A Linux-only image on Windows is that cell's point: it runs, and the pull fails.
    assert_eq!(run.field(WRONG_OS_CELL, "outcome"), "passed");
    // The Linux cells run.
    assert!(run
        .with_outcome("passed")
        .contains("networking/pod-to-pod-same-node[os=linux]"));
    assert!(
        run.stderr.contains(
            "warning: Windows build 10.0.19041 (windows-node-1, windows-node-2): image registry.k8s.io/pause:3.10.2 serves Windows builds 10.0.17763, 10.0.20348, 10.0.26100 only; Windows cells that run it skip"
        ),
        "{}",
        run.stderr
    );
}

async fn doctor(config: SimConfig) -> String {
    let cluster = Cluster::start(config).await;
    let out = tokio::process::Command::new(BIN)
        .arg("doctor")
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .env_remove("KUBECONFIG")
        .output()
        .await
        .expect("binary runs");
    cluster.sim.shutdown().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_warns_of_a_windows_build_no_image_serves_and_lists_the_skips() {
    let text = doctor(SimConfig {
        windows_build: UNSERVED_BUILD.to_string(),
        ..SimConfig::default()
    })
    .await;
    assert!(
        text.contains("Warning   Windows build 10.0.19041 (windows-node-1, windows-node-2): image registry.k8s.io/e2e-test-images/agnhost:2.66.1 serves Windows builds 10.0.17763, 10.0.20348, 10.0.26100 only"),
        "{text}"
    );
    assert!(
        text.contains("no Windows node runs this cell's images: windows-node-1, windows-node-2 (build 10.0.19041"),
        "{text}"
    );
    // Under ltsc2025 the nodes say so and nothing warns.
    let ltsc2025 = doctor(SimConfig {
        quirks: [Quirk::Ltsc2025].into(),
        ..SimConfig::default()
    })
    .await;
    assert!(ltsc2025.contains("windows 10.0.26100"), "{ltsc2025}");
    assert!(!ltsc2025.contains("Warning"), "{ltsc2025}");
}
