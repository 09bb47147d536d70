//! An object's identity read from its raw JSON `metadata`: name, namespace, uid, and whether it
//! is being deleted. Missing or non-string fields read as empty, as the controllers want.

use serde_json::Value;

/// `metadata.name`, or `""`.
pub(crate) fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

/// `metadata.namespace`, or `""` (cluster-scoped objects).
pub(crate) fn namespace(object: &Value) -> &str {
    object["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// `metadata.uid`, or `""`.
pub(crate) fn uid(object: &Value) -> &str {
    object["metadata"]["uid"].as_str().unwrap_or_default()
}

/// Whether `metadata.deletionTimestamp` is set (the object is terminating).
pub(crate) fn is_terminating(object: &Value) -> bool {
    object["metadata"].get("deletionTimestamp").is_some()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_identity_and_defaults_to_empty() {
        let pod = json!({"metadata": {"name": "web", "namespace": "ns", "uid": "u-1"}});
        assert_eq!(
            (name(&pod), namespace(&pod), uid(&pod)),
            ("web", "ns", "u-1")
        );
        let odd = json!({"metadata": {"name": 7}});
        assert_eq!((name(&odd), namespace(&odd), uid(&odd)), ("", "", ""));
        assert_eq!(name(&json!(null)), "");
    }

    #[test]
    fn terminating_means_a_deletion_timestamp() {
        assert!(!is_terminating(&json!({"metadata": {"name": "a"}})));
        assert!(is_terminating(
            &json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}})
        ));
    }
}
