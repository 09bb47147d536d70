//! Executing tests on a connected cluster: discover, run the test cells over the caller's tokio
//! runtime (`schedule`), Ctrl-C handling, the end-of-run namespace sweep and the reports. It
//! prints nothing: a [`Reporter`] hears what happens (`report::events`). The outcome is a
//! [`RunSummary`] or a [`RunError`]; choosing an exit code is the binary's job.

pub(crate) mod admission;
pub mod api_retry;
pub mod cluster_domain;
pub mod connect;
pub(crate) mod diagnose;
pub(crate) mod image_pull;
pub(crate) mod live;
pub(crate) mod mounts;
pub mod namespace;
pub(crate) mod objects;
pub(crate) mod placeholders;
pub mod preflight;
pub mod prepull;
pub(crate) mod probe;
pub mod progress;
pub(crate) mod retry;
mod schedule;
pub(crate) mod scope;
pub mod signals;
pub(crate) mod steps;
pub(crate) mod test;
pub(crate) mod unschedulable;
pub(crate) mod wait;
pub(crate) mod workload_pods;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::catalog::TestCase;
use crate::cluster::DiscoveryError;
use crate::fixture::{FixtureSet, Images};
pub use crate::kube_error::error_chain;
pub use crate::report::events::{Reporter, RunEvent};
use crate::report::{self, RunInfo, RunReport};
use connect::Connection;
use namespace::LiveNamespaces;
use scope::TestEnv;
use test::RunEnv;

/// How long the end-of-run sweep waits for namespaces to go (before scaling).
const SWEEP_TIMEOUT: Duration = Duration::from_secs(120);

pub use crate::report::console::ConsoleFormat;

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
    /// Further factor on the timeouts of steps that act on Windows objects
    /// (`--windows-timeout-scale`).
    pub windows_timeout_scale: f64,
    /// Keep the namespace of a failed test.
    pub keep_namespaces: bool,
    /// Console output style.
    pub format: ConsoleFormat,
    /// StorageClasses chosen for test claims (none: the cluster's default class).
    pub storage_classes: crate::cluster::StorageClassChoice,
    /// The tag expression as the user wrote it (for the report).
    pub tag_expression: Option<String>,
    /// The name filters as the user wrote them (for the report).
    pub name_filters: Vec<String>,
    /// The Pod Security level the run's namespaces enforce (`--pod-security`).
    pub pod_security: crate::pod_security::PodSecurityLevel,
    /// How `http` steps from a pod reach that pod's netexec (`--probe-via`).
    pub probe_via: ProbeVia,
    /// `--cluster-domain`, already checked to be a DNS name; absent: discovered when a test
    /// uses `${cluster-domain}` (see [`cluster_domain`]).
    pub cluster_domain: Option<String>,
    /// `--tolerate`: tolerations every test pod carries besides its OS's own; nodes with
    /// only such taints count for the cells.
    pub tolerations: Vec<crate::toleration::TestToleration>,
    /// `--retries`: how many times a failed or errored test runs again.
    pub retries: u32,
    /// `--shard K/N`, already applied to the cells (for the report).
    pub shard: Option<crate::catalog::Shard>,
    /// `--progress-interval`: how often a progress line comes (none: only on SIGUSR1).
    pub progress_interval: Option<Duration>,
    /// `--slow-after`: a test running this long (and each multiple of it) gets a `slow:` line
    /// naming its current step; SIGUSR1 asks for those lines of every test past it (none: off).
    pub slow_after: Option<Duration>,
    /// `--prepull`: pull the tests' images on every node of their OS before the tests, within
    /// this timeout (`--prepull-timeout`); `None`: no pre-pull.
    pub prepull: Option<Duration>,
}

/// How an `http` step from a pod reaches the agnhost netexec of that source pod, which then
/// `/dial`s the target (`--probe-via`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProbeVia {
    /// `pods/exec` in the source pod runs curl (`curl.exe` on Windows) against its own netexec
    /// on 127.0.0.1: API server → kubelet, the path `kubectl exec` takes, open on every cluster.
    #[default]
    Exec,
    /// The API server's pod proxy to port 8080 of the source pod: the API server must open TCP
    /// to the pod's IP, which GKE private clusters, common EKS security groups and Windows on
    /// Flannel VXLAN do not allow.
    Proxy,
}

