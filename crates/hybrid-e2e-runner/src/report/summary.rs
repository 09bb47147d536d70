//! `summary.md`: a short Markdown summary of a run (counts, failed tests with their messages,
//! tests the harness could not check (errors), skips grouped by reason), fit for a GitHub step
//! summary; and the outcome counts.

use std::fmt::Write as _;

use serde::Serialize;

use super::model::{Outcome, RunReport};
use super::sanitize;

/// How many tests ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed.
    pub failed: usize,
    /// Tests that were skipped.
    pub skipped: usize,
    /// Tests the harness could not check (outcome `error`).
    pub errored: usize,
    /// Tests that passed after failing (`--retries`); counted in `passed` too.
    pub flaky: usize,
}

impl Counts {
    /// All tests, whatever their outcome.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.skipped + self.errored
    }
}

/// Counts the outcomes of `report`'s tests (an aborted run's error is not a test).
pub fn counts(report: &RunReport) -> Counts {
    let mut c = Counts::default();
    for r in &report.results {
        match r.outcome {
            Outcome::Passed => {
                c.passed += 1;
                c.flaky += usize::from(r.is_flaky());
            }
            Outcome::Failed => c.failed += 1,
            Outcome::Skipped => c.skipped += 1,
            Outcome::Error => c.errored += 1,
        }
    }
    c
}

/// Longest message shown in the failed-tests table, in bytes.
const TABLE_MESSAGE_BYTES: usize = 1024;

/// Renders the Markdown summary of `report`.
pub fn render_summary(report: &RunReport) -> String {
    let info = &report.info;
    let c = counts(report);
    let mut out = String::new();
    let _ = writeln!(out, "## hybrid-e2e run `{}`\n", code(&info.run_id));
    let errors = match c.errored {
        0 => String::new(),
        1 => ", 1 error".to_string(),
        n => format!(", {n} errors"),
    };
    let flaky = match c.flaky {
        0 => String::new(),
        n => format!(" ({n} flaky)"),
    };
    let _ = writeln!(
        out,
        "**{} passed{flaky}, {} failed{errors}, {} skipped** of {} in {:.1}s\n",
        c.passed,
        c.failed,
        c.skipped,
        c.total(),
        info.duration.as_secs_f64()
    );
    let mut facts = Vec::new();
    if let Some(v) = &info.cluster_version {
        facts.push(format!("cluster `{}`", code(v)));
    }
    if !info.nodes.is_empty() {
        facts.push(format!("nodes `{}`", code(&info.nodes.join(", "))));
    }
    if let Some(domain) = &info.cluster_domain {
        facts.push(format!("cluster domain {}", cell(&domain.to_string())));
    }
    if let Some(t) = &info.tag_expression {
        facts.push(format!("tags `{}`", code(t)));
    }
    if !info.name_filter.is_empty() {
        facts.push(format!("filter `{}`", code(&info.name_filter.join(" "))));
    }
    if info.api_retries > 0 {
        facts.push(format!("API requests retried {}", info.api_retries));
    }
    facts.push(format!("harness {}", cell(&info.harness_version)));
    let _ = writeln!(out, "{}\n", facts.join(" · "));

    if let Some(reason) = &report.aborted {
        let _ = writeln!(out, "> **Run aborted:** {}\n", cell(reason));
    }
    if let Some(what) = &report.prepull {
        let _ = writeln!(out, "> **Pre-pull failed:** {}\n", cell(what));
    }

    for (outcome, heading) in [
        (Outcome::Failed, "### Failed"),
        (Outcome::Error, "### Errors (the harness could not check)"),
    ] {
        table_of(&mut out, report, outcome, heading);
    }
    flaky_table(&mut out, report);

    let mut by_reason: Vec<(String, Vec<&str>)> = Vec::new();
    for r in report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Skipped)
    {
        let reason = r.skip_reason.as_deref().unwrap_or("no reason given");
        let reason = sanitize::message(reason);
        match by_reason.iter_mut().find(|(k, _)| *k == reason) {
            Some((_, names)) => names.push(&r.name),
            None => by_reason.push((reason, vec![&r.name])),
        }
    }
    if !by_reason.is_empty() {
        out.push_str("### Skipped\n\n");
        for (reason, names) in by_reason {
            let names: Vec<String> = names.iter().map(|n| format!("`{}`", code(n))).collect();
            let _ = writeln!(
                out,
                "- {} ({}): {}",
                cell(&reason),
                names.len(),
                names.join(", ")
            );
        }
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// A `heading` and a table of the tests that ended with `outcome` and their messages (nothing
/// when none did).
fn table_of(out: &mut String, report: &RunReport, outcome: Outcome, heading: &str) {
    let mut rows = report
        .results
        .iter()
        .filter(|r| r.outcome == outcome)
        .peekable();
    if rows.peek().is_none() {
        return;
    }
    let _ = write!(out, "{heading}\n\n| Test | Message |\n| --- | --- |\n");
    for r in rows {
        let message = r.message.as_deref().unwrap_or("failed");
        let message = sanitize::truncate_end(&sanitize::clean(message), TABLE_MESSAGE_BYTES);
        let mut row = cell(&message);
        if let Some(dir) = &r.artifacts {
            let dir = table_code(&dir.display().to_string());
            let _ = write!(row, "<br>artifacts: `{dir}`");
        }
        let _ = writeln!(out, "| `{}` | {row} |", table_code(&r.name));
    }
    out.push('\n');
}

/// The tests that passed after failing (`--retries`), each with its failed attempts' count and
/// the first one's message.
fn flaky_table(out: &mut String, report: &RunReport) {
    let mut rows = report.results.iter().filter(|r| r.is_flaky()).peekable();
    if rows.peek().is_none() {
        return;
    }
    out.push_str("### Flaky (passed after failing)\n\n| Test | Failed attempts | First failure |\n| --- | --- | --- |\n");
    for r in rows {
        let message = r
            .attempts
            .first()
            .and_then(|a| a.message.as_deref())
            .unwrap_or("failed");
        let message = sanitize::truncate_end(&sanitize::clean(message), TABLE_MESSAGE_BYTES);
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            table_code(&r.name),
            r.attempts.len(),
            cell(&message)
        );
    }
    out.push('\n');
}

