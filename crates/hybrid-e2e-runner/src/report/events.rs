//! The interface between the runner and whoever shows a run (cargo-nextest's
//! `reporter/events.rs`): [`execute`](super::execute) prints nothing itself, it tells a
//! [`Reporter`] what happens as [`RunEvent`]s, in order. `report::console` renders them.

use std::time::Duration;

use crate::catalog::TestCase;
use crate::report::{ClusterDomain, ReportError, ReportPaths, TestResult};

/// Something that happened during a run, in the order it happened.
#[derive(Debug)]
pub enum RunEvent<'a> {
    /// The cluster answered and the tests are about to start.
    Started {
        /// Where the client points.
        server: &'a str,
        /// The API server's version, when it said.
        version: Option<&'a str>,
        /// Usable nodes by OS and build (`linux=2`, `windows/10.0.20348=2`).
        nodes: &'a [String],
        /// Every selected test cell, in the order they start.
        cases: &'a [TestCase],
        /// How many of them will run.
        to_run: usize,
        /// How many of them the cluster makes skip.
        skipped: usize,
        /// How many run at the same time.
        threads: usize,
        /// The run's id (labels its namespaces).
        run_id: &'a str,
        /// What the cluster makes doubtful before any test runs (a Windows build no image
        /// serves), one line each.
        warnings: &'a [String],
    },
    /// The cluster domain `${cluster-domain}` stands for is known (only sent when a test that
    /// runs uses it, or `--cluster-domain` was given); no test has started yet.
    ClusterDomain(&'a ClusterDomain),
    /// `--prepull` begins: these images on every node of their OS.
    PrepullStarted {
        /// The images per OS.
        images: &'a [(crate::catalog::Os, Vec<String>)],
        /// `--prepull-timeout`.
        timeout: Duration,
    },
    /// A node of the pre-pull has `pulled` of its `total` images (sent when the count changes).
    PrepullProgress {
        /// The node's name.
        node: &'a str,
        /// Images past their pull on that node.
        pulled: usize,
        /// Images to pull on that node.
        total: usize,
    },
    /// The pre-pull ended; its namespace is being deleted.
    PrepullFinished {
        /// Since `PrepullStarted`.
        elapsed: Duration,
        /// What failed (the report's `hybrid-e2e/prepull` error case), or `None`.
        error: Option<&'a str>,
    },
    /// A test began to run (skipped tests do not start).
    TestStarted {
        /// The test cell's name.
        name: &'a str,
    },
    /// A step of a running test began (sent before the test's `TestFinished`).
    StepStarted {
        /// The test cell's name.
        name: &'a str,
        /// 1-based; a retry counts from 1 again.
        step: usize,
        /// Where the step is written (`suites/x.yaml:12`).
        location: &'a str,
        /// What the step does.
        what: &'a str,
    },
    /// How far the run is: every `--progress-interval`, and on SIGUSR1.
    Progress(&'a super::progress::Progress),
    /// A test ran past `--slow-after` (again: at each multiple of it), or SIGUSR1 asked: its
    /// current step and what that step's wait last saw.
    Slow(&'a super::progress::Slow),
    /// A test ended: passed, failed, or skipped.
    TestFinished(&'a TestResult),
    /// Every test has finished (or was skipped); cleanup comes next.
    TestsFinished {
        /// Since `Started`.
        elapsed: Duration,
    },
    /// The first stop signal: no more tests start, running ones are stopped.
    Interrupted {
        /// Which signal came.
        signal: crate::run::signals::StopSignal,
    },
    /// The second stop signal: the process exits at once.
    InterruptedHard {
        /// Namespaces that may be left behind.
        left: &'a [String],
        /// The run's id (for the `kubectl` hint).
        run_id: &'a str,
    },
    /// The end-of-run sweep of this run's namespaces begins.
    Sweeping {
        /// Whether Ctrl-C stopped the run.
        interrupted: bool,
    },
    /// The sweep ended.
    Swept {
        /// Namespaces still terminating when it stopped waiting.
        left: &'a [String],
        /// Namespaces of failed tests kept for inspection (`--keep-namespaces`).
        kept: &'a [String],
        /// The run's id (for the `kubectl` hint).
        run_id: &'a str,
    },
    /// The sweep could not list or delete namespaces.
    SweepFailed {
        /// What went wrong.
        error: &'a kube::Error,
        /// Namespaces of failed tests kept for inspection.
        kept: &'a [String],
        /// The run's id (for the `kubectl` hint).
        run_id: &'a str,
    },
    /// API requests were retried after transient errors (only sent when `count` > 0).
    ApiRetried {
        /// How many retries the run made.
        count: u64,
    },
    /// The reports were written here.
    ReportsWritten(&'a ReportPaths),
    /// The reports could not be written.
    ReportsFailed(&'a ReportError),
}

/// Receives a run's events. Called from the thread that drives the run.
pub trait Reporter: Send + Sync {
    /// Handles one event.
    fn report(&self, event: RunEvent<'_>);
}

impl<F: Fn(RunEvent<'_>) + Send + Sync> Reporter for F {
    fn report(&self, event: RunEvent<'_>) {
        self(event)
    }
}
