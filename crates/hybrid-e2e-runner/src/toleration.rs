//! The tolerations test pods carry: the Windows ones every Windows test pod has, plus the
//! user's `--tolerate KEY[=VALUE]:EFFECT` ([`TestToleration::parse`]); and whether they
//! tolerate a node's taint, decided as the scheduler decides it. One list
//! ([`for_test_pods`]) serves both the fixtures (`fixture.rs` puts it on every pod template)
//! and the usable-node count (`cluster.rs`), so the two cannot disagree.

use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::core::v1::{Taint, Toleration};
use serde_json::{json, Value};

use crate::catalog::Os;

/// The effect of a taint a toleration names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaintEffect {
    /// New pods that do not tolerate it are not scheduled to the node.
    NoSchedule,
    /// The scheduler avoids the node for pods that do not tolerate it, but may still use it.
    PreferNoSchedule,
    /// Pods that do not tolerate it are not scheduled and are evicted from the node.
    NoExecute,
}

impl TaintEffect {
    const ALL: [TaintEffect; 3] = [
        TaintEffect::NoSchedule,
        TaintEffect::PreferNoSchedule,
        TaintEffect::NoExecute,
    ];

    /// The name Kubernetes uses (`NoSchedule`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

impl fmt::Display for TaintEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One toleration of the test pods: operator `Exists` without a value (`KEY:EFFECT`),
/// `Equal` with one (`KEY=VALUE:EFFECT`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TestToleration {
    /// The taint key it tolerates.
    pub key: String,
    /// The taint value it tolerates; `None`: any value (operator `Exists`).
    pub value: Option<String>,
    /// The taint effect it tolerates.
    pub effect: TaintEffect,
}

/// Why a `--tolerate` value is not a toleration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TolerationError {
    /// No `:EFFECT` at the end.
    #[error("no :EFFECT in \"{0}\"; expected KEY[=VALUE]:EFFECT, e.g. CriticalAddonsOnly=true:NoSchedule")]
    NoEffect(String),
    /// The effect is not one Kubernetes knows.
    #[error("effect \"{0}\" is none of NoSchedule, PreferNoSchedule, NoExecute")]
    UnknownEffect(String),
    /// The key is not a label key.
    #[error("key \"{key}\" is not a valid label key: {why}")]
    Key {
        /// The key given.
        key: String,
        /// What is wrong with it.
        why: String,
    },
    /// The value is not a label value.
    #[error("value \"{value}\" is not a valid label value: {why}")]
    Value {
        /// The value given.
        value: String,
        /// What is wrong with it.
        why: String,
    },
}

impl TestToleration {
    /// Reads `KEY:EFFECT` (operator Exists) or `KEY=VALUE:EFFECT` (operator Equal).
    pub fn parse(text: &str) -> Result<TestToleration, TolerationError> {
        let (key_value, effect) = text
            .rsplit_once(':')
            .ok_or_else(|| TolerationError::NoEffect(text.to_string()))?;
        let effect = TaintEffect::ALL
            .into_iter()
            .find(|e| e.as_str() == effect)
            .ok_or_else(|| TolerationError::UnknownEffect(effect.to_string()))?;
        let (key, value) = match key_value.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (key_value, None),
        };
        if let Err(why) = check_label_key(key) {
            return Err(TolerationError::Key {
                key: key.to_string(),
                why,
            });
        }
        if let Some(value) = value {
            if let Err(why) = check_label_value(value) {
                return Err(TolerationError::Value {
                    value: value.to_string(),
                    why,
                });
            }
        }
        Ok(TestToleration {
            key: key.to_string(),
            value: value.map(str::to_string),
            effect,
        })
    }

    /// `operator: Equal` with `value`.
    fn equal(key: &str, value: &str, effect: TaintEffect) -> TestToleration {
        TestToleration {
            key: key.to_string(),
            value: Some(value.to_string()),
            effect,
        }
    }

    /// Whether a pod with this toleration may land on a node with `taint` (the scheduler's
    /// rule: same key and effect; `Exists` matches any value, `Equal` the same value).
    pub fn tolerates(&self, taint: &Taint) -> bool {
        self.key == taint.key
            && self.effect.as_str() == taint.effect
            && self
                .value
                .as_deref()
                .is_none_or(|v| v == taint.value.as_deref().unwrap_or(""))
    }

    /// The toleration as a typed pod spec takes it.
    pub fn to_k8s(&self) -> Toleration {
        Toleration {
            key: Some(self.key.clone()),
            operator: Some(
                if self.value.is_some() {
                    "Equal"
                } else {
                    "Exists"
                }
                .to_string(),
            ),
            value: self.value.clone(),
            effect: Some(self.effect.as_str().to_string()),
            toleration_seconds: None,
        }
    }

    /// The toleration as it goes into a pod spec.
    pub fn to_json(&self) -> Value {
        match &self.value {
            Some(value) => json!({
                "key": self.key,
                "operator": "Equal",
                "value": value,
                "effect": self.effect.as_str(),
            }),
            None => json!({
                "key": self.key,
                "operator": "Exists",
                "effect": self.effect.as_str(),
            }),
        }
    }
}

