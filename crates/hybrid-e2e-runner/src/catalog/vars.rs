//! `${var}` placeholders: finding them and substituting them in strings and YAML/JSON trees.
//!
//! A scalar that is exactly `${x}` is replaced by the value (which may be a list or a map);
//! elsewhere the value is interpolated as text. `$${` writes a literal `${`.
//!
//! One scanner reads `${` two ways ([`Reading`]): suite and fixture text, strictly, here; and
//! the substituted text the runner gets, leniently. The run-time placeholders the catalog
//! leaves for the runner are one table, [`RUNTIME`].

use marked_yaml::types::MarkedScalarNode;
use marked_yaml::Node;
use serde_json::Value;

/// The run-time variable the runner substitutes (left as is by the catalog).
pub(crate) const NAMESPACE: &str = "namespace";

/// The run-wide placeholder for the cluster's DNS domain (`--cluster-domain`, or discovered).
pub(crate) const CLUSTER_DOMAIN: &str = "cluster-domain";

/// What a run-time placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runtime {
    /// `${namespace}`: the test's namespace.
    Namespace,
    /// `${cluster-domain}`: the cluster's DNS domain (`cluster.local`), one per run.
    ClusterDomain,
    /// `${ip.POD}`: the pod's IP.
    PodIp,
    /// `${node-ip.POD}`: the InternalIP of the pod's node.
    NodeIp,
    /// `${node-name.POD}`: the node the pod runs on.
    NodeName,
    /// `${cluster-ip.SERVICE}`: the Service's ClusterIP.
    ClusterIp,
    /// `${node-port.SERVICE}`: the Service's first nodePort.
    NodePort,
}

/// The one table of run-time placeholders: variables of steps the runner substitutes just
/// before a step runs (the catalog leaves them as written). An entry ending in `.` is a prefix:
/// `${ip.server}` is [`Runtime::PodIp`] of the object `server`.
pub(crate) const RUNTIME: &[(&str, Runtime)] = &[
    (NAMESPACE, Runtime::Namespace),
    (CLUSTER_DOMAIN, Runtime::ClusterDomain),
    ("ip.", Runtime::PodIp),
    ("node-ip.", Runtime::NodeIp),
    ("node-name.", Runtime::NodeName),
    ("cluster-ip.", Runtime::ClusterIp),
    ("node-port.", Runtime::NodePort),
];

/// A run-time placeholder: what it stands for, and the object it names (empty for
/// `${namespace}` and `${cluster-domain}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RuntimeVar<'a> {
    pub(crate) what: Runtime,
    pub(crate) object: &'a str,
}

/// The run-time placeholder a variable name is, if it is one.
pub(crate) fn runtime(name: &str) -> Option<RuntimeVar<'_>> {
    RUNTIME.iter().find_map(|&(key, what)| {
        if key.ends_with('.') {
            let object = name.strip_prefix(key).filter(|o| !o.is_empty())?;
            Some(RuntimeVar { what, object })
        } else {
            (name == key).then_some(RuntimeVar { what, object: "" })
        }
    })
}

/// Whether `name` is a run-time placeholder (see [`RUNTIME`]).
pub(crate) fn is_runtime(name: &str) -> bool {
    runtime(name).is_some()
}

/// Whether `name` is `namespace`, the only run-time placeholder fixtures may use.
pub(crate) fn is_namespace(name: &str) -> bool {
    name == NAMESPACE
}

/// A problem with a placeholder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    /// A reference to a variable nothing defines.
    #[error("undefined variable ${{{name}}}{}", defined_hint(.defined))]
    Undefined {
        /// The variable referred to.
        name: String,
        /// The variables defined where it was referred to, sorted.
        defined: Vec<String>,
    },
    /// A `${` without its `}`.
    #[error("unterminated \"${{\" (write \"$${{\" for a literal \"${{\")")]
    Unterminated,
    /// A `${...}` whose inside is no variable name.
    #[error("invalid variable name \"{0}\"")]
    BadName(String),
    /// A list or map value inside a longer string.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

impl Piece<'_> {
    /// Appends the piece as written: text as is, a variable as `${name}`.
    pub(crate) fn push_as_written(&self, out: &mut String) {
        match self {
            Piece::Text(text) => out.push_str(text),
            Piece::Var(name) => {
                out.push_str("${");
                out.push_str(name);
                out.push('}');
            }
        }
    }
}

/// How a string is read for `${var}` references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Suite and fixture text: `$${` writes a literal `${`; an unterminated `${` or an invalid
    /// name is an error.
    Source,
    /// Text the catalog has already substituted, as the runner sees it: escapes are resolved
    /// (so `$${` is a `$` and then a `${`), and a `${` that starts no well-formed reference
    /// (`${HOME:-x}`, an unterminated `${`) is literal text. Never an error.
    Substituted,
}

/// Splits suite or fixture text into text and `${var}` references ([`Reading::Source`]).
pub(crate) fn pieces(s: &str) -> Result<Vec<Piece<'_>>, VarError> {
    scan(s, Reading::Source)
}

/// Splits substituted text into text and `${var}` references ([`Reading::Substituted`]).
pub(crate) fn substituted_pieces(s: &str) -> Vec<Piece<'_>> {
    // A substituted reading has no errors; the fallback only keeps the types honest.
    scan(s, Reading::Substituted).unwrap_or_else(|_| vec![Piece::Text(s)])
}

