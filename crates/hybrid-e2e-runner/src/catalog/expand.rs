//! Matrix expansion: each raw test → one [`TestCase`] per matrix cell, with its name, tags,
//! operating systems, requirements (an `opt-in` cell: its tag and `Requirement::OptIn`) and
//! checked steps.

use std::collections::{BTreeMap, BTreeSet};

use super::error::Diagnostic;
use super::fixtures::FixtureSet;
use super::model::{Action, Check, Location, ObjectKind, Os, Requirement, Step, TestCase};
use super::parse::{RawSuite, RawTest};
use super::step::{read_step, Created};
use super::vars::{self, NAMESPACE};

/// The tag every cell that mixes operating systems carries.
pub(crate) const HYBRID: &str = "hybrid";

/// Expands every test of a suite; problems go to `diagnostics` (a cell with a problem is
/// left out).
pub(crate) fn expand_suite(
    suite: &RawSuite,
    fixtures: &FixtureSet,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<TestCase> {
    let mut cases = Vec::new();
    for test in &suite.tests {
        for cell in cells(&test.matrix) {
            match expand_cell(suite, test, &cell, fixtures) {
                Ok(case) => cases.push(case),
                Err(mut problems) => diagnostics.append(&mut problems),
            }
        }
    }
    cases
}

/// The cartesian product of the matrix, in declared order (the first key varies slowest).
/// No matrix gives one empty cell.
pub(crate) fn cells(matrix: &[(String, Vec<String>)]) -> Vec<Vec<(String, String)>> {
    let mut cells: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (key, values) in matrix {
        cells = cells
            .into_iter()
            .flat_map(|cell| {
                values.iter().map(move |value| {
                    let mut next = cell.clone();
                    next.push((key.clone(), value.clone()));
                    next
                })
            })
            .collect();
    }
    cells
}

/// `suite/test` or `suite/test[k=v,...]` with keys in declared order.
pub(crate) fn case_name(suite: &str, test: &str, cell: &[(String, String)]) -> String {
    if cell.is_empty() {
        return format!("{suite}/{test}");
    }
    let values: Vec<String> = cell.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{suite}/{test}[{}]", values.join(","))
}

fn expand_cell(
    suite: &RawSuite,
    test: &RawTest,
    cell: &[(String, String)],
    fixtures: &FixtureSet,
) -> Result<TestCase, Vec<Diagnostic>> {
    let file = suite.file.as_str();
    let lookup = |name: &str| cell.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let defined = || {
        let mut names: Vec<String> = cell.iter().map(|(k, _)| k.clone()).collect();
        names.push(NAMESPACE.to_string());
        names
    };
    let mut problems = Vec::new();
    let mut created: Created<'_> = BTreeMap::new();
    let mut steps = Vec::new();
    for (i, raw) in test.steps.iter().enumerate() {
        let path = format!("tests[{}].steps[{i}]", test.index);
        let mut node = raw.clone();
        let before = problems.len();
        vars::substitute_node(&mut node, &path, &lookup, &defined, &mut |n, at, e| {
            problems.push(Diagnostic::new(
                file,
                super::yaml::line_of(n),
                at,
                e.to_string(),
            ));
        });
        if problems.len() > before {
            continue;
        }
        match read_step(file, &path, &node, fixtures, &mut created) {
            Ok(step) => steps.push(step),
            Err(d) => problems.push(d),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let oses: BTreeSet<_> = steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Create { os, .. } => Some(*os),
            _ => None,
        })
        .collect();
    if test.linux_only.is_some() && oses.contains(&Os::Windows) {
        return Err(vec![Diagnostic::new(
            file,
            test.line,
            format!("tests[{}].linux-only", test.index),
            "the test is linux-only but a cell creates objects for windows",
        )]);
    }
    let mut tags: BTreeSet<String> = test.tags.iter().cloned().collect();
    tags.insert(suite.name.clone());
    tags.extend(oses.iter().map(|os| os.label().to_string()));
    if oses.len() > 1 {
        tags.insert(HYBRID.to_string());
    }
    let mut requires = test.requires.clone();
    requires.extend(oses.iter().map(|os| Requirement::Nodes(*os)));
    requires.extend(apart_on_nodes(&steps));
    if created
        .values()
        .any(|(_, fixture)| fixture.claims_storage())
    {
        requires.insert(Requirement::DefaultStorageClass);
    }
    if let Some(opt_in) = test.opt_in.as_ref().filter(|o| o.covers(cell)) {
        tags.insert(opt_in.tag.clone());
        requires.insert(Requirement::OptIn {
            tag: opt_in.tag.clone(),
            reason: opt_in.reason.clone(),
        });
    }
    Ok(TestCase {
        name: case_name(&suite.name, &test.name, cell),
        suite: suite.name.clone(),
        test: test.name.clone(),
        description: test.description.clone(),
        tags,
        cell: cell.iter().cloned().collect(),
        oses,
        requires,
        linux_only: test.linux_only.clone(),
        steps,
        location: Location {
            file: file.to_string(),
            line: test.line,
        },
    })
}

/// `TwoNodes(os)` for every `expect` that two pods of one OS run on different nodes:
/// `expect: { node-of: a, path: $.metadata.name, not-equals: "${node-name.b}" }`.
fn apart_on_nodes(steps: &[Step]) -> Vec<Requirement> {
    let os_of: BTreeMap<&str, Os> = steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Create { name, os, .. } => Some((name.as_str(), *os)),
            _ => None,
        })
        .collect();
    steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Expect {
                object,
                path,
                check: Check::NotEquals(serde_json::Value::String(other)),
                ..
            } if object.kind == ObjectKind::NodeOf && path == "$.metadata.name" => {
                let other = other.strip_prefix("${node-name.")?.strip_suffix('}')?;
                let os = *os_of.get(object.name.as_str())?;
                (os_of.get(other) == Some(&os)).then_some(Requirement::TwoNodes(os))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(spec: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        spec.iter()
            .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect()
    }

    #[test]
    fn cells_are_the_product_in_declared_order() {
        let m = matrix(&[
            ("server", &["linux", "windows"]),
            ("client", &["linux", "windows"]),
        ]);
        let names: Vec<String> = cells(&m)
            .iter()
            .map(|c| case_name("net", "p2p", c))
            .collect();
        assert_eq!(
            names,
            [
                "net/p2p[server=linux,client=linux]",
                "net/p2p[server=linux,client=windows]",
                "net/p2p[server=windows,client=linux]",
                "net/p2p[server=windows,client=windows]",
            ]
        );
        let m = matrix(&[("os", &["linux", "windows"]), ("size", &["1"])]);
        assert_eq!(cells(&m).len(), 2);
    }

    #[test]
    fn an_expect_that_two_pods_of_one_os_are_apart_requires_two_nodes_of_it() {
        let catalog = crate::catalog::Catalog::load(None, None).expect("embedded catalog");
        let requires = |name: &str| {
            catalog
                .tests
                .iter()
                .find(|t| t.name == name)
                .map(|t| t.requires.clone())
                .unwrap_or_default()
        };
        for os in [Os::Linux, Os::Windows] {
            let other = requires(&format!("networking/pod-to-pod-other-node[os={os}]"));
            assert!(other.contains(&Requirement::TwoNodes(os)), "{other:?}");
            let same = requires(&format!("networking/pod-to-pod-same-node[os={os}]"));
            assert!(!same.contains(&Requirement::TwoNodes(os)), "{same:?}");
        }
    }

    #[test]
    fn no_matrix_is_one_cell_without_brackets() {
        let all = cells(&[]);
        assert_eq!(all.len(), 1);
        assert_eq!(case_name("s", "t", &all[0]), "s/t");
    }
}