impl FromStr for TestToleration {
    type Err = TolerationError;

    fn from_str(text: &str) -> Result<TestToleration, TolerationError> {
        TestToleration::parse(text)
    }
}

/// `KEY=VALUE:EFFECT` or `KEY:EFFECT`, as `--tolerate` takes it.
impl fmt::Display for TestToleration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{}={value}:{}", self.key, self.effect),
            None => write!(f, "{}:{}", self.key, self.effect),
        }
    }
}

/// A taint as `--tolerate` would name it: `KEY=VALUE:EFFECT`, or `KEY:EFFECT` without a value.
pub fn taint_text(taint: &Taint) -> String {
    match taint.value.as_deref() {
        Some(value) if !value.is_empty() => format!("{}={value}:{}", taint.key, taint.effect),
        _ => format!("{}:{}", taint.key, taint.effect),
    }
}

/// The tolerations every test pod of `os` carries: Windows pods tolerate
/// `os=windows:NoSchedule` and `node.kubernetes.io/os=windows:NoSchedule`; then `extra`
/// (`--tolerate`), each once.
pub fn for_test_pods(os: Os, extra: &[TestToleration]) -> Vec<TestToleration> {
    let mut all = Vec::new();
    if os == Os::Windows {
        for key in ["os", "node.kubernetes.io/os"] {
            all.push(TestToleration::equal(
                key,
                "windows",
                TaintEffect::NoSchedule,
            ));
        }
    }
    for toleration in extra {
        if !all.contains(toleration) {
            all.push(toleration.clone());
        }
    }
    all
}

/// Whether the test pods of `os` (with `extra` tolerations) may land on a node with `taint`:
/// PreferNoSchedule taints never keep them off.
pub fn tolerated_by_test_pods(taint: &Taint, os: Option<Os>, extra: &[TestToleration]) -> bool {
    if taint.effect != "NoSchedule" && taint.effect != "NoExecute" {
        return true;
    }
    let os_tolerations = os.map(|os| for_test_pods(os, extra));
    os_tolerations
        .as_deref()
        .unwrap_or(extra)
        .iter()
        .any(|t| t.tolerates(taint))
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// characters (letters, digits, `-`, `_`, `.`; a letter or digit at both ends).
fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        check_dns_subdomain(prefix).map_err(|why| format!("prefix \"{prefix}\": {why}"))?;
    }
    check_label_value(name).and_then(|()| {
        if name.is_empty() {
            Err("the name is empty".to_string())
        } else {
            Ok(())
        }
    })
}

/// A label value: at most 63 characters, letters, digits, `-`, `_`, `.`, beginning and
/// ending with a letter or digit (or empty).
fn check_label_value(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err(format!("{} characters, at most 63", value.len()));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!("character '{bad}' (letters, digits, -, _, . only)"));
    }
    let ends_ok = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    if !ends_ok(value.chars().next()) || !ends_ok(value.chars().last()) {
        return Err("must begin and end with a letter or digit".to_string());
    }
    Ok(())
}

