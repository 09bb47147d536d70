//! The storage suite against the simulated cluster, through the real binary: it passes on a
//! behaving cluster, and each storage fault fails exactly the checks it should, with a message
//! naming what was expected and what was found. Under quirk `windows-csi-missing` (the
//! default class's CSI driver has no Windows node plugin) the Windows claim cells skip, naming
//! the class, its provisioner and the Windows nodes' CSINodes; chosen explicitly with
//! `--storage-class-windows`, they run and fail on the mount, as on such a real cluster.

use std::time::Duration;

use hybrid_sim::{Fault, Quirk, SimConfig};

/// The cells that check data outliving a pod on a claim.
const PVC_CELLS: &[&str] = &[
    "storage/pvc-data-outlives-the-pod[os=linux]",
    "storage/pvc-data-outlives-the-pod[os=windows]",
];

use crate::common::harness::{results, run_against_sim, text, Cluster, Run};

/// Runs the storage suite (or `args`' selection) against a fresh simulated cluster.
async fn run_storage(config: SimConfig, args: &[&str]) -> Run {
    let mut args = args.to_vec();
    if !args
        .iter()
        .any(|a| a.starts_with("storage/") || *a == "--suites")
    {
        args.push("storage/");
    }
    run_against_sim(config, &args, Duration::from_secs(120)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_storage_suite_passes_on_a_behaving_cluster() {
    let run = run_storage(SimConfig::default(), &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.named("passed").len(),
        run.tests.len(),
        "{:#?}",
        run.tests
    );
    let names = run.named("passed");
    for expected in [
        "storage/emptydir-shared-between-containers[os=windows]",
        "storage/emptydir-memory[os=linux]",
        "storage/configmap-update-reaches-the-file[os=windows]",
        "storage/configmap-default-mode[os=linux]",
        "storage/secret-keys-are-files[os=windows]",
        "storage/projected-volume[os=windows]",
        "storage/pvc-data-outlives-the-pod[os=windows]",
        "storage/hostpath-folder-of-the-node[os=windows]",
        "storage/subpath-mounts-one-folder[os=windows]",
        "storage/read-only-root-filesystem[os=linux]",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    // Linux-only features have no Windows cell.
    for linux_only in [
        "emptydir-memory",
        "configmap-default-mode",
        "read-only-root-filesystem",
    ] {
        assert!(
            !names
                .iter()
                .any(|n| n.contains(linux_only) && n.contains("windows")),
            "{linux_only}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn volume_data_loss_fails_exactly_the_persistence_checks() {
    let run = run_storage(
        SimConfig {
            faults: [Fault::VolumeDataLoss].into(),
            ..SimConfig::default()
        },
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.named("failed"), PVC_CELLS, "{:#?}", run.tests);
    let m = run.message("storage/pvc-data-outlives-the-pod[os=linux]");
    assert!(m.contains("pod \"reader\" (linux; node linux-node-"), "{m}");
    assert!(
        m.contains("volume \"data\" (claim \"data\") at /data"),
        "{m}"
    );
    assert!(m.contains("/data/msg"), "{m}");
    assert!(
        m.contains("stdout does not contain \"persisted-data\""),
        "{m}"
    );
    assert!(m.contains("No such file or directory"), "{m}");
    let m = run.message("storage/pvc-data-outlives-the-pod[os=windows]");
    assert!(
        m.contains("pod \"reader\" (windows; node windows-node-"),
        "{m}"
    );
    assert!(
        m.contains(r#"volume "data" (claim "data") at C:\data"#),
        "{m}"
    );
    assert!(m.contains(r"C:\\data\\msg"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stuck_provisioner_fails_claims_fast_with_their_events() {
    // Default timeouts (the claim wait allows 5 minutes): the cells must fail in seconds.
    let run = run_storage(
        SimConfig {
            faults: [Fault::ProvisionerStuck].into(),
            ..SimConfig::default()
        },
        &["storage/pvc-data-outlives-the-pod"],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.named("failed"), PVC_CELLS, "{:#?}", run.tests);
    for cell in PVC_CELLS {
        let m = run.message(cell);
        assert!(m.contains("claim \"data\""), "{m}");
        assert!(m.contains("ProvisioningFailed"), "{m}");
        assert!(m.contains("storage class standard"), "{m}");
        assert!(m.contains("no capacity left"), "{m}");
        let took = run.test(cell)["duration"].as_f64().unwrap_or(f64::MAX);
        assert!(
            took < 20.0,
            "{cell} failed fast, not at the deadline: {took}s"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_configmap_fails_only_the_update_check() {
    let run = run_storage(
        SimConfig {
            faults: [Fault::ConfigmapStale].into(),
            ..SimConfig::default()
        },
        &["--timeout-scale", "0.05"],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.named("failed"),
        [
            "storage/configmap-update-reaches-the-file[os=linux]",
            "storage/configmap-update-reaches-the-file[os=windows]",
        ],
        "{:#?}",
        run.tests
    );
    let m = run.message("storage/configmap-update-reaches-the-file[os=linux]");
    assert!(m.contains("/etc/config/greeting"), "{m}");
    assert!(m.contains("pod \"cfg\" (linux; node linux-node-"), "{m}");
    assert!(
        m.contains("volume \"config\" (configMap \"cfg\") at /etc/config"),
        "{m}"
    );
    assert!(m.contains("does not contain \"updated-greeting\""), "{m}");
    assert!(
        m.contains("hello-from-configmap"),
        "shows what it found: {m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_storage_class_the_claim_checks_skip_with_the_reason() {
    let run = run_storage(
        SimConfig {
            storage_class: false,
            ..SimConfig::default()
        },
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.named("skipped"), PVC_CELLS, "{:#?}", run.tests);
    assert_eq!(run.named("failed"), Vec::<String>::new());
    for cell in PVC_CELLS {
        let reason = run.test(cell)["skip_reason"].as_str().unwrap_or_default();
        assert!(reason.contains("no default StorageClass"), "{reason}");
    }
}

/// A Windows kubelet has no tmpfs: it makes a `medium: Memory` emptyDir a plain folder
/// (kubernetes mount-utils `mount_windows.go`), so the pod starts and the folder is shared.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_windows_node_serves_a_memory_emptydir_as_a_plain_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("windows-memory.yaml"),
        r#"
suite: windows-memory
tests:
  - name: memory-emptydir-on-windows
    steps:
      - create: { fixture: memory-emptydir, name: shared, os: windows }
      - wait: { pod: shared, until: ready }
        timeout: 20s
"#,
    )
    .expect("suite written");
    let suites = dir.path().to_string_lossy().to_string();
    let run = run_storage(SimConfig::default(), &["--suites", &suites]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.field("windows-memory/memory-emptydir-on-windows", "outcome"),
        "passed"
    );
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        !all.contains("FailedMount"),
        "no FailedMount on Windows: {all}"
    );
}

fn windows_csi_missing() -> SimConfig {
    SimConfig {
        quirks: [Quirk::WindowsCsiMissing].into(),
        ..SimConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_windows_csi_driver_the_windows_claim_cells_skip_naming_class_and_nodes() {
    let run = run_storage(windows_csi_missing(), &[]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    let windows_cell = "storage/pvc-data-outlives-the-pod[os=windows]";
    assert_eq!(run.named("skipped"), [windows_cell], "{:#?}", run.tests);
    assert_eq!(run.named("failed"), Vec::<String>::new());
    assert_eq!(
        run.field("storage/pvc-data-outlives-the-pod[os=linux]", "outcome"),
        "passed",
        "Linux nodes have the driver"
    );
    assert_eq!(
        run.field(windows_cell, "skip_reason"),
        "StorageClass \"standard\" (provisioner disk.csi.sim.hybrid-e2e.io) does not serve \
         Windows: no Windows node's CSINode lists its driver (windows-node-1: no drivers; \
         windows-node-2: no drivers); --storage-class-windows CLASS chooses a class for Windows \
         claims"
    );
}

/// What the skip saves: the class chosen for Windows as such runs there, and the writer never
/// mounts its claim (the kubelet's FailedMount), failing at its (scaled) readiness deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_class_chosen_for_windows_runs_there_and_fails_on_the_unregistered_driver() {
    let cluster = Cluster::start(windows_csi_missing()).await;
    let out = cluster
        .run_within(
            &[
                "storage/pvc-data-outlives-the-pod",
                "--storage-class-windows",
                "standard",
                "--timeout-scale",
                "0.02",
            ],
            Duration::from_secs(120),
        )
        .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let tests = results(&cluster.reports());
    let outcome = |name: &str| -> Vec<&str> {
        tests
            .iter()
            .filter(|t| t["outcome"] == name)
            .filter_map(|t| t["name"].as_str())
            .collect()
    };
    let windows_cell = "storage/pvc-data-outlives-the-pod[os=windows]";
    assert_eq!(outcome("failed"), [windows_cell], "{tests:#?}");
    assert_eq!(
        outcome("passed"),
        ["storage/pvc-data-outlives-the-pod[os=linux]"]
    );
    let failed = tests
        .iter()
        .find(|t| t["name"] == windows_cell)
        .expect("the Windows cell ran");
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("wait for pod \"writer\" to be ready")
            && message.contains("waiting ContainerCreating"),
        "{message}"
    );
    // The failure's details (JUnit, artifacts) quote the kubelet's events.
    let artifacts = failed["artifacts"].as_str().expect("artifacts folder");
    let events = std::fs::read_to_string(std::path::Path::new(artifacts).join("events.txt"))
        .expect("events.txt");
    assert!(
        events.contains("FailedMount")
            && events.contains("MountVolume.MountDevice failed for volume \"pvc-")
            && events.contains(
                "driver name disk.csi.sim.hybrid-e2e.io not found in the list of registered CSI drivers"
            ),
        "{events}"
    );
    let junit = std::fs::read_to_string(cluster.reports().join("junit.xml")).expect("junit");
    assert!(
        junit.contains("not found in the list of registered CSI drivers"),
        "{junit}"
    );
    cluster.sim.shutdown().await;
}
