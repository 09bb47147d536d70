//! Pod Security Standards as the harness sees them: the level a run's namespaces enforce
//! (`--pod-security`, labels `pod-security.kubernetes.io/enforce|warn|audit`), and the level the
//! rendered objects of a test need, so that a test needing more than the chosen level is skipped
//! before it starts instead of being refused by the cluster's PodSecurity admission.
//!
//! The checks follow k8s.io/pod-security-admission's policy (baseline and restricted, version
//! `latest`), enough for what fixtures contain; the cluster stays the judge at run time.

use std::fmt;

use serde_json::Value;

use crate::catalog::{Action, TestCase};
use crate::fixture::{self, FixtureSet, Images, Placement};

/// A Pod Security Standard level, from least to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum PodSecurityLevel {
    /// Unrestricted (the harness's default: its fixtures use hostPath volumes).
    #[default]
    Privileged,
    /// Prevents known privilege escalations (no hostPath, host namespaces, privileged, ...).
    Baseline,
    /// Hardened: non-root, no privilege escalation, all capabilities dropped, seccomp.
    Restricted,
}

impl PodSecurityLevel {
    /// The level's name in labels and messages (`baseline`).
    pub fn name(self) -> &'static str {
        match self {
            PodSecurityLevel::Privileged => "privileged",
            PodSecurityLevel::Baseline => "baseline",
            PodSecurityLevel::Restricted => "restricted",
        }
    }
}

impl fmt::Display for PodSecurityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The label prefix of PodSecurity admission's namespace labels.
pub const LABEL_PREFIX: &str = "pod-security.kubernetes.io/";

/// The labels a test namespace carries for `level`: enforce, warn and audit at `level`, each
/// at version `latest`.
pub fn namespace_labels(level: PodSecurityLevel) -> Vec<(String, String)> {
    ["enforce", "warn", "audit"]
        .into_iter()
        .flat_map(|mode| {
            [
                (format!("{LABEL_PREFIX}{mode}"), level.name().to_string()),
                (
                    format!("{LABEL_PREFIX}{mode}-version"),
                    "latest".to_string(),
                ),
            ]
        })
        .collect()
}

/// What in an object needs a level above another, e.g. `hostPath volume "data"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// The least level that allows it.
    pub level: PodSecurityLevel,
    /// What it is, in a few words.
    pub what: String,
}

/// The pod spec of a Pod, or of a workload's pod template.
fn pod_spec(object: &Value) -> Option<&Value> {
    match object["kind"].as_str()? {
        "Pod" => object.get("spec"),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => object["spec"]["template"].get("spec"),
        "CronJob" => object["spec"]["jobTemplate"]["spec"]["template"].get("spec"),
        _ => None,
    }
}

/// Every container of a pod spec: init, regular, ephemeral.
fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(move |field| spec[field].as_array().into_iter().flatten())
}

fn container_name(container: &Value) -> &str {
    container["name"].as_str().unwrap_or_default()
}

/// Capabilities baseline allows in `securityContext.capabilities.add`.
const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Volume types restricted allows.
const RESTRICTED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// What in `object` needs more than `restricted` (its level says how much more).
pub fn needs(object: &Value) -> Vec<Need> {
    let Some(spec) = pod_spec(object) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut need = |level, what: String| found.push(Need { level, what });
    let privileged = PodSecurityLevel::Privileged;
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        if volume.get("hostPath").is_some() {
            need(
                privileged,
                format!(
                    "hostPath volume \"{}\"",
                    volume["name"].as_str().unwrap_or_default()
                ),
            );
        }
    }
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec[field] == true {
            need(privileged, format!("{field}=true"));
        }
    }
    for container in containers(spec) {
        let name = container_name(container);
        let context = &container["securityContext"];
        if context["privileged"] == true {
            need(privileged, format!("privileged container \"{name}\""));
        }
        for port in container["ports"].as_array().into_iter().flatten() {
            if let Some(host_port) = port["hostPort"].as_i64().filter(|p| *p != 0) {
                need(
                    privileged,
                    format!("hostPort {host_port} of container \"{name}\""),
                );
            }
        }
        for cap in context["capabilities"]["add"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let cap = cap.as_str().unwrap_or_default();
            if !BASELINE_CAPABILITIES.contains(&cap) {
                need(
                    privileged,
                    format!("capability {cap} of container \"{name}\""),
                );
            }
        }
    }
    found.extend(restricted_needs(spec));
    found
}