impl std::fmt::Display for ProbeVia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProbeVia::Exec => "exec",
            ProbeVia::Proxy => "proxy",
        })
    }
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
    /// Tests the harness could not check (outcome `error`); they fail the run like failures.
    pub errored: usize,
    /// Tests that passed after failing (counted in `passed` too); they fail the run only with
    /// `--fail-on-flaky`.
    pub flaky: usize,
    /// Whether a stop signal (Ctrl-C, SIGTERM, SIGHUP) stopped the run early.
    pub interrupted: bool,
    /// Whether `--prepull` failed (the reports hold its error case); it fails the run.
    pub prepull_failed: bool,
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
    /// The credentials lack permissions the selected tests need (SelfSubjectAccessReviews).
    #[error("cluster at {server}: the credentials may not do what the selected tests need: {}", preflight::describe_missing(.missing))]
    MissingPermissions {
        /// Where the client pointed.
        server: String,
        /// What the API server denied, sorted.
        missing: Vec<preflight::Permission>,
    },
}

/// Runs the selected test cells on `connection`'s cluster over `runtime`, then writes the reports.
/// Prints nothing: what happens goes to `reporter` as [`RunEvent`]s.
pub fn execute(
    runtime: &tokio::runtime::Runtime,
    plan: &RunConfig,
    connection: &Connection,
    fixtures: Arc<FixtureSet>,
    images: Images,
    cases: Vec<TestCase>,
    reporter: &dyn Reporter,
) -> Result<RunSummary, RunError> {
    let clock = Instant::now();
    let mut info = run_info(plan);
    let retries = RetriesSince::now();
    // At run start, so that a SIGUSR1 before the tests asks for progress instead of killing.
    let progress_signal = {
        let _context = runtime.enter();
        progress::ProgressSignal::install()
    };

    let preflight = preflight::stop_reason(
        &connection.client,
        &connection.server,
        &cases,
        &fixtures,
        plan.probe_via,
        plan.prepull.is_some(),
    );
    if let Some(error) = runtime.block_on(preflight) {
        info.duration = clock.elapsed();
        write_reports(plan, aborted_report(info, &error_chain(&error)), reporter);
        return Err(error);
    }
    let facts = match runtime.block_on(crate::cluster::discover(
        &connection.client,
        &plan.tolerations,
    )) {
        Ok(facts) => facts,
        Err(source) => {
            let error = RunError::Discovery {
                server: connection.server.clone(),
                source,
            };
            info.duration = clock.elapsed();
            info.api_retries = retries.report(reporter);
            write_reports(plan, aborted_report(info, &error_chain(&error)), reporter);
            return Err(error);
        }
    };
    info.cluster_version = facts.version.clone();
    info.nodes = facts.node_summary();
    let skips: Vec<Option<String>> = cases
        .iter()
        .map(|c| {
            let pod_security =
                crate::pod_security::skip_reason(c, &fixtures, &images, plan.pod_security);
            let windows_build = facts.windows_build_problem(&crate::windows_build::windows_images(
                c, &fixtures, &images,
            ));
            let reasons: Vec<String> = facts
                .skip_reason(c, &plan.storage_classes)
                .into_iter()
                .chain(windows_build)
                .chain(pod_security)
                .collect();
            (!reasons.is_empty()).then(|| reasons.join("; "))
        })
        .collect();
    let to_run = skips.iter().filter(|s| s.is_none()).count();
    let warnings = facts.windows_build_warnings(images.iter().map(|(_, image)| image));
    reporter.report(RunEvent::Started {
        server: &connection.server,
        version: facts.version.as_deref(),
        nodes: &info.nodes,
        cases: &cases,
        to_run,
        skipped: skips.len() - to_run,
        threads: plan.test_threads,
        run_id: &plan.run_id,
        warnings: &warnings,
    });

    let env = Arc::new(RunEnv {
        test: TestEnv {
            client: connection.client.clone(),
            fixtures,
            images,
            timeout_scale: plan.timeout_scale,
            windows_timeout_scale: plan.windows_timeout_scale,
            storage_classes: plan.storage_classes.clone(),
            probe_via: plan.probe_via,
            tolerations: plan.tolerations.clone(),
            cluster_domain: Default::default(),
        },
        run_id: plan.run_id.clone(),
        pod_security: plan.pod_security,
        keep_namespaces: plan.keep_namespaces,
        report_dir: plan.report_dir.clone(),
        live: LiveNamespaces::default(),
        kept: LiveNamespaces::default(),
        cancel: CancellationToken::new(),
        stopped_by: Default::default(),
        retries: plan.retries,
    });

    let work = async {
        // Inside the interruptible part of the run: Ctrl-C during discovery skips every test,
        // and the sweep deletes the discovery namespace.
        let will_run: Vec<&TestCase> = cases
            .iter()
            .zip(&skips)
            .filter(|(_, skip)| skip.is_none())
            .map(|(case, _)| case)
            .collect();
        let prepull_error = match plan.prepull {
            Some(timeout) => {
                tokio::select! {
                    result = prepull_images(&env, plan, &will_run, &facts, timeout, reporter) => result.err(),
                    () = env.cancel.cancelled() => None,
                }
            }
            None => None,
        };
        let resolving = cluster_domain::resolve(
            &env.test,
            plan.cluster_domain.as_deref(),
            &will_run,
            &facts,
            &plan.run_id,
            plan.pod_security,
        );
        info.cluster_domain = tokio::select! {
            domain = resolving => domain,
            () = env.cancel.cancelled() => None,
        };
        if let Some(domain) = &info.cluster_domain {
            let _ = env.test.cluster_domain.set(domain.name.clone());
            reporter.report(RunEvent::ClusterDomain(domain));
        }
        let watch = progress::Watch::new(
            cases.len(),
            plan.progress_interval,
            plan.slow_after,
            progress_signal,
        );
        let results =
            schedule::run_all(&env, &cases, skips, plan.test_threads, watch, reporter).await;
        let interrupted = env.cancel.is_cancelled();
        sweep(&env, plan, interrupted, reporter).await;
        info.duration = clock.elapsed();
        info.api_retries = retries.report(reporter);
        let report = RunReport {
            info,
            results,
            aborted: interrupted.then(|| {
                format!(
                    "interrupted by {}; tests not started were skipped",
                    env.stop_signal()
                )
            }),
            prepull: prepull_error,
        };
        let counts = report::counts(&report);
        let report_prepull_failed = report.prepull.is_some();
        write_reports(plan, report, reporter);
        RunSummary {
            passed: counts.passed,
            failed: counts.failed,
            skipped: counts.skipped,
            errored: counts.errored,
            flaky: counts.flaky,
            interrupted,
            prepull_failed: report_prepull_failed,
        }
    };
    let summary = runtime.block_on(async {
        tokio::select! {
            summary = work => summary,
            () = handle_interrupts(&env, reporter) => RunSummary {
                passed: 0,
                failed: 0,
                skipped: 0,
                errored: 0,
                flaky: 0,
                interrupted: true,
                prepull_failed: false,
            },
        }
    });
    Ok(summary)
}

