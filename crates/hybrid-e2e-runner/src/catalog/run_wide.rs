//! Where the run-wide placeholder `${cluster-domain}` may be written in a suite: only in the
//! step strings the runner substitutes just before a step runs (host and DNS names, bodies,
//! commands, expectations, patches, fixture vars). Anywhere else (a test's name, tags or
//! matrix, a `create`'s name or os, an object a step names, a timeout, a map key) nothing would
//! ever substitute it, so the suite fails to load with `file:line: field: ...`.

use marked_yaml::Node;

use super::error::Diagnostic;
use super::vars::{self, CLUSTER_DOMAIN};
use super::yaml;

/// Step fields (after `tests[N].steps[M].`, list indices left out) whose strings the runner
/// substitutes.
const TEXT_FIELDS: &[&str] = &[
    "http.to.host",
    "http.to.path",
    "http.expect.body",
    "http.expect.bodies",
    "dns.name",
    "exec.command",
    "exec.command.linux",
    "exec.command.windows",
    "exec.expect.stdout",
    "logs.contains",
    "expect.contains",
];

/// Step fields whose whole value, at any depth, the runner substitutes.
const VALUE_FIELDS: &[&str] = &[
    "expect.equals",
    "expect.not-equals",
    "patch.merge",
    "create.vars",
];

/// Why the placeholder is refused, as the message says it.
const WHERE_IT_FITS: &str = "it is substituted only in step strings: http to.host, to.path and \
     expect, dns name, exec command and expect.stdout, logs contains, expect equals, not-equals \
     and contains, patch merge, create vars";

/// Checks every scalar and key of `node` (at field path `path`, e.g. `tests[0]`) for a
/// `${cluster-domain}` where it cannot be substituted; the first one found is the error.
pub(crate) fn check(file: &str, path: &str, node: &Node) -> Result<(), Diagnostic> {
    match node {
        Node::Scalar(s) => {
            if uses_cluster_domain(s.as_str()) && !fits(path) {
                return Err(refused(file, yaml::line_of(node), path));
            }
        }
        Node::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                check(file, &format!("{path}[{i}]"), item)?;
            }
        }
        Node::Mapping(map) => {
            for (key, value) in map.iter() {
                let here = if path.is_empty() {
                    key.as_str().to_string()
                } else {
                    format!("{path}.{}", key.as_str())
                };
                if uses_cluster_domain(key.as_str()) {
                    let line = key.span().start().map(|m| m.line()).unwrap_or(0);
                    return Err(refused(file, line, &here));
                }
                check(file, &here, value)?;
            }
        }
    }
    Ok(())
}

/// Whether suite text refers to `${cluster-domain}` (not `$${cluster-domain}`, a literal).
fn uses_cluster_domain(text: &str) -> bool {
    text.contains(CLUSTER_DOMAIN)
        && vars::references(text).is_ok_and(|names| names.contains(&CLUSTER_DOMAIN))
}

fn refused(file: &str, line: usize, path: &str) -> Diagnostic {
    Diagnostic::new(
        file,
        line,
        path,
        format!("${{{CLUSTER_DOMAIN}}} cannot be used here ({WHERE_IT_FITS})"),
    )
}

/// Whether a field path (`tests[0].steps[2].dns.name`) is one the runner substitutes.
fn fits(path: &str) -> bool {
    let Some(field) = step_field(path) else {
        return false;
    };
    TEXT_FIELDS.contains(&field.as_str())
        || VALUE_FIELDS.iter().any(|v| {
            field == *v
                || field
                    .strip_prefix(v)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
}

/// The part of `tests[N].steps[M].REST` after the step, with list indices left out: `REST`.
fn step_field(path: &str) -> Option<String> {
    let rest = path.strip_prefix("tests[")?;
    let (_, rest) = rest.split_once("].steps[")?;
    let (_, rest) = rest.split_once("].")?;
    let mut out = String::with_capacity(rest.len());
    let mut in_index = false;
    for c in rest.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if !in_index => out.push(c),
            _ => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substituted_step_fields_fit_and_others_do_not() {
        for path in [
            "tests[0].steps[3].http.to.host",
            "tests[0].steps[3].http.expect.bodies[1]",
            "tests[2].steps[10].dns.name",
            "tests[0].steps[0].exec.command[2]",
            "tests[0].steps[0].exec.command.windows[0]",
            "tests[0].steps[0].expect.equals",
            "tests[0].steps[0].expect.equals.a[0].b",
            "tests[0].steps[0].create.vars.args[1]",
            "tests[0].steps[0].patch.merge.data.key",
        ] {
            assert!(fits(path), "{path}");
        }
        for path in [
            "tests[0].name",
            "tests[0].tags[0]",
            "tests[0].matrix.os[0]",
            "tests[0].steps[0].create.name",
            "tests[0].steps[0].create.os",
            "tests[0].steps[0].timeout",
            "tests[0].steps[0].wait.timeout",
            "tests[0].steps[0].dns.from",
            "tests[0].steps[0].http.to.port",
            "tests[0].steps[0].expect.equalsx",
            "tests[0].steps[0].expect.path",
            "tests[0].steps[0].sleep",
            "suite",
        ] {
            assert!(!fits(path), "{path}");
        }
    }

    #[test]
    fn only_a_reference_counts_not_an_escaped_one_or_other_text() {
        assert!(uses_cluster_domain("web.ns.svc.${cluster-domain}"));
        assert!(!uses_cluster_domain("echo $${cluster-domain}"));
        assert!(!uses_cluster_domain("cluster-domain"));
        assert!(!uses_cluster_domain("${cluster-domains}"));
        // A malformed reference is left to the checks that report it.
        assert!(!uses_cluster_domain("${cluster-domain"));
    }
}
