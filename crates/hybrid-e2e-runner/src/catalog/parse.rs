//! Suite files → raw suites: the suite and test level read strictly (keys, names, tags,
//! matrix, requirements). Steps stay YAML until each matrix cell substitutes its values.

use std::collections::{BTreeMap, BTreeSet};

use marked_yaml::Node;

use super::error::Diagnostic;
use super::model::Requirement;
use super::run_wide;
use super::suggest::hint;
use super::tags::is_valid_tag;
use super::vars::NAMESPACE;
use super::yaml::{self, Map};

/// A suite file, read but not expanded.
#[derive(Debug, Clone)]
pub(crate) struct RawSuite {
    pub(crate) file: String,
    pub(crate) name: String,
    pub(crate) line: usize,
    pub(crate) tests: Vec<RawTest>,
}

/// One test as written: its matrix not yet expanded, its steps still YAML.
#[derive(Debug, Clone)]
pub(crate) struct RawTest {
    /// Position in the suite's `tests` list (for field paths).
    pub(crate) index: usize,
    pub(crate) name: String,
    pub(crate) line: usize,
    pub(crate) description: String,
    pub(crate) tags: Vec<String>,
    /// Matrix keys with their values, in the order written.
    pub(crate) matrix: Vec<(String, Vec<String>)>,
    pub(crate) requires: BTreeSet<Requirement>,
    /// `linux-only: reason`: why the test has no Windows cell (shown by `list`).
    pub(crate) linux_only: Option<String>,
    pub(crate) steps: Vec<Node>,
}

const SUITE_KEYS: &[&str] = &["suite", "description", "tests"];
const TEST_KEYS: &[&str] = &[
    "name",
    "description",
    "tags",
    "matrix",
    "requires",
    "linux-only",
    "steps",
];
const REQUIREMENTS: &[&str] = &["default-storage-class", "load-balancer"];

/// Reads a suite file. Tests with problems are left out and their problems returned; the
/// suite is returned as long as its own header is readable.
pub(crate) fn parse_suite(file: &str, text: &str) -> (Option<RawSuite>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let suite = match read_suite(file, text, &mut diagnostics) {
        Ok(suite) => Some(suite),
        Err(d) => {
            diagnostics.push(d);
            None
        }
    };
    (suite, diagnostics)
}