/// `--prepull` for the cells that will run: pulls their images on every node of each OS,
/// telling `reporter` how it goes; `Err` says what failed.
async fn prepull_images(
    env: &RunEnv,
    plan: &RunConfig,
    will_run: &[&TestCase],
    facts: &crate::cluster::ClusterFacts,
    timeout: Duration,
    reporter: &dyn Reporter,
) -> Result<(), String> {
    let images = prepull::images_by_os(will_run, &env.test.fixtures, &env.test.images);
    if images.is_empty() {
        return Ok(());
    }
    reporter.report(RunEvent::PrepullStarted {
        images: &images,
        timeout,
    });
    let started = Instant::now();
    let result = prepull::Prepull {
        client: &env.test.client,
        run_id: &plan.run_id,
        plan: &images,
        tolerations: &plan.tolerations,
        timeout,
        windows_builds: facts
            .nodes
            .iter()
            .filter_map(|n| Some((n.name.clone(), n.windows_build.clone()?)))
            .collect(),
    }
    .run(reporter)
    .await;
    reporter.report(RunEvent::PrepullFinished {
        elapsed: started.elapsed(),
        error: result.as_ref().err().map(String::as_str),
    });
    result
}

/// The API retries of this run: those of the process's clients since the run started.
struct RetriesSince(u64);

