//! Running a run's test cells: at most `threads` at a time as tokio tasks, started in catalog
//! order, results kept in that order. A cell the cluster cannot run is skipped without a task;
//! after Ctrl-C nothing new starts and the rest are skipped as not started. A panic in a test
//! is caught at its task's edge and becomes that test's failure.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use super::live::Live;
use super::progress::Watch;
use super::test::{self, RunEnv};
use crate::catalog::TestCase;
use crate::report::events::{Reporter, RunEvent};
use crate::report::{Attempt, Outcome, TestResult};

/// Why a test after Ctrl-C was skipped.
pub(crate) const NOT_STARTED: &str = "not started: the run was interrupted";

/// Runs `cases` (each skipped with its reason in `skips`, if any) and returns their results in
/// the order of `cases`. Every result is reported as it comes.
pub(crate) async fn run_all(
    env: &Arc<RunEnv>,
    cases: &[TestCase],
    skips: Vec<Option<String>>,
    threads: usize,
    mut watch: Watch,
    reporter: &dyn Reporter,
) -> Vec<TestResult> {
    let started = Instant::now();
    let mut results: Vec<Option<TestResult>> = vec![None; cases.len()];
    let mut running = JoinSet::new();
    let mut index_of = HashMap::new();
    let mut waiting = cases.iter().zip(skips).enumerate();
    let mut record = |watch: &mut Watch, index: usize, result: TestResult| {
        watch.finished(index, &result, reporter);
        reporter.report(RunEvent::TestFinished(&result));
        results[index] = Some(result);
    };
    loop {
        while running.len() < threads.max(1) {
            let Some((index, (case, skip))) = waiting.next() else {
                break;
            };
            let skip = skip.or_else(|| env.cancel.is_cancelled().then(|| NOT_STARTED.into()));
            if let Some(reason) = skip {
                record(&mut watch, index, test::skipped(case, &reason));
                continue;
            }
            reporter.report(RunEvent::TestStarted { name: &case.name });
            let live = watch.started(index, &case.name);
            let (env, case) = (env.clone(), case.clone());
            let task =
                running.spawn(async move { run_attempts(&env, &case, index + 1, &live).await });
            index_of.insert(task.id(), index);
        }
        let joined = tokio::select! {
            joined = running.join_next_with_id() => joined,
            wake = watch.next() => {
                watch.tell(wake, running.len(), reporter);
                continue;
            }
        };
        let Some(joined) = joined else {
            break;
        };
        match joined {
            Ok((id, result)) => {
                if let Some(index) = index_of.remove(&id) {
                    record(&mut watch, index, result);
                }
            }
            Err(error) => {
                if let Some(index) = index_of.remove(&error.id()) {
                    record(&mut watch, index, broken(&cases[index], error));
                }
            }
        }
    }
    reporter.report(RunEvent::TestsFinished {
        elapsed: started.elapsed(),
    });
    results
        .into_iter()
        .zip(cases)
        .map(|(result, case)| result.unwrap_or_else(|| test::skipped(case, NOT_STARTED)))
        .collect()
}

/// Runs `case` until it passes, is skipped, or has failed `env.retries` more times than once;
/// each attempt in a namespace of its own. After Ctrl-C no retry starts. The last attempt is
/// the result; the earlier (unsuccessful) ones are its `attempts`.
async fn run_attempts(env: &RunEnv, case: &TestCase, index: usize, live: &Live) -> TestResult {
    let mut earlier = Vec::new();
    let mut attempt = 1;
    loop {
        let mut result = test::run_test(env, case, index, attempt, live).await;
        let again = result.outcome.is_unsuccessful()
            && attempt <= env.retries
            && !env.cancel.is_cancelled();
        if !again {
            result.attempts = earlier;
            return result;
        }
        tracing::info!(test = %case.name, attempt, "retrying an unsuccessful test");
        earlier.push(Attempt {
            outcome: result.outcome,
            message: result.message,
            details: result.details,
            duration: result.duration,
        });
        attempt += 1;
    }
}

