//! JUnit XML for CI, valid against Jenkins xUnit's `junit-10.xsd`.
//!
//! One `<testsuite>` per suite (first-seen order) with the run's `<properties>`, one `<testcase>`
//! per test. Every string is cleaned and bounded by [`super::sanitize`] and then escaped; no CDATA
//! is ever written, so `]]>` in a log is just text. Passed tests carry no body; failures carry
//! their message and (bounded) details; skips their reason. An aborted run adds a suite
//! `hybrid-e2e` with one erroring test case `hybrid-e2e/run`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::model::{Outcome, RunReport, TestResult};
use super::sanitize;
use super::ReportError;

/// Name of the `<testsuites>` element, and of the suite holding an aborted run's error case.
pub const RUN_SUITE: &str = "hybrid-e2e";
/// Name of the test case that reports an aborted run.
pub const RUN_CASE: &str = "hybrid-e2e/run";

/// Renders `report` and writes it to `path`, creating parent folders.
pub fn write_junit(report: &RunReport, path: &Path) -> Result<(), ReportError> {
    super::write_file(path, render_junit(report).as_bytes())
}

/// Renders `report` as a JUnit XML document.
pub fn render_junit(report: &RunReport) -> String {
    let suites = group_by_suite(&report.results);
    let hostname = hostname();
    let timestamp = report.info.started.format("%Y-%m-%dT%H:%M:%S").to_string();
    let properties = properties(report);

    let aborted_case = usize::from(report.aborted.is_some());
    let tests = report.results.len() + aborted_case;
    let failures = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .count();
    let body_max = sanitize::body_share(failures);

    let mut out = String::with_capacity(1024 + report.results.len() * 256);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{aborted_case}\" time=\"{}\">",
        RUN_SUITE,
        time(report.info.duration),
    );

    if let Some(reason) = &report.aborted {
        let header = SuiteHeader {
            name: RUN_SUITE,
            tests: 1,
            failures: 0,
            errors: 1,
            skipped: 0,
            time: Duration::ZERO,
            timestamp: &timestamp,
            hostname: &hostname,
        };
        open_suite(&mut out, &header, &properties);
        let _ = writeln!(
            out,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\">",
            RUN_CASE,
            RUN_SUITE,
            time(Duration::ZERO)
        );
        let _ = writeln!(
            out,
            "      <error message=\"{}\" type=\"RunAborted\">{}</error>",
            attr(&sanitize::message(reason)),
            text(&sanitize::body(reason, None)),
        );
        out.push_str("    </testcase>\n  </testsuite>\n");
    }

    for (name, results) in &suites {
        let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
        let header = SuiteHeader {
            name,
            tests: results.len(),
            failures: count(Outcome::Failed),
            errors: 0,
            skipped: count(Outcome::Skipped),
            time: results.iter().map(|r| r.duration).sum(),
            timestamp: &timestamp,
            hostname: &hostname,
        };
        open_suite(&mut out, &header, &properties);
        for result in results {
            write_case(&mut out, result, body_max);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
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
    vec![
        ("harness.version", info.harness_version.clone()),
        (
            "cluster.version",
            info.cluster_version
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        ),
        ("nodes", info.nodes.join(", ")),
        ("tags", info.tag_expression.clone().unwrap_or_default()),
        ("filter", info.name_filter.join(" ")),
        ("run.id", info.run_id.clone()),
    ]
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

fn open_suite(out: &mut String, h: &SuiteHeader<'_>, properties: &[(&str, String)]) {
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\" hostname=\"{}\">",
        attr(&sanitize::message(h.name)),
        h.tests,
        h.failures,
        h.errors,
        h.skipped,
        time(h.time),
        attr(h.timestamp),
        attr(&sanitize::message(h.hostname)),
    );
    out.push_str("    <properties>\n");
    for (name, value) in properties {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            attr(name),
            attr(&sanitize::message(value)),
        );
    }
    out.push_str("    </properties>\n");
}

fn write_case(out: &mut String, r: &TestResult, body_max: usize) {
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
        attr(&sanitize::message(&r.name)),
        attr(&sanitize::message(&r.suite)),
        time(r.duration),
    );
    match r.outcome {
        Outcome::Passed => out.push_str("/>\n"),
        Outcome::Skipped => {
            let reason = r.skip_reason.as_deref().unwrap_or("skipped");
            let _ = writeln!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                attr(&sanitize::message(reason)),
            );
        }
        Outcome::Failed => {
            let message = match r.message.as_deref() {
                Some(m) => m,
                None => r
                    .details
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("failed"),
            };
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"StepFailed\">{}</failure>\n    </testcase>",
                attr(&sanitize::message(message)),
                text(&sanitize::body_within(
                    &r.details,
                    body_max,
                    r.artifacts.as_deref()
                )),
            );
        }
    }
}

/// Seconds with millisecond precision, matching the schema's `SUREFIRE_TIME` (`12.345`).
fn time(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// Escapes cleaned text for element content. `>` is escaped too, so `]]>` cannot appear.
fn text(s: &str) -> String {
    escape(s, false)
}

/// Escapes cleaned text for a double-quoted attribute; tabs and line breaks become character
/// references so parsers keep them instead of normalising them to spaces.
fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// This machine's name, for the `hostname` attribute; `localhost` when it cannot be found.
fn hostname() -> String {
    let from_env = ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty());
    let from_file = || {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .find(|v| !v.trim().is_empty())
    };
    from_env
        .or_else(from_file)
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::RunInfo;
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
        }
    }

    fn result(name: &str, outcome: Outcome) -> TestResult {
        TestResult {
            name: name.into(),
            suite: name.split('/').next().unwrap_or(name).into(),
            tags: vec![],
            outcome,
            duration: Duration::from_millis(1500),
            message: None,
            skip_reason: None,
            details: String::new(),
            artifacts: None,
        }
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
    fn empty_run_is_an_empty_testsuites() {
        let report = RunReport {
            info: info(),
            results: vec![],
            aborted: None,
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
