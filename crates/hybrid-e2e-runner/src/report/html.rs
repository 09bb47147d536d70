//! `report.html`: one self-contained page of a run for people (counts and facts, the OS matrix
//! of the checks whose cells are named by OS, failures and errors with their messages, flaky
//! tests, skips grouped by reason). Inline CSS only: no scripts, no external URLs (a
//! Content-Security-Policy forbids loading anything), every text HTML-escaped.
//!
//! For tests and tools the grids are marked up: each client × server grid is a
//! `<table class="os-grid" id="grid-…" data-check="suite/test">` whose cells are
//! `<td class="cell OUTCOME" data-client="…" data-server="…" data-outcome="OUTCOME">`; the
//! single-OS checks share `<table class="os-grid single" id="grid-single">`, one
//! `<tr data-check="…" data-key="os">` each, cells `data-os="…"`. OUTCOME is `passed`,
//! `failed`, `error`, `skipped` or `absent`.

use std::fmt::Write as _;

use super::grid::{self, Grid, GridShape};
use super::model::{Outcome, RunReport};
use super::summary::counts;
use super::{overview, sanitize};

/// The page's style: readable at 1200 px, printable, no external fonts.
const STYLE: &str = "
body { font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1f2328;
  margin: 24px auto; max-width: 1160px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 18px; margin: 28px 0 10px;
  border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
code, pre { font: 13px/1.4 ui-monospace, 'DejaVu Sans Mono', monospace; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; }
.counts span { display: inline-block; padding: 2px 10px; margin-right: 6px; border-radius: 12px;
  font-weight: 600; }
.facts { color: #57606a; }
.grids { display: flex; flex-wrap: wrap; gap: 16px; }
table { border-collapse: collapse; }
table.os-grid caption { caption-side: top; text-align: left; padding: 0 0 4px; font-weight: 600; }
table.os-grid th, table.os-grid td { border: 1px solid #d0d7de; padding: 6px 12px; }
table.os-grid th { background: #f6f8fa; font-weight: 600; }
table.single { margin-top: 16px; }
th.check { text-align: left; font-weight: normal; }
th.corner { font-size: 12px; color: #57606a; font-weight: normal; }
td.cell { text-align: center; min-width: 84px; font-weight: 600; }
.passed { background: #dafbe1; color: #116329; }
.failed { background: #ffebe9; color: #a40e26; }
.error { background: #fff8c5; color: #7d4e00; }
.skipped { background: #eaeef2; color: #57606a; }
.absent { background: #ffffff; color: #8c959f; }
.legend span { display: inline-block; padding: 1px 8px; margin-right: 4px; border-radius: 4px; }
table.results { width: 100%; }
table.results th, table.results td { border: 1px solid #d0d7de; padding: 6px 8px;
  text-align: left; vertical-align: top; }
table.results th { background: #f6f8fa; }
table.results td.name { width: 34%; word-break: break-all; }
.artifacts { color: #57606a; font-size: 13px; }
ul.skips li { margin-bottom: 6px; }
";

/// Renders `report` as one HTML page.
pub fn render_html(report: &RunReport) -> String {
    let info = &report.info;
    let c = counts(report);
    let mut out = String::new();
    let title = format!("hybrid-e2e run {}", esc(&info.run_id));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n\
         <h1>hybrid-e2e run <code>{}</code></h1>\n<p class=\"counts\">",
        esc(&info.run_id)
    );
    for (n, class, word) in [
        (c.passed, "passed", "passed"),
        (c.failed, "failed", "failed"),
        (c.errored, "error", "errors"),
        (c.skipped, "skipped", "skipped"),
    ] {
        if n == 0 && class == "error" {
            continue;
        }
        let _ = write!(out, "<span class=\"{class}\">{n} {word}</span>");
    }
    if c.flaky > 0 {
        let _ = write!(out, "<span class=\"error\">{} flaky</span>", c.flaky);
    }
    let _ = writeln!(
        out,
        " of {} in {:.1}s</p>",
        c.total(),
        info.duration.as_secs_f64()
    );
    let facts: Vec<String> = overview::facts(report)
        .into_iter()
        .map(|f| match f.code {
            true => format!("{} <code>{}</code>", esc(f.label), esc(&f.value)),
            false => format!("{} {}", esc(f.label), esc(&f.value)),
        })
        .collect();
    let _ = writeln!(out, "<p class=\"facts\">{}</p>", facts.join(" · "));
    if let Some(reason) = &report.aborted {
        let _ = writeln!(
            out,
            "<p class=\"failed aborted\"><strong>Run aborted:</strong> {}</p>",
            esc(&sanitize::message(reason))
        );
    }
    if let Some(what) = &report.prepull {
        let _ = writeln!(
            out,
            "<p class=\"failed prepull\"><strong>Pre-pull failed:</strong> {}</p>",
            esc(&sanitize::message(what))
        );
    }
    out.push_str("</header>\n");

    grids_section(&mut out, report);
    for (outcome, id, heading) in [
        (Outcome::Failed, "failed", "Failed"),
        (
            Outcome::Error,
            "errors",
            "Errors (the harness could not check)",
        ),
    ] {
        results_section(&mut out, report, outcome, id, heading);
    }
    flaky_section(&mut out, report);
    skips_section(&mut out, report);
    out.push_str("</body>\n</html>\n");
    out
}

/// The OS matrix section (nothing when no test has OS matrix values).
fn grids_section(out: &mut String, report: &RunReport) {
    let grids = grid::grids(report);
    if grids.is_empty() {
        return;
    }
    out.push_str("<section id=\"os-matrix\">\n<h2>OS matrix</h2>\n<p class=\"legend\">");
    for outcome in grid::legend(&grids) {
        let _ = write!(
            out,
            "<span class=\"{}\">{} {}</span>",
            grid::outcome_name(outcome),
            mark(outcome),
            grid::outcome_word(outcome)
        );
    }
    out.push_str("</p>\n<div class=\"grids\">\n");
    let (pairs, singles): (Vec<&Grid>, Vec<&Grid>) =
        grids.iter().partition(|g| g.is_client_server());
    let mut ids: Vec<String> = Vec::new();
    for g in pairs {
        pair_table(out, g, &mut ids);
    }
    out.push_str("</div>\n");
    if !singles.is_empty() {
        single_table(out, &singles);
    }
    out.push_str("</section>\n");
}

/// One client × server grid.
fn pair_table(out: &mut String, g: &Grid, ids: &mut Vec<String>) {
    let id = unique_id(&g.check, ids);
    let _ = write!(
        out,
        "<table class=\"os-grid\" id=\"{id}\" data-check=\"{check}\">\n\
         <caption><code>{check}</code></caption>\n\
         <thead><tr><th class=\"corner\">client ↓ · server →</th>",
        check = esc(&g.check)
    );
    for c in &g.columns {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(c));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (row, cells) in g.rows.iter().zip(&g.cells) {
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", esc(row));
        for (column, cell) in g.columns.iter().zip(cells) {
            let attrs = format!(
                "data-client=\"{}\" data-server=\"{}\"",
                esc(row),
                esc(column)
            );
            grid_cell(out, &attrs, cell.as_ref());
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// The table of the single-OS checks, a row each, a column per OS.
fn single_table(out: &mut String, singles: &[&Grid]) {
    let mut columns: Vec<String> = Vec::new();
    for g in singles {
        for c in &g.columns {
            if !columns.contains(c) {
                columns.push(c.clone());
            }
        }
    }
    grid::sort_oses(&mut columns);
    out.push_str(
        "<table class=\"os-grid single\" id=\"grid-single\">\n\
         <caption>Checks with one OS per cell</caption>\n\
         <thead><tr><th>check</th><th>OS of</th>",
    );
    for c in &columns {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(c));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for g in singles {
        let key = match &g.shape {
            GridShape::Single(key) => key.as_str(),
            GridShape::ClientServer => "",
        };
        let _ = write!(
            out,
            "<tr data-check=\"{check}\" data-key=\"{key}\"><th scope=\"row\" class=\"check\"><code>{check}</code></th><td>{key}</td>",
            check = esc(&g.check),
            key = esc(key)
        );
        for column in &columns {
            let at = g.columns.iter().position(|c| c == column);
            let cell = at.and_then(|i| g.cells.first()?.get(i)?.as_ref());
            grid_cell(out, &format!("data-os=\"{}\"", esc(column)), cell);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// One `<td>` of a grid: its outcome as class, attribute and symbol, the test's name as title.
fn grid_cell(out: &mut String, attrs: &str, cell: Option<&grid::GridCell>) {
    let outcome = cell.map(|c| c.outcome);
    let name = grid::outcome_name(outcome);
    let title = match cell {
        Some(c) => format!("{}: {name}", esc(&c.name)),
        None => "not in the run".to_string(),
    };
    let _ = write!(
        out,
        "<td class=\"cell {name}\" {attrs} data-outcome=\"{name}\" title=\"{title}\">{} {}</td>",
        mark(outcome),
        if outcome.is_some() { name } else { "" }
    );
}

/// The mark of an outcome in a grid cell: ✓ passed, ✗ failed, ⚠ error, ↷ skipped, — not in
/// the run. Unlike the emoji of `summary.md`, these are in the common text fonts (DejaVu,
/// Liberation, Segoe UI), so the page reads the same where no emoji font is installed.
fn mark(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Passed) => "✓",
        Some(Outcome::Failed) => "✗",
        Some(Outcome::Error) => "⚠",
        Some(Outcome::Skipped) => "↷",
        None => "—",
    }
}

/// `grid-<slug of check>`, made unique among `ids` (which it joins).
fn unique_id(check: &str, ids: &mut Vec<String>) -> String {
    let slug: String = check
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    let base = format!("grid-{}", slug.trim_matches('-'));
    let mut id = base.clone();
    let mut n = 2;
    while ids.contains(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    ids.push(id.clone());
    id
}

/// A section listing the tests that ended with `outcome` and their bounded messages.
fn results_section(
    out: &mut String,
    report: &RunReport,
    outcome: Outcome,
    id: &str,
    heading: &str,
) {
    let rows: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.outcome == outcome)
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<section id=\"{id}\">\n<h2>{heading} ({})</h2>\n<table class=\"results\">\n\
         <thead><tr><th>Test</th><th>Message</th></tr></thead>\n<tbody>\n",
        rows.len()
    );
    for r in rows {
        let message = sanitize::message(r.message.as_deref().unwrap_or("failed"));
        let _ = write!(
            out,
            "<tr><td class=\"name {}\"><code>{}</code></td><td><pre>{}</pre>",
            grid::outcome_name(Some(outcome)),
            esc(&r.name),
            esc(&message)
        );
        if let Some(dir) = &r.artifacts {
            let _ = write!(
                out,
                "<div class=\"artifacts\">artifacts: <code>{}</code></div>",
                esc(&dir.display().to_string())
            );
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// The tests that passed after failing, with their failed attempts and first failure.
fn flaky_section(out: &mut String, report: &RunReport) {
    let rows: Vec<_> = report.results.iter().filter(|r| r.is_flaky()).collect();
    if rows.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"flaky\">\n<h2>Flaky (passed after failing)</h2>\n<table class=\"results\">\n\
         <thead><tr><th>Test</th><th>Failed attempts</th><th>First failure</th></tr></thead>\n<tbody>\n",
    );
    for r in rows {
        let first = r.attempts.first().and_then(|a| a.message.as_deref());
        let _ = writeln!(
            out,
            "<tr><td class=\"name\"><code>{}</code></td><td>{}</td><td><pre>{}</pre></td></tr>",
            esc(&r.name),
            r.attempts.len(),
            esc(&sanitize::message(first.unwrap_or("failed")))
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// The skipped tests grouped by reason: reason, count, names.
fn skips_section(out: &mut String, report: &RunReport) {
    let groups = overview::skips_by_reason(report);
    if groups.is_empty() {
        return;
    }
    out.push_str("<section id=\"skipped\">\n<h2>Skipped</h2>\n<ul class=\"skips\">\n");
    for g in groups {
        let _ = writeln!(
            out,
            "<li><strong>{}</strong> ({}): {}</li>",
            esc(&g.reason),
            g.count,
            g.listed(|n| format!("<code>{}</code>", esc(n)))
        );
    }
    out.push_str("</ul>\n</section>\n");
}

/// `s` cleaned of control characters and escaped for HTML text and quoted attributes.
fn esc(s: &str) -> String {
    let s = sanitize::clean(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::TestResult;
    use crate::report::tests::result;

    const NASTY: &str = "\x1b[31mERR\x1b[0m \x00 <script>alert('x')</script> & &amp; \"q\" 🚀\r\n";

    fn report(results: Vec<TestResult>) -> RunReport {
        RunReport {
            results,
            ..crate::report::tests::report()
        }
    }

    /// The `<td>` of the grid `id` at client `row`, server `column`.
    fn cell<'a>(html: &'a str, id: &str, row: &str, column: &str) -> &'a str {
        let table = &html[html.find(&format!("id=\"{id}\"")).expect(id)..];
        let table = &table[..table.find("</table>").expect("table ends")];
        let at = table
            .find(&format!("data-client=\"{row}\" data-server=\"{column}\""))
            .expect("cell");
        let start = table[..at].rfind("<td").expect("td");
        &table[start..start + table[start..].find("</td>").expect("td ends")]
    }

    #[test]
    fn marks_each_grid_cell_with_its_outcome() {
        let html = render_html(&report(vec![
            result("networking/p2p[client=linux,server=linux]", Outcome::Passed),
            result(
                "networking/p2p[client=linux,server=windows]",
                Outcome::Failed,
            ),
            result(
                "networking/p2p[client=windows,server=linux]",
                Outcome::Skipped,
            ),
            result("networking/same[os=windows]", Outcome::Error),
            result("networking/dns[client=linux]", Outcome::Passed),
        ]));
        let id = "grid-networking-p2p";
        assert!(cell(&html, id, "linux", "linux").contains("class=\"cell passed\""));
        assert!(cell(&html, id, "linux", "windows").contains("data-outcome=\"failed\""));
        assert!(cell(&html, id, "linux", "windows").contains("✗ failed"));
        assert!(cell(&html, id, "windows", "linux").contains("↷ skipped"));
        assert!(cell(&html, id, "linux", "linux")
            .contains("title=\"networking/p2p[client=linux,server=linux]: passed\">✓ passed"));
        assert!(cell(&html, id, "windows", "windows").contains("data-outcome=\"absent\""));
        let single = &html[html.find("id=\"grid-single\"").expect("single")..];
        assert!(single.contains("data-check=\"networking/same\" data-key=\"os\""));
        assert!(single.contains("data-os=\"windows\" data-outcome=\"error\""));
        assert!(single.contains("data-os=\"linux\" data-outcome=\"absent\""));
        assert!(single.contains("data-check=\"networking/dns\" data-key=\"client\""));
        let grid_at = html.find("id=\"os-matrix\"").expect("matrix");
        let failed_at = html.find("id=\"failed\"").expect("failed section");
        let skipped_at = html.find("id=\"skipped\"").expect("skipped section");
        assert!(grid_at < failed_at && failed_at < skipped_at);
    }

    #[test]
    fn a_failed_prepull_is_said_in_the_header_escaped() {
        let mut r = report(vec![result("a/x", Outcome::Passed)]);
        r.prepull = Some("windows-node-1: <pause>: no match for platform".into());
        let html = render_html(&r);
        let header = &html[..html.find("</header>").expect("a header")];
        assert!(
            header.contains("<strong>Pre-pull failed:</strong> windows-node-1: &lt;pause&gt;: no match for platform"),
            "{header}"
        );
        assert!(!render_html(&report(vec![])).contains("Pre-pull failed"));
    }

    #[test]
    fn escapes_names_messages_and_reasons_and_loads_nothing() {
        let mut f = result(
            &format!("odd/<b>{NASTY}[client=linux,server=x\"y]"),
            Outcome::Failed,
        );
        f.message = Some(format!("step 1: {NASTY}"));
        let mut s = result("odd/skip", Outcome::Skipped);
        s.skip_reason = Some(NASTY.into());
        let mut r = report(vec![f, s]);
        r.info.run_id = NASTY.into();
        r.aborted = Some(NASTY.into());
        let html = render_html(&r);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(!html.contains('\x1b') && !html.contains('\0'), "{html}");
        assert!(html.contains(
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &amp;amp; &quot;q&quot; 🚀"
        ));
        assert!(html.contains("data-server=\"x&quot;y\""), "{html}");
        for external in ["http:", "https:", "src=", "href=", "url("] {
            assert!(!html.contains(external), "{external} in {html}");
        }
        assert!(html.contains("default-src 'none'"));
    }

    #[test]
    fn ids_are_unique_slugs() {
        let mut ids = Vec::new();
        assert_eq!(unique_id("a/B c", &mut ids), "grid-a-b-c");
        assert_eq!(unique_id("a/b-c", &mut ids), "grid-a-b-c-2");
        assert_eq!(unique_id("a/b-c", &mut ids), "grid-a-b-c-3");
    }

    #[test]
    fn lists_failures_errors_flaky_and_skips() {
        let mut f = result("s/f", Outcome::Failed);
        f.message = Some("x".repeat(100_000));
        f.artifacts = Some("reports/r1/artifacts/s_f".into());
        let mut e = result("s/e", Outcome::Error);
        e.message = Some("the harness panicked".into());
        let mut s = result("s/s", Outcome::Skipped);
        s.skip_reason = Some("no windows".into());
        let html = render_html(&report(vec![f, e, s.clone(), s]));
        assert!(html.len() < 20_000, "messages are bounded: {}", html.len());
        assert!(html.contains("<h2>Failed (1)</h2>"));
        assert!(html.contains("artifacts: <code>reports/r1/artifacts/s_f</code>"));
        assert!(html.contains("<h2>Errors (the harness could not check) (1)</h2>"));
        assert!(html.contains(
            "<li><strong>no windows</strong> (2): <code>s/s</code>, <code>s/s</code></li>"
        ));
        assert!(!html.contains("os-matrix"), "no OS cells, no grid");
    }
}
