//! Runs the real `hybrid-e2e` binary against a fresh simulated cluster started in this process
//! (over loopback, with a kubeconfig in a temp dir, exactly as a user would point it at a
//! cluster), validates its JUnit file, and reads its `results.json`.

use std::time::Duration;

use serde_json::Value;

use hybrid_sim::{SimCluster, SimConfig};

const BIN: &str = env!("CARGO_BIN_EXE_hybrid-e2e");

/// What one `hybrid-e2e run` produced.
pub struct Run {
    /// `results.json`'s `tests`.
    pub tests: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

impl Run {
    /// The names of the tests with this outcome (`passed`, `failed`, `skipped`), sorted.
    pub fn named(&self, outcome: &str) -> Vec<String> {
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
    pub fn test(&self, name: &str) -> &Value {
        self.tests
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} ran: {:#?}", self.tests))
    }

    /// The failure message of a test that must have failed; panics if it did not fail.
    pub fn failure(&self, name: &str) -> &str {
        let test = self.test(name);
        assert_eq!(test["outcome"], "failed", "{name} must fail: {test}");
        test["message"].as_str().unwrap_or_default()
    }

    /// One test's failure message ("" when it has none).
    pub fn message(&self, name: &str) -> &str {
        self.test(name)["message"].as_str().unwrap_or_default()
    }
}

/// `hybrid-e2e run --kubeconfig <sim> --report-dir <tmp> ARGS` against a new simulated cluster
/// shaped by `config`; waits at most `limit`.
pub async fn run_against_sim(config: SimConfig, args: &[&str], limit: Duration) -> Run {
    let sim = SimCluster::start(config).await.expect("sim starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let reports = dir.path().join("reports");
    let out = tokio::process::Command::new(BIN)
        .arg("run")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--report-dir")
        .arg(&reports)
        .args(args)
        .env_remove("KUBECONFIG")
        .output();
    let out = tokio::time::timeout(limit, out)
        .await
        .expect("run ends in time")
        .expect("binary runs");
    super::junit_schema::assert_valid_junit(&reports.join("junit.xml"));
    let text = std::fs::read_to_string(reports.join("results.json")).expect("results.json");
    let json: Value = serde_json::from_str(&text).expect("results.json is JSON");
    Run {
        tests: json["tests"].as_array().cloned().unwrap_or_default(),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        code: out.status.code(),
    }
}

/// Writes a suite file and extra fixtures into `dir` and returns the flags that use them
/// (`--suites DIR/suites --fixtures DIR/fixtures`; the built-in fixtures stay available).
pub fn custom_catalog(
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
