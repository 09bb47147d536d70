//! The console view of a run: renders [`RunEvent`]s as they come. Per-test lines go to stdout
//! in libtest's shapes ([`ConsoleFormat`]: one line per test, one character per test, or one
//! JSON object per line), with libtest's "failures:" section and "test result:" line at the
//! end; tests the harness could not check (outcome `error`) show `ERROR` (`E`; in JSON a
//! `failed` event with `"outcome": "error"`), are listed with the failures and counted apart
//! (`N errored` in the result line, only when there are any); everything about the cluster, the cleanup and the reports goes to stderr as prose.
//! Write errors are ignored: a closed pipe must not stop a run.

use std::io::{IsTerminal as _, Write};
use std::sync::{Mutex, MutexGuard};

use crate::kube_error::error_chain;
use crate::labels::RUN_ID_LABEL;
use crate::report::events::{Reporter, RunEvent};

use super::model::{ClusterDomain, DomainSource, Outcome, TestResult};

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

/// Renders a run's events to stdout and stderr.
#[derive(Debug)]
pub struct ConsoleReporter {
    format: ConsoleFormat,
    color: bool,
    /// stdout and stderr are both terminals: a stderr line must not land inside an open test
    /// line (`--test-threads 1`).
    one_terminal: bool,
    state: Mutex<State>,
}

/// What the per-test output needs to remember between events.
#[derive(Debug, Default)]
struct State {
    /// Test names are padded to the longest one.
    name_width: usize,
    /// With one test at a time, a test's line opens when it starts (as libtest does).
    one_at_a_time: bool,
    /// The test whose line is open (its name printed, its outcome not yet).
    open: Option<String>,
    /// JSON: the tests whose `started` event is out and whose end is not.
    started: std::collections::HashSet<String>,
    passed: usize,
    failed: usize,
    errored: usize,
    ignored: usize,
    /// Passed after failing (`--retries`); counted in `passed` too.
    flaky: usize,
    /// Failed and errored tests and what to show for them, in the order they failed.
    failures: Vec<(String, String)>,
}