/// The one `${` scanner, for both readings.
fn scan(s: &str, reading: Reading) -> Result<Vec<Piece<'_>>, VarError> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("${") {
        if reading == Reading::Source && rest[..at].ends_with('$') {
            // `$${` is a literal `${`.
            out.push(Piece::Text(&rest[..at - 1]));
            out.push(Piece::Text("${"));
            rest = &rest[at + 2..];
            continue;
        }
        let after = &rest[at + 2..];
        let inside = after.find('}').map(|end| &after[..end]);
        match inside {
            Some(name) if valid_name(name) => {
                out.push(Piece::Text(&rest[..at]));
                out.push(Piece::Var(name));
                rest = &after[name.len() + 1..];
            }
            _ if reading == Reading::Substituted => {
                out.push(Piece::Text(&rest[..at + 2]));
                rest = after;
            }
            Some(name) => return Err(VarError::BadName(name.to_string())),
            None => return Err(VarError::Unterminated),
        }
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
pub(crate) fn references(s: &str) -> Result<Vec<&str>, VarError> {
    Ok(pieces(s)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(v) => Some(v),
            Piece::Text(_) => None,
        })
        .collect())
}

/// Substitutes variables in a string. `lookup` returns `None` for an undefined variable;
/// `keep` says which variables are left as written (for the runner: [`is_runtime`],
/// [`is_namespace`]).
pub(crate) fn interpolate(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<Value>,
    keep: fn(&str) -> bool,
    defined: &dyn Fn() -> Vec<String>,
) -> Result<Value, VarError> {
    let parts = pieces(s)?;
    if let [Piece::Var(name)] = parts.as_slice() {
        if !keep(name) {
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
            Piece::Var(name) if keep(name) => part.push_as_written(&mut out),
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
pub(crate) fn substitute_node(
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
            match interpolate(s.as_str(), &lookup, is_runtime, defined) {
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
            interpolate("${shell}", &lookup, |_| false, &none),
            Ok(json!(["sh", "-c"]))
        );
        assert_eq!(
            interpolate("${port}", &lookup, |_| false, &none),
            Ok(json!(8080))
        );
    }

    #[test]
    fn run_time_placeholders_are_kept_for_the_runner() {
        assert_eq!(
            interpolate("${ip.client}:${node-port.web}", &lookup, is_runtime, &none),
            Ok(json!("${ip.client}:${node-port.web}"))
        );
        assert!(interpolate("${ip.}", &lookup, is_runtime, &none).is_err());
        assert!(interpolate("${ipx.client}", &lookup, is_runtime, &none).is_err());
    }

    #[test]
    fn placeholders_inside_text_are_interpolated() {
        assert_eq!(
            interpolate("on-${os}:${port}", &lookup, |_| false, &none),
            Ok(json!("on-linux:8080"))
        );
        assert_eq!(
            interpolate("x ${shell}", &lookup, |_| false, &none),
            Err(VarError::NotText("shell".into()))
        );
    }

    #[test]
    fn kept_variables_and_escapes_stay_literal() {
        assert_eq!(
            interpolate("a.${namespace}.svc", &lookup, is_namespace, &none),
            Ok(json!("a.${namespace}.svc"))
        );
        assert_eq!(
            interpolate("$${os}", &lookup, |_| false, &none),
            Ok(json!("${os}"))
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let e = interpolate("${nope}", &lookup, |_| false, &none).unwrap_err();
        assert_eq!(
            e.to_string(),
            "undefined variable ${nope}; defined here: os, port"
        );
        assert_eq!(
            interpolate("${os", &lookup, |_| false, &none),
            Err(VarError::Unterminated)
        );
        assert_eq!(
            interpolate("${a b}", &lookup, |_| false, &none),
            Err(VarError::BadName("a b".into()))
        );
        assert_eq!(references("${a}-${b.c}"), Ok(vec!["a", "b.c"]));
    }

    #[test]
    fn the_runtime_table_names_each_placeholder_and_its_object() {
        let var = |what, object| Some(RuntimeVar { what, object });
        assert_eq!(runtime("namespace"), var(Runtime::Namespace, ""));
        assert_eq!(runtime("cluster-domain"), var(Runtime::ClusterDomain, ""));
        assert_eq!(runtime("ip.server"), var(Runtime::PodIp, "server"));
        assert_eq!(runtime("node-ip.a.b"), var(Runtime::NodeIp, "a.b"));
        assert_eq!(runtime("node-name.p"), var(Runtime::NodeName, "p"));
        assert_eq!(runtime("cluster-ip.web"), var(Runtime::ClusterIp, "web"));
        assert_eq!(runtime("node-port.web"), var(Runtime::NodePort, "web"));
        for name in [
            "ip.",
            "ip",
            "namespace.x",
            "cluster-domain.x",
            "ipx.a",
            "HOME",
            "os",
        ] {
            assert_eq!(runtime(name), None, "{name}");
        }
    }

    #[test]
    fn the_catalog_documents_every_runtime_placeholder() {
        let docs = include_str!("mod.rs");
        for (name, _) in RUNTIME {
            assert!(
                docs.contains(&format!("`${{{name}")),
                "catalog/mod.rs lacks ${{{name}"
            );
        }
    }

    #[test]
    fn substituted_text_keeps_what_is_no_reference() {
        use Piece::{Text, Var};
        assert_eq!(
            substituted_pieces("${ip.a}:${HOME:-x} $${namespace}"),
            vec![
                Var("ip.a"),
                Text(":${"),
                Text("HOME:-x} $"),
                Var("namespace")
            ]
        );
        assert_eq!(
            substituted_pieces("echo ${unterminated ${namespace}"),
            vec![Text("echo ${"), Text("unterminated "), Var("namespace")]
        );
        assert_eq!(
            pieces("$${namespace}"),
            Ok(vec![Text("${"), Text("namespace}")])
        );
    }
}
