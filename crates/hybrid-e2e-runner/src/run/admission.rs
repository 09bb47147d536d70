//! Admission denials: a create the cluster's policy refuses (PodSecurity, a ResourceQuota, a
//! LimitRange, an admission webhook) says the cluster does not allow the test, not that it is
//! broken, so the test is skipped with the denial quoted instead of failed.

/// Phrases of the admission plugins whose refusals (403, `... is forbidden: ...`) are policy,
/// not faults: PodSecurity, ResourceQuota and LimitRanger.
const FORBIDDING_PHRASES: &[&str] = &[
    "violates PodSecurity",
    "exceeded quota",
    "failed quota",
    "must specify",
    "usage per Container",
    "usage per Pod",
    "limit to request ratio per",
];

/// Whether a message is a webhook's refusal (`admission webhook "w" denied the request: ...`),
/// whatever code the webhook chose.
fn is_webhook_denial(message: &str) -> bool {
    message.contains("admission webhook \"") && message.contains("denied the request")
}

/// Whether a message is a forbidding plugin's refusal (`pods "p" is forbidden: failed quota:
/// ...`); not the ServiceAccount admission's, which the namespace wait handles.
fn is_forbidding_denial(message: &str) -> bool {
    message.contains("is forbidden:")
        && FORBIDDING_PHRASES.iter().any(|p| message.contains(p))
        && !message.contains("error looking up service account")
}

/// Whether a controller's event message (`Error creating: ...`) is a policy's refusal.
pub(crate) fn is_policy_denial(message: &str) -> bool {
    is_webhook_denial(message) || is_forbidding_denial(message)
}

/// The API server's message when `error` is a policy's admission refusal: a webhook's (any
/// 4xx), or a forbidding plugin's (403; a 422 `is invalid` is the fixture's fault).
pub(crate) fn policy_denial(error: &kube::Error) -> Option<String> {
    match error {
        kube::Error::Api(status)
            if ((400..500).contains(&status.code) && is_webhook_denial(&status.message))
                || (status.code == 403 && is_forbidding_denial(&status.message)) =>
        {
            Some(status.message.trim().to_string())
        }
        _ => None,
    }
}

/// The skip reason of a test whose `kind` `name` a policy refused with `message`.
pub(crate) fn skip_reason(kind: &str, name: &str, message: &str) -> String {
    format!("the cluster's admission refused {kind} \"{name}\": {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refusals_are_recognised_and_other_forbidden_answers_are_not() {
        for message in [
            "pods \"p\" is forbidden: violates PodSecurity \"baseline:latest\": hostPath volumes (volume \"data\")",
            "pods \"p\" is forbidden: failed quota: limits: must specify limits.cpu for: c; limits.memory for: c",
            "pods \"p\" is forbidden: exceeded quota: q, requested: limits.cpu=1, used: limits.cpu=0, limited: limits.cpu=500m",
            "pods \"p\" is forbidden: maximum cpu usage per Container is 500m, but limit is 1",
            "pods \"p\" is forbidden: minimum memory usage per Container is 100Mi, but request is 16Mi",
            "admission webhook \"policy.example.com\" denied the request: hostPath volumes are not allowed",
        ] {
            assert!(is_policy_denial(message), "{message}");
        }
        for message in [
            "pods \"p\" is forbidden: error looking up service account ns/default: serviceaccount \"default\" not found",
            "pods is forbidden: User \"u\" cannot create resource \"pods\" in API group \"\" in the namespace \"n\"",
            "unable to create new content in namespace n because it is being terminated",
            "Pod \"p\" is invalid: spec.volumes[0]: Required value: must specify a volume type",
        ] {
            assert!(!is_policy_denial(message), "{message}");
        }
    }

    #[test]
    fn only_client_errors_count() {
        let status = |code: u16| {
            kube::Error::Api(
                kube::core::Status::failure(
                    "admission webhook \"w\" denied the request: no",
                    "Forbidden",
                )
                .with_code(code)
                .boxed(),
            )
        };
        assert_eq!(
            policy_denial(&status(403)).as_deref(),
            Some("admission webhook \"w\" denied the request: no")
        );
        assert_eq!(policy_denial(&status(500)), None);
        let invalid = kube::Error::Api(
            kube::core::Status::failure(
                "Pod \"p\" is invalid: spec.volumes[0]: Required value: must specify a volume type",
                "Invalid",
            )
            .with_code(422)
            .boxed(),
        );
        assert_eq!(policy_denial(&invalid), None);
    }
}
