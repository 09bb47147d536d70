//! YAML with positions: marked-yaml nodes read strictly (unknown keys, wrong shapes) into
//! values, with the line and field path of every problem.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{LoadError, LoaderOptions, Node};
use serde_json::Value;

use super::error::Diagnostic;

/// Parses one file whose top level must be a mapping.
pub(crate) fn parse_file(file: &str, text: &str) -> Result<Node, Diagnostic> {
    let options = LoaderOptions::default()
        .error_on_duplicate_keys(true)
        // Quoted scalars stay strings: `"3"` is text, `3` a number.
        .prevent_coercion(true)
        .toplevel_mapping();
    marked_yaml::parse_yaml_with_options(0, text, options).map_err(|e| load_error(file, e))
}

fn load_error(file: &str, error: LoadError) -> Diagnostic {
    let at = |m: &marked_yaml::Marker| m.line();
    let (line, message) = match &error {
        LoadError::TopLevelMustBeMapping(m) => (at(m), "the file must be a mapping".to_string()),
        LoadError::TopLevelMustBeSequence(m) => (at(m), "the file must be a sequence".to_string()),
        LoadError::UnexpectedAnchor(m) => (at(m), "YAML anchors are not supported".to_string()),
        LoadError::MappingKeyMustBeScalar(m) => (at(m), "mapping keys must be scalars".to_string()),
        LoadError::UnexpectedTag(m) => (at(m), "YAML tags are not supported".to_string()),
        LoadError::ScanError(m, e) => {
            let text = e.to_string();
            // yaml-rust appends " at byte N line L column C"; the line is ours already.
            let text = text.split(" at byte ").next().unwrap_or(&text).to_string();
            (at(m), format!("invalid YAML: {text}"))
        }
        LoadError::DuplicateKey(inner) => {
            let line = inner.key.span().start().map(|m| m.line()).unwrap_or(0);
            let first = inner.prev_key.span().start().map(|m| m.line()).unwrap_or(0);
            (
                line,
                format!(
                    "duplicate key \"{}\" (first at line {first})",
                    inner.key.as_str()
                ),
            )
        }
        #[allow(unreachable_patterns)]
        _ => (0, format!("invalid YAML: {error}")),
    };
    Diagnostic::new(file, line, "", message)
}

/// The 1-based line a node starts on (0 when unknown).
pub(crate) fn line_of(node: &Node) -> usize {
    node.span().start().map(|m| m.line()).unwrap_or(0)
}

/// A short name for a node's shape, for "expected a list, found a mapping".
pub(crate) fn shape(node: &Node) -> &'static str {
    match node {
        Node::Scalar(_) => "a scalar",
        Node::Mapping(_) => "a mapping",
        Node::Sequence(_) => "a list",
    }
}

/// Converts a node to JSON. Plain (unquoted) scalars get YAML's core types: null, booleans,
/// integers and floats; quoted scalars stay strings.
pub(crate) fn to_json(node: &Node) -> Value {
    match node {
        Node::Scalar(s) => scalar_to_json(s),
        Node::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Node::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.as_str().to_string(), to_json(v)))
                .collect(),
        ),
    }
}

fn scalar_to_json(s: &MarkedScalarNode) -> Value {
    let text = s.as_str();
    if !s.may_coerce() {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let numeric = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        && text.chars().any(|c| c.is_ascii_digit());
    if numeric {
        if let Ok(i) = text.parse::<i64>() {
            return Value::from(i);
        }
        if let Ok(f) = text.parse::<f64>() {
            if let Some(n) = serde_json::Number::from_f64(f) {
                return Value::Number(n);
            }
        }
    }
    Value::String(text.to_string())
}

/// A mapping being read strictly: known keys only, with its field path for errors.
pub(crate) struct Map<'a> {
    pub(crate) file: &'a str,
    pub(crate) path: String,
    pub(crate) node: &'a MarkedMappingNode,
    pub(crate) line: usize,
}