/// Text for a Markdown table cell or list item: one line, no table breaks, no raw HTML.
fn cell(s: &str) -> String {
    let s = sanitize::clean(s);
    let mut out = String::with_capacity(s.len());
    for c in s.trim().chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Text for inside a backtick code span: one line, no backticks.
fn code(s: &str) -> String {
    sanitize::clean(s)
        .chars()
        .map(|c| match c {
            '`' => '\'',
            '\n' | '\r' | '\t' => ' ',
            c => c,
        })
        .collect()
}

/// Text for inside a backtick code span in a table cell: GitHub reads `\|` there as a pipe.
fn table_code(s: &str) -> String {
    code(s).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{ClusterDomain, DomainSource, RunInfo, TestResult};
    use std::time::Duration;

    fn result(name: &str, outcome: Outcome) -> TestResult {
        TestResult {
            name: name.into(),
            suite: "s".into(),
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

    #[test]
    fn counts_failures_and_groups_skips() {
        let mut f = result("s/f", Outcome::Failed);
        f.message = Some("step 2 | wait: \x1b[31mpod <x>\x1b[0m\nnever ready".into());
        let mut s1 = result("s/a[os=windows]", Outcome::Skipped);
        s1.skip_reason = Some("no Ready node with kubernetes.io/os=windows".into());
        let mut s2 = s1.clone();
        s2.name = "s/b[os=windows]".into();
        let mut s3 = result("s/c", Outcome::Skipped);
        s3.skip_reason = Some("no default StorageClass".into());
        let report = RunReport {
            info: RunInfo {
                run_id: "r1".into(),
                harness_version: "0.1.0".into(),
                started: chrono::Utc::now(),
                duration: Duration::from_secs(3),
                cluster_version: Some("v1.33.0".into()),
                nodes: vec!["linux=2".into()],
                tag_expression: Some("a || b".into()),
                name_filter: vec![],
                api_retries: 37,
                timeout_scale: 1.0,
                windows_timeout_scale: 3.0,
                cluster_domain: Some(ClusterDomain {
                    name: "cluster.local".into(),
                    source: DomainSource::Assumed {
                        reason: "no Linux node".into(),
                    },
                }),
            },
            results: vec![result("s/p", Outcome::Passed), f, s1, s2, s3],
            aborted: Some("interrupted".into()),
            prepull: Some("images failed to pull: windows-node-1: pause: not found".into()),
        };
        assert_eq!(
            counts(&report),
            Counts {
                passed: 1,
                failed: 1,
                skipped: 3,
                errored: 0,
                flaky: 0,
            }
        );
        let md = render_summary(&report);
        assert!(
            md.contains("**1 passed, 1 failed, 3 skipped** of 5 in 3.0s"),
            "{md}"
        );
        assert!(md.contains("tags `a || b`"), "{md}");
        assert!(md.contains(" · API requests retried 37 · "), "{md}");
        assert!(
            md.contains(" · cluster domain cluster.local (assumed: no Linux node) · "),
            "{md}"
        );
        assert!(md.contains("> **Run aborted:** interrupted"));
        assert!(
            md.contains(
                "> **Pre-pull failed:** images failed to pull: windows-node-1: pause: not found"
            ),
            "{md}"
        );
        assert!(
            md.contains("| `s/f` | step 2 \\| wait: pod &lt;x&gt;<br>never ready |"),
            "{md}"
        );
        assert!(md.contains(
            "- no Ready node with kubernetes.io/os=windows (2): `s/a[os=windows]`, `s/b[os=windows]`"
        ));
        assert!(md.contains("- no default StorageClass (1): `s/c`"));
        assert!(!md.contains("error"), "no errors, no mention: {md}");
    }

    #[test]
    fn harness_errors_are_counted_and_listed_apart_from_failures() {
        let mut f = result("s/f", Outcome::Failed);
        f.message = Some("step 1 http: connection refused".into());
        let mut e = result("s/e", Outcome::Error);
        e.message = Some("the harness panicked: boom".into());
        let mut e2 = e.clone();
        e2.name = "s/e2".into();
        let report = RunReport {
            results: vec![f, e, e2],
            ..crate::report::tests::report()
        };
        assert_eq!(
            counts(&report),
            Counts {
                passed: 0,
                failed: 1,
                skipped: 0,
                errored: 2,
                flaky: 0,
            }
        );
        assert_eq!(counts(&report).total(), 3);
        let md = render_summary(&report);
        assert!(
            md.contains("**0 passed, 1 failed, 2 errors, 0 skipped** of 3"),
            "{md}"
        );
        let failed = md.find("### Failed").expect("failed table");
        let errors = md
            .find("### Errors (the harness could not check)")
            .expect("errors table");
        assert!(failed < errors, "{md}");
        assert!(
            md[errors..].contains("| `s/e` | the harness panicked: boom |"),
            "{md}"
        );
        assert!(!md[failed..errors].contains("s/e`"), "{md}");
    }
}
