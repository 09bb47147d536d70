//! Object validation on create and update: names (DNS-1123), and the pod template rules the
//! suites can trip over (containers present, each with a DNS-1123 name and an image; no
//! `readOnlyRootFilesystem` on a Windows pod). Failures become 422 Invalid with field paths.

use serde_json::Value;

use super::registry::ResourceDef;
use super::status::{ApiError, Cause};

const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
    characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  \
    or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
    alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \
    (e.g. 'example.com', regex used for validation is \
    '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric \
    characters or '-', start with an alphabetic character, and end with an alphanumeric \
    character (e.g. 'my-name',  or 'abc-123', regex used for validation is \
    '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// RFC 1123 label: at most 63 characters of `[a-z0-9-]`, alphanumeric at both ends.
pub(crate) fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain: at most 253 characters, dot-separated labels.
pub(crate) fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// Validates `object` for `def`. `name` is the object's final name (after `generateName`).
pub(crate) fn validate(def: &ResourceDef, name: &str, object: &Value) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    check_name(def, name, &mut causes);
    match def.plural {
        "pods" => check_pod_spec(&object["spec"], "spec", &mut causes),
        "deployments" | "replicasets" | "jobs" | "daemonsets" => check_pod_spec(
            &object["spec"]["template"]["spec"],
            "spec.template.spec",
            &mut causes,
        ),
        _ => {}
    }
    check_labels(object, &mut causes);
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid {
            kind: def.kind.to_string(),
            name: name.to_string(),
            causes,
        })
    }
}

fn check_name(def: &ResourceDef, name: &str, causes: &mut Vec<Cause>) {
    let (ok, why) = match def.plural {
        "namespaces" => (is_dns1123_label(name), LABEL_MSG),
        "services" => (is_dns1035_label(name), LABEL_1035_MSG),
        _ => (is_dns1123_subdomain(name), SUBDOMAIN_MSG),
    };
    if !ok {
        causes.push(Cause::invalid("metadata.name", name, why));
    }
}

fn check_labels(object: &Value, causes: &mut Vec<Cause>) {
    let Some(labels) = object["metadata"]["labels"].as_object() else {
        return;
    };
    for (key, value) in labels {
        let name = key.rsplit('/').next().unwrap_or(key);
        let valid_part = |s: &str| {
            s.len() <= 63
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                && s.bytes().next().is_none_or(|b| b.is_ascii_alphanumeric())
                && s.bytes().last().is_none_or(|b| b.is_ascii_alphanumeric())
        };
        if name.is_empty() || !valid_part(name) {
            causes.push(Cause::invalid(
                "metadata.labels",
                key,
                "name part must consist of alphanumeric characters, '-', '_' or '.'",
            ));
        }
        match value.as_str() {
            Some(v) if valid_part(v) => {}
            _ => causes.push(Cause::invalid(
                format!("metadata.labels.{key}"),
                &value.to_string(),
                "a valid label must be an empty string or consist of alphanumeric characters, \
                 '-', '_' or '.', and must start and end with an alphanumeric character",
            )),
        }
    }
}

/// The container rules of a pod spec at `path` (`spec` or `spec.template.spec`).
fn check_pod_spec(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    let containers = spec["containers"].as_array();
    if containers.is_none_or(|c| c.is_empty()) {
        causes.push(Cause::required(format!("{path}.containers")));
    }
    let mut seen: Vec<String> = Vec::new();
    for list in ["initContainers", "containers"] {
        let Some(items) = spec[list].as_array() else {
            continue;
        };
        for (i, c) in items.iter().enumerate() {
            let at = format!("{path}.{list}[{i}]");
            match c["name"].as_str() {
                None | Some("") => causes.push(Cause::required(format!("{at}.name"))),
                Some(n) if !is_dns1123_label(n) => {
                    causes.push(Cause::invalid(format!("{at}.name"), n, LABEL_MSG))
                }
                Some(n) if seen.iter().any(|s| s == n) => {
                    causes.push(Cause::duplicate(format!("{at}.name"), n))
                }
                Some(n) => seen.push(n.to_string()),
            }
            if c["image"].as_str().is_none_or(|s| s.trim().is_empty()) {
                causes.push(Cause::required(format!("{at}.image")));
            }
            // Linux-only fields a pod declared Windows (spec.os.name) cannot set.
            let windows = spec["os"]["name"] == "windows";
            if windows && !c["securityContext"]["readOnlyRootFilesystem"].is_null() {
                causes.push(Cause {
                    reason: "FieldValueForbidden",
                    message: "Forbidden: cannot be set for a windows pod".to_string(),
                    field: format!("{at}.securityContext.readOnlyRootFilesystem"),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::registry;
    use serde_json::json;

    fn pods() -> &'static ResourceDef {
        registry::find("", "v1", "pods").unwrap()
    }

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Invalid { causes, .. } => causes.into_iter().map(|c| c.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names() {
        assert!(is_dns1123_label("a-1"));
        assert!(!is_dns1123_label("A"));
        assert!(!is_dns1123_label("-a"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain("a.b-c"));
        assert!(!is_dns1123_subdomain("a..b"));
    }

    #[test]
    fn pod_rules_have_field_paths() {
        let err = validate(pods(), "p", &json!({"spec": {}})).unwrap_err();
        assert_eq!(fields(err), vec!["spec.containers"]);
        let err = validate(
            pods(),
            "p",
            &json!({"spec": {"containers": [{"name": "Web"}, {"name": "ok", "image": "x"}]}}),
        )
        .unwrap_err();
        assert_eq!(
            fields(err),
            vec!["spec.containers[0].name", "spec.containers[0].image"]
        );
        let err = validate(
            pods(),
            "Bad_Name",
            &json!({"spec": {"containers": [
            {"name": "a", "image": "x"}]}}),
        )
        .unwrap_err();
        assert_eq!(fields(err), vec!["metadata.name"]);
        assert!(validate(
            pods(),
            "p",
            &json!({"spec": {"containers": [
            {"name": "a", "image": "x"}]}})
        )
        .is_ok());
    }

    #[test]
    fn a_windows_pod_cannot_have_a_read_only_root_filesystem() {
        let pod = |os: &str| {
            json!({"spec": {"os": {"name": os}, "containers": [{"name": "a", "image": "x",
                "securityContext": {"readOnlyRootFilesystem": true}}]}})
        };
        let err = validate(pods(), "p", &pod("windows")).unwrap_err();
        assert!(err.to_string().contains(
            "spec.containers[0].securityContext.readOnlyRootFilesystem: Forbidden: cannot be set for a windows pod"
        ), "{err}");
        assert!(validate(pods(), "p", &pod("linux")).is_ok());
    }

    #[test]
    fn deployments_check_their_template() {
        let deploy = registry::find("apps", "v1", "deployments").unwrap();
        let err = validate(
            deploy,
            "d",
            &json!({"spec": {"template": {"spec": {
            "containers": [{"name": "a"}]}}}}),
        )
        .unwrap_err();
        assert_eq!(fields(err), vec!["spec.template.spec.containers[0].image"]);
    }
}
