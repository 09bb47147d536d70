//! What a run produced, as the reporters read it: plain data, no cluster access.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How one test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every step succeeded.
    Passed,
    /// The test failed (a step, or setting up its namespace); `message` says why.
    Failed,
    /// The test did not run, or a step could not be checked from here; `skip_reason` says why.
    Skipped,
    /// The harness could not check (a fault of the harness or of the machine it runs on, not of
    /// the cluster); `message` says why. Counted apart from failures; the run fails all the same.
    Error,
}

impl Outcome {
    /// Whether the test makes the run fail: it failed, or the harness could not check it.
    pub fn is_unsuccessful(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Error)
    }
}

/// The result of one test cell.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// `suite/test[k=v,...]`.
    pub name: String,
    /// The suite the test belongs to.
    pub suite: String,
    /// The cell's tags: its own, the suite name, each OS of the cell, `hybrid` when mixed.
    pub tags: Vec<String>,
    /// How the test ended.
    pub outcome: Outcome,
    /// How long the test took (written in seconds).
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// For failures and errors: the step that failed and why (one paragraph).
    pub message: Option<String>,
    /// For skips: why.
    pub skip_reason: Option<String>,
    /// Step log, events and log tails; written in full only for failures and errors.
    pub details: String,
    /// What the harness chose or left out while checking, a line each (the nodes a NodePort
    /// check dialled and left out, and why): written for every outcome, passes too.
    pub notes: Vec<String>,
    /// Folder with the namespace's objects, events and logs (failures and errors only).
    pub artifacts: Option<PathBuf>,
    /// Earlier attempts of a test re-run with `--retries`, oldest first; each failed or
    /// errored. Empty for a test that ran once.
    pub attempts: Vec<Attempt>,
}

impl TestResult {
    /// A result of `suite`'s test `name` that ended with `outcome`, nothing else filled in
    /// (no tags, no time, no message).
    pub fn new(name: impl Into<String>, suite: impl Into<String>, outcome: Outcome) -> Self {
        TestResult {
            name: name.into(),
            suite: suite.into(),
            tags: vec![],
            outcome,
            duration: Duration::ZERO,
            message: None,
            skip_reason: None,
            details: String::new(),
            notes: vec![],
            artifacts: None,
            attempts: Vec::new(),
        }
    }

    /// Whether the test passed only after failing: its last attempt passed, earlier ones did not.
    pub fn is_flaky(&self) -> bool {
        self.outcome == Outcome::Passed && !self.attempts.is_empty()
    }
}

/// One earlier, unsuccessful attempt of a test re-run with `--retries`.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// How the attempt ended (`failed` or `error`).
    pub outcome: Outcome,
    /// The step that failed and why.
    pub message: Option<String>,
    /// Step log, events and log tails of the attempt (not in results.json).
    #[serde(skip)]
    pub details: String,
    /// How long the attempt took (written in seconds).
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
}

/// Facts about the run and the cluster, written as JUnit `<properties>`.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// `YYYYMMDD-HHMMSS-xxxx`: names the report folder and labels the run's namespaces.
    pub run_id: String,
    /// The version of the harness that ran (its crate version).
    pub harness_version: String,
    /// When the run started.
    pub started: DateTime<Utc>,
    /// How long the whole run took (written in seconds).
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// The API server's version (e.g. `v1.33.0`); `None` when the cluster was not read.
    pub cluster_version: Option<String>,
    /// e.g. `linux=2`, `windows/10.0.20348=2`.
    pub nodes: Vec<String>,
    /// The tag expression as the user wrote it; `None` when none was given.
    pub tag_expression: Option<String>,
    /// The name filters as the user wrote them; empty when none were given.
    pub name_filter: Vec<String>,
    /// API requests retried after a transient error (5xx, 429, a dropped connection).
    pub api_retries: u64,
    /// The cluster domain `${cluster-domain}` stood for; `None` when no selected test used it
    /// and no `--cluster-domain` was given.
    pub cluster_domain: Option<ClusterDomain>,
    /// `--timeout-scale`: the factor on every step timeout.
    pub timeout_scale: f64,
    /// `--windows-timeout-scale`: the further factor on the timeouts of steps that act on
    /// Windows objects.
    pub windows_timeout_scale: f64,
    /// `--shard K/N`: the part of the selection this run ran (`"shard": "2/3"`); `None` for
    /// the whole selection.
    pub shard: Option<crate::catalog::Shard>,
}

/// The cluster's DNS domain the run used for `${cluster-domain}`, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterDomain {
    /// The domain, without a trailing dot (`cluster.local`).
    pub name: String,
    /// Where it came from (`"source": "flag" | "discovered" | "assumed"`).
    #[serde(flatten)]
    pub source: DomainSource,
}

/// Where the run's cluster domain came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum DomainSource {
    /// `--cluster-domain`.
    Flag,
    /// The `search` line of a Linux pod's `/etc/resolv.conf`.
    Discovered,
    /// Not discovered, so the kubelet's default was taken; `reason` says why.
    Assumed {
        /// Why discovery did not give the domain.
        reason: String,
    },
}

impl std::fmt::Display for ClusterDomain {
    /// `cluster.example (discovered)`, `cluster.local (--cluster-domain)`,
    /// `cluster.local (assumed: no Linux node)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            DomainSource::Flag => write!(f, "{} (--cluster-domain)", self.name),
            DomainSource::Discovered => write!(f, "{} (discovered)", self.name),
            DomainSource::Assumed { reason } => write!(f, "{} (assumed: {reason})", self.name),
        }
    }
}

/// Everything a report is made from.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Facts about the run and the cluster.
    pub info: RunInfo,
    /// One result per selected test cell, in selection order.
    pub results: Vec<TestResult>,
    /// Why the run stopped before (or while) running tests: unreachable cluster, forbidden,
    /// interrupted. Written to JUnit as one error test case.
    pub aborted: Option<String>,
    /// What `--prepull` could not pull (nodes, images, pull errors), or its timeout. Written
    /// to JUnit as the error case `hybrid-e2e/prepull`; it fails the run, not a test.
    pub prepull: Option<String>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}
