//! The admission policies a pod meets after the ServiceAccount admission, in kube-apiserver's
//! order: PodSecurity (`podsecurity.rs`), a validating webhook (`Quirk::WebhookDeniesHostpath`),
//! then ResourceQuota (`Quirk::QuotaRequiresLimits`). The API layer's pod create and the
//! workload controllers (whose refused creates become `FailedCreate` events) both ask here.

use std::collections::BTreeSet;

use serde_json::Value;

use super::podsecurity;
use super::status::ApiError;
use crate::config::SimConfig;
use crate::quirks::Quirk;
use crate::store::Store;

/// The ResourceQuota every namespace has under `Quirk::QuotaRequiresLimits`.
pub(crate) const LIMITS_QUOTA: &str = "compute-limits";

/// The validating webhook of `Quirk::WebhookDeniesHostpath`.
const WEBHOOK: &str = "policy.example.com";

/// Whether the pod `name`, to be created in `ns`, passes the cluster's admission policies;
/// otherwise the error the API server answers.
pub(crate) fn admit_pod(
    store: &Store,
    config: &SimConfig,
    ns: &str,
    name: &str,
    pod: &Value,
) -> Result<(), ApiError> {
    let forbidden = |why: String| ApiError::Forbidden {
        resource: "pods".to_string(),
        name: name.to_string(),
        why,
        cause: None,
    };
    let namespace = store.get("namespaces", "", ns);
    if let Some(why) = podsecurity::denial(namespace.as_ref(), config, pod) {
        return Err(forbidden(why));
    }
    if config.has_quirk(Quirk::WebhookDeniesHostpath) && uses_host_path(pod) {
        return Err(ApiError::BadRequest(format!(
            "admission webhook \"{WEBHOOK}\" denied the request: hostPath volumes are not allowed"
        )));
    }
    if config.has_quirk(Quirk::QuotaRequiresLimits) {
        if let Some(missing) = missing_limits(pod) {
            return Err(forbidden(format!(
                "failed quota: {LIMITS_QUOTA}: {missing}"
            )));
        }
    }
    Ok(())
}

fn uses_host_path(pod: &Value) -> bool {
    pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|v| v.get("hostPath").is_some_and(|h| !h.is_null()))
}

/// The quota evaluator's complaint about containers without the limits a quota on
/// `limits.cpu` and `limits.memory` needs: `must specify limits.cpu for: a,b; limits.memory
/// for: a` (resources and container names sorted, as upstream's string sets are).
fn missing_limits(pod: &Value) -> Option<String> {
    let spec = &pod["spec"];
    let mut parts = Vec::new();
    for resource in ["cpu", "memory"] {
        let names: BTreeSet<&str> = ["containers", "initContainers"]
            .into_iter()
            .flat_map(|field| spec[field].as_array().into_iter().flatten())
            .filter(|c| c["resources"]["limits"][resource].is_null())
            .map(|c| c["name"].as_str().unwrap_or_default())
            .collect();
        if !names.is_empty() {
            let names: Vec<&str> = names.into_iter().collect();
            parts.push(format!("limits.{resource} for: {}", names.join(",")));
        }
    }
    (!parts.is_empty()).then(|| format!("must specify {}", parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store_with_namespace(labels: Value) -> Store {
        let store = Store::new();
        store
            .create(
                "namespaces",
                "",
                json!({"metadata": {"name": "ns", "labels": labels}}),
            )
            .unwrap();
        store
    }

    fn config(quirks: &[Quirk]) -> SimConfig {
        SimConfig {
            quirks: quirks.iter().copied().collect(),
            ..SimConfig::default()
        }
    }

    fn host_path_pod() -> Value {
        json!({"spec": {"containers": [{"name": "c"}],
                        "volumes": [{"name": "data", "hostPath": {"path": "/tmp"}}]}})
    }

    #[test]
    fn unlabelled_namespaces_enforce_baseline_only_under_the_quirk() {
        let store = store_with_namespace(json!({}));
        let pod = host_path_pod();
        assert!(admit_pod(&store, &config(&[]), "ns", "p", &pod).is_ok());
        let refused = admit_pod(
            &store,
            &config(&[Quirk::PodSecurityBaseline]),
            "ns",
            "p",
            &pod,
        )
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "pods \"p\" is forbidden: violates PodSecurity \"baseline:latest\": hostPath volumes (volume \"data\")"
        );
        let privileged =
            store_with_namespace(json!({"pod-security.kubernetes.io/enforce": "privileged"}));
        assert!(admit_pod(
            &privileged,
            &config(&[Quirk::PodSecurityBaseline]),
            "ns",
            "p",
            &pod
        )
        .is_ok());
    }

    #[test]
    fn the_quota_refuses_containers_without_limits_with_the_quota_admission_message() {
        let store = store_with_namespace(json!({}));
        let pod = json!({"spec": {
            "initContainers": [{"name": "init", "resources": {"limits": {"cpu": "100m"}}}],
            "containers": [{"name": "b"}, {"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}],
        }});
        let refused = admit_pod(
            &store,
            &config(&[Quirk::QuotaRequiresLimits]),
            "ns",
            "p",
            &pod,
        )
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "pods \"p\" is forbidden: failed quota: compute-limits: must specify limits.cpu for: b; limits.memory for: b,init"
        );
        let limited = json!({"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert!(admit_pod(
            &store,
            &config(&[Quirk::QuotaRequiresLimits]),
            "ns",
            "p",
            &limited
        )
        .is_ok());
    }

    #[test]
    fn the_webhook_refuses_host_paths() {
        let store = store_with_namespace(json!({}));
        let refused = admit_pod(
            &store,
            &config(&[Quirk::WebhookDeniesHostpath]),
            "ns",
            "p",
            &host_path_pod(),
        )
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "admission webhook \"policy.example.com\" denied the request: hostPath volumes are not allowed"
        );
    }
}
