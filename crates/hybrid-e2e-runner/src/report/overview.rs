//! What the human-facing reports (`summary.md`, `report.html`) say about a run besides its
//! tests: the facts of the run, and the skipped tests grouped by reason. Plain text; each
//! report escapes it its own way.

use super::model::{Outcome, RunReport};
use super::sanitize;

/// Most test names listed under one skip reason; the rest are counted.
pub const MAX_SKIP_NAMES: usize = 50;

/// One fact of the run (`cluster v1.33.0`): a label and a value, the value code or prose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    /// `cluster`, `nodes`, ...
    pub label: &'static str,
    /// The value, unescaped.
    pub value: String,
    /// Whether the value is a literal (a version, a tag expression) to set as code.
    pub code: bool,
}

/// The facts of the run, in the order the reports show them.
pub fn facts(report: &RunReport) -> Vec<Fact> {
    let info = &report.info;
    let fact = |label, value: String, code| Fact { label, value, code };
    let mut out = Vec::new();
    if let Some(v) = &info.cluster_version {
        out.push(fact("cluster", v.clone(), true));
    }
    if !info.nodes.is_empty() {
        out.push(fact("nodes", info.nodes.join(", "), true));
    }
    if let Some(domain) = &info.cluster_domain {
        out.push(fact("cluster domain", domain.to_string(), false));
    }
    if let Some(t) = &info.tag_expression {
        out.push(fact("tags", t.clone(), true));
    }
    if !info.name_filter.is_empty() {
        out.push(fact("filter", info.name_filter.join(" "), true));
    }
    if let Some(shard) = info.shard {
        out.push(fact("shard", shard.to_string(), false));
    }
    if info.api_retries > 0 {
        out.push(fact(
            "API requests retried",
            info.api_retries.to_string(),
            false,
        ));
    }
    out.push(fact("harness", info.harness_version.clone(), false));
    out
}

/// The skipped tests under one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipGroup<'a> {
    /// Why (cleaned and bounded).
    pub reason: String,
    /// How many tests were skipped for it.
    pub count: usize,
    /// The first [`MAX_SKIP_NAMES`] of their names, in run order.
    pub names: Vec<&'a str>,
}

impl SkipGroup<'_> {
    /// The names, each written by `name`, joined by commas; `and N more` for the unlisted.
    pub fn listed(&self, name: impl Fn(&str) -> String) -> String {
        let mut names: Vec<String> = self.names.iter().map(|n| name(n)).collect();
        if self.count > names.len() {
            names.push(format!("and {} more", self.count - names.len()));
        }
        names.join(", ")
    }
}

/// The skipped tests grouped by reason, reasons in the order they first appear.
pub fn skips_by_reason(report: &RunReport) -> Vec<SkipGroup<'_>> {
    let mut groups: Vec<SkipGroup<'_>> = Vec::new();
    for r in report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Skipped)
    {
        let reason = r.skip_reason.as_deref().unwrap_or("no reason given");
        let reason = sanitize::message(reason);
        let at = groups.iter().position(|g| g.reason == reason);
        let group = match at {
            Some(i) => &mut groups[i],
            None => {
                groups.push(SkipGroup {
                    reason,
                    count: 0,
                    names: Vec::new(),
                });
                let last = groups.len() - 1;
                &mut groups[last]
            }
        };
        group.count += 1;
        if group.names.len() < MAX_SKIP_NAMES {
            group.names.push(&r.name);
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::TestResult;

    fn skipped(name: &str, reason: Option<&str>) -> TestResult {
        TestResult {
            skip_reason: reason.map(str::to_string),
            ..crate::report::tests::result(name, Outcome::Skipped)
        }
    }

    #[test]
    fn groups_skips_and_bounds_the_names() {
        let mut results: Vec<TestResult> = (0..MAX_SKIP_NAMES + 5)
            .map(|i| skipped(&format!("s/t{i}"), Some("no windows")))
            .collect();
        results.insert(1, skipped("s/x", None));
        let report = RunReport {
            results,
            ..crate::report::tests::report()
        };
        let groups = skips_by_reason(&report);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].reason, "no windows");
        assert_eq!(groups[0].count, MAX_SKIP_NAMES + 5);
        assert_eq!(groups[0].names.len(), MAX_SKIP_NAMES);
        assert_eq!(groups[1].reason, "no reason given");
        assert_eq!(groups[1].names, ["s/x"]);
        assert!(groups[0]
            .listed(|n| format!("<{n}>"))
            .starts_with("<s/t0>, <s/t1>, "));
        assert!(groups[0]
            .listed(str::to_string)
            .ends_with(", s/t49, and 5 more"));
    }

    #[test]
    fn facts_end_with_the_harness_version() {
        let facts = facts(&crate::report::tests::report());
        assert_eq!(
            facts,
            [Fact {
                label: "harness",
                value: "0.1.0".into(),
                code: false
            }]
        );
    }
}
