//! `results.json`: the run's facts and one object per test, for scripts and dashboards.
//!
//! Shape: `{"run": {...}, "aborted": null | "why", "prepull": null | "what failed", "tests": [{"name", "suite", "tags",
//! "outcome", "duration", "message", "skip_reason", "notes", "artifacts", "flaky", "attempts":
//! [{"outcome", "duration", "message"}]}], "summary": {"passed", "failed", "skipped", "errored",
//! "flaky"}}`; `attempts` are the earlier, unsuccessful runs of a test (`--retries`), and a
//! `flaky` test passed after failing. Pretty-printed. `outcome` is `passed`, `failed`, `skipped`
//! or `error` (the harness could not check; `message` says why). Durations are seconds (millisecond precision);
//! messages are stripped of ANSI escapes and bounded like the JUnit ones. Details (step logs,
//! events) are not included: they are in JUnit and in the artifacts folder.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::model::{Outcome, RunInfo, RunReport};
use super::sanitize;
use super::summary::{counts, Counts};
use super::ReportError;

#[derive(Serialize)]
struct Document<'a> {
    run: &'a RunInfo,
    aborted: Option<String>,
    prepull: Option<String>,
    tests: Vec<Test<'a>>,
    summary: Counts,
}

#[derive(Serialize)]
struct Test<'a> {
    name: &'a str,
    suite: &'a str,
    tags: &'a [String],
    outcome: Outcome,
    duration: f64,
    message: Option<String>,
    skip_reason: Option<String>,
    notes: Vec<String>,
    artifacts: Option<&'a PathBuf>,
    flaky: bool,
    attempts: Vec<JsonAttempt>,
}

/// An earlier attempt (`--retries`): outcome, message, duration; its details are in JUnit.
#[derive(Serialize)]
struct JsonAttempt {
    outcome: Outcome,
    duration: f64,
    message: Option<String>,
}

/// Renders `report` as pretty-printed JSON.
pub fn render_results_json(report: &RunReport) -> Result<String, serde_json::Error> {
    let tests = report
        .results
        .iter()
        .map(|r| Test {
            name: &r.name,
            suite: &r.suite,
            tags: &r.tags,
            outcome: r.outcome,
            duration: (r.duration.as_secs_f64() * 1000.0).round() / 1000.0,
            message: r.message.as_deref().map(sanitize::message),
            skip_reason: r.skip_reason.as_deref().map(sanitize::message),
            notes: r.notes.iter().map(|n| sanitize::message(n)).collect(),
            artifacts: r.artifacts.as_ref(),
            flaky: r.is_flaky(),
            attempts: r
                .attempts
                .iter()
                .map(|a| JsonAttempt {
                    outcome: a.outcome,
                    duration: (a.duration.as_secs_f64() * 1000.0).round() / 1000.0,
                    message: a.message.as_deref().map(sanitize::message),
                })
                .collect(),
        })
        .collect();
    let doc = Document {
        run: &report.info,
        aborted: report.aborted.as_deref().map(sanitize::message),
        prepull: report.prepull.as_deref().map(sanitize::message),
        tests,
        summary: counts(report),
    };
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    Ok(text)
}

/// Writes `results.json` for `report` to `path`, creating parent folders.
pub fn write_results_json(report: &RunReport, path: &Path) -> Result<(), ReportError> {
    let text = render_results_json(report).map_err(|source| ReportError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    super::write_file(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{ClusterDomain, DomainSource, TestResult};
    use std::time::Duration;

    #[test]
    fn an_assumed_cluster_domain_says_why() {
        let domain = ClusterDomain {
            name: "cluster.local".into(),
            source: DomainSource::Assumed {
                reason: "no Linux node".into(),
            },
        };
        assert_eq!(
            serde_json::to_value(&domain).expect("serialises"),
            serde_json::json!({"name": "cluster.local", "source": "assumed", "reason": "no Linux node"})
        );
        assert_eq!(domain.to_string(), "cluster.local (assumed: no Linux node)");
    }

    #[test]
    fn has_run_tests_and_summary() {
        let report = RunReport {
            info: RunInfo {
                run_id: "r1".into(),
                harness_version: "0.1.0".into(),
                started: chrono::Utc::now(),
                duration: Duration::from_millis(2500),
                cluster_version: None,
                nodes: vec!["linux=1".into()],
                tag_expression: None,
                name_filter: vec![],
                api_retries: 0,
                timeout_scale: 1.0,
                windows_timeout_scale: 3.0,
                shard: None,
                cluster_domain: Some(ClusterDomain {
                    name: "corp.internal".into(),
                    source: DomainSource::Flag,
                }),
            },
            results: vec![TestResult {
                name: "storage/emptydir[os=linux]".into(),
                suite: "storage".into(),
                tags: vec!["storage".into(), "linux".into()],
                outcome: Outcome::Failed,
                duration: Duration::from_micros(1_234_567),
                message: Some("\x1b[31mboom\x1b[0m".into()),
                skip_reason: None,
                details: "secret details".into(),
                notes: vec![],
                artifacts: Some(PathBuf::from("reports/r1/artifacts/x")),
                attempts: Vec::new(),
            }],
            aborted: None,
            prepull: Some(
                "timed out after 1s (--prepull-timeout): \x1b[1mwindows-node-1\x1b[0m: 0/1 images"
                    .into(),
            ),
        };
        let text = render_results_json(&report).expect("serialises");
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["run"]["run_id"], "r1");
        assert_eq!(v["run"]["duration"], 2.5);
        assert_eq!(
            v["run"]["cluster_domain"],
            serde_json::json!({"name": "corp.internal", "source": "flag"})
        );
        assert!(v["aborted"].is_null());
        assert_eq!(
            v["prepull"],
            "timed out after 1s (--prepull-timeout): windows-node-1: 0/1 images"
        );
        let t = &v["tests"][0];
        assert_eq!(t["name"], "storage/emptydir[os=linux]");
        assert_eq!(t["suite"], "storage");
        assert_eq!(t["tags"][1], "linux");
        assert_eq!(t["outcome"], "failed");
        assert_eq!(t["duration"], 1.235);
        assert_eq!(t["message"], "boom");
        assert!(t["skip_reason"].is_null());
        assert_eq!(t["artifacts"], "reports/r1/artifacts/x");
        assert!(!text.contains("secret details"));
        assert_eq!(v["summary"]["failed"], 1);
        assert_eq!(v["summary"]["passed"], 0);
        assert_eq!(v["summary"]["skipped"], 0);
        assert_eq!(v["summary"]["errored"], 0);
        assert!(text.contains("\n  \"tests\""), "pretty-printed");
    }

    #[test]
    fn a_harness_error_is_outcome_error_and_counted_apart() {
        let mut report = crate::report::tests::report();
        report.results.push(TestResult {
            name: "s/t".into(),
            suite: "s".into(),
            tags: vec![],
            outcome: Outcome::Error,
            duration: Duration::ZERO,
            message: Some("the harness panicked: boom".into()),
            skip_reason: None,
            details: String::new(),
            notes: vec![],
            artifacts: None,
            attempts: Vec::new(),
        });
        let text = render_results_json(&report).expect("serialises");
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["tests"][0]["outcome"], "error");
        assert_eq!(v["tests"][0]["message"], "the harness panicked: boom");
        assert_eq!(v["summary"]["errored"], 1);
        assert_eq!(v["summary"]["failed"], 0);
    }
}
