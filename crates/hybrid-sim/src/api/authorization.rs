//! `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`: whether the caller may do
//! something. The simulated cluster has no RBAC: everything is allowed, except what a fault
//! denies, and what a fault denies here it also refuses at the endpoint itself (one truth):
//! `forbid-namespaces` denies `create namespaces`, `forbid-exec` denies `get` and `create` on
//! `pods/exec`.

use serde_json::{json, Value};

use super::status::ApiError;
use crate::faults::Fault;

/// The group and version of the review, and its resource.
pub(crate) const GROUP_VERSION: &str = "authorization.k8s.io/v1";
pub(crate) const PATH: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

/// The user every denial names (the service account of the CI examples).
pub(crate) const USER: &str = "system:serviceaccount:ci:hybrid-e2e";

/// The fault that denies `verb` on `resource[/subresource]` of `group`, if one is configured.
pub(crate) fn denied_by(
    has: impl Fn(Fault) -> bool,
    verb: &str,
    group: &str,
    resource: &str,
    subresource: &str,
) -> Option<Fault> {
    let core = group.is_empty();
    if has(Fault::ForbidNamespaces)
        && core
        && verb == "create"
        && resource == "namespaces"
        && subresource.is_empty()
    {
        return Some(Fault::ForbidNamespaces);
    }
    if has(Fault::ForbidExec)
        && core
        && matches!(verb, "get" | "create")
        && resource == "pods"
        && subresource == "exec"
    {
        return Some(Fault::ForbidExec);
    }
    None
}

/// The answer to a review `body`: the review with its `status`.
pub(crate) fn review(has: impl Fn(Fault) -> bool, body: &[u8]) -> Result<Value, ApiError> {
    let mut review: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!("cannot read the SelfSubjectAccessReview: {e}"))
    })?;
    let spec = review.get("spec").cloned().unwrap_or(Value::Null);
    let field = |name: &str| {
        spec.pointer(&format!("/resourceAttributes/{name}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    if spec.get("resourceAttributes").is_none() && spec.get("nonResourceAttributes").is_none() {
        return Err(ApiError::Invalid {
            kind: "SelfSubjectAccessReview".to_string(),
            name: String::new(),
            causes: vec![super::status::Cause {
                reason: "FieldValueRequired",
                field: "spec.resourceAttributes".to_string(),
                message: "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified".to_string(),
            }],
        });
    }
    let status = match denied_by(
        has,
        &field("verb"),
        &field("group"),
        &field("resource"),
        &field("subresource"),
    ) {
        Some(fault) => json!({
            "allowed": false,
            "reason": format!("denied by fault {fault}"),
        }),
        None => json!({ "allowed": true, "reason": "the simulated cluster has no RBAC" }),
    };
    review["apiVersion"] = json!(GROUP_VERSION);
    review["kind"] = json!("SelfSubjectAccessReview");
    review["status"] = status;
    if review.get("metadata").is_none() {
        review["metadata"] = json!({});
    }
    Ok(review)
}

/// What `forbid-exec` answers an exec in pod `name` of `namespace`, word for word as RBAC does.
pub(crate) fn exec_forbidden(namespace: &str, name: &str) -> ApiError {
    ApiError::Forbidden {
        resource: "pods".to_string(),
        name: name.to_string(),
        why: format!(
            "User \"{USER}\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"{namespace}\""
        ),
        cause: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(faults: &[Fault], attributes: Value) -> Value {
        let body = json!({
            "apiVersion": GROUP_VERSION,
            "kind": "SelfSubjectAccessReview",
            "spec": { "resourceAttributes": attributes },
        });
        review(
            |f| faults.contains(&f),
            serde_json::to_vec(&body).unwrap().as_slice(),
        )
        .unwrap()
    }

    #[test]
    fn everything_is_allowed_without_faults() {
        let answer = ask(
            &[],
            json!({"verb": "create", "resource": "pods", "subresource": "exec"}),
        );
        assert_eq!(answer["status"]["allowed"], true);
        assert_eq!(answer["kind"], "SelfSubjectAccessReview");
    }

    #[test]
    fn forbid_exec_denies_get_and_create_on_pods_exec_only() {
        let faults = [Fault::ForbidExec];
        for verb in ["get", "create"] {
            let answer = ask(
                &faults,
                json!({"verb": verb, "resource": "pods", "subresource": "exec"}),
            );
            assert_eq!(answer["status"]["allowed"], false, "{verb}");
        }
        let logs = ask(
            &faults,
            json!({"verb": "get", "resource": "pods", "subresource": "log"}),
        );
        assert_eq!(logs["status"]["allowed"], true);
        let pods = ask(&faults, json!({"verb": "create", "resource": "pods"}));
        assert_eq!(pods["status"]["allowed"], true);
    }

    #[test]
    fn forbid_namespaces_denies_creating_namespaces() {
        let faults = [Fault::ForbidNamespaces];
        let create = ask(&faults, json!({"verb": "create", "resource": "namespaces"}));
        assert_eq!(create["status"]["allowed"], false);
        let list = ask(&faults, json!({"verb": "list", "resource": "namespaces"}));
        assert_eq!(list["status"]["allowed"], true);
    }

    #[test]
    fn a_review_without_attributes_is_invalid() {
        let body = br#"{"spec": {}}"#;
        assert!(matches!(
            review(|_| false, body),
            Err(ApiError::Invalid { .. })
        ));
    }

    #[test]
    fn the_exec_denial_reads_as_rbac_words_it() {
        assert_eq!(
            exec_forbidden("ns1", "target").to_string(),
            r#"pods "target" is forbidden: User "system:serviceaccount:ci:hybrid-e2e" cannot create resource "pods/exec" in API group "" in the namespace "ns1""#
        );
    }
}
