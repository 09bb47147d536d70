//! JUnit XML for CI, valid against Jenkins xUnit's `junit-10.xsd`.
//!
//! One `<testsuite>` per suite (first-seen order) with the run's `<properties>`, one `<testcase>`
//! per test. Every string is cleaned and bounded by [`super::sanitize`] and then written through
//! `quick_xml::Writer`, which escapes it; no CDATA is ever written, so `]]>` in a log is just
//! text. Passed tests carry no body but their notes (nodes a check left out) in `<system-out>`; failures carry their message and (bounded) details in a
//! `<failure>`, tests the harness could not check the same in an `<error type="HarnessError">`
//! (counted in `errors`, not `failures`); skips their reason. A test re-run with `--retries` carries
//! one `<flakyFailure>` (`<flakyError>`) per failed (errored) earlier attempt when it passed at
//! last, and its last `<failure>` plus one `<rerunFailure>` (`<rerunError>`) per earlier attempt
//! when it never did (surefire's rerun elements, `rerunType` in the schema). An aborted run adds a suite `hybrid-e2e` with one erroring test case
//! `hybrid-e2e/run`; a failed `--prepull` one erroring case `hybrid-e2e/prepull` (type
//! `PrepullFailed`) in that suite. The mapping is our own: quick-junit writes attributes the schema rejects.

use std::borrow::Cow;
use std::io;
use std::path::Path;
use std::time::Duration;

use quick_xml::escape::{escape, partial_escape};
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::name::QName;
use quick_xml::Writer;

use super::model::{Outcome, RunReport, TestResult};
use super::sanitize;
use super::ReportError;

/// Name of the `<testsuites>` element, and of the suite holding an aborted run's error case.
pub const RUN_SUITE: &str = "hybrid-e2e";
/// Name of the test case that reports an aborted run.
pub const RUN_CASE: &str = "hybrid-e2e/run";
/// Name of the test case that reports a failed `--prepull`.
pub const PREPULL_CASE: &str = "hybrid-e2e/prepull";

/// Renders `report` and writes it to `path`, creating parent folders.
pub fn write_junit(report: &RunReport, path: &Path) -> Result<(), ReportError> {
    super::write_file(path, render_junit(report).as_bytes())
}

/// Renders `report` as a JUnit XML document.
pub fn render_junit(report: &RunReport) -> String {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into memory cannot fail; an error here would only cut the document short.
    let _ = write_document(&mut writer, report);
    let mut out = String::from_utf8_lossy(&writer.into_inner()).into_owned();
    out.push('\n');
    out
}

