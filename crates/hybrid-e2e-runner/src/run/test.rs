//! One test cell from start to end: its namespace, its steps in order, diagnostics when a step
//! fails (outcome `failed`) or the harness cannot check it (outcome `error`), and deleting the namespace whatever happened (kept on failure with --keep-namespaces).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::diagnose;
use super::live::Live;
use super::namespace::{self, LiveNamespaces};
use super::scope::{TestEnv, TestScope};
use super::signals::StopSignal;
use super::steps::{describe, StepError};
use crate::catalog::TestCase;
use crate::report::{Outcome, TestResult};

/// What all tests of a run share, beyond `TestEnv`.
pub(crate) struct RunEnv {
    /// What the steps of every test share.
    pub(crate) test: TestEnv,
    /// Labels every namespace of the run.
    pub(crate) run_id: String,
    /// The Pod Security level every namespace of the run enforces.
    pub(crate) pod_security: crate::pod_security::PodSecurityLevel,
    /// Keep the namespace of a failed test (`--keep-namespaces`).
    pub(crate) keep_namespaces: bool,
    /// Where artifacts of failed tests go (`<report_dir>/artifacts/<test>`).
    pub(crate) report_dir: PathBuf,
    /// Namespaces created and not yet deleted (named by a second Ctrl-C).
    pub(crate) live: LiveNamespaces,
    /// Namespaces of failed tests kept for inspection; the end-of-run sweep leaves them.
    pub(crate) kept: LiveNamespaces,
    /// Cancelled by the first stop signal: running steps stop, no test starts.
    pub(crate) cancel: CancellationToken,
    /// Which signal cancelled the run, set before `cancel` is.
    pub(crate) stopped_by: std::sync::OnceLock<StopSignal>,
    /// How many times an unsuccessful test is run again (`--retries`).
    pub(crate) retries: u32,
}

impl RunEnv {
    /// The signal that stopped the run (Ctrl-C if it was cancelled some other way).
    pub(crate) fn stop_signal(&self) -> StopSignal {
        self.stopped_by
            .get()
            .copied()
            .unwrap_or(StopSignal::Interrupt)
    }
}

/// A result for this test with `outcome` and nothing else filled in yet.
pub(crate) fn result(case: &TestCase, outcome: Outcome) -> TestResult {
    TestResult {
        tags: case.tags.iter().cloned().collect(),
        ..TestResult::new(case.name.clone(), case.suite.clone(), outcome)
    }
}

/// A result for a test that did not run, and why.
pub(crate) fn skipped(case: &TestCase, reason: &str) -> TestResult {
    TestResult {
        skip_reason: Some(reason.to_string()),
        ..result(case, Outcome::Skipped)
    }
}

/// A folder name for a test's artifacts.
fn artifact_folder(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Runs attempt `attempt` (1-based; a retry's namespace and artifacts folder are its own) of
/// one test cell to its end.
pub(crate) async fn run_test(
    env: &RunEnv,
    case: &TestCase,
    index: usize,
    attempt: u32,
    live: &Live,
) -> TestResult {
    let started = Instant::now();
    let mut result = result(case, Outcome::Passed);
    let mut log = String::new();

    let namespace = match namespace::create_named(
        &env.test.client,
        namespace::attempt_namespace_name(&env.run_id, index, attempt),
        &env.run_id,
        &case.name,
        env.pod_security,
    )
    .await
    {
        Ok(ns) => ns,
        Err(e) => {
            result.outcome = Outcome::Failed;
            result.message = Some(format!(
                "cannot create the test's namespace: {}",
                crate::kube_error::api_message(&e)
            ));
            result.duration = started.elapsed();
            return result;
        }
    };
    env.live.insert(&namespace);
    let _ = writeln!(log, "namespace {namespace}");
    let ready_timeout = namespace::SERVICE_ACCOUNT_TIMEOUT.mul_f64(env.test.timeout_scale);
    let ready = tokio::select! {
        r = namespace::wait_until_ready(&env.test.client, &namespace, ready_timeout) => r,
        _ = env.cancel.cancelled() => Ok(()),
    };

    let mut scope = TestScope {
        env: &env.test,
        namespace: namespace.clone(),
        os_of: HashMap::new(),
        notes: Vec::new(),
        live: live.clone(),
    };
    // Why the test did not pass, and whether the harness (not the cluster) is to blame.
    let mut harness_error = false;
    let mut failure: Option<String> = ready.err().map(|e| {
        format!(
            "the test's namespace {namespace} is not ready for pods: {}",
            crate::kube_error::error_chain(&e)
        )
    });
    let mut skip: Option<String> = None;
    let steps = if failure.is_some() {
        &[][..]
    } else {
        &case.steps[..]
    };
    for (n, step) in steps.iter().enumerate() {
        let what = describe(&step.action);
        live.step(n + 1, &step.location.to_string(), &what);
        let step_started = Instant::now();
        let outcome = tokio::select! {
            r = scope.run(step) => r,
            _ = env.cancel.cancelled() => Err(StepError::Interrupted(env.stop_signal())),
        };
        let took = step_started.elapsed().as_secs_f64();
        let notes = std::mem::take(&mut scope.notes);
        match outcome {
            Ok(()) => {
                let _ = writeln!(log, "step {} ok ({took:.1}s): {what}", n + 1);
                for note in &notes {
                    let _ = writeln!(log, "  {note}");
                }
                result.notes.extend(
                    notes
                        .into_iter()
                        .map(|note| format!("step {}: {note}", n + 1)),
                );
            }
            Err(StepError::Skip(reason)) => {
                let _ = writeln!(
                    log,
                    "step {} SKIPPED the test ({took:.1}s): {what}: {reason}",
                    n + 1
                );
                skip = Some(reason);
                break;
            }
            Err(error) => {
                harness_error = error.is_harness_error();
                let verdict = if harness_error { "ERROR" } else { "FAILED" };
                let _ = writeln!(log, "step {} {verdict} ({took:.1}s): {what}", n + 1);
                failure = Some(format!(
                    "step {} ({}) {what}: {error}",
                    n + 1,
                    step.location
                ));
                break;
            }
        }
    }

    if let Some(reason) = skip {
        result.outcome = Outcome::Skipped;
        result.skip_reason = Some(reason);
        result.details = log;
    } else if let Some(message) = failure {
        result.outcome = if harness_error {
            Outcome::Error
        } else {
            Outcome::Failed
        };
        let mut folder = artifact_folder(&case.name);
        if attempt > 1 {
            let _ = write!(folder, ".attempt-{attempt}");
        }
        let artifacts = env.report_dir.join("artifacts").join(folder);
        let diagnostics = diagnose::collect(&env.test.client, &namespace, Some(&artifacts)).await;
        result.details = format!("{message}\n\nStep log:\n{log}\n{diagnostics}");
        result.message = Some(message);
        result.artifacts = Some(artifacts);
        if env.keep_namespaces && !env.cancel.is_cancelled() {
            let _ = writeln!(
                result.details,
                "Namespace {namespace} kept (--keep-namespaces)."
            );
            env.live.remove(&namespace);
            env.kept.insert(&namespace);
            result.duration = started.elapsed();
            return result;
        }
    } else {
        result.outcome = Outcome::Passed;
        result.details = log;
    }
    match namespace::delete(&env.test.client, &namespace).await {
        Ok(()) => env.live.remove(&namespace),
        Err(e) => {
            tracing::warn!(%namespace, error = %e, "cannot delete namespace; the end-of-run sweep retries")
        }
    }
    result.duration = started.elapsed();
    result
}
