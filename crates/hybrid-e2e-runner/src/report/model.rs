//! What a run produced, as the reporters read it: plain data, no cluster access.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How one test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
}

/// The result of one test cell.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// `suite/test[k=v,...]`.
    pub name: String,
    pub suite: String,
    pub tags: Vec<String>,
    pub outcome: Outcome,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// For failures: the step that failed and why (one paragraph).
    pub message: Option<String>,
    /// For skips: why.
    pub skip_reason: Option<String>,
    /// Step log, events and log tails; written in full only for failures.
    pub details: String,
    /// Folder with the namespace's objects, events and logs (failures only).
    pub artifacts: Option<PathBuf>,
}

/// Facts about the run and the cluster, written as JUnit `<properties>`.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub run_id: String,
    pub harness_version: String,
    pub started: DateTime<Utc>,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    pub cluster_version: Option<String>,
    /// e.g. `linux=2`, `windows/10.0.20348=2`.
    pub nodes: Vec<String>,
    pub tag_expression: Option<String>,
    pub name_filter: Vec<String>,
}

/// Everything a report is made from.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub info: RunInfo,
    pub results: Vec<TestResult>,
    /// Why the run stopped before (or while) running tests: unreachable cluster, forbidden,
    /// interrupted. Written to JUnit as one error test case.
    pub aborted: Option<String>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}
