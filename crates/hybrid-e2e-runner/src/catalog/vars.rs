//! `${var}` placeholders: finding them and substituting them in strings and YAML/JSON trees.
//!
//! A scalar that is exactly `${x}` is replaced by the value (which may be a list or a map);
//! elsewhere the value is interpolated as text. `$${` writes a literal `${`.

use marked_yaml::types::MarkedScalarNode;
use marked_yaml::Node;
use serde_json::Value;

/// The run-time variable the runner substitutes (left as is by the catalog).
pub const NAMESPACE: &str = "namespace";

/// Variables of steps the runner substitutes at run time (left as is by the catalog): the
/// namespace, and (entries ending in `.` are prefixes) `${ip.POD}`, `${node-ip.POD}` (InternalIP
/// of the pod's node), `${node-name.POD}`, `${cluster-ip.SERVICE}`, `${node-port.SERVICE}`.
pub const RUNTIME: &[&str] = &[
    NAMESPACE,
    "ip.",
    "node-ip.",
    "node-name.",
    "cluster-ip.",
    "node-port.",
];

/// Whether `name` is one of `keep` (an entry ending in `.` keeps every name it prefixes).
fn kept(keep: &[&str], name: &str) -> bool {
    keep.iter().any(|k| match k.strip_suffix('.') {
        Some(_) => name.len() > k.len() && name.starts_with(k),
        None => *k == name,
    })
}

/// A problem with a placeholder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    #[error("undefined variable ${{{name}}}{}", defined_hint(.defined))]
    Undefined { name: String, defined: Vec<String> },
    #[error("unterminated \"${{\" (write \"$${{\" for a literal \"${{\")")]
    Unterminated,
    #[error("invalid variable name \"{0}\"")]
    BadName(String),
    #[error("variable ${{{0}}} is a list or map and cannot be part of a longer string")]
    NotText(String),
}

fn defined_hint(defined: &[String]) -> String {
    if defined.is_empty() {
        String::new()
    } else {
        format!("; defined here: {}", defined.join(", "))
    }
}

/// A piece of a string: literal text or a variable reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Splits a string into text and `${var}` references.
pub fn pieces(s: &str) -> Result<Vec<Piece<'_>>, VarError> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("${") {
        if at > 0 && rest[..at].ends_with('$') {
            // `$${` is a literal `${`.
            out.push(Piece::Text(&rest[..at - 1]));
            out.push(Piece::Text("${"));
            rest = &rest[at + 2..];
            continue;
        }
        out.push(Piece::Text(&rest[..at]));
        let after = &rest[at + 2..];
        let end = after.find('}').ok_or(VarError::Unterminated)?;
        let name = &after[..end];
        if !valid_name(name) {
            return Err(VarError::BadName(name.to_string()));
        }
        out.push(Piece::Var(name));
        rest = &after[end + 1..];
    }
    out.push(Piece::Text(rest));
    out.retain(|p| *p != Piece::Text(""));
    Ok(out)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The variables a string refers to.
pub fn references(s: &str) -> Result<Vec<&str>, VarError> {
    Ok(pieces(s)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(v) => Some(v),
            Piece::Text(_) => None,
        })
        .collect())
}

/// Substitutes variables in a string. `lookup` returns `None` for an undefined variable;
/// `keep` names variables left as written (for the runner).
pub fn interpolate(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<Value>,
    keep: &[&str],
    defined: &dyn Fn() -> Vec<String>,
) -> Result<Value, VarError> {
    let parts = pieces(s)?;
    if let [Piece::Var(name)] = parts.as_slice() {
        if !kept(keep, name) {
            return lookup(name).ok_or_else(|| VarError::Undefined {
                name: name.to_string(),
                defined: defined(),
            });
        }
    }
    let mut out = String::new();
    for part in parts {
        match part {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(name) if kept(keep, name) => {
                out.push_str("${");
                out.push_str(name);
                out.push('}');
            }
            Piece::Var(name) => match lookup(name) {
                Some(Value::String(v)) => out.push_str(&v),
                Some(Value::Number(n)) => out.push_str(&n.to_string()),
                Some(Value::Bool(b)) => out.push_str(&b.to_string()),
                Some(Value::Null) => {}
                Some(_) => return Err(VarError::NotText(name.to_string())),
                None => {
                    return Err(VarError::Undefined {
                        name: name.to_string(),
                        defined: defined(),
                    })
                }
            },
        }
    }
    Ok(Value::String(out))
}