fn read_suite(
    file: &str,
    text: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<RawSuite, Diagnostic> {
    let root = yaml::parse_file(file, text)?;
    let top = Map::new(file, "", &root)?;
    top.only(SUITE_KEYS)?;
    for key in ["suite", "description"] {
        if let Some(node) = top.get(key) {
            run_wide::check(file, key, node)?;
        }
    }
    let (name, name_node) = top.str("suite")?;
    if !is_valid_tag(&name) {
        return Err(top.err(
            Some(name_node),
            "suite",
            format!("invalid suite name \"{name}\": use lowercase letters, digits, '.', '_' and '-' (it is also a tag)"),
        ));
    }
    // A suite's description is for its readers: checked to be text, not kept.
    top.opt_str("description")?;
    let tests_node = top.required("tests")?;
    let Node::Sequence(items) = tests_node else {
        return Err(top.err(
            Some(tests_node),
            "tests",
            format!(
                "expected a list of tests, found {}",
                yaml::shape(tests_node)
            ),
        ));
    };
    if items.is_empty() {
        return Err(top.err(Some(tests_node), "tests", "must have at least one test"));
    }
    let mut tests = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (index, item) in items.iter().enumerate() {
        match read_test(file, index, item) {
            Ok(test) => {
                if let Some(first) = seen.get(&test.name) {
                    diagnostics.push(Diagnostic::new(
                        file,
                        test.line,
                        format!("tests[{index}].name"),
                        format!(
                            "duplicate test name \"{}\" (first at line {first})",
                            test.name
                        ),
                    ));
                    continue;
                }
                seen.insert(test.name.clone(), test.line);
                tests.push(test);
            }
            Err(d) => diagnostics.push(d),
        }
    }
    Ok(RawSuite {
        file: file.to_string(),
        name,
        line: yaml::line_of(name_node),
        tests,
    })
}

fn read_test(file: &str, index: usize, node: &Node) -> Result<RawTest, Diagnostic> {
    let test = Map::new(file, format!("tests[{index}]"), node)?;
    test.only(TEST_KEYS)?;
    run_wide::check(file, &test.path, node)?;
    let (name, name_node) = test.str("name")?;
    if !is_valid_tag(&name) {
        return Err(test.err(
            Some(name_node),
            "name",
            format!(
                "invalid test name \"{name}\": use lowercase letters, digits, '.', '_' and '-'"
            ),
        ));
    }
    let description = test
        .opt_str("description")?
        .map(|(s, _)| s)
        .unwrap_or_default();
    let mut tags = Vec::new();
    for (i, (tag, node)) in test
        .opt_str_list("tags")?
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        if !is_valid_tag(&tag) {
            return Err(Diagnostic::new(
                file,
                yaml::line_of(node),
                format!("{}[{i}]", test.field("tags")),
                format!("invalid tag \"{tag}\": use lowercase letters, digits, '.', '_' and '-'"),
            ));
        }
        tags.push(tag);
    }
    let matrix = match test.get("matrix") {
        Some(node) => read_matrix(file, &test.field("matrix"), node)?,
        None => Vec::new(),
    };
    let mut requires = BTreeSet::new();
    for (i, (req, node)) in test
        .opt_str_list("requires")?
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let requirement = match req.as_str() {
            "default-storage-class" => Requirement::DefaultStorageClass,
            "load-balancer" => Requirement::LoadBalancer,
            other => {
                return Err(Diagnostic::new(
                    file,
                    yaml::line_of(node),
                    format!("{}[{i}]", test.field("requires")),
                    format!(
                        "unknown value \"{other}\", expected one of: {}{}",
                        REQUIREMENTS.join(", "),
                        hint(other, REQUIREMENTS.iter().copied())
                    ),
                ))
            }
        };
        requires.insert(requirement);
    }
    let linux_only = match test.opt_str("linux-only")? {
        Some((reason, node)) if reason.trim().is_empty() => {
            return Err(test.err(
                Some(node),
                "linux-only",
                "give the reason the test cannot run on Windows",
            ))
        }
        Some((reason, _)) => Some(reason.trim().to_string()),
        None => None,
    };
    let steps_node = test.required("steps")?;
    let Node::Sequence(steps) = steps_node else {
        return Err(test.err(
            Some(steps_node),
            "steps",
            format!(
                "expected a list of steps, found {}",
                yaml::shape(steps_node)
            ),
        ));
    };
    if steps.is_empty() {
        return Err(test.err(Some(steps_node), "steps", "must have at least one step"));
    }
    Ok(RawTest {
        index,
        name,
        line: yaml::line_of(name_node),
        description,
        tags,
        matrix,
        requires,
        linux_only,
        steps: steps.to_vec(),
    })
}

fn read_matrix(
    file: &str,
    path: &str,
    node: &Node,
) -> Result<Vec<(String, Vec<String>)>, Diagnostic> {
    let map = Map::new(file, path, node)?;
    if map.node.is_empty() {
        return Err(Diagnostic::new(
            file,
            map.line,
            path,
            "empty matrix: give at least one key with values, or leave the matrix out",
        ));
    }
    let mut matrix = Vec::new();
    for (key, line, _) in map.entries() {
        let field = map.field(key);
        let valid = key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid || key == NAMESPACE {
            return Err(Diagnostic::new(
                file,
                line,
                field,
                if key == NAMESPACE {
                    "\"namespace\" is set by the runner and cannot be a matrix key".to_string()
                } else {
                    format!(
                        "invalid matrix key \"{key}\": use lowercase letters, digits, '_' and '-'"
                    )
                },
            ));
        }
        let values = map.opt_str_list(key)?.unwrap_or_default();
        if values.is_empty() {
            return Err(Diagnostic::new(
                file,
                line,
                field,
                "empty value list: give at least one value",
            ));
        }
        let mut list: Vec<String> = Vec::new();
        for (i, (value, node)) in values.into_iter().enumerate() {
            let ok = !value.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                return Err(Diagnostic::new(
                    file,
                    yaml::line_of(node),
                    format!("{field}[{i}]"),
                    format!(
                        "invalid matrix value \"{value}\": use letters, digits, '.', '_' and '-'"
                    ),
                ));
            }
            if list.contains(&value) {
                return Err(Diagnostic::new(
                    file,
                    yaml::line_of(node),
                    format!("{field}[{i}]"),
                    format!("duplicate matrix value \"{value}\""),
                ));
            }
            list.push(value);
        }
        matrix.push((key.to_string(), list));
    }
    Ok(matrix)
}
