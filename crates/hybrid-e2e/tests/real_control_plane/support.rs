//! Shared by the tests: whether the control-plane binaries are there, a lock so that one real
//! control plane runs at a time, running the binary, and what a run may leave behind.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Mutex, MutexGuard};

#[path = "../e2e/common/junit_schema.rs"]
#[allow(dead_code)]
pub(crate) mod junit_schema;

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_hybrid-e2e");

/// Where `tools/control-plane/build.sh` put the binaries (`.ci/run` exports it).
const BIN_DIR_ENV: &str = "HYBRID_E2E_CONTROL_PLANE_BIN";

/// A real control plane takes ~300 MB and both cores while it starts: one at a time.
static REAL_CONTROL_PLANE: Mutex<()> = Mutex::const_new(());

/// The lock for a test that starts a real control plane, or `None` (after printing why) when
/// the binaries are not built. With `CI=true` that is a failure, not a skip.
pub(crate) async fn real_control_plane() -> Option<MutexGuard<'static, ()>> {
    let built = std::env::var_os(BIN_DIR_ENV)
        .map(PathBuf::from)
        .is_some_and(|dir| dir.join("kube-apiserver").is_file());
    if !built {
        let reason = format!(
            "the real control plane is not built: run `export {BIN_DIR_ENV}=$(tools/control-plane/build.sh)` (needs Go)"
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{reason}; CI=true does not allow skipping");
        }
        println!("skipped: {reason}");
        return None;
    }
    Some(REAL_CONTROL_PLANE.lock().await)
}

/// Sends SIGTERM to a `hybrid-e2e` process when dropped (a failed or timed-out test), unless
/// disarmed: SIGKILL, tokio's `kill_on_drop`, would leave its control plane running.
pub(crate) struct StopOnDrop(Option<u32>);

impl StopOnDrop {
    /// Guards the process `pid`.
    pub(crate) fn new(pid: Option<u32>) -> StopOnDrop {
        StopOnDrop(pid)
    }

    /// The process has ended and been reaped: nothing to stop.
    pub(crate) fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let pid = self
            .0
            .and_then(|pid| rustix::process::Pid::from_raw(pid as i32));
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }
}

/// Runs `hybrid-e2e ARGS` to its end (at most `limit`), with no kubeconfig in the environment.
pub(crate) async fn hybrid_e2e(args: &[&str], limit: Duration) -> Output {
    let child = tokio::process::Command::new(BIN)
        .args(args)
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut guard = StopOnDrop::new(child.id());
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("hybrid-e2e {args:?} did not end within {limit:?}"))
        .expect("binary runs");
    guard.disarm();
    out
}

/// Output bytes as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The tests of a run's `results.json`.
pub(crate) fn results(report_dir: &Path) -> Vec<Value> {
    let raw = std::fs::read_to_string(report_dir.join("results.json")).expect("results.json");
    let doc: Value = serde_json::from_str(&raw).expect("results.json is JSON");
    doc["tests"].as_array().cloned().unwrap_or_default()
}

/// The names of the tests with `outcome`.
pub(crate) fn with_outcome(tests: &[Value], outcome: &str) -> BTreeSet<String> {
    tests
        .iter()
        .filter(|t| t["outcome"] == outcome)
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `name: message` of each failed test, for assertion messages.
pub(crate) fn failures(tests: &[Value]) -> String {
    tests
        .iter()
        .filter(|t| t["outcome"] == "failed")
        .map(|t| {
            // What an Unschedulable message counts but does not name: the nodes' taints.
            let nodes = t["artifacts"]
                .as_str()
                .and_then(|dir| std::fs::read_to_string(Path::new(dir).join("nodes.txt")).ok())
                .unwrap_or_default();
            format!("{}: {}\n{nodes}", t["name"], t["message"])
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a real control plane leaves on the machine while it runs: its processes (by the path of
/// their binary), its tmpfs folder and its egress socket folder.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Traces {
    pub(crate) processes: BTreeSet<u32>,
    pub(crate) folders: BTreeSet<PathBuf>,
}

/// The traces of every real control plane on the machine now.
pub(crate) fn traces() -> Traces {
    let bin_dir = std::env::var(BIN_DIR_ENV).unwrap_or_default();
    let mut processes = BTreeSet::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if !bin_dir.is_empty() && text(&cmdline).starts_with(&bin_dir) {
            processes.insert(pid);
        }
    }
    let mut folders = BTreeSet::new();
    for (dir, prefix) in [
        ("/dev/shm", "hybrid-control-plane-"),
        ("/tmp", "hybrid-e2e-egress-"),
    ] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                folders.insert(entry.path());
            }
        }
    }
    Traces { processes, folders }
}

/// `hybrid-e2e sim --control-plane real ARGS` serving in the background, with its kubeconfig.
pub(crate) struct Served {
    child: tokio::process::Child,
    /// Stops it if the test fails before `stop`.
    guard: StopOnDrop,
    dir: tempfile::TempDir,
}

impl Served {
    /// Starts it and waits (at most 2 minutes) until it says it serves.
    pub(crate) async fn start(extra_args: &[&str]) -> Served {
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = tokio::process::Command::new(BIN)
            .args(["sim", "--control-plane", "real", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("binary starts");
        let guard = StopOnDrop::new(child.id());
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let serving = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("Press Ctrl-C") {
                    return true;
                }
            }
            false
        };
        let started = tokio::time::timeout(Duration::from_secs(120), serving).await;
        assert_eq!(
            started,
            Ok(true),
            "hybrid-e2e sim --control-plane real serves"
        );
        Served { child, guard, dir }
    }

    /// The kubeconfig it wrote (admin).
    pub(crate) fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// A folder for the test's own files, removed with it.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A kube client with the admin identity.
    pub(crate) async fn client(&self) -> kube::Client {
        let yaml = std::fs::read_to_string(self.kubeconfig()).expect("kubeconfig");
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig parses");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("client config");
        kube::Client::try_from(config).expect("client")
    }

    /// Kills it with SIGKILL (what a CI runner's hard timeout does) and reaps it.
    pub(crate) async fn kill_hard(mut self) {
        self.child.kill().await.expect("killed");
        self.guard.disarm();
    }

    /// Sends SIGTERM and waits (at most a minute) for a clean exit.
    pub(crate) async fn stop(mut self) {
        let pid = self.child.id().expect("still running");
        let pid = rustix::process::Pid::from_raw(pid as i32).expect("a pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("signal sent");
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("stops within a minute after SIGTERM")
            .expect("waited");
        self.guard.disarm();
        assert!(
            status.success(),
            "a served cluster stops cleanly on SIGTERM: {status}"
        );
    }
}
