//! Executing tests on a connected cluster: discover, one libtest-mimic trial per test cell over
//! the caller's tokio runtime, Ctrl-C handling, the end-of-run namespace sweep and the reports.
//! The outcome is a [`RunSummary`] or a [`RunError`]; choosing an exit code is the binary's job.

pub mod connect;
pub mod diagnose;
pub mod kube_error;
pub mod mounts;
pub mod namespace;
pub mod objects;
pub mod placeholders;
pub mod probe;
pub mod retry;
pub mod scope;
pub mod steps;
pub mod test;
pub mod wait;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Completion, Failed, FormatSetting, Trial};
use tokio_util::sync::CancellationToken;

use crate::catalog::{Os, TestCase};
use crate::cluster::DiscoveryError;
use crate::fixture::{FixtureSet, Images};
use crate::report::{self, Outcome, RunInfo, RunReport, TestResult};
use connect::Connection;
pub use kube_error::error_chain;
use namespace::{LiveNamespaces, RUN_ID_LABEL};
use scope::TestEnv;
use test::RunEnv;

/// The process exit code of a second Ctrl-C, which exits at once (the binary's `exit::INTERRUPTED`).
const INTERRUPTED_EXIT_CODE: i32 = 130;

/// How long the end-of-run sweep waits for namespaces to go (before scaling).
const SWEEP_TIMEOUT: Duration = Duration::from_secs(120);

/// Console output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleFormat {
    /// One line per test.
    Pretty,
    /// One character per test.
    Terse,
    /// JSON events, one per line.
    Json,
}

/// How to run: everything decided before the run touches the cluster.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// `YYYYMMDD-HHMMSS-xxxx`: names the report folder and labels the run's namespaces.
    pub run_id: String,
    /// Folder for reports and artifacts.
    pub report_dir: PathBuf,
    /// Where the JUnit report goes instead of `<report_dir>/junit.xml`.
    pub junit_path: Option<PathBuf>,
    /// How many tests run at the same time.
    pub test_threads: usize,
    /// Factor on every step timeout.
    pub timeout_scale: f64,
    /// Keep the namespace of a failed test.
    pub keep_namespaces: bool,
    /// Console output style.
    pub format: ConsoleFormat,
    /// StorageClass per OS for test claims (absent: the cluster's default class).
    pub storage_classes: BTreeMap<Os, String>,
    /// The tag expression as the user wrote it (for the report).
    pub tag_expression: Option<String>,
    /// The name filters as the user wrote them (for the report).
    pub name_filters: Vec<String>,
}

/// How a run that got to its tests ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed.
    pub failed: usize,
    /// Tests that were skipped (including those an interrupt kept from starting).
    pub skipped: usize,
    /// Whether Ctrl-C stopped the run early.
    pub interrupted: bool,
}

/// Why a run stopped before its tests. The reports (one error case) are written already.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The cluster could not be read, or the credentials may not create namespaces.
    #[error("cluster at {server}")]
    Discovery {
        /// Where the client pointed.
        server: String,
        /// What discovery saw.
        #[source]
        source: DiscoveryError,
    },
}