/// A DNS subdomain: at most 253 characters, dot-separated lowercase labels of letters, digits
/// and `-`, each beginning and ending with a letter or digit.
fn check_dns_subdomain(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("empty".to_string());
    }
    if text.len() > 253 {
        return Err(format!("{} characters, at most 253", text.len()));
    }
    for label in text.split('.') {
        let fine = !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !fine {
            return Err("not a lowercase DNS subdomain".to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.map(str::to_string),
            effect: effect.into(),
            time_added: None,
        }
    }

    #[test]
    fn key_value_effect_is_equal_and_key_effect_is_exists() {
        let equal = TestToleration::parse("CriticalAddonsOnly=true:NoSchedule").unwrap();
        assert_eq!(
            equal,
            TestToleration::equal("CriticalAddonsOnly", "true", TaintEffect::NoSchedule)
        );
        assert_eq!(
            equal.to_json(),
            json!({"key": "CriticalAddonsOnly", "operator": "Equal", "value": "true", "effect": "NoSchedule"})
        );
        assert_eq!(equal.to_string(), "CriticalAddonsOnly=true:NoSchedule");
        let exists = TestToleration::parse("example.com/team:NoExecute").unwrap();
        assert_eq!(exists.value, None);
        assert_eq!(
            exists.to_json(),
            json!({"key": "example.com/team", "operator": "Exists", "effect": "NoExecute"})
        );
        assert_eq!(exists.to_string(), "example.com/team:NoExecute");
        for toleration in [&equal, &exists] {
            assert_eq!(
                serde_json::to_value(toleration.to_k8s()).unwrap(),
                toleration.to_json()
            );
        }
        let prefer = TestToleration::parse("spot=yes:PreferNoSchedule").unwrap();
        assert_eq!(prefer.effect, TaintEffect::PreferNoSchedule);
    }

    #[test]
    fn malformed_values_say_what_is_wrong() {
        let error = |text: &str| TestToleration::parse(text).unwrap_err().to_string();
        assert_eq!(
            error("CriticalAddonsOnly=true"),
            "no :EFFECT in \"CriticalAddonsOnly=true\"; expected KEY[=VALUE]:EFFECT, e.g. \
             CriticalAddonsOnly=true:NoSchedule"
        );
        assert_eq!(
            error("a=b:NoScheduel"),
            "effect \"NoScheduel\" is none of NoSchedule, PreferNoSchedule, NoExecute"
        );
        assert_eq!(
            error("=b:NoSchedule"),
            "key \"\" is not a valid label key: the name is empty"
        );
        assert_eq!(
            error("bad key:NoSchedule"),
            "key \"bad key\" is not a valid label key: character ' ' (letters, digits, -, _, . only)"
        );
        assert_eq!(
            error("Example.COM/x:NoSchedule"),
            "key \"Example.COM/x\" is not a valid label key: prefix \"Example.COM\": not a \
             lowercase DNS subdomain"
        );
        assert_eq!(
            error("k=-v:NoSchedule"),
            "value \"-v\" is not a valid label value: must begin and end with a letter or digit"
        );
        assert!(error(&format!("{}:NoSchedule", "k".repeat(64))).contains("64 characters"));
    }

    #[test]
    fn tolerating_follows_the_scheduler() {
        let critical = taint("CriticalAddonsOnly", Some("true"), "NoSchedule");
        let equal = TestToleration::parse("CriticalAddonsOnly=true:NoSchedule").unwrap();
        let exists = TestToleration::parse("CriticalAddonsOnly:NoSchedule").unwrap();
        let other_value = TestToleration::parse("CriticalAddonsOnly=false:NoSchedule").unwrap();
        let other_effect = TestToleration::parse("CriticalAddonsOnly:NoExecute").unwrap();
        assert!(equal.tolerates(&critical));
        assert!(exists.tolerates(&critical));
        assert!(!other_value.tolerates(&critical));
        assert!(!other_effect.tolerates(&critical));
        assert!(exists.tolerates(&taint("CriticalAddonsOnly", None, "NoSchedule")));
        assert!(!equal.tolerates(&taint("CriticalAddonsOnly", None, "NoSchedule")));
    }

    #[test]
    fn test_pods_tolerate_their_os_taints_and_the_extra_ones() {
        let windows = taint("os", Some("windows"), "NoSchedule");
        let critical = taint("CriticalAddonsOnly", Some("true"), "NoSchedule");
        let extra = [TestToleration::parse("CriticalAddonsOnly=true:NoSchedule").unwrap()];
        assert!(tolerated_by_test_pods(&windows, Some(Os::Windows), &[]));
        assert!(!tolerated_by_test_pods(&windows, Some(Os::Linux), &[]));
        assert!(!tolerated_by_test_pods(&critical, Some(Os::Linux), &[]));
        assert!(tolerated_by_test_pods(&critical, Some(Os::Linux), &extra));
        assert!(tolerated_by_test_pods(&critical, None, &extra));
        assert!(tolerated_by_test_pods(
            &taint("spot", None, "PreferNoSchedule"),
            Some(Os::Linux),
            &[]
        ));
        let windows_pods = for_test_pods(Os::Windows, &extra);
        assert_eq!(
            windows_pods
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "os=windows:NoSchedule",
                "node.kubernetes.io/os=windows:NoSchedule",
                "CriticalAddonsOnly=true:NoSchedule"
            ]
        );
        assert_eq!(for_test_pods(Os::Linux, &extra), extra);
        assert_eq!(
            taint_text(&taint(
                "node-role.kubernetes.io/control-plane",
                None,
                "NoSchedule"
            )),
            "node-role.kubernetes.io/control-plane:NoSchedule"
        );
    }
}
