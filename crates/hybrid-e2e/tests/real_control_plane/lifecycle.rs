//! Stop signals and bad input under a real control plane: a run or a served cluster that is
//! told to stop removes everything it started, and a control plane that cannot start is one
//! clear line and exit 2.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{self, text, Served, BIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_run_deletes_its_namespaces_and_stops_the_control_plane() {
    let Some(_one_at_a_time) = support::real_control_plane().await else {
        return;
    };
    let before = support::traces();
    let reports = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(BIN)
        .args([
            "run",
            "--sim",
            "--control-plane",
            "real",
            "--tags",
            "storage",
        ])
        .arg("--report-dir")
        .arg(reports.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = support::StopOnDrop::new(child.id());
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let running = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("test ") {
                return true;
            }
        }
        false
    };
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(180), running).await,
        Ok(true),
        "tests start"
    );
    let pid = rustix::process::Pid::from_raw(child.id().unwrap() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let out = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("the run ends after SIGTERM")
        .unwrap();
    guard.disarm();
    assert_eq!(
        out.status.code(),
        Some(130),
        "stderr:\n{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("Deleting this run's namespaces"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        support::traces(),
        before,
        "no process or folder left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_cluster_is_kubernetes_v1_37_and_stops_on_sigterm() {
    let Some(_one_at_a_time) = support::real_control_plane().await else {
        return;
    };
    let before = support::traces();
    let served = Served::start(&[]).await;
    let client = served.client().await;
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "37")
    );
    assert!(version.git_version.starts_with("v1.37."), "{version:?}");
    let readyz = client
        .request_text(
            http::Request::get("/readyz?verbose")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    for check in [
        "[+]etcd ok",
        "[+]poststarthook/start-apiserver-admission-initializer ok",
    ] {
        assert!(readyz.contains(check), "{check} in:\n{readyz}");
    }
    served.stop().await;
    assert_eq!(
        support::traces(),
        before,
        "no process or folder left behind"
    );
}

#[tokio::test]
async fn a_control_plane_that_cannot_start_is_one_line_and_exit_2() {
    let empty = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(BIN)
            .args(["run", "--sim", "--control-plane", "real", "--report-dir"])
            .arg(reports.path())
            .env("HYBRID_E2E_CONTROL_PLANE_BIN", empty.path())
            .output(),
    )
    .await
    .expect("fails fast")
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "one error line:\n{stderr}");
    assert!(
        lines[0].contains("cannot start the real control plane"),
        "{stderr}"
    );
    assert!(
        lines[0].contains(&empty.path().display().to_string()),
        "names the folder: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Status {"),
        "{stderr}"
    );
    let junit = std::fs::read_to_string(reports.path().join("junit.xml")).expect("junit.xml");
    assert_eq!(
        junit.matches("<error").count(),
        1,
        "one error case: {junit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_plane_stops_by_itself_when_its_harness_is_killed_hard() {
    let Some(_one_at_a_time) = support::real_control_plane().await else {
        return;
    };
    let before = support::traces();
    let served = Served::start(&[]).await;
    let started = support::traces();
    let ours: Vec<u32> = started
        .processes
        .difference(&before.processes)
        .copied()
        .collect();
    assert_eq!(
        ours.len(),
        4,
        "etcd, kube-apiserver, controller-manager, scheduler: {ours:?}"
    );
    // SIGKILL leaves hybrid-e2e no time to stop them; each component sees its parent gone.
    served.kill_hard().await;
    let gone = async {
        while ours
            .iter()
            .any(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
        {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), gone)
        .await
        .expect("every component exits within 30 s of its harness's SIGKILL");
    // Its folders stay (nothing ran to remove them): remove them for the next test.
    for folder in started.folders.difference(&before.folders) {
        let _ = std::fs::remove_dir_all(folder);
    }
    assert_eq!(support::traces(), before);
}
