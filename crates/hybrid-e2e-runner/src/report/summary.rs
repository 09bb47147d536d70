//! `summary.md`: a short Markdown summary of a run (counts, the OS matrix of the checks whose
//! cells are named by OS, failed tests with their messages, tests the harness could not check
//! (errors), skips grouped by reason), fit for a GitHub step summary (bounded by
//! [`MAX_SUMMARY_BYTES`]); and the outcome counts.

use std::fmt::Write as _;

use serde::Serialize;

use super::model::{Outcome, RunReport};
use super::{grid, overview, sanitize};

/// Largest `summary.md`, in bytes: below GitHub's 1 MiB cap on a step summary, with room for
/// what a workflow appends.
pub const MAX_SUMMARY_BYTES: usize = 1000 * 1024;

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

    /// Counts one more test that ended with `result`.
    pub fn add(&mut self, result: &super::model::TestResult) {
        match result.outcome {
            Outcome::Passed => {
                self.passed += 1;
                self.flaky += usize::from(result.is_flaky());
            }
            Outcome::Failed => self.failed += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Error => self.errored += 1,
        }
    }
}

/// Counts the outcomes of `report`'s tests (an aborted run's error is not a test).
pub fn counts(report: &RunReport) -> Counts {
    let mut c = Counts::default();
    for r in &report.results {
        c.add(r);
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
    let facts: Vec<String> = overview::facts(report)
        .into_iter()
        .map(|f| match f.code {
            true => format!("{} `{}`", f.label, code(&f.value)),
            false => format!("{} {}", f.label, cell(&f.value)),
        })
        .collect();
    let _ = writeln!(out, "{}\n", facts.join(" · "));

    if let Some(reason) = &report.aborted {
        let _ = writeln!(out, "> **Run aborted:** {}\n", cell(reason));
    }
    if let Some(what) = &report.prepull {
        let _ = writeln!(out, "> **Pre-pull failed:** {}\n", cell(what));
    }

    grid_tables(&mut out, report);
    for (outcome, heading) in [
        (Outcome::Failed, "### Failed"),
        (Outcome::Error, "### Errors (the harness could not check)"),
    ] {
        table_of(&mut out, report, outcome, heading);
    }
    flaky_table(&mut out, report);

    let skips = overview::skips_by_reason(report);
    if !skips.is_empty() {
        out.push_str("### Skipped\n\n");
        for group in skips {
            let _ = writeln!(
                out,
                "- {} ({}): {}",
                cell(&group.reason),
                group.count,
                group.listed(|n| format!("`{}`", code(n)))
            );
        }
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    cap(out, MAX_SUMMARY_BYTES)
}

/// `out` if it fits in `max` bytes; otherwise its first whole lines and a closing note saying
/// it was cut, within `max` bytes altogether.
fn cap(mut out: String, max: usize) -> String {
    if out.len() <= max {
        return out;
    }
    let note = format!(
        "\n\n> **summary.md cut at {} KiB** (GitHub caps a step summary at 1 MiB): see \
         report.html, results.json and junit.xml for the rest.\n",
        max / 1024
    );
    let mut end = max.saturating_sub(note.len());
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    end = out[..end].rfind('\n').unwrap_or(0);
    out.truncate(end);
    out.push_str(&note);
    out
}

/// The OS matrix: a client × server table per check, then one table of the single-OS checks
/// (nothing when no test has OS matrix values).
fn grid_tables(out: &mut String, report: &RunReport) {
    let grids = grid::grids(report);
    if grids.is_empty() {
        return;
    }
    let legend: Vec<String> = grid::legend(&grids)
        .into_iter()
        .map(|o| format!("{} {}", grid::symbol(o), grid::outcome_word(o)))
        .collect();
    let _ = write!(out, "### OS matrix\n\n{}\n\n", legend.join(" · "));
    let (pairs, singles): (Vec<_>, Vec<_>) = grids.iter().partition(|g| g.is_client_server());
    for g in pairs {
        let _ = write!(out, "| `{}` client ↓ server → |", table_code(&g.check));
        header_cells(out, 1, &g.columns);
        for (row, cells) in g.rows.iter().zip(&g.cells) {
            let _ = write!(out, "| **{}** |", cell(row));
            for c in cells {
                let _ = write!(out, " {} |", grid::symbol(c.as_ref().map(|c| c.outcome)));
            }
            out.push('\n');
        }
        out.push('\n');
    }
    if singles.is_empty() {
        return;
    }
    let mut columns: Vec<String> = Vec::new();
    for g in &singles {
        for c in &g.columns {
            if !columns.contains(c) {
                columns.push(c.clone());
            }
        }
    }
    grid::sort_oses(&mut columns);
    out.push_str("| Check | OS of |");
    header_cells(out, 2, &columns);
    for g in singles {
        let key = match &g.shape {
            grid::GridShape::Single(key) => key.as_str(),
            grid::GridShape::ClientServer => "",
        };
        let _ = write!(out, "| `{}` | {} |", table_code(&g.check), cell(key));
        for column in &columns {
            let _ = write!(out, " {} |", grid::symbol(g.single(column)));
        }
        out.push('\n');
    }
    out.push('\n');
}

/// The rest of a grid table's header after its `leading` first cells: one centred column per
/// OS, then the delimiter row.
fn header_cells(out: &mut String, leading: usize, columns: &[String]) {
    for c in columns {
        let _ = write!(out, " {} |", cell(c));
    }
    out.push_str("\n|");
    for _ in 0..leading {
        out.push_str(" --- |");
    }
    for _ in columns {
        out.push_str(" :-: |");
    }
    out.push('\n');
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
    use crate::report::tests::result;
    use std::time::Duration;

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
                shard: None,
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
        assert!(!md.contains("shard"), "a whole run names no shard: {md}");
        let sharded = RunReport {
            info: RunInfo {
                shard: "2/3".parse().ok(),
                ..report.info.clone()
            },
            ..report.clone()
        };
        assert!(render_summary(&sharded).contains(" · shard 2/3 · "));
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
        assert!(
            md.contains(
                "### OS matrix\n\n⏭ skipped\n\n| Check | OS of | windows |\n| --- | --- | :-: |\n\
                 | `s/a` | os | ⏭ |\n| `s/b` | os | ⏭ |\n"
            ),
            "{md}"
        );
    }

    #[test]
    fn draws_a_client_server_grid_before_the_failures() {
        let mut f = result("n/p|2p[client=linux,server=windows]", Outcome::Failed);
        f.message = Some("dropped".into());
        let report = RunReport {
            results: vec![
                result("n/p|2p[client=linux,server=linux]", Outcome::Passed),
                f,
                result("n/p|2p[client=windows,server=linux]", Outcome::Error),
                result("n/dns[client=linux]", Outcome::Passed),
            ],
            ..crate::report::tests::report()
        };
        let md = render_summary(&report);
        let grid = "### OS matrix\n\n✅ passed · ❌ failed · ⚠ error · — not in the run\n\n\
                    | `n/p\\|2p` client ↓ server → | linux | windows |\n\
                    | --- | :-: | :-: |\n\
                    | **linux** | ✅ | ❌ |\n\
                    | **windows** | ⚠ | — |\n\n\
                    | Check | OS of | linux |\n| --- | --- | :-: |\n| `n/dns` | client | ✅ |\n\n\
                    ### Failed\n";
        assert!(md.contains(grid), "{md}");
    }

    #[test]
    fn a_huge_summary_is_cut_at_whole_lines_and_says_so() {
        let results: Vec<TestResult> = (0..3_000)
            .map(|i| {
                let mut f = result(&format!("s/t{i}"), Outcome::Failed);
                f.message = Some("y".repeat(2_000));
                f
            })
            .collect();
        let report = RunReport {
            results,
            ..crate::report::tests::report()
        };
        let md = render_summary(&report);
        assert!(md.len() <= MAX_SUMMARY_BYTES, "{}", md.len());
        assert!(
            md.ends_with(
                "\n\n> **summary.md cut at 1000 KiB** (GitHub caps a step summary at 1 MiB): see \
                 report.html, results.json and junit.xml for the rest.\n"
            ),
            "{}",
            &md[md.len() - 300..]
        );
        let before = md
            .rsplit("\n\n> **summary.md cut")
            .nth(1)
            .unwrap_or_default();
        assert!(before.ends_with(" |"), "a whole table row last");
        assert_eq!(cap("short".into(), 10), "short");
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