/// Runs the selected test cells on `connection`'s cluster over `runtime`, then writes the reports.
pub fn execute(
    runtime: &tokio::runtime::Runtime,
    plan: &RunConfig,
    connection: &Connection,
    fixtures: Arc<FixtureSet>,
    images: Images,
    cases: Vec<TestCase>,
) -> Result<RunSummary, RunError> {
    let clock = Instant::now();
    let mut info = run_info(plan);

    let client = connection.client.clone();
    let facts = match runtime.block_on(crate::cluster::discover(&client)) {
        Ok(mut f) => {
            f.chosen_storage_classes = plan.storage_classes.clone();
            f
        }
        Err(source) => {
            let error = RunError::Discovery {
                server: connection.server.clone(),
                source,
            };
            info.duration = clock.elapsed();
            write_reports(plan, aborted_report(info, &error_chain(&error)));
            return Err(error);
        }
    };
    info.cluster_version = facts.version.clone();
    info.nodes = facts.node_summary();
    let skips: Vec<Option<String>> = cases.iter().map(|c| facts.skip_reason(c)).collect();
    eprintln!(
        "Cluster {} ({}), nodes: {}. Running {} test(s), {} skipped, {} at a time; run id {}.",
        connection.server,
        facts.version.as_deref().unwrap_or("unknown version"),
        if info.nodes.is_empty() {
            "none Ready".to_string()
        } else {
            info.nodes.join(", ")
        },
        skips.iter().filter(|s| s.is_none()).count(),
        skips.iter().filter(|s| s.is_some()).count(),
        plan.test_threads,
        plan.run_id
    );

    let env = Arc::new(RunEnv {
        test: TestEnv {
            client: client.clone(),
            fixtures,
            images,
            timeout_scale: plan.timeout_scale,
            storage_classes: plan.storage_classes.clone(),
        },
        run_id: plan.run_id.clone(),
        keep_namespaces: plan.keep_namespaces,
        report_dir: plan.report_dir.clone(),
        live: LiveNamespaces::default(),
        kept: LiveNamespaces::default(),
        cancel: CancellationToken::new(),
    });
    runtime.spawn(handle_interrupts(env.clone()));

    let results: Arc<Mutex<Vec<Option<TestResult>>>> =
        Arc::new(Mutex::new(vec![None; cases.len()]));
    let trials: Vec<Trial> = cases
        .iter()
        .cloned()
        .zip(skips)
        .enumerate()
        .map(|(index, (case, skip))| {
            let env = env.clone();
            let results = results.clone();
            let handle = runtime.handle().clone();
            Trial::ignorable_test(case.name.clone(), move || {
                let result = if let Some(reason) = skip {
                    test::skipped(&case, &reason)
                } else if env.cancel.is_cancelled() {
                    test::skipped(&case, "not started: the run was interrupted")
                } else {
                    let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        handle.block_on(test::run_test(&env, &case, index + 1))
                    }));
                    run.unwrap_or_else(|panic| {
                        let mut r = test::result(&case, Outcome::Failed);
                        r.message = Some(format!("the harness panicked: {}", panic_text(&panic)));
                        r
                    })
                };
                let verdict = match result.outcome {
                    Outcome::Passed => Ok(Completion::Completed),
                    Outcome::Skipped => Ok(Completion::ignored_with(
                        result.skip_reason.clone().unwrap_or_default(),
                    )),
                    Outcome::Failed if result.details.is_empty() => {
                        Err(Failed::from(result.message.clone().unwrap_or_default()))
                    }
                    Outcome::Failed => Err(Failed::from(result.details.clone())),
                };
                results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(result);
                verdict
            })
        })
        .collect();

    let args = Arguments {
        test_threads: Some(plan.test_threads),
        format: Some(match plan.format {
            ConsoleFormat::Pretty => FormatSetting::Pretty,
            ConsoleFormat::Terse => FormatSetting::Terse,
            ConsoleFormat::Json => FormatSetting::Json,
        }),
        ..Arguments::default()
    };
    // Outcomes are recorded per trial above; the conclusion only has counts.
    let _conclusion = libtest_mimic::run(&args, trials);

    let interrupted = env.cancel.is_cancelled();
    if interrupted {
        eprintln!("Deleting this run's namespaces...");
    }
    let kept = env.kept.names();
    let left = runtime.block_on(namespace::sweep(
        &client,
        &namespace::run_selector(Some(&plan.run_id)),
        &kept,
        SWEEP_TIMEOUT.mul_f64(plan.timeout_scale),
    ));
    match &left {
        Ok(left) if left.is_empty() => {}
        Ok(left) => eprintln!(
            "warning: namespaces still terminating: {}; `kubectl delete namespace -l {RUN_ID_LABEL}={}` removes them",
            left.join(", "),
            plan.run_id
        ),
        Err(e) => eprintln!(
            "warning: cannot clean up namespaces: {}; run `kubectl delete namespace -l {RUN_ID_LABEL}={}`",
            error_chain(e),
            plan.run_id
        ),
    }
    if !kept.is_empty() {
        eprintln!("Kept namespaces of failed tests: {}", kept.join(", "));
    }

    let results: Vec<TestResult> = results
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .zip(&cases)
        .map(|(r, case)| {
            r.clone()
                .unwrap_or_else(|| test::skipped(case, "not started: the run was interrupted"))
        })
        .collect();
    info.duration = clock.elapsed();
    let report = RunReport {
        info,
        results,
        aborted: interrupted
            .then(|| "interrupted by Ctrl-C; tests not started were skipped".to_string()),
    };
    let count = |outcome| {
        report
            .results
            .iter()
            .filter(|r| r.outcome == outcome)
            .count()
    };
    let summary = RunSummary {
        passed: count(Outcome::Passed),
        failed: count(Outcome::Failed),
        skipped: count(Outcome::Skipped),
        interrupted,
    };
    write_reports(plan, report);
    Ok(summary)
}

/// The report header of a run that is starting now.
fn run_info(plan: &RunConfig) -> RunInfo {
    RunInfo {
        run_id: plan.run_id.clone(),
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        started: chrono::Utc::now(),
        duration: Duration::ZERO,
        cluster_version: None,
        nodes: Vec::new(),
        tag_expression: plan.tag_expression.clone(),
        name_filter: plan.name_filters.clone(),
    }
}

/// Writes the reports of a run that could not start (one error case saying `reason`).
pub fn report_aborted(plan: &RunConfig, reason: &str) {
    write_reports(plan, aborted_report(run_info(plan), reason));
}

/// The report of a run that stopped before its tests: one error case saying why.
fn aborted_report(info: RunInfo, reason: &str) -> RunReport {
    RunReport {
        info,
        results: Vec::new(),
        aborted: Some(reason.to_string()),
    }
}

fn write_reports(plan: &RunConfig, report: RunReport) {
    match report::write_all(&report, &plan.report_dir, plan.junit_path.as_deref()) {
        Ok(paths) => eprintln!("Reports: {}", paths),
        Err(e) => eprintln!("error: cannot write reports: {}", error_chain(&e)),
    }
}

/// First Ctrl-C: stop starting tests, cancel running steps (each test then deletes its
/// namespace). Second Ctrl-C: exit at once, naming what is left behind.
async fn handle_interrupts(env: Arc<RunEnv>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    eprintln!(
        "\nInterrupted: starting no more tests, stopping running ones and deleting their namespaces. Press Ctrl-C again to exit at once."
    );
    env.cancel.cancel();
    if tokio::signal::ctrl_c().await.is_ok() {
        let left = env.live.names();
        eprintln!(
            "Exiting at once. Namespaces possibly left behind: {}. Delete them with: kubectl delete namespace -l {RUN_ID_LABEL}={}",
            if left.is_empty() { "none known".to_string() } else { left.join(", ") },
            env.run_id
        );
        std::process::exit(INTERRUPTED_EXIT_CODE);
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}