/// Substitutes text variables in every scalar of a YAML tree at `path`, keeping spans (so
/// errors still point at the suite's lines) and quoting. Calls `on_error` with the failing
/// node and its field path.
pub fn substitute_node(
    node: &mut Node,
    path: &str,
    vars: &dyn Fn(&str) -> Option<String>,
    defined: &dyn Fn() -> Vec<String>,
    on_error: &mut dyn FnMut(&Node, &str, VarError),
) {
    match node {
        Node::Scalar(s) => {
            if !s.as_str().contains("${") {
                return;
            }
            let lookup = |name: &str| vars(name).map(Value::String);
            match interpolate(s.as_str(), &lookup, RUNTIME, defined) {
                Ok(Value::String(text)) => {
                    let mut new = MarkedScalarNode::new(*s.span(), text);
                    new.set_coerce(s.may_coerce());
                    *s = new;
                }
                Ok(_) => {}
                Err(e) => on_error(&Node::Scalar(s.clone()), path, e),
            }
        }
        Node::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute_node(item, &format!("{path}[{i}]"), vars, defined, on_error);
            }
        }
        Node::Mapping(map) => {
            for (key, value) in map.iter_mut() {
                let here = format!("{path}.{}", key.as_str());
                substitute_node(value, &here, vars, defined, on_error);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup(name: &str) -> Option<Value> {
        match name {
            "os" => Some(json!("linux")),
            "port" => Some(json!(8080)),
            "shell" => Some(json!(["sh", "-c"])),
            _ => None,
        }
    }

    fn none() -> Vec<String> {
        vec!["os".into(), "port".into()]
    }

    #[test]
    fn a_whole_placeholder_takes_the_value_as_is() {
        assert_eq!(
            interpolate("${shell}", &lookup, &[], &none),
            Ok(json!(["sh", "-c"]))
        );
        assert_eq!(interpolate("${port}", &lookup, &[], &none), Ok(json!(8080)));
    }

    #[test]
    fn run_time_placeholders_are_kept_for_the_runner() {
        assert_eq!(
            interpolate("${ip.client}:${node-port.web}", &lookup, RUNTIME, &none),
            Ok(json!("${ip.client}:${node-port.web}"))
        );
        assert!(interpolate("${ip.}", &lookup, RUNTIME, &none).is_err());
        assert!(interpolate("${ipx.client}", &lookup, RUNTIME, &none).is_err());
    }

    #[test]
    fn placeholders_inside_text_are_interpolated() {
        assert_eq!(
            interpolate("on-${os}:${port}", &lookup, &[], &none),
            Ok(json!("on-linux:8080"))
        );
        assert_eq!(
            interpolate("x ${shell}", &lookup, &[], &none),
            Err(VarError::NotText("shell".into()))
        );
    }

    #[test]
    fn kept_variables_and_escapes_stay_literal() {
        assert_eq!(
            interpolate("a.${namespace}.svc", &lookup, &[NAMESPACE], &none),
            Ok(json!("a.${namespace}.svc"))
        );
        assert_eq!(
            interpolate("$${os}", &lookup, &[], &none),
            Ok(json!("${os}"))
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let e = interpolate("${nope}", &lookup, &[], &none).unwrap_err();
        assert_eq!(
            e.to_string(),
            "undefined variable ${nope}; defined here: os, port"
        );
        assert_eq!(
            interpolate("${os", &lookup, &[], &none),
            Err(VarError::Unterminated)
        );
        assert_eq!(
            interpolate("${a b}", &lookup, &[], &none),
            Err(VarError::BadName("a b".into()))
        );
        assert_eq!(references("${a}-${b.c}"), Ok(vec!["a", "b.c"]));
    }
}
