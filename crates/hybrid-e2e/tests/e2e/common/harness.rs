//! Runs the real `hybrid-e2e` binary: without a cluster ([`hybrid_e2e`]), or against a fresh
//! simulated cluster started in this process ([`Cluster`], [`run_against_sim`]) over loopback,
//! with a kubeconfig in a temp dir, exactly as a user would point it at a cluster; validates
//! its JUnit file and reads its `results.json`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::ListParams;
use kube::Api;
use serde_json::Value;

use hybrid_sim::{SimCluster, SimConfig};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_hybrid-e2e");

/// `hybrid-e2e ARGS` with no kubeconfig in the environment: exit code, stdout, stderr.
pub(crate) fn hybrid_e2e(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(BIN)
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("ARTIFACTS")
        .output()
        .expect("binary runs");
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Output bytes as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// A simulated cluster started in this process, with its kubeconfig and a report folder in a
/// temp dir.
pub(crate) struct Cluster {
    /// The cluster.
    pub sim: SimCluster,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts a simulated cluster shaped by `config` and writes its kubeconfig.
    pub(crate) async fn start(config: SimConfig) -> Cluster {
        let sim = SimCluster::start(config).await.expect("sim starts");
        let dir = tempfile::tempdir().expect("temp dir");
        sim.write_kubeconfig(&dir.path().join("kubeconfig"))
            .expect("kubeconfig written");
        Cluster { sim, dir }
    }

    /// The kubeconfig file pointing at this cluster.
    pub(crate) fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// The `--report-dir` of [`Cluster::run`].
    pub(crate) fn reports(&self) -> PathBuf {
        self.dir.path().join("reports")
    }

    /// A `hybrid-e2e run --kubeconfig <this cluster> --report-dir <reports> ARGS` command,
    /// with `--prepull off` unless ARGS name `--prepull` (a kubeconfig run pre-pulls by
    /// default, which only the `prepull` module is about).
    pub(crate) fn run_command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(BIN);
        command
            .arg("run")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--report-dir")
            .arg(self.reports())
            .args(args)
            .env_remove("KUBECONFIG");
        if !args.contains(&"--prepull") {
            command.args(["--prepull", "off"]);
        }
        command
    }

    /// Runs `hybrid-e2e run ... ARGS` to its end, at most `limit`.
    pub(crate) async fn run_within(&self, args: &[&str], limit: Duration) -> Output {
        tokio::time::timeout(limit, self.run_command(args).output())
            .await
            .expect("run ends in time")
            .expect("binary runs")
    }

    /// Runs `hybrid-e2e run ... ARGS` to its end (at most 5 minutes).
    pub(crate) async fn run(&self, args: &[&str]) -> Output {
        self.run_within(args, Duration::from_secs(300)).await
    }

    /// Waits (at most 10 s) until a run has created a test's namespace (not the discovery
    /// namespace, index 0): the run is then among its tests. Whether one came.
    pub(crate) async fn until_a_test_namespace(&self) -> bool {
        for _ in 0..400 {
            let names = self.leftover_namespaces().await;
            if names.iter().any(|n| !n.ends_with("-0")) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    /// Namespaces any run of the harness created that still exist.
    pub(crate) async fn leftover_namespaces(&self) -> Vec<String> {
        let client = self
            .sim
            .client()
            .await
            .expect("a client for the simulated cluster");
        let list = Api::<Namespace>::all(client)
            .list(&ListParams::default().labels("hybrid-e2e.io/run-id"))
            .await
            .expect("namespaces listed");
        list.items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect()
    }
}

/// `results.json`'s `tests` in a report folder.
pub(crate) fn results(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json written");
    let json: Value = serde_json::from_str(&text).expect("results.json is JSON");
    json["tests"].as_array().expect("tests array").clone()
}

/// The catalog's opt-in cells: Windows clients resolving partially qualified names (tag
/// `windows-pqdn`). A run whose `--tags` does not name the tag skips them.
pub(crate) fn opt_in_cells() -> BTreeSet<String> {
    [
        "networking/service-by-partial-name[client=windows,server=linux]",
        "networking/service-by-partial-name[client=windows,server=windows]",
        "networking/dns-partial-names[client=windows]",
    ]
    .into_iter()
    .map(str::to_string)
    .collect()
}

/// How the skip reason of an opt-in cell ends.
pub(crate) const OPT_IN_HINT: &str = "; opt-in: select it with --tags windows-pqdn";

/// Every test of a whole-catalog run passed but the opt-in cells, skipped with their hint.
pub(crate) fn assert_passed_but_opt_in(tests: &[Value]) {
    let not_passed: BTreeSet<String> = tests
        .iter()
        .filter(|t| t["outcome"] != "passed")
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(not_passed, opt_in_cells(), "{tests:#?}");
    for t in tests.iter().filter(|t| t["outcome"] != "passed") {
        assert_eq!(t["outcome"], "skipped", "{t}");
        let reason = t["skip_reason"].as_str().unwrap_or_default();
        assert!(reason.ends_with(OPT_IN_HINT), "{t}");
    }
}

/// What one `hybrid-e2e run` produced.
pub(crate) struct Run {
    /// `results.json`'s `tests`.
    pub tests: Vec<Value>,
    /// The binary's stdout.
    pub stdout: String,
    /// The binary's stderr.
    pub stderr: String,
    /// Its exit code.
    pub code: Option<i32>,
    /// How long the binary ran.
    pub took: Duration,
    /// The JUnit report's text.
    pub junit: String,
}

impl Run {
    /// The names of the tests with this outcome, as a set.
    pub(crate) fn with_outcome(&self, outcome: &str) -> BTreeSet<String> {
        self.named(outcome).into_iter().collect()
    }

    /// Names and messages of the failed tests, for assertion messages.
    pub(crate) fn failures(&self) -> String {
        self.tests
            .iter()
            .filter(|t| t["outcome"] == "failed")
            .map(|t| format!("\n{}: {}", t["name"], t["message"]))
            .collect()
    }

    /// One string field of a test's result ("" when absent).
    pub(crate) fn field(&self, name: &str, field: &str) -> &str {
        self.test(name)[field].as_str().unwrap_or_default()
    }

    /// The names of the tests with this outcome (`passed`, `failed`, `skipped`), sorted.
    pub(crate) fn named(&self, outcome: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .tests
            .iter()
            .filter(|t| t["outcome"] == outcome)
            .filter_map(|t| t["name"].as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    }

    /// One test's result; panics (listing all) when it did not run.
    pub(crate) fn test(&self, name: &str) -> &Value {
        self.tests
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} ran: {:#?}", self.tests))
    }

    /// The failure message of a test that must have failed; panics if it did not fail.
    pub(crate) fn failure(&self, name: &str) -> &str {
        let test = self.test(name);
        assert_eq!(test["outcome"], "failed", "{name} must fail: {test}");
        test["message"].as_str().unwrap_or_default()
    }

    /// One test's failure message ("" when it has none).
    pub(crate) fn message(&self, name: &str) -> &str {
        self.field(name, "message")
    }
}

/// `hybrid-e2e run --sim ARGS`: the binary starts its own simulated cluster (as a user types
/// it, quirks and faults as flags), within 5 minutes; its JUnit report is schema-checked.
pub(crate) async fn run_sim(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let reports = dir.path().join("reports");
    let started = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new(BIN)
            .args(["run", "--sim"])
            .args(args)
            .arg("--report-dir")
            .arg(&reports)
            .env_remove("KUBECONFIG")
            .output(),
    )
    .await
    .expect("run ends in time")
    .expect("binary runs");
    crate::common::junit_schema::assert_valid_junit(&reports.join("junit.xml"));
    Run {
        junit: std::fs::read_to_string(reports.join("junit.xml")).unwrap_or_default(),
        tests: results(&reports),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
        code: out.status.code(),
        took: started.elapsed(),
    }
}

/// `hybrid-e2e run --kubeconfig <sim> --report-dir <tmp> ARGS` against a new simulated cluster
/// shaped by `config`; waits at most `limit`.
pub(crate) async fn run_against_sim(config: SimConfig, args: &[&str], limit: Duration) -> Run {
    let cluster = Cluster::start(config).await;
    let started = Instant::now();
    let out = cluster.run_within(args, limit).await;
    let took = started.elapsed();
    let reports = cluster.reports();
    super::junit_schema::assert_valid_junit(&reports.join("junit.xml"));
    let run = Run {
        junit: std::fs::read_to_string(reports.join("junit.xml")).unwrap_or_default(),
        tests: results(&reports),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
        code: out.status.code(),
        took,
    };
    cluster.sim.shutdown().await;
    run
}

/// Writes a suite file and extra fixtures into `dir` and returns the flags that use them
/// (`--suites DIR/suites --fixtures DIR/fixtures`; the built-in fixtures stay available).
pub(crate) fn custom_catalog(
    dir: &std::path::Path,
    suite: &str,
    fixtures: &[(&str, &str)],
) -> Vec<String> {
    let suites_dir = dir.join("suites");
    let fixtures_dir = dir.join("fixtures");
    std::fs::create_dir_all(&suites_dir).expect("suites dir");
    std::fs::create_dir_all(&fixtures_dir).expect("fixtures dir");
    std::fs::write(suites_dir.join("custom.yaml"), suite).expect("suite written");
    for (name, text) in fixtures {
        std::fs::write(fixtures_dir.join(name), text).expect("fixture written");
    }
    vec![
        "--suites".to_string(),
        suites_dir.display().to_string(),
        "--fixtures".to_string(),
        fixtures_dir.display().to_string(),
    ]
}

/// Sends `signal` (`INT`, `TERM`, `HUP`, `USR1`, ...) to `child` with `kill`, as a user or CI
/// runner would, and waits (at most 2 minutes) for it to end.
pub(crate) async fn signal_and_wait(child: tokio::process::Child, signal: &str) -> Output {
    let pid = child.id().expect("the child is running");
    let kill = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success(), "kill -{signal} {pid}");
    tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("ends within 2 minutes of SIG{signal}"))
        .expect("the child's output")
}