impl<'a> Map<'a> {
    /// Reads `node` as a mapping at `path`.
    pub(crate) fn new(
        file: &'a str,
        path: impl Into<String>,
        node: &'a Node,
    ) -> Result<Map<'a>, Diagnostic> {
        let path = path.into();
        match node {
            Node::Mapping(map) => Ok(Map {
                file,
                path,
                node: map,
                line: line_of(node),
            }),
            other => Err(Diagnostic::new(
                file,
                line_of(other),
                path,
                format!("expected a mapping, found {}", shape(other)),
            )),
        }
    }

    /// The path of a field of this mapping.
    pub(crate) fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn err(
        &self,
        node: Option<&Node>,
        key: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        let line = node.map(line_of).unwrap_or(self.line);
        Diagnostic::new(self.file, line, self.field(key), message)
    }

    /// Rejects keys not in `allowed`, naming the expected ones.
    pub(crate) fn only(&self, allowed: &[&str]) -> Result<(), Diagnostic> {
        for key in self.node.keys() {
            if !allowed.contains(&key.as_str()) {
                let line = key.span().start().map(|m| m.line()).unwrap_or(self.line);
                return Err(Diagnostic::new(
                    self.file,
                    line,
                    self.field(key.as_str()),
                    format!(
                        "unknown key, expected one of: {}{}",
                        allowed.join(", "),
                        super::suggest::hint(key.as_str(), allowed.iter().copied())
                    ),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Node> {
        self.node.get_node(key)
    }

    pub(crate) fn required(&self, key: &str) -> Result<&'a Node, Diagnostic> {
        self.get(key)
            .ok_or_else(|| self.err(None, key, "missing required field"))
    }

    /// A scalar as text (numbers and booleans as written).
    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<(String, &'a Node)>, Diagnostic> {
        match self.get(key) {
            None => Ok(None),
            Some(node @ Node::Scalar(s)) => Ok(Some((s.as_str().to_string(), node))),
            Some(other) => Err(self.err(
                Some(other),
                key,
                format!("expected a scalar, found {}", shape(other)),
            )),
        }
    }

    pub(crate) fn str(&self, key: &str) -> Result<(String, &'a Node), Diagnostic> {
        self.opt_str(key)?
            .ok_or_else(|| self.err(None, key, "missing required field"))
    }

    pub(crate) fn opt_bool(&self, key: &str) -> Result<Option<bool>, Diagnostic> {
        match self.get(key) {
            None => Ok(None),
            Some(node @ Node::Scalar(s)) => match s.as_bool() {
                Some(b) => Ok(Some(b)),
                None => Err(self.err(
                    Some(node),
                    key,
                    format!("expected true or false, found \"{}\"", s.as_str()),
                )),
            },
            Some(other) => Err(self.err(
                Some(other),
                key,
                format!("expected true or false, found {}", shape(other)),
            )),
        }
    }

    /// A list of scalars as strings.
    pub(crate) fn opt_str_list(
        &self,
        key: &str,
    ) -> Result<Option<Vec<(String, &'a Node)>>, Diagnostic> {
        match self.get(key) {
            None => Ok(None),
            Some(Node::Sequence(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Node::Scalar(s) => out.push((s.as_str().to_string(), item)),
                        other => {
                            return Err(Diagnostic::new(
                                self.file,
                                line_of(other),
                                format!("{}[{i}]", self.field(key)),
                                format!("expected a scalar, found {}", shape(other)),
                            ))
                        }
                    }
                }
                Ok(Some(out))
            }
            Some(other) => Err(self.err(
                Some(other),
                key,
                format!("expected a list, found {}", shape(other)),
            )),
        }
    }

    /// Key/value pairs in written order, keys with their lines.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'a str, usize, &'a Node)> + 'a {
        self.node.iter().map(|(k, v)| {
            (
                k.as_str(),
                k.span().start().map(|m| m.line()).unwrap_or(0),
                v,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_of(text: &str) -> Value {
        let node = parse_file("f.yaml", text).expect("parses");
        to_json(&node)
    }

    #[test]
    fn plain_scalars_get_core_types_and_quoted_ones_stay_strings() {
        assert_eq!(
            json_of("a: 3\nb: \"3\"\nc: true\nd: 'true'\ne: 1.5\nf: ~\ng:\nh: C:\\data\ni: -7\nj: 1e3\nk: 1.2.3\n"),
            json!({"a": 3, "b": "3", "c": true, "d": "true", "e": 1.5, "f": null, "g": null,
                   "h": "C:\\data", "i": -7, "j": 1000.0, "k": "1.2.3"})
        );
    }

    #[test]
    fn strict_mappings_report_unknown_and_missing_keys() {
        let node = parse_file("f.yaml", "x: 1\ny: [a, b]\nz: {k: v}\n").expect("parses");
        let map = Map::new("f.yaml", "top", &node).expect("mapping");
        assert_eq!(
            map.only(&["x", "y"]).expect_err("z").to_string(),
            "f.yaml:3: top.z: unknown key, expected one of: x, y"
        );
        assert_eq!(
            map.required("w").expect_err("w").to_string(),
            "f.yaml:1: top.w: missing required field"
        );
        assert_eq!(
            map.opt_str("y").expect_err("list").to_string(),
            "f.yaml:2: top.y: expected a scalar, found a list"
        );
        let list: Vec<String> = map
            .opt_str_list("y")
            .expect("list")
            .unwrap_or_default()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(list, ["a", "b"]);
        assert_eq!(
            map.opt_bool("x").expect_err("not bool").to_string(),
            "f.yaml:1: top.x: expected true or false, found \"1\""
        );
    }

    #[test]
    fn a_file_must_be_a_mapping() {
        let e = parse_file("f.yaml", "- a\n- b\n").expect_err("a list");
        assert_eq!(e.to_string(), "f.yaml:1: the file must be a mapping");
    }
}