impl RetriesSince {
    fn now() -> RetriesSince {
        RetriesSince(api_retry::api_retries().count())
    }

    /// The retries since [`RetriesSince::now`], told to `reporter` when there were any.
    fn report(&self, reporter: &dyn Reporter) -> u64 {
        let count = api_retry::api_retries().count().saturating_sub(self.0);
        if count > 0 {
            reporter.report(RunEvent::ApiRetried { count });
        }
        count
    }
}

/// Deletes what is left of the run's namespaces (except those kept for inspection), waiting
/// for them to go, and reports what stayed.
async fn sweep(env: &RunEnv, plan: &RunConfig, interrupted: bool, reporter: &dyn Reporter) {
    reporter.report(RunEvent::Sweeping { interrupted });
    let kept = env.kept.names();
    let swept = namespace::sweep(
        &env.test.client,
        &namespace::run_selector(Some(&plan.run_id)),
        &kept,
        SWEEP_TIMEOUT.mul_f64(plan.timeout_scale),
    )
    .await;
    let run_id = &plan.run_id;
    match &swept {
        Ok(left) => reporter.report(RunEvent::Swept {
            left,
            kept: &kept,
            run_id,
        }),
        Err(error) => reporter.report(RunEvent::SweepFailed {
            error,
            kept: &kept,
            run_id,
        }),
    }
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
        api_retries: 0,
        cluster_domain: None,
        timeout_scale: plan.timeout_scale,
        windows_timeout_scale: plan.windows_timeout_scale,
        shard: plan.shard,
    }
}

/// Writes the reports of a run that could not start (one error case saying `reason`), and tells
/// `reporter` where they went.
pub fn report_aborted(plan: &RunConfig, reason: &str, reporter: &dyn Reporter) {
    write_reports(plan, aborted_report(run_info(plan), reason), reporter);
}

/// The report of a run that stopped before its tests: one error case saying why.
fn aborted_report(info: RunInfo, reason: &str) -> RunReport {
    RunReport {
        info,
        results: Vec::new(),
        aborted: Some(reason.to_string()),
        prepull: None,
    }
}

fn write_reports(plan: &RunConfig, report: RunReport, reporter: &dyn Reporter) {
    match report::write_all(&report, &plan.report_dir, plan.junit_path.as_deref()) {
        Ok(paths) => reporter.report(RunEvent::ReportsWritten(&paths)),
        Err(error) => reporter.report(RunEvent::ReportsFailed(&error)),
    }
}

/// First stop signal (Ctrl-C, SIGTERM or SIGHUP): stop starting tests, cancel running steps
/// (each test then ends `error`, naming the signal, and deletes its namespace). Second: returns
/// at once (the run ends without sweeping or reports), naming
/// what is left behind, so the caller can still stop what it started (a simulated cluster).
async fn handle_interrupts(env: &RunEnv, reporter: &dyn Reporter) {
    let mut signals = signals::StopSignals::new();
    let signal = signals.next().await;
    let _ = env.stopped_by.set(signal);
    reporter.report(RunEvent::Interrupted { signal });
    env.cancel.cancel();
    signals.next().await;
    reporter.report(RunEvent::InterruptedHard {
        left: &env.live.names(),
        run_id: &env.run_id,
    });
}
