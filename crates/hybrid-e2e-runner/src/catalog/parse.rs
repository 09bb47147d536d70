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
    /// `opt-in: { tag, when, reason }`: the cells that run only when `--tags` names the tag.
    pub(crate) opt_in: Option<RawOptIn>,
    pub(crate) steps: Vec<Node>,
}

/// A test's `opt-in`, checked against its matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawOptIn {
    /// The tag that selects the opt-in cells.
    pub(crate) tag: String,
    /// Matrix bindings (`client: windows`); a cell binding all of them is opt-in. Empty: every cell.
    pub(crate) when: Vec<(String, String)>,
    /// Why the cells do not run by default.
    pub(crate) reason: String,
}

impl RawOptIn {
    /// Whether the cell with these matrix values is opt-in.
    pub(crate) fn covers(&self, cell: &[(String, String)]) -> bool {
        self.when.iter().all(|binding| cell.contains(binding))
    }
}

const SUITE_KEYS: &[&str] = &["suite", "description", "tests"];
const TEST_KEYS: &[&str] = &[
    "name",
    "description",
    "tags",
    "matrix",
    "requires",
    "linux-only",
    "opt-in",
    "steps",
];
const OPT_IN_KEYS: &[&str] = &["tag", "when", "reason"];
/// Tags every cell of some OS gets: an opt-in tag must not be one, or selecting broadly would opt in.
const IMPLIED_TAGS: &[&str] = &["linux", "windows", super::expand::HYBRID];
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
        match read_test(file, &name, index, item) {
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

fn read_test(file: &str, suite: &str, index: usize, node: &Node) -> Result<RawTest, Diagnostic> {
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
    let opt_in = match test.get("opt-in") {
        Some(node) => {
            let context = OptInContext {
                suite,
                tags: &tags,
                matrix: &matrix,
            };
            Some(read_opt_in(file, &test.field("opt-in"), node, &context)?)
        }
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
        opt_in,
        steps: steps.to_vec(),
    })
}

/// What an `opt-in` is checked against: the test's suite, own tags and matrix.
struct OptInContext<'a> {
    suite: &'a str,
    tags: &'a [String],
    matrix: &'a [(String, Vec<String>)],
}

fn read_opt_in(
    file: &str,
    path: &str,
    node: &Node,
    context: &OptInContext<'_>,
) -> Result<RawOptIn, Diagnostic> {
    let map = Map::new(file, path, node)?;
    map.only(OPT_IN_KEYS)?;
    let (tag, tag_node) = map.str("tag")?;
    if !is_valid_tag(&tag) {
        return Err(map.err(
            Some(tag_node),
            "tag",
            format!("invalid tag \"{tag}\": use lowercase letters, digits, '.', '_' and '-'"),
        ));
    }
    if IMPLIED_TAGS.contains(&tag.as_str()) || tag == context.suite || context.tags.contains(&tag) {
        return Err(map.err(
            Some(tag_node),
            "tag",
            format!(
                "\"{tag}\" already selects cells of this test; an opt-in needs a tag of its own"
            ),
        ));
    }
    let (reason, reason_node) = map.str("reason")?;
    if reason.trim().is_empty() {
        return Err(map.err(
            Some(reason_node),
            "reason",
            "give the reason the cells do not run by default",
        ));
    }
    let mut when = Vec::new();
    if let Some(when_node) = map.get("when") {
        let bindings = Map::new(file, map.field("when"), when_node)?;
        if bindings.node.is_empty() {
            return Err(Diagnostic::new(
                file,
                bindings.line,
                bindings.path.clone(),
                "no matrix bindings: leave `when` out to make every cell opt-in",
            ));
        }
        for (key, line, _) in bindings.entries() {
            let Some((_, values)) = context.matrix.iter().find(|(k, _)| k == key) else {
                let keys: Vec<&str> = context.matrix.iter().map(|(k, _)| k.as_str()).collect();
                return Err(Diagnostic::new(
                    file,
                    line,
                    bindings.field(key),
                    format!(
                        "the test has no matrix variable \"{key}\" (matrix: {}){}",
                        if keys.is_empty() {
                            "none".to_string()
                        } else {
                            keys.join(", ")
                        },
                        hint(key, keys.iter().copied())
                    ),
                ));
            };
            let (value, value_node) = bindings.str(key)?;
            if !values.contains(&value) {
                return Err(bindings.err(
                    Some(value_node),
                    key,
                    format!(
                        "\"{value}\" is not a value of the matrix variable \"{key}\" (values: {}){}",
                        values.join(", "),
                        hint(&value, values.iter().map(String::as_str))
                    ),
                ));
            }
            when.push((key.to_string(), value));
        }
    }
    Ok(RawOptIn {
        tag,
        when,
        reason: reason.trim().to_string(),
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
