//! The `doctor` report: what the cluster offers (version, nodes and their state, the default
//! StorageClass) and which of the selected tests would run or skip there, skips grouped by
//! reason. A node whose taints keep the test pods off says so, with the taints (those
//! `--tolerate` tolerates do not count), and a Windows build that an image of the catalogue
//! has no variant for is a warning (its cells skip, saying so). Plain text for stdout; the
//! cluster was read already.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::catalog::TestCase;
use crate::cluster::ClusterFacts;
use crate::fixture::{FixtureSet, Images};

/// The `doctor` report: the cluster, its nodes, and what would run or skip (and why), the
/// cells' images being `images` and their objects `fixtures`'.
pub fn render_doctor(
    facts: &ClusterFacts,
    server: &str,
    cases: &[TestCase],
    fixtures: &FixtureSet,
    images: &Images,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Cluster   {server} ({})",
        facts.version.as_deref().unwrap_or("unknown version")
    );
    let _ = writeln!(
        out,
        "Nodes     {}",
        if facts.nodes.is_empty() { "none" } else { "" }
    );
    for node in &facts.nodes {
        let os = node
            .os
            .map(|o| o.to_string())
            .unwrap_or_else(|| "unknown OS".to_string());
        let build = node
            .windows_build
            .as_deref()
            .map(|b| format!(" {b}"))
            .unwrap_or_default();
        let state = match (node.ready, node.schedulable) {
            (true, true) => "Ready",
            (true, false) => "Ready, cordoned",
            (false, _) => "NotReady",
        };
        let taints = if node.untolerated_taints.is_empty() {
            String::new()
        } else {
            format!(
                ", test pods do not tolerate {}",
                node.untolerated_taints.join(", ")
            )
        };
        let _ = writeln!(out, "  {:30} {os}{build:12} {state}{taints}", node.name);
    }
    let _ = writeln!(
        out,
        "Storage   default StorageClass: {}",
        facts.default_storage_class.as_deref().unwrap_or("none")
    );
    for warning in facts.windows_build_warnings(images.iter().map(|(_, image)| image)) {
        let _ = writeln!(out, "Warning   {warning}");
    }
    let mut skips: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for case in cases {
        let windows_images = crate::windows_build::windows_images(case, fixtures, images);
        let reasons: Vec<String> = facts
            .skip_reason(case, &Default::default())
            .into_iter()
            .chain(facts.windows_build_problem(&windows_images))
            .collect();
        if !reasons.is_empty() {
            skips
                .entry(reasons.join("; "))
                .or_default()
                .push(&case.name);
        }
    }
    let skipped: usize = skips.values().map(Vec::len).sum();
    let _ = writeln!(
        out,
        "Tests     {} would run, {skipped} would skip",
        cases.len() - skipped
    );
    for (reason, names) in &skips {
        let _ = writeln!(out, "  skip ({}): {reason}", names.len());
        for name in names {
            let _ = writeln!(out, "    {name}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Os, Requirement};
    use crate::cluster::tests::{case, node};

    #[test]
    fn doctor_groups_skips_by_reason() {
        let facts = ClusterFacts {
            version: Some("v1.33.1".into()),
            nodes: vec![node("l1", Os::Linux, true)],
            default_storage_class: None,
            ..Default::default()
        };
        let mut windows = case(&[Requirement::Nodes(Os::Windows)]);
        windows.name = "s/t[os=windows]".into();
        let text = render_doctor(
            &facts,
            "https://c",
            &[case(&[Requirement::Nodes(Os::Linux)]), windows],
            &FixtureSet::default(),
            &Images::default(),
        );
        assert!(text.contains("1 would run, 1 would skip"), "{text}");
        assert!(
            text.contains(
                "skip (1): no Ready node with kubernetes.io/os=windows\n    s/t[os=windows]"
            ),
            "{text}"
        );
        assert!(text.contains("l1"), "{text}");
    }

    #[test]
    fn doctor_warns_of_a_windows_build_an_image_has_no_variant_for() {
        let mut old = node("w1", Os::Windows, true);
        old.windows_build = Some("10.0.19041".into());
        let facts = ClusterFacts {
            nodes: vec![node("w2", Os::Windows, true), old],
            ..Default::default()
        };
        let text = render_doctor(
            &facts,
            "https://c",
            &[],
            &FixtureSet::default(),
            &Images::default(),
        );
        assert!(
            text.contains("Warning   Windows build 10.0.19041 (w1): image registry.k8s.io/pause:3.10.2 serves Windows builds 10.0.17763, 10.0.20348, 10.0.26100 only; Windows cells that run it skip\n"),
            "{text}"
        );
        // stress is Linux only: no warning for it; w2 (10.0.20348) is served.
        assert!(!text.contains("stress"), "{text}");
        assert!(!text.contains("10.0.20348 ("), "{text}");
    }

    #[test]
    fn doctor_shows_the_taints_that_keep_test_pods_off_and_the_skip_they_cause() {
        let mut tainted = node("l2", Os::Linux, true);
        tainted.untolerated_taints = vec!["CriticalAddonsOnly=true:NoSchedule".into()];
        let facts = ClusterFacts {
            nodes: vec![node("l1", Os::Linux, true), tainted],
            ..Default::default()
        };
        let mut other_node = case(&[Requirement::TwoNodes(Os::Linux)]);
        other_node.name = "s/other-node[os=linux]".into();
        let text = render_doctor(
            &facts,
            "https://c",
            &[other_node],
            &FixtureSet::default(),
            &Images::default(),
        );
        assert!(
            text.contains("l2                             linux             Ready, test pods do not tolerate CriticalAddonsOnly=true:NoSchedule\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "; --tolerate CriticalAddonsOnly=true:NoSchedule would let the tests use l2\n    s/other-node[os=linux]"
            ),
            "{text}"
        );
    }

    #[test]
    fn doctor_shows_opt_in_cells_as_skips_with_the_tag_that_selects_them() {
        let facts = ClusterFacts {
            nodes: vec![node("l1", Os::Linux, true)],
            ..Default::default()
        };
        let mut opt_in = case(&[Requirement::OptIn {
            tag: "later".into(),
            reason: "not yet".into(),
        }]);
        opt_in.name = "s/opt".into();
        let text = render_doctor(
            &facts,
            "https://c",
            &[opt_in],
            &FixtureSet::default(),
            &Images::default(),
        );
        assert!(text.contains("0 would run, 1 would skip"), "{text}");
        assert!(
            text.contains("skip (1): not yet; opt-in: select it with --tags later\n    s/opt"),
            "{text}"
        );
    }
}