/// What in a pod spec baseline allows and restricted does not.
fn restricted_needs(spec: &Value) -> Vec<Need> {
    let baseline = PodSecurityLevel::Baseline;
    let mut found = Vec::new();
    let windows = spec["os"]["name"] == "windows";
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        let allowed = volume
            .as_object()
            .is_some_and(|v| v.keys().any(|k| RESTRICTED_VOLUMES.contains(&k.as_str())));
        if !allowed && volume.get("hostPath").is_none() {
            found.push(Need {
                level: baseline,
                what: format!(
                    "volume \"{}\" of a restricted type",
                    volume["name"].as_str().unwrap_or_default()
                ),
            });
        }
    }
    let pod_non_root = spec["securityContext"]["runAsNonRoot"] == true;
    let pod_seccomp = matches!(
        spec["securityContext"]["seccompProfile"]["type"].as_str(),
        Some("RuntimeDefault" | "Localhost")
    );
    for container in containers(spec) {
        let name = container_name(container);
        let context = &container["securityContext"];
        let mut lacks = |what: &str| {
            found.push(Need {
                level: baseline,
                what: format!("container \"{name}\" without {what}"),
            })
        };
        let non_root = match context["runAsNonRoot"].as_bool() {
            Some(value) => value,
            None => pod_non_root,
        };
        if !non_root {
            lacks("runAsNonRoot=true");
        }
        if windows {
            continue;
        }
        if context["allowPrivilegeEscalation"] != false {
            lacks("allowPrivilegeEscalation=false");
        }
        let drops_all = context["capabilities"]["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|c| c == "ALL"));
        if !drops_all {
            lacks("capabilities.drop=[\"ALL\"]");
        }
        let seccomp = match context["seccompProfile"]["type"].as_str() {
            Some(kind) => matches!(kind, "RuntimeDefault" | "Localhost"),
            None => pod_seccomp,
        };
        if !seccomp {
            lacks("seccompProfile RuntimeDefault or Localhost");
        }
    }
    found
}

/// Where the skip check places objects: nothing about the namespace or claims matters.
const ANYWHERE: Placement<'static> = Placement {
    namespace: "${namespace}",
    storage_class: None,
    tolerations: &[],
};

/// Why `case` cannot run in namespaces enforcing `chosen`: the most its rendered objects need,
/// and what needs it, e.g. `needs Pod Security "privileged": hostPath volume "data"
/// (namespaces of this run enforce "baseline", --pod-security)`. A fixture that does not
/// render is left to the `create` step to report.
pub fn skip_reason(
    case: &TestCase,
    fixtures: &FixtureSet,
    images: &Images,
    chosen: PodSecurityLevel,
) -> Option<String> {
    let mut above: Vec<Need> = Vec::new();
    for step in &case.steps {
        let Action::Create {
            fixture,
            name,
            os,
            vars,
        } = &step.action
        else {
            continue;
        };
        let Ok(objects) =
            fixture::materialize(fixtures, images, fixture, name, *os, vars, ANYWHERE)
        else {
            continue;
        };
        above.extend(
            objects
                .iter()
                .flat_map(needs)
                .filter(|need| need.level < chosen),
        );
    }
    let most = above.iter().map(|n| n.level).min()?;
    let mut whats: Vec<String> = above
        .into_iter()
        .filter(|n| n.level == most)
        .map(|n| n.what)
        .collect();
    whats.dedup();
    Some(format!(
        "needs Pod Security \"{most}\": {} (namespaces of this run enforce \"{chosen}\", \
         --pod-security)",
        whats.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
    }

    #[test]
    fn labels_set_every_mode_at_the_level() {
        let labels = namespace_labels(PodSecurityLevel::Baseline);
        assert!(labels.contains(&(
            "pod-security.kubernetes.io/enforce".to_string(),
            "baseline".to_string()
        )));
        assert!(labels.contains(&(
            "pod-security.kubernetes.io/audit-version".to_string(),
            "latest".to_string()
        )));
        assert_eq!(labels.len(), 6);
    }

    #[test]
    fn host_path_needs_privileged() {
        let object = pod(json!({
            "containers": [{"name": "c", "image": "i"}],
            "volumes": [{"name": "data", "hostPath": {"path": "/tmp"}}],
        }));
        let needs = needs(&object);
        assert!(needs.contains(&Need {
            level: PodSecurityLevel::Privileged,
            what: "hostPath volume \"data\"".to_string()
        }));
    }

    #[test]
    fn host_namespaces_privileged_ports_and_capabilities_need_privileged() {
        let object = json!({"kind": "Deployment", "spec": {"template": {"spec": {
            "hostNetwork": true,
            "containers": [{"name": "c", "securityContext": {"privileged": true,
                "capabilities": {"add": ["NET_ADMIN", "CHOWN"]}},
                "ports": [{"containerPort": 80, "hostPort": 8080}]}],
        }}}});
        let whats: Vec<String> = needs(&object)
            .into_iter()
            .filter(|n| n.level == PodSecurityLevel::Privileged)
            .map(|n| n.what)
            .collect();
        assert_eq!(
            whats,
            [
                "hostNetwork=true",
                "privileged container \"c\"",
                "hostPort 8080 of container \"c\"",
                "capability NET_ADMIN of container \"c\"",
            ]
        );
    }

    #[test]
    fn a_plain_pod_is_baseline_but_not_restricted() {
        let object = pod(json!({"containers": [{"name": "c", "image": "i"}]}));
        let needs = needs(&object);
        assert!(!needs.is_empty());
        assert!(needs.iter().all(|n| n.level == PodSecurityLevel::Baseline));
    }

    #[test]
    fn a_hardened_pod_is_restricted_and_windows_is_exempt_from_linux_controls() {
        let hardened = pod(json!({
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
            "volumes": [{"name": "v", "emptyDir": {}}],
        }));
        assert_eq!(needs(&hardened), []);
        let windows = pod(json!({
            "os": {"name": "windows"},
            "securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "c"}],
        }));
        assert_eq!(needs(&windows), []);
    }
}