fn write_document(w: &mut Writer<Vec<u8>>, report: &RunReport) -> io::Result<()> {
    let suites = group_by_suite(&report.results);
    let hostname = hostname::get()
        .ok()
        .map(|h| h.to_string_lossy().trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    let timestamp = report.info.started.format("%Y-%m-%dT%H:%M:%S").to_string();
    let properties = properties(report);

    let run_cases: Vec<(&str, &str, &str)> = [
        report
            .aborted
            .as_deref()
            .map(|r| (RUN_CASE, "RunAborted", r)),
        report
            .prepull
            .as_deref()
            .map(|r| (PREPULL_CASE, "PrepullFailed", r)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let aborted_case = run_cases.len();
    let tests = report.results.len() + aborted_case;
    let count = |o: Outcome| report.results.iter().filter(|r| r.outcome == o).count();
    let failures = count(Outcome::Failed);
    let errors = aborted_case + count(Outcome::Error);
    let earlier: usize = report.results.iter().map(|r| r.attempts.len()).sum();
    let body_max = sanitize::body_share(failures + count(Outcome::Error) + earlier);

    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("testsuites")
        .with_attributes([
            attr("name", RUN_SUITE),
            attr("tests", &tests.to_string()),
            attr("failures", &failures.to_string()),
            attr("errors", &errors.to_string()),
            attr("time", &time(report.info.duration)),
        ])
        .write_inner_content(|w| {
            if !run_cases.is_empty() {
                let header = SuiteHeader {
                    name: RUN_SUITE,
                    tests: run_cases.len(),
                    failures: 0,
                    errors: run_cases.len(),
                    skipped: 0,
                    time: Duration::ZERO,
                    timestamp: &timestamp,
                    hostname: &hostname,
                };
                write_suite(w, &header, &properties, |w| {
                    for (case, kind, reason) in &run_cases {
                        w.create_element("testcase")
                            .with_attributes([
                                attr("name", case),
                                attr("classname", RUN_SUITE),
                                attr("time", &time(Duration::ZERO)),
                            ])
                            .write_inner_content(|w| {
                                w.create_element("error")
                                    .with_attributes([
                                        attr("message", &sanitize::message(reason)),
                                        attr("type", kind),
                                    ])
                                    .write_text_content(text(&sanitize::body(reason, None)))?;
                                Ok(())
                            })?;
                    }
                    Ok(())
                })?;
            }
            for (name, results) in &suites {
                let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
                let header = SuiteHeader {
                    name,
                    tests: results.len(),
                    failures: count(Outcome::Failed),
                    errors: count(Outcome::Error),
                    skipped: count(Outcome::Skipped),
                    time: results.iter().map(|r| r.duration).sum(),
                    timestamp: &timestamp,
                    hostname: &hostname,
                };
                write_suite(w, &header, &properties, |w| {
                    results.iter().try_for_each(|r| write_case(w, r, body_max))
                })?;
            }
            Ok(())
        })?;
    Ok(())
}

/// Results grouped by suite, suites in first-seen order.
fn group_by_suite(results: &[TestResult]) -> Vec<(&str, Vec<&TestResult>)> {
    let mut groups: Vec<(&str, Vec<&TestResult>)> = Vec::new();
    for r in results {
        match groups.iter_mut().find(|(name, _)| *name == r.suite) {
            Some((_, members)) => members.push(r),
            None => groups.push((&r.suite, vec![r])),
        }
    }
    groups
}

/// The run's facts, as `(name, value)` pairs, in the order they are written.
fn properties(report: &RunReport) -> Vec<(&'static str, String)> {
    let info = &report.info;
    let mut properties = vec![
        ("harness.version", info.harness_version.clone()),
        (
            "cluster.version",
            info.cluster_version
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        ),
    ];
    if let Some(domain) = &info.cluster_domain {
        properties.push(("cluster.domain", domain.to_string()));
    }
    properties.extend([
        ("nodes", info.nodes.join(", ")),
        ("tags", info.tag_expression.clone().unwrap_or_default()),
        ("filter", info.name_filter.join(" ")),
        ("run.id", info.run_id.clone()),
        ("timeout.scale", info.timeout_scale.to_string()),
        (
            "timeout.scale.windows",
            info.windows_timeout_scale.to_string(),
        ),
    ]);
    if let Some(shard) = info.shard {
        properties.push(("shard", shard.to_string()));
    }
    properties
}

struct SuiteHeader<'a> {
    name: &'a str,
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    time: Duration,
    timestamp: &'a str,
    hostname: &'a str,
}

/// One `<testsuite>`: its header, the run's `<properties>`, then what `cases` writes.
fn write_suite(
    w: &mut Writer<Vec<u8>>,
    h: &SuiteHeader<'_>,
    properties: &[(&str, String)],
    cases: impl FnOnce(&mut Writer<Vec<u8>>) -> io::Result<()>,
) -> io::Result<()> {
    w.create_element("testsuite")
        .with_attributes([
            attr("name", &sanitize::message(h.name)),
            attr("tests", &h.tests.to_string()),
            attr("failures", &h.failures.to_string()),
            attr("errors", &h.errors.to_string()),
            attr("skipped", &h.skipped.to_string()),
            attr("time", &time(h.time)),
            attr("timestamp", h.timestamp),
            attr("hostname", &sanitize::message(h.hostname)),
        ])
        .write_inner_content(|w| {
            w.create_element("properties").write_inner_content(|w| {
                for (name, value) in properties {
                    w.create_element("property")
                        .with_attributes([
                            attr("name", name),
                            attr("value", &sanitize::message(value)),
                        ])
                        .write_empty()?;
                }
                Ok(())
            })?;
            cases(w)
        })?;
    Ok(())
}

fn write_case(w: &mut Writer<Vec<u8>>, r: &TestResult, body_max: usize) -> io::Result<()> {
    let case = w.create_element("testcase").with_attributes([
        attr("name", &sanitize::message(&r.name)),
        attr("classname", &sanitize::message(&r.suite)),
        attr("time", &time(r.duration)),
    ]);
    match r.outcome {
        Outcome::Passed if r.notes.is_empty() && r.attempts.is_empty() => {
            case.write_empty()?;
        }
        Outcome::Passed => {
            case.write_inner_content(|w| {
                write_attempts(w, r, body_max, ("flakyFailure", "flakyError"))?;
                if !r.notes.is_empty() {
                    let notes = sanitize::body_within(&r.notes.join("\n"), body_max, None);
                    w.create_element("system-out")
                        .write_text_content(text(&notes))?;
                }
                Ok(())
            })?;
        }
        Outcome::Skipped => {
            let reason = r.skip_reason.as_deref().unwrap_or("skipped");
            case.write_inner_content(|w| {
                w.create_element("skipped")
                    .with_attribute(attr("message", &sanitize::message(reason)))
                    .write_empty()?;
                Ok(())
            })?;
        }
        Outcome::Failed | Outcome::Error => {
            let (element, kind) = match r.outcome {
                Outcome::Error => ("error", "HarnessError"),
                _ => ("failure", "StepFailed"),
            };
            let message = message_of(r.message.as_deref(), &r.details);
            let body = sanitize::body_within(&r.details, body_max, r.artifacts.as_deref());
            case.write_inner_content(|w| {
                w.create_element(element)
                    .with_attributes([
                        attr("message", &sanitize::message(message)),
                        attr("type", kind),
                    ])
                    .write_text_content(text(&body))?;
                write_attempts(w, r, body_max, ("rerunFailure", "rerunError"))
            })?;
        }
    }
    Ok(())
}

/// The message of a failure: its own, or the first non-blank line of its details.
fn message_of<'a>(message: Option<&'a str>, details: &'a str) -> &'a str {
    match message {
        Some(m) => m,
        None => details
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed"),
    }
}

/// One `(failed, errored)` element (`flakyFailure`/`flakyError` before a pass,
/// `rerunFailure`/`rerunError` before a last failure) per earlier attempt of `r`: message and
/// type like a `<failure>`, its details (bounded) as text.
fn write_attempts(
    w: &mut Writer<Vec<u8>>,
    r: &TestResult,
    body_max: usize,
    (failed, errored): (&str, &str),
) -> io::Result<()> {
    for attempt in &r.attempts {
        let (element, kind) = match attempt.outcome {
            Outcome::Error => (errored, "HarnessError"),
            _ => (failed, "StepFailed"),
        };
        let message = message_of(attempt.message.as_deref(), &attempt.details);
        let body = sanitize::body_within(&attempt.details, body_max, None);
        w.create_element(element)
            .with_attributes([
                attr("message", &sanitize::message(message)),
                attr("type", kind),
            ])
            .write_text_content(text(&body))?;
    }
    Ok(())
}

/// Seconds with millisecond precision, matching the schema's `SUREFIRE_TIME` (`12.345`).
fn time(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// Cleaned text as element content: `<`, `>` and `&` escaped (so `]]>` cannot appear), and
/// carriage returns as character references so parsers keep them.
fn text(s: &str) -> BytesText<'static> {
    BytesText::from_escaped(partial_escape(s).replace('\r', "&#13;"))
}

/// A double-quoted attribute holding cleaned text: the XML specials escaped, and tabs and line
/// breaks as character references so parsers keep them instead of normalising them to spaces.
fn attr<'a>(key: &'a str, value: &str) -> Attribute<'a> {
    let mut escaped = String::with_capacity(value.len());
    for c in escape(value).chars() {
        match c {
            '\n' => escaped.push_str("&#10;"),
            '\t' => escaped.push_str("&#9;"),
            '\r' => escaped.push_str("&#13;"),
            c => escaped.push(c),
        }
    }
    Attribute {
        key: QName(key.as_bytes()),
        value: Cow::Owned(escaped.into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{ClusterDomain, DomainSource, RunInfo};
    use chrono::TimeZone;
    use std::path::PathBuf;

    fn info() -> RunInfo {
        RunInfo {
            run_id: "r1".into(),
            harness_version: "0.1.0".into(),
            started: chrono::Utc
                .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
                .single()
                .expect("valid date"),
            duration: Duration::from_millis(12_345),
            cluster_version: Some("v1.33.1".into()),
            nodes: vec!["linux=2".into(), "windows/10.0.20348=1".into()],
            tag_expression: Some("networking && !slow".into()),
            name_filter: vec!["pod".into()],
            api_retries: 0,
            timeout_scale: 1.0,
            windows_timeout_scale: 3.0,
            shard: None,
            cluster_domain: Some(ClusterDomain {
                name: "cluster.example".into(),
                source: DomainSource::Discovered,
            }),
        }
    }

    fn result(name: &str, outcome: Outcome) -> TestResult {
        let suite = name.split('/').next().unwrap_or(name);
        TestResult {
            duration: Duration::from_millis(1500),
            ..TestResult::new(name, suite, outcome)
        }
    }

    fn attempt(outcome: Outcome, message: &str) -> crate::report::model::Attempt {
        crate::report::model::Attempt {
            outcome,
            message: Some(message.into()),
            details: format!("{message}\n\nStep log: <x> ]]>"),
            duration: Duration::from_millis(250),
        }
    }

    #[test]
    fn a_sharded_run_names_its_shard_in_the_properties() {
        let report = |shard| RunReport {
            info: RunInfo { shard, ..info() },
            results: vec![result("a/x", Outcome::Passed)],
            aborted: None,
            prepull: None,
        };
        let shard = "2/3".parse().expect("a shard");
        let xml = render_junit(&report(Some(shard)));
        assert!(
            xml.contains("<property name=\"shard\" value=\"2/3\"/>"),
            "{xml}"
        );
        assert!(!render_junit(&report(None)).contains("\"shard\""));
    }

    #[test]
    fn a_test_passing_after_failing_carries_a_flaky_failure_per_failed_attempt() {
        let mut flaky = result("a/x", Outcome::Passed);
        flaky.attempts = vec![
            attempt(Outcome::Failed, "step 2 timed out"),
            attempt(Outcome::Error, "the harness panicked"),
        ];
        let report = RunReport {
            info: info(),
            results: vec![flaky],
            aborted: None,
            prepull: None,
        };
        let xml = render_junit(&report);
        assert!(
            xml.contains("tests=\"1\" failures=\"0\" errors=\"0\""),
            "{xml}"
        );
        assert!(
            xml.contains("<flakyFailure message=\"step 2 timed out\" type=\"StepFailed\">step 2 timed out\n\nStep log: &lt;x&gt; ]]&gt;</flakyFailure>"),
            "{xml}"
        );
        assert!(
            xml.contains("<flakyError message=\"the harness panicked\" type=\"HarnessError\">"),
            "{xml}"
        );
        assert!(!xml.contains("<failure"), "{xml}");
        assert!(!xml.contains("rerun"), "{xml}");
    }

    #[test]
    fn a_test_failing_every_attempt_carries_its_last_failure_and_a_rerun_failure_per_earlier_one() {
        let mut failed = result("a/x", Outcome::Failed);
        failed.message = Some("attempt 3".into());
        failed.details = "last log".into();
        failed.attempts = vec![
            attempt(Outcome::Failed, "attempt 1"),
            attempt(Outcome::Failed, "attempt 2"),
        ];
        let report = RunReport {
            info: info(),
            results: vec![failed],
            aborted: None,
            prepull: None,
        };
        let xml = render_junit(&report);
        assert!(
            xml.contains("tests=\"1\" failures=\"1\" errors=\"0\""),
            "{xml}"
        );
        let last = xml
            .find("<failure message=\"attempt 3\" type=\"StepFailed\">last log</failure>")
            .expect("the last attempt's failure");
        let first = xml
            .find("<rerunFailure message=\"attempt 1\" type=\"StepFailed\">")
            .expect("attempt 1");
        let second = xml
            .find("<rerunFailure message=\"attempt 2\" type=\"StepFailed\">")
            .expect("attempt 2");
        assert!(last < first && first < second, "{xml}");
        assert_eq!(xml.matches("<rerunFailure ").count(), 2, "{xml}");
        assert!(!xml.contains("flaky"), "{xml}");
    }

    #[test]
    fn an_attempt_message_is_bounded_like_a_failure() {
        let mut flaky = result("a/x", Outcome::Passed);
        flaky.attempts = vec![attempt(Outcome::Failed, &"m".repeat(100_000))];
        let report = RunReport {
            info: info(),
            results: vec![flaky],
            aborted: None,
            prepull: None,
        };
        let xml = render_junit(&report);
        let start = xml.find("<flakyFailure message=\"").expect("flaky failure");
        let message = &xml[start + 23..];
        let message = &message[..message.find('"').expect("attribute end")];
        assert!(message.len() < 100_000, "{} bytes", message.len());
        assert_eq!(
            message,
            sanitize::message(&"m".repeat(100_000)),
            "bounded by sanitize::message"
        );
    }

    #[test]
    fn groups_by_suite_in_first_seen_order_with_counts() {
        let mut failed = result("b/x", Outcome::Failed);
        failed.message = Some("step 1 failed".into());
        failed.details = "log".into();
        let mut skipped = result("a/z", Outcome::Skipped);
        skipped.skip_reason = Some("no Ready node with kubernetes.io/os=windows".into());
        let report = RunReport {
            info: info(),
            results: vec![
                result("b/w", Outcome::Passed),
                result("a/y", Outcome::Passed),
                failed,
                skipped,
            ],
            aborted: None,
            prepull: None,
        };
        let xml = render_junit(&report);
        let b = xml.find("<testsuite name=\"b\"").expect("suite b");
        let a = xml.find("<testsuite name=\"a\"").expect("suite a");
        assert!(b < a);
        assert!(xml.contains("<testsuites name=\"hybrid-e2e\" tests=\"4\" failures=\"1\" errors=\"0\" time=\"12.345\">"));
        assert!(xml.contains("name=\"b\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"3.000\" timestamp=\"2026-01-02T03:04:05\""));
        assert!(xml.contains("name=\"a\" tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"1\""));
        assert!(xml.contains("<testcase name=\"b/w\" classname=\"b\" time=\"1.500\"/>"));
        assert!(
            xml.contains("<failure message=\"step 1 failed\" type=\"StepFailed\">log</failure>")
        );
        assert!(xml.contains("<skipped message=\"no Ready node with kubernetes.io/os=windows\"/>"));
        for p in [
            "name=\"harness.version\" value=\"0.1.0\"",
            "name=\"cluster.version\" value=\"v1.33.1\"",
            "name=\"cluster.domain\" value=\"cluster.example (discovered)\"",
            "name=\"nodes\" value=\"linux=2, windows/10.0.20348=1\"",
            "name=\"tags\" value=\"networking &amp;&amp; !slow\"",
            "name=\"filter\" value=\"pod\"",
            "name=\"run.id\" value=\"r1\"",
        ] {
            assert!(xml.contains(p), "{p} in\n{xml}");
        }
    }

    #[test]
    fn escapes_and_cleans_hostile_text() {
        let mut failed = result("s/t", Outcome::Failed);
        failed.message = Some("bad \"quote\" <b> & \x1b[31mred\x1b[0m\x00\nsecond".into());
        failed.details = "]]> <script>alert(1)</script> \x07 & 🚀\r\n".into();
        failed.artifacts = Some(PathBuf::from("arts/s_t"));
        let report = RunReport {
            info: info(),
            results: vec![failed],
            aborted: None,
            prepull: None,
        };
        let xml = render_junit(&report);
        assert!(
            xml.contains("message=\"bad &quot;quote&quot; &lt;b&gt; &amp; red&#10;second\""),
            "{xml}"
        );
        assert!(
            xml.contains(
                ">]]&gt; &lt;script&gt;alert(1)&lt;/script&gt;  &amp; 🚀&#13;\n</failure>"
            ),
            "{xml}"
        );
        assert!(!xml.contains("]]>"));
        assert!(!xml.contains("CDATA"));
        assert!(!xml.chars().any(|c| c.is_control() && !matches!(c, '\n')));
    }

    #[test]
    fn aborted_run_has_an_error_case_and_keeps_results() {
        let report = RunReport {
            info: info(),
            results: vec![result("a/x", Outcome::Passed)],
            aborted: Some("cannot reach the cluster: client error (Connect)".into()),
            prepull: None,
        };
        let xml = render_junit(&report);
        assert!(
            xml.contains("tests=\"2\" failures=\"0\" errors=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains("<testsuite name=\"hybrid-e2e\" tests=\"1\" failures=\"0\" errors=\"1\"")
        );
        assert!(xml.contains("<testcase name=\"hybrid-e2e/run\" classname=\"hybrid-e2e\""));
        assert!(xml.contains("<error message=\"cannot reach the cluster: client error (Connect)\" type=\"RunAborted\">"));
        assert!(xml.contains("<testsuite name=\"a\""));
    }

    #[test]
    fn a_failed_prepull_is_one_error_case_beside_the_tests() {
        let report = RunReport {
            info: info(),
            results: vec![result("a/x", Outcome::Passed)],
            aborted: None,
            prepull: Some("images failed to pull: windows-node-1: pause: not found".into()),
        };
        let xml = render_junit(&report);
        assert!(
            xml.contains("tests=\"2\" failures=\"0\" errors=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("<testcase name=\"hybrid-e2e/prepull\" classname=\"hybrid-e2e\""));
        assert!(xml.contains("<error message=\"images failed to pull: windows-node-1: pause: not found\" type=\"PrepullFailed\">"));
        assert!(!xml.contains("hybrid-e2e/run"));
    }

    #[test]
    fn a_harness_error_is_an_error_element_counted_in_errors() {
        let mut errored = result("a/e", Outcome::Error);
        errored.message = Some("the harness panicked: boom".into());
        errored.details = "step log".into();
        let mut failed = result("a/f", Outcome::Failed);
        failed.message = Some("step 1 failed".into());
        let report = RunReport {
            info: info(),
            results: vec![errored, failed],
            aborted: Some("interrupted".into()),
            prepull: None,
        };
        let xml = render_junit(&report);
        assert!(
            xml.contains("<testsuites name=\"hybrid-e2e\" tests=\"3\" failures=\"1\" errors=\"2\""),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<testsuite name=\"a\" tests=\"2\" failures=\"1\" errors=\"1\" skipped=\"0\""
            ),
            "{xml}"
        );
        assert!(xml.contains(
            "<error message=\"the harness panicked: boom\" type=\"HarnessError\">step log</error>"
        ));
        assert!(xml.contains("<failure message=\"step 1 failed\" type=\"StepFailed\">"));
    }

    #[test]
    fn empty_run_is_an_empty_testsuites() {
        let report = RunReport {
            info: info(),
            results: vec![],
            aborted: None,
            prepull: None,
        };
        let xml = render_junit(&report);
        assert!(xml.contains("tests=\"0\" failures=\"0\" errors=\"0\""));
        assert!(!xml.contains("<testsuite "));
    }

    #[test]
    fn many_failures_share_a_bounded_budget() {
        let results = (0..100)
            .map(|i| {
                let mut r = result(&format!("s/t{i}"), Outcome::Failed);
                r.message = Some("boom".into());
                r.details = "log line\n".repeat(20_000);
                r
            })
            .collect();
        let report = RunReport {
            info: info(),
            results,
            aborted: None,
            prepull: None,
        };
        let xml = render_junit(&report);
        assert!(xml.len() < 1024 * 1024 + 100 * 1024, "{} bytes", xml.len());
        assert_eq!(xml.matches("bytes truncated] ...").count(), 100);
    }

    #[test]
    fn time_is_surefire_shaped() {
        assert_eq!(time(Duration::ZERO), "0.000");
        assert_eq!(time(Duration::from_micros(12_345_678)), "12.346");
        assert_eq!(time(Duration::from_secs(4000)), "4000.000");
    }
}