impl ConsoleReporter {
    /// A reporter writing `format`, colouring outcomes when stdout is a terminal and
    /// `NO_COLOR` is not set.
    pub fn new(format: ConsoleFormat) -> ConsoleReporter {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        ConsoleReporter {
            format,
            color,
            one_terminal: std::io::stdout().is_terminal() && std::io::stderr().is_terminal(),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Renders `event`: per-test text into `out`, prose into `err`.
    fn render(&self, event: RunEvent<'_>, out: &mut dyn Write, err: &mut dyn Write) {
        match event {
            RunEvent::Started {
                server,
                version,
                nodes,
                cases,
                to_run,
                skipped,
                threads,
                run_id,
                warnings,
            } => {
                let _ = writeln!(
                    err,
                    "Cluster {server} ({}), nodes: {}. Running {to_run} test(s), {skipped} skipped, {threads} at a time; run id {run_id}.",
                    version.unwrap_or("unknown version"),
                    if nodes.is_empty() { "none Ready".to_string() } else { nodes.join(", ") },
                );
                for warning in warnings {
                    let _ = writeln!(err, "warning: {warning}");
                }
                let mut state = self.state();
                *state = State {
                    name_width: cases
                        .iter()
                        .map(|c| c.name.chars().count())
                        .max()
                        .unwrap_or(0),
                    one_at_a_time: threads == 1,
                    ..State::default()
                };
                match self.format {
                    ConsoleFormat::Pretty | ConsoleFormat::Terse => {
                        let s = if cases.len() == 1 { "" } else { "s" };
                        let _ = writeln!(out, "\nrunning {} test{s}", cases.len());
                    }
                    ConsoleFormat::Json => {
                        let _ = writeln!(
                            out,
                            r#"{{ "type": "suite", "event": "started", "test_count": {} }}"#,
                            cases.len()
                        );
                    }
                }
            }
            RunEvent::ClusterDomain(ClusterDomain {
                name,
                source: DomainSource::Assumed { reason },
            }) => {
                let _ = writeln!(
                    err,
                    "warning: cluster domain: {name} (assumed: {reason}); --cluster-domain sets it"
                );
            }
            RunEvent::ClusterDomain(domain) => {
                let _ = writeln!(err, "Cluster domain: {domain}.");
            }
            RunEvent::PrepullStarted { images, timeout } => {
                let each: Vec<String> = images
                    .iter()
                    .map(|(os, images)| format!("{} on {os} nodes", images.len()))
                    .collect();
                let secs = timeout.as_secs();
                let timeout = match secs % 60 {
                    0 if secs > 0 => format!("{}m", secs / 60),
                    _ => format!("{:.1}s", timeout.as_secs_f64()),
                };
                let _ = writeln!(
                    err,
                    "Pre-pulling images: {} (timeout {timeout})...",
                    each.join(", ")
                );
            }
            RunEvent::PrepullProgress {
                node,
                pulled,
                total,
            } => {
                let _ = writeln!(err, "prepull: {node} {pulled}/{total} images");
            }
            RunEvent::PrepullFinished { elapsed, error } => match error {
                None => {
                    let _ = writeln!(err, "Pre-pull done in {:.1}s.", elapsed.as_secs_f64());
                }
                Some(error) => {
                    let _ = writeln!(
                        err,
                        "error: pre-pull ({:.1}s): {error}; the tests run anyway (mirror the images: `hybrid-e2e list-images`, `--image-repo`; or run with `--prepull off`)",
                        elapsed.as_secs_f64()
                    );
                }
            },
            RunEvent::TestStarted { name } => {
                let mut state = self.state();
                if state.one_at_a_time || self.format == ConsoleFormat::Json {
                    self.open_line(&mut state, name, out);
                }
            }
            RunEvent::StepStarted {
                name,
                step,
                location,
                what,
            } => {
                if self.format == ConsoleFormat::Json {
                    let line = json_line(&[
                        ("type", "step".into()),
                        ("name", name.into()),
                        ("step", step.into()),
                        ("event", "started".into()),
                        ("what", what.into()),
                        ("location", location.into()),
                    ]);
                    let _ = writeln!(out, "{line}");
                }
            }
            RunEvent::Progress(p) => {
                if self.format == ConsoleFormat::Json {
                    let line = json_line(&[
                        ("type", "progress".into()),
                        ("done", p.ended.total().into()),
                        ("total", p.total.into()),
                        ("passed", p.ended.passed.into()),
                        ("flaky", p.ended.flaky.into()),
                        ("failed", p.ended.failed.into()),
                        ("errored", p.ended.errored.into()),
                        ("ignored", p.ended.skipped.into()),
                        ("running", p.running.into()),
                        ("exec_time", p.elapsed.as_secs_f64().into()),
                    ]);
                    let _ = writeln!(out, "{line}");
                } else {
                    self.aside(&p.to_string(), out, err);
                }
            }
            RunEvent::Slow(slow) => {
                if self.format == ConsoleFormat::Json {
                    let (step, location, what) = match &slow.step {
                        Some((n, location, what)) => {
                            ((*n).into(), location.as_str().into(), what.as_str().into())
                        }
                        None => Default::default(),
                    };
                    let (seen, seen_time) = match &slow.seen {
                        Some((state, since)) => (state.as_str().into(), since.as_secs_f64().into()),
                        None => Default::default(),
                    };
                    let line = json_line(&[
                        ("type", "slow".into()),
                        ("name", slow.name.as_str().into()),
                        ("exec_time", slow.running_for.as_secs_f64().into()),
                        ("step", step),
                        ("location", location),
                        ("what", what),
                        ("step_time", slow.step_for.as_secs_f64().into()),
                        ("seen", seen),
                        ("seen_time", seen_time),
                    ]);
                    let _ = writeln!(out, "{line}");
                } else {
                    self.aside(&slow.to_string(), out, err);
                }
            }
            RunEvent::TestFinished(result) => {
                let mut state = self.state();
                let open = match self.format {
                    ConsoleFormat::Json => state.started.remove(&result.name),
                    _ => state.open.as_deref() == Some(result.name.as_str()),
                };
                if !open {
                    self.open_line(&mut state, &result.name, out);
                    state.started.remove(&result.name);
                }
                state.open = None;
                self.close_line(&mut state, result, out);
            }
            RunEvent::TestsFinished { elapsed } => {
                let state = self.state();
                if !state.failures.is_empty() && self.format != ConsoleFormat::Json {
                    let _ = write!(out, "\nfailures:\n\n");
                    for (name, shown) in &state.failures {
                        let _ = write!(out, "---- {name} ----\n{shown}\n\n");
                    }
                    let _ = write!(out, "\nfailures:\n");
                    for (name, _) in &state.failures {
                        let _ = writeln!(out, "    {name}");
                    }
                }
                let (p, f, e, i) = (state.passed, state.failed, state.errored, state.ignored);
                match self.format {
                    ConsoleFormat::Pretty | ConsoleFormat::Terse => {
                        let flaky = match state.flaky {
                            0 => String::new(),
                            n => format!(" {n} flaky;"),
                        };
                        let errored = if e > 0 {
                            format!(" {e} errored;")
                        } else {
                            String::new()
                        };
                        let verdict = if f + e > 0 {
                            self.paint(RED, "FAILED")
                        } else {
                            self.paint(GREEN, "ok")
                        };
                        let _ = write!(
                            out,
                            "\ntest result: {verdict}. {p} passed;{flaky} {f} failed;{errored} {i} ignored; 0 measured; 0 filtered out; finished in {:.2}s\n\n",
                            elapsed.as_secs_f64()
                        );
                    }
                    ConsoleFormat::Json => {
                        let mut errored = if e > 0 {
                            format!(r#" "errored": {e},"#)
                        } else {
                            String::new()
                        };
                        if state.flaky > 0 {
                            errored.push_str(&format!(r#" "flaky": {},"#, state.flaky));
                        }
                        let _ = writeln!(
                            out,
                            r#"{{ "type": "suite", "event": "{}", "passed": {p}, "failed": {f},{errored} "ignored": {i}, "measured": 0, "filtered_out": 0, "exec_time": {} }}"#,
                            if f + e > 0 { "failed" } else { "ok" },
                            elapsed.as_secs_f64()
                        );
                    }
                }
            }
            RunEvent::Interrupted { signal } => {
                let _ = writeln!(
                    err,
                    "\nInterrupted by {signal}: starting no more tests, stopping running ones and deleting their namespaces. Press Ctrl-C (or send the signal) again to exit at once."
                );
            }
            RunEvent::InterruptedHard { left, run_id } => {
                let _ = writeln!(
                    err,
                    "Exiting at once. Namespaces possibly left behind: {}. Delete them with: kubectl delete namespace -l {RUN_ID_LABEL}={run_id}",
                    if left.is_empty() { "none known".to_string() } else { left.join(", ") },
                );
            }
            RunEvent::Sweeping { interrupted } => {
                if interrupted {
                    let _ = writeln!(err, "Deleting this run's namespaces...");
                }
            }
            RunEvent::Swept { left, kept, run_id } => {
                if !left.is_empty() {
                    let _ = writeln!(
                        err,
                        "warning: namespaces still terminating: {}; `kubectl delete namespace -l {RUN_ID_LABEL}={run_id}` removes them",
                        left.join(", "),
                    );
                }
                kept_line(kept, err);
            }
            RunEvent::SweepFailed {
                error,
                kept,
                run_id,
            } => {
                let _ = writeln!(
                    err,
                    "warning: cannot clean up namespaces: {}; run `kubectl delete namespace -l {RUN_ID_LABEL}={run_id}`",
                    error_chain(error),
                );
                kept_line(kept, err);
            }
            RunEvent::ApiRetried { count } => {
                let _ = writeln!(err, "API requests retried: {count}");
            }
            RunEvent::ReportsWritten(paths) => {
                let _ = writeln!(err, "Reports: {paths}");
            }
            RunEvent::ReportsFailed(error) => {
                let _ = writeln!(err, "error: cannot write reports: {}", error_chain(error));
            }
        }
        let _ = out.flush();
    }

    /// Writes `line` to stderr; on one terminal, around the open test line (the line ends,
    /// `line` follows, the test's line opens again).
    fn aside(&self, line: &str, out: &mut dyn Write, err: &mut dyn Write) {
        let mut state = self.state();
        let open = state
            .open
            .clone()
            .filter(|_| self.one_terminal && self.format == ConsoleFormat::Pretty);
        if open.is_some() {
            let _ = writeln!(out);
            let _ = out.flush();
        }
        let _ = writeln!(err, "{line}");
        if let Some(name) = open {
            let _ = err.flush();
            self.open_line(&mut state, &name, out);
        }
    }

    /// Prints the start of a test's line (Pretty: `test <name> ... `; Json: its "started").
    fn open_line(&self, state: &mut State, name: &str, out: &mut dyn Write) {
        match self.format {
            ConsoleFormat::Pretty => {
                let _ = write!(out, "test {name:<0$} ... ", state.name_width);
            }
            ConsoleFormat::Terse => {}
            ConsoleFormat::Json => {
                let _ = writeln!(
                    out,
                    r#"{{ "type": "test", "event": "started", "name": {} }}"#,
                    json_string(name)
                );
                state.started.insert(name.to_string());
            }
        }
        state.open = Some(name.to_string());
    }

    /// Prints how a test ended and counts it.
    fn close_line(&self, state: &mut State, result: &TestResult, out: &mut dyn Write) {
        let shown = match result.outcome {
            Outcome::Passed => {
                state.passed += 1;
                state.flaky += usize::from(result.is_flaky());
                None
            }
            Outcome::Skipped => {
                state.ignored += 1;
                None
            }
            Outcome::Failed | Outcome::Error => {
                if result.outcome == Outcome::Error {
                    state.errored += 1;
                } else {
                    state.failed += 1;
                }
                let shown = if result.details.is_empty() {
                    result.message.clone().unwrap_or_default()
                } else {
                    result.details.clone()
                };
                state.failures.push((result.name.clone(), shown.clone()));
                Some(shown)
            }
        };
        match self.format {
            ConsoleFormat::Pretty => {
                let text = match (result.outcome, &result.skip_reason) {
                    (Outcome::Passed, _) if result.is_flaky() => self.paint(
                        YELLOW,
                        &format!(
                            "ok (flaky: passed on attempt {})",
                            result.attempts.len() + 1
                        ),
                    ),
                    (Outcome::Passed, _) => self.paint(GREEN, "ok"),
                    (Outcome::Failed, _) => self.paint(RED, "FAILED"),
                    (Outcome::Error, _) => self.paint(RED, "ERROR"),
                    (Outcome::Skipped, Some(reason)) => {
                        self.paint(YELLOW, &format!("ignored ({reason})"))
                    }
                    (Outcome::Skipped, None) => self.paint(YELLOW, "ignored"),
                };
                let _ = writeln!(out, "{text}");
            }
            ConsoleFormat::Terse => {
                let text = match result.outcome {
                    Outcome::Passed => self.paint(GREEN, "."),
                    Outcome::Failed => self.paint(RED, "F"),
                    Outcome::Error => self.paint(RED, "E"),
                    Outcome::Skipped => self.paint(YELLOW, "i"),
                };
                let _ = write!(out, "{text}");
            }
            ConsoleFormat::Json => {
                // libtest knows no error event: a failure, marked as the harness's own.
                let (event, marked) = match result.outcome {
                    Outcome::Passed => ("ok", ""),
                    Outcome::Failed => ("failed", ""),
                    Outcome::Error => ("failed", r#", "outcome": "error""#),
                    Outcome::Skipped => ("ignored", ""),
                };
                let stdout = shown
                    .map(|s| {
                        format!(
                            r#", "stdout": {}"#,
                            json_string(&format!("Error: \"{s}\"\n"))
                        )
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    r#"{{ "type": "test", "name": {}, "event": "{event}"{marked}{stdout} }}"#,
                    json_string(&result.name)
                );
            }
        }
    }

    /// `text` in `color` when colouring, else as it is.
    fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

impl Reporter for ConsoleReporter {
    fn report(&self, event: RunEvent<'_>) {
        self.render(
            event,
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
        );
    }
}

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";

fn kept_line(kept: &[String], err: &mut dyn Write) {
    if !kept.is_empty() {
        let _ = writeln!(err, "Kept namespaces of failed tests: {}", kept.join(", "));
    }
}

/// One JSON object with these fields in this order, in the shape of the other lines
/// (`{ "type": "step", ... }`).
fn json_line(fields: &[(&str, serde_json::Value)]) -> String {
    let fields: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{}: {value}", json_string(key)))
        .collect();
    format!("{{ {} }}", fields.join(", "))
}

/// `s` as a JSON string literal, quotes included.
fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::TestCase;
    use crate::cluster::tests::case;
    use std::time::Duration;

    fn reporter(format: ConsoleFormat) -> ConsoleReporter {
        ConsoleReporter {
            format,
            color: false,
            one_terminal: false,
            state: Mutex::new(State::default()),
        }
    }

    fn result(name: &str, outcome: Outcome) -> TestResult {
        let mut c = case(&[]);
        c.name = name.into();
        let mut r = crate::run::test::result(&c, outcome);
        match outcome {
            Outcome::Failed => r.message = Some("step 1 failed".into()),
            Outcome::Error => r.message = Some("the harness panicked: boom".into()),
            Outcome::Skipped => r.skip_reason = Some("no Ready node".into()),
            Outcome::Passed => {}
        }
        r
    }

    /// Renders a run of three tests (passed, failed, skipped) and returns (stdout, stderr).
    fn render_run(format: ConsoleFormat, threads: usize) -> (String, String) {
        let results = [
            result("s/a", Outcome::Passed),
            result("s/long-name", Outcome::Failed),
            result("s/c", Outcome::Skipped),
        ];
        render_results(format, threads, &results)
    }

    /// Renders a run of `results` and returns (stdout, stderr).
    fn render_results(
        format: ConsoleFormat,
        threads: usize,
        results: &[TestResult],
    ) -> (String, String) {
        let console = reporter(format);
        let cases: Vec<_> = results
            .iter()
            .map(|r| {
                let mut c = case(&[]);
                c.name = r.name.clone();
                c
            })
            .collect();
        let nodes = vec!["linux=2".to_string()];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut send = |event| console.render(event, &mut out, &mut err);
        send(RunEvent::Started {
            server: "https://c",
            version: Some("v1.33.1"),
            nodes: &nodes,
            cases: &cases,
            to_run: 2,
            skipped: 1,
            threads,
            run_id: "r1",
            warnings: &[],
        });
        for r in results {
            if r.outcome != Outcome::Skipped {
                send(RunEvent::TestStarted { name: &r.name });
            }
            send(RunEvent::TestFinished(r));
        }
        send(RunEvent::TestsFinished {
            elapsed: Duration::from_millis(1234),
        });
        send(RunEvent::Sweeping { interrupted: true });
        let kept = vec!["he2e-r1-2".to_string()];
        send(RunEvent::Swept {
            left: &["he2e-r1-1".to_string()],
            kept: &kept,
            run_id: "r1",
        });
        (
            String::from_utf8(out).expect("utf-8"),
            String::from_utf8(err).expect("utf-8"),
        )
    }

    #[test]
    fn pretty_is_one_padded_line_per_test_then_failures_and_the_result() {
        for threads in [1, 4] {
            let (out, _) = render_run(ConsoleFormat::Pretty, threads);
            assert_eq!(
                out,
                "\nrunning 3 tests\n\
                 test s/a         ... ok\n\
                 test s/long-name ... FAILED\n\
                 test s/c         ... ignored (no Ready node)\n\
                 \nfailures:\n\n---- s/long-name ----\nstep 1 failed\n\n\
                 \nfailures:\n    s/long-name\n\
                 \ntest result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.23s\n\n",
                "threads {threads}"
            );
        }
    }

    #[test]
    fn harness_errors_show_as_errors_and_are_counted_apart() {
        let results = [
            result("s/a", Outcome::Passed),
            result("s/e", Outcome::Error),
            result("s/f", Outcome::Failed),
        ];
        let (out, _) = render_results(ConsoleFormat::Pretty, 1, &results);
        assert!(out.contains("test s/e ... ERROR\n"), "{out}");
        assert!(
            out.contains("---- s/e ----\nthe harness panicked: boom\n"),
            "{out}"
        );
        assert!(
            out.contains("test result: FAILED. 1 passed; 1 failed; 1 errored; 0 ignored;"),
            "{out}"
        );
        let (out, _) = render_results(ConsoleFormat::Terse, 4, &results);
        assert!(out.contains(".EF\n"), "{out}");
        let (out, _) = render_results(ConsoleFormat::Json, 4, &results[1..2]);
        let events: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
            .collect();
        assert_eq!(events[2]["event"], "failed", "{out}");
        assert_eq!(events[2]["outcome"], "error", "{out}");
        assert_eq!(events[3]["event"], "failed", "{out}");
        assert_eq!(events[3]["failed"], 0, "{out}");
        assert_eq!(events[3]["errored"], 1, "{out}");
    }

    #[test]
    fn terse_is_one_character_per_test() {
        let (out, _) = render_run(ConsoleFormat::Terse, 4);
        assert!(
            out.starts_with("\nrunning 3 tests\n.Fi\nfailures:"),
            "{out}"
        );
    }

    #[test]
    fn json_is_one_object_per_line() {
        let (out, _) = render_run(ConsoleFormat::Json, 4);
        let events: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
            .collect();
        assert_eq!(events.len(), 8, "{out}");
        assert_eq!(events[0]["test_count"], 3);
        assert_eq!(events[3]["name"], "s/long-name");
        assert_eq!(events[4]["event"], "failed");
        assert_eq!(events[4]["stdout"], "Error: \"step 1 failed\"\n");
        assert_eq!(events[6]["event"], "ignored");
        assert_eq!(events[7]["event"], "failed");
        assert_eq!(events[7]["passed"], 1);
    }

    /// The start of a run of `cases` (all to run), `threads` at a time, on a cluster of no nodes.
    fn started(cases: &[TestCase], threads: usize) -> RunEvent<'_> {
        RunEvent::Started {
            server: "https://c",
            version: None,
            nodes: &[],
            cases,
            to_run: cases.len(),
            skipped: 0,
            threads,
            run_id: "r1",
            warnings: &[],
        }
    }

    /// A run of two tests at once in JSON, with a step, a progress and a slow event between.
    fn json_with_progress() -> Vec<serde_json::Value> {
        use crate::report::progress::{Progress, Slow};
        let console = reporter(ConsoleFormat::Json);
        let results = [
            result("s/a", Outcome::Passed),
            result("s/b", Outcome::Failed),
        ];
        let cases: Vec<_> = results
            .iter()
            .map(|r| TestCase {
                name: r.name.clone(),
                ..case(&[])
            })
            .collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut send = |event| console.render(event, &mut out, &mut err);
        send(started(&cases, 4));
        send(RunEvent::TestStarted { name: "s/a" });
        send(RunEvent::TestStarted { name: "s/b" });
        send(RunEvent::StepStarted {
            name: "s/b",
            step: 1,
            location: "s.yaml:3",
            what: "wait for pod \"p\" to be ready",
        });
        let progress = Progress {
            total: 2,
            running: 2,
            elapsed: Duration::from_secs(3),
            ..Progress::default()
        };
        send(RunEvent::Progress(&progress));
        let slow = Slow {
            name: "s/b".into(),
            running_for: Duration::from_secs(3),
            step: Some((1, "s.yaml:3".into(), "wait".into())),
            step_for: Duration::from_secs(2),
            seen: Some(("ContainerCreating on n1".into(), Duration::from_secs(2))),
        };
        send(RunEvent::Slow(&slow));
        for r in &results {
            send(RunEvent::TestFinished(r));
        }
        let err = String::from_utf8(err).expect("utf-8");
        assert!(
            !err.contains("progress:") && !err.contains("slow:"),
            "JSON events go to stdout: {err}"
        );
        String::from_utf8(out)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn json_streams_starts_steps_progress_and_slow_tests_as_they_come() {
        let events = json_with_progress();
        let shape: Vec<String> = events
            .iter()
            .map(|e| format!("{} {}", e["type"], e["event"]).replace('"', ""))
            .collect();
        assert_eq!(
            shape,
            [
                "suite started",
                "test started",
                "test started",
                "step started",
                "progress null",
                "slow null",
                "test ok",
                "test failed",
            ]
        );
        assert_eq!(events[3]["name"], "s/b");
        assert_eq!(events[3]["step"], 1);
        assert_eq!(events[3]["what"], "wait for pod \"p\" to be ready");
        assert_eq!(events[4]["running"], 2);
        assert_eq!(events[4]["total"], 2);
        assert_eq!(events[5]["seen"], "ContainerCreating on n1");
        assert_eq!(events[5]["location"], "s.yaml:3");
    }

    #[test]
    fn progress_and_slow_lines_go_to_stderr_in_pretty_and_terse() {
        use crate::report::progress::{Progress, Slow};
        for format in [ConsoleFormat::Pretty, ConsoleFormat::Terse] {
            let console = reporter(format);
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let progress = Progress {
                ended: crate::report::Counts {
                    passed: 1,
                    ..Default::default()
                },
                total: 3,
                running: 2,
                elapsed: Duration::from_secs(70),
            };
            console.render(RunEvent::Progress(&progress), &mut out, &mut err);
            let slow = Slow {
                name: "s/b".into(),
                running_for: Duration::from_secs(61),
                step: None,
                step_for: Duration::ZERO,
                seen: None,
            };
            console.render(RunEvent::Slow(&slow), &mut out, &mut err);
            console.render(
                RunEvent::StepStarted {
                    name: "s/b",
                    step: 1,
                    location: "s.yaml:3",
                    what: "wait",
                },
                &mut out,
                &mut err,
            );
            assert!(out.is_empty(), "{format:?}");
            assert_eq!(
                String::from_utf8(err).expect("utf-8"),
                "progress: 1/3 done (1 passed, 0 failed, 0 skipped), 2 running, 1m10s elapsed\n\
                 slow: s/b: preparing its namespace for 1m1s\n"
            );
        }
    }

    #[test]
    fn on_one_terminal_a_progress_line_does_not_land_inside_an_open_test_line() {
        use crate::report::progress::Progress;
        let console = ConsoleReporter {
            one_terminal: true,
            ..reporter(ConsoleFormat::Pretty)
        };
        let cases = [TestCase {
            name: "s/a".into(),
            ..case(&[])
        }];
        let progress = Progress {
            total: 1,
            running: 1,
            ..Progress::default()
        };
        let passed = result("s/a", Outcome::Passed);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut send = |event| console.render(event, &mut out, &mut err);
        send(started(&cases, 1));
        send(RunEvent::TestStarted { name: "s/a" });
        send(RunEvent::Progress(&progress));
        send(RunEvent::TestFinished(&passed));
        let out = String::from_utf8(out).expect("utf-8");
        assert!(
            out.starts_with("\nrunning 1 test\ntest s/a ... \ntest s/a ... ok\n"),
            "{out}"
        );
        assert!(String::from_utf8(err).expect("utf-8").ends_with(
            "\nprogress: 0/1 done (0 passed, 0 failed, 0 skipped), 1 running, 0s elapsed\n"
        ));
    }

    #[test]
    fn the_cluster_domain_is_one_line_and_an_assumed_one_a_warning() {
        let shown = |domain: &ClusterDomain| {
            let console = reporter(ConsoleFormat::Pretty);
            let (mut out, mut err) = (Vec::new(), Vec::new());
            console.render(RunEvent::ClusterDomain(domain), &mut out, &mut err);
            assert!(out.is_empty());
            String::from_utf8_lossy(&err).into_owned()
        };
        let discovered = ClusterDomain {
            name: "cluster.example".into(),
            source: DomainSource::Discovered,
        };
        assert_eq!(
            shown(&discovered),
            "Cluster domain: cluster.example (discovered).\n"
        );
        let assumed = ClusterDomain {
            name: "cluster.local".into(),
            source: DomainSource::Assumed {
                reason: "no Linux node takes test pods".into(),
            },
        };
        assert_eq!(
            shown(&assumed),
            "warning: cluster domain: cluster.local (assumed: no Linux node takes test pods); --cluster-domain sets it\n"
        );
    }

    #[test]
    fn stderr_has_the_banner_and_the_cleanup_lines() {
        let (_, err) = render_run(ConsoleFormat::Pretty, 4);
        assert_eq!(
            err,
            "Cluster https://c (v1.33.1), nodes: linux=2. Running 2 test(s), 1 skipped, 4 at a time; run id r1.\n\
             Deleting this run's namespaces...\n\
             warning: namespaces still terminating: he2e-r1-1; `kubectl delete namespace -l hybrid-e2e.io/run-id=r1` removes them\n\
             Kept namespaces of failed tests: he2e-r1-2\n"
        );
    }

    #[test]
    fn the_retry_count_is_a_line_on_stderr() {
        let reporter = reporter(ConsoleFormat::Pretty);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        reporter.render(RunEvent::ApiRetried { count: 37 }, &mut out, &mut err);
        assert!(out.is_empty());
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "API requests retried: 37\n"
        );
    }

    #[test]
    fn the_prepull_is_prose_on_stderr_with_a_line_per_node_progress() {
        let reporter = reporter(ConsoleFormat::Pretty);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let images = [
            (
                crate::catalog::Os::Linux,
                vec!["a:1".to_string(), "b:1".to_string()],
            ),
            (crate::catalog::Os::Windows, vec!["a:1".to_string()]),
        ];
        reporter.render(
            RunEvent::PrepullStarted {
                images: &images,
                timeout: std::time::Duration::from_secs(900),
            },
            &mut out,
            &mut err,
        );
        reporter.render(
            RunEvent::PrepullProgress {
                node: "windows-node-1",
                pulled: 1,
                total: 1,
            },
            &mut out,
            &mut err,
        );
        reporter.render(
            RunEvent::PrepullFinished {
                elapsed: std::time::Duration::from_millis(1500),
                error: Some("images failed to pull: windows-node-1: a:1: not found"),
            },
            &mut out,
            &mut err,
        );
        assert!(out.is_empty());
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "Pre-pulling images: 2 on linux nodes, 1 on windows nodes (timeout 15m)...\n\
             prepull: windows-node-1 1/1 images\n\
             error: pre-pull (1.5s): images failed to pull: windows-node-1: a:1: not found; the tests run anyway (mirror the images: `hybrid-e2e list-images`, `--image-repo`; or run with `--prepull off`)\n"
        );
    }
}