/// The error of a test whose task panicked (or ended without a result): the harness's fault.
fn broken(case: &TestCase, error: tokio::task::JoinError) -> TestResult {
    let message = match error.try_into_panic() {
        Ok(panic) => format!("the harness panicked: {}", panic_text(&panic)),
        Err(error) => format!("the harness panicked: {error}"),
    };
    TestResult {
        message: Some(message),
        ..test::result(case, Outcome::Error)
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use tokio_util::sync::CancellationToken;

    use crate::cluster::tests::case;
    use crate::run::namespace::LiveNamespaces;
    use crate::run::scope::TestEnv;

    fn env() -> Arc<RunEnv> {
        let config = kube::Config::new("http://127.0.0.1:1".parse().expect("a URL"));
        Arc::new(RunEnv {
            test: TestEnv {
                client: kube::Client::try_from(config).expect("a client"),
                fixtures: Default::default(),
                images: Default::default(),
                timeout_scale: 1.0,
                windows_timeout_scale: 3.0,
                storage_classes: Default::default(),
                probe_via: Default::default(),
                tolerations: Vec::new(),
                cluster_domain: Default::default(),
            },
            run_id: "r1".into(),
            pod_security: Default::default(),
            keep_namespaces: false,
            report_dir: "reports".into(),
            live: LiveNamespaces::default(),
            kept: LiveNamespaces::default(),
            cancel: CancellationToken::new(),
            stopped_by: Default::default(),
            retries: 0,
        })
    }

    #[tokio::test]
    async fn skips_keep_catalog_order_and_nothing_starts_after_an_interrupt() {
        let env = env();
        env.cancel.cancel();
        let cases: Vec<TestCase> = ["s/a", "s/b", "s/c"]
            .into_iter()
            .map(|name| TestCase {
                name: name.into(),
                ..case(&[])
            })
            .collect();
        let seen = Mutex::new(Vec::new());
        let reporter = |event: RunEvent<'_>| {
            let line = match event {
                RunEvent::TestStarted { name } => format!("started {name}"),
                RunEvent::TestFinished(r) => format!("finished {}", r.name),
                RunEvent::TestsFinished { .. } => "done".to_string(),
                other => format!("{other:?}"),
            };
            seen.lock().expect("not poisoned").push(line);
        };
        let skips = vec![Some("no Ready node".to_string()), None, None];
        let results = run_all(&env, &cases, skips, 2, Watch::off(3), &reporter).await;
        let reasons: Vec<_> = results.iter().map(|r| r.skip_reason.as_deref()).collect();
        assert_eq!(
            reasons,
            [Some("no Ready node"), Some(NOT_STARTED), Some(NOT_STARTED)]
        );
        assert!(results.iter().all(|r| r.outcome == Outcome::Skipped));
        assert_eq!(
            seen.into_inner().expect("not poisoned"),
            ["finished s/a", "finished s/b", "finished s/c", "done"]
        );
    }

    #[tokio::test]
    async fn a_failing_test_runs_retries_more_times_but_no_retry_starts_after_an_interrupt() {
        // No API server answers: every attempt fails creating its namespace.
        let mut env = env();
        if let Some(env) = Arc::get_mut(&mut env) {
            env.retries = 2;
        }
        let result = run_attempts(&env, &case(&[]), 1, &Live::default()).await;
        assert_eq!(result.outcome, Outcome::Failed);
        assert_eq!(result.attempts.len(), 2, "{:?}", result.attempts);
        assert!(result
            .attempts
            .iter()
            .all(|a| a.outcome == Outcome::Failed && a.message == result.message));
        assert!(!result.is_flaky());

        env.cancel.cancel();
        let result = run_attempts(&env, &case(&[]), 1, &Live::default()).await;
        assert_eq!(result.outcome, Outcome::Failed);
        assert!(result.attempts.is_empty(), "{:?}", result.attempts);
    }

    #[tokio::test]
    async fn a_panicking_test_is_a_harness_error() {
        let panicked = tokio::spawn(async { panic!("boom") })
            .await
            .expect_err("the task panicked");
        let result = broken(&case(&[]), panicked);
        assert_eq!(result.outcome, Outcome::Error);
        assert_eq!(
            result.message.as_deref(),
            Some("the harness panicked: boom")
        );
    }
}
