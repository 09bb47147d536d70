//! The PodSecurity admission plugin, as k8s.io/pod-security-admission enforces it: a pod
//! created in a namespace is checked against the level its `pod-security.kubernetes.io/enforce`
//! label names (`privileged` without a label, `baseline` under `Quirk::PodSecurityBaseline`),
//! with the checks of the baseline and restricted levels that the harness's pods touch, and
//! refused with the real message (`violates PodSecurity "baseline:latest": hostPath volumes
//! (volume "data")`). Windows pods (`spec.os.name: windows`) are exempt from the Linux-only
//! restricted controls, as upstream is from 1.25.

use serde_json::Value;

use crate::config::SimConfig;
use crate::quirks::Quirk;

const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";

/// A Pod Security Standard level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    fn parse(text: &str) -> Option<Level> {
        match text {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// The level and version a namespace enforces: its labels, else the cluster's default.
pub(crate) fn enforced(namespace: Option<&Value>, config: &SimConfig) -> (Level, String) {
    let labels = namespace.map(|ns| &ns["metadata"]["labels"]);
    let default = if config.has_quirk(Quirk::PodSecurityBaseline) {
        Level::Baseline
    } else {
        Level::Privileged
    };
    let level = labels
        .and_then(|l| l[ENFORCE_LABEL].as_str())
        .and_then(Level::parse)
        .unwrap_or(default);
    let version = labels
        .and_then(|l| l[ENFORCE_VERSION_LABEL].as_str())
        .unwrap_or("latest")
        .to_string();
    (level, version)
}

/// Every container of a pod spec, as upstream visits them: init, regular, ephemeral.
fn containers(spec: &Value) -> Vec<&Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(|field| spec[field].as_array().into_iter().flatten())
        .collect()
}

fn name_of(value: &Value) -> String {
    value["name"].as_str().unwrap_or_default().to_string()
}

fn pluralize(singular: &'static str, plural: &'static str, count: usize) -> &'static str {
    if count == 1 {
        singular
    } else {
        plural
    }
}

fn join_quote(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    format!("\"{}\"", items.join("\", \""))
}

/// A failed check: its reason and detail, as `ForbiddenReason (ForbiddenDetail)`.
type Violation = (&'static str, String);

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

fn capabilities_baseline(spec: &Value) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut caps = std::collections::BTreeSet::new();
    for c in containers(spec) {
        let added = c["securityContext"]["capabilities"]["add"].as_array();
        let mut valid = true;
        for cap in added.into_iter().flatten().filter_map(Value::as_str) {
            if !BASELINE_CAPABILITIES.contains(&cap) {
                valid = false;
                caps.insert(cap.to_string());
            }
        }
        if !valid {
            bad.push(name_of(c));
        }
    }
    (!bad.is_empty()).then(|| {
        let caps: Vec<String> = caps.into_iter().collect();
        (
            "non-default capabilities",
            format!(
                "{} {} must not include {} in securityContext.capabilities.add",
                pluralize("container", "containers", bad.len()),
                join_quote(&bad),
                join_quote(&caps)
            ),
        )
    })
}

fn host_namespaces(spec: &Value) -> Option<Violation> {
    let set: Vec<String> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|f| spec[*f] == true)
        .map(|f| format!("{f}=true"))
        .collect();
    (!set.is_empty()).then(|| ("host namespaces", set.join(", ")))
}

fn host_path_volumes(spec: &Value) -> Option<Violation> {
    let names: Vec<String> = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v.get("hostPath").is_some_and(|h| !h.is_null()))
        .map(name_of)
        .collect();
    (!names.is_empty()).then(|| {
        (
            "hostPath volumes",
            format!(
                "{} {}",
                pluralize("volume", "volumes", names.len()),
                join_quote(&names)
            ),
        )
    })
}

fn host_ports(spec: &Value) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut ports = std::collections::BTreeSet::new();
    for c in containers(spec) {
        let mut valid = true;
        for port in c["ports"].as_array().into_iter().flatten() {
            if let Some(p) = port["hostPort"].as_i64().filter(|p| *p != 0) {
                valid = false;
                // Upstream sorts the ports as strings.
                ports.insert(p.to_string());
            }
        }
        if !valid {
            bad.push(name_of(c));
        }
    }
    (!bad.is_empty()).then(|| {
        let ports: Vec<String> = ports.into_iter().collect();
        (
            "hostPort",
            format!(
                "{} {} {} {} {}",
                pluralize("container", "containers", bad.len()),
                join_quote(&bad),
                pluralize("uses", "use", bad.len()),
                pluralize("hostPort", "hostPorts", ports.len()),
                ports.join(", ")
            ),
        )
    })
}

fn privileged(spec: &Value) -> Option<Violation> {
    let bad: Vec<String> = containers(spec)
        .into_iter()
        .filter(|c| c["securityContext"]["privileged"] == true)
        .map(name_of)
        .collect();
    (!bad.is_empty()).then(|| {
        (
            "privileged",
            format!(
                "{} {} must not set securityContext.privileged=true",
                pluralize("container", "containers", bad.len()),
                join_quote(&bad)
            ),
        )
    })
}

fn is_windows(spec: &Value) -> bool {
    spec["os"]["name"] == "windows"
}

fn allow_privilege_escalation(spec: &Value) -> Option<Violation> {
    if is_windows(spec) {
        return None;
    }
    let bad: Vec<String> = containers(spec)
        .into_iter()
        .filter(|c| c["securityContext"]["allowPrivilegeEscalation"] != false)
        .map(name_of)
        .collect();
    (!bad.is_empty()).then(|| {
        (
            "allowPrivilegeEscalation != false",
            format!(
                "{} {} must set securityContext.allowPrivilegeEscalation=false",
                pluralize("container", "containers", bad.len()),
                join_quote(&bad)
            ),
        )
    })
}

fn capabilities_restricted(spec: &Value) -> Option<Violation> {
    if is_windows(spec) {
        return None;
    }
    let mut missing_drop_all = Vec::new();
    let mut adding = Vec::new();
    let mut forbidden = std::collections::BTreeSet::new();
    for c in containers(spec) {
        let caps = &c["securityContext"]["capabilities"];
        if !caps.is_object() {
            missing_drop_all.push(name_of(c));
            continue;
        }
        let drops_all = caps["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "ALL"));
        if !drops_all {
            missing_drop_all.push(name_of(c));
        }
        let mut adds_forbidden = false;
        for cap in caps["add"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if cap != "NET_BIND_SERVICE" {
                adds_forbidden = true;
                forbidden.insert(cap.to_string());
            }
        }
        if adds_forbidden {
            adding.push(name_of(c));
        }
    }
    let mut details = Vec::new();
    if !missing_drop_all.is_empty() {
        details.push(format!(
            "{} {} must set securityContext.capabilities.drop=[\"ALL\"]",
            pluralize("container", "containers", missing_drop_all.len()),
            join_quote(&missing_drop_all)
        ));
    }
    if !adding.is_empty() {
        let forbidden: Vec<String> = forbidden.into_iter().collect();
        details.push(format!(
            "{} {} must not include {} in securityContext.capabilities.add",
            pluralize("container", "containers", adding.len()),
            join_quote(&adding),
            join_quote(&forbidden)
        ));
    }
    (!details.is_empty()).then(|| ("unrestricted capabilities", details.join("; ")))
}

/// Volume types restricted allows, as `spec.volumes[]` keys.
const RESTRICTED_VOLUME_TYPES: &[&str] = &[
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

/// Volume types restricted refuses, by name, in upstream's order of checking.
const REFUSED_VOLUME_TYPES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "portworxVolume",
    "photonPersistentDisk",
    "scaleIO",
    "storageos",
];

fn restricted_volumes(spec: &Value) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut types = std::collections::BTreeSet::new();
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        let set = |key: &str| volume.get(key).is_some_and(|v| !v.is_null());
        if RESTRICTED_VOLUME_TYPES.iter().any(|k| set(k)) {
            continue;
        }
        bad.push(name_of(volume));
        let kind = REFUSED_VOLUME_TYPES
            .iter()
            .find(|k| set(k))
            .copied()
            .unwrap_or("unknown");
        types.insert(kind.to_string());
    }
    (!bad.is_empty()).then(|| {
        let types: Vec<String> = types.into_iter().collect();
        (
            "restricted volume types",
            format!(
                "{} {} {} {} {}",
                pluralize("volume", "volumes", bad.len()),
                join_quote(&bad),
                pluralize("uses", "use", bad.len()),
                pluralize(
                    "restricted volume type",
                    "restricted volume types",
                    types.len()
                ),
                join_quote(&types)
            ),
        )
    })
}

fn run_as_non_root(spec: &Value) -> Option<Violation> {
    let mut bad_setters = Vec::new();
    let mut pod_non_root = false;
    match spec["securityContext"]["runAsNonRoot"].as_bool() {
        Some(false) => bad_setters.push("pod".to_string()),
        Some(true) => pod_non_root = true,
        None => {}
    }
    let mut explicitly_bad = Vec::new();
    let mut implicitly_bad = Vec::new();
    for c in containers(spec) {
        match c["securityContext"]["runAsNonRoot"].as_bool() {
            Some(false) => explicitly_bad.push(name_of(c)),
            Some(true) => {}
            None if !pod_non_root => implicitly_bad.push(name_of(c)),
            None => {}
        }
    }
    if !explicitly_bad.is_empty() {
        bad_setters.push(format!(
            "{} {}",
            pluralize("container", "containers", explicitly_bad.len()),
            join_quote(&explicitly_bad)
        ));
    }
    if !bad_setters.is_empty() {
        return Some((
            "runAsNonRoot != true",
            format!(
                "{} must not set securityContext.runAsNonRoot=false",
                bad_setters.join(" and ")
            ),
        ));
    }
    (!implicitly_bad.is_empty()).then(|| {
        (
            "runAsNonRoot != true",
            format!(
                "pod or {} {} must set securityContext.runAsNonRoot=true",
                pluralize("container", "containers", implicitly_bad.len()),
                join_quote(&implicitly_bad)
            ),
        )
    })
}

fn valid_seccomp(kind: &str) -> bool {
    matches!(kind, "RuntimeDefault" | "Localhost")
}

/// Baseline's and restricted's complaint about explicitly set seccomp profiles other than
/// RuntimeDefault and Localhost.
fn seccomp_explicitly_bad(spec: &Value) -> Option<Violation> {
    let mut bad_setters = Vec::new();
    let mut bad_values = std::collections::BTreeSet::new();
    if let Some(kind) = spec["securityContext"]["seccompProfile"]["type"].as_str() {
        if !valid_seccomp(kind) {
            bad_setters.push("pod".to_string());
            bad_values.insert(kind.to_string());
        }
    }
    let mut explicitly_bad = Vec::new();
    for c in containers(spec) {
        if let Some(kind) = c["securityContext"]["seccompProfile"]["type"].as_str() {
            if !valid_seccomp(kind) {
                explicitly_bad.push(name_of(c));
                bad_values.insert(kind.to_string());
            }
        }
    }
    if !explicitly_bad.is_empty() {
        bad_setters.push(format!(
            "{} {}",
            pluralize("container", "containers", explicitly_bad.len()),
            join_quote(&explicitly_bad)
        ));
    }
    (!bad_setters.is_empty()).then(|| {
        let values: Vec<String> = bad_values.into_iter().collect();
        (
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                bad_setters.join(" and "),
                join_quote(&values)
            ),
        )
    })
}

/// Baseline: no explicitly unconfined seccomp profile (the 1.19+ check; the annotations of
/// older versions are not modeled).
fn seccomp_profile_baseline(spec: &Value) -> Option<Violation> {
    seccomp_explicitly_bad(spec)
}

/// Restricted: no bad profile, and every container has a good one (its own or the pod's).
fn seccomp_profile_restricted(spec: &Value) -> Option<Violation> {
    if is_windows(spec) {
        return None;
    }
    if let Some(violation) = seccomp_explicitly_bad(spec) {
        return Some(violation);
    }
    let pod_set = spec["securityContext"]["seccompProfile"]["type"]
        .as_str()
        .is_some_and(valid_seccomp);
    let implicitly_bad: Vec<String> = containers(spec)
        .into_iter()
        .filter(|c| c["securityContext"]["seccompProfile"]["type"].is_null() && !pod_set)
        .map(name_of)
        .collect();
    (!implicitly_bad.is_empty()).then(|| {
        (
            "seccompProfile",
            format!(
                "pod or {} {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                pluralize("container", "containers", implicitly_bad.len()),
                join_quote(&implicitly_bad)
            ),
        )
    })
}

type Check = fn(&Value) -> Option<Violation>;

/// Baseline's checks in upstream's order (sorted by check ID).
const BASELINE: &[Check] = &[
    capabilities_baseline,
    host_namespaces,
    host_path_volumes,
    host_ports,
    privileged,
    seccomp_profile_baseline,
];

/// Restricted's: the baseline checks it does not override, then its own, each sorted by ID.
const RESTRICTED: &[Check] = &[
    host_namespaces,
    host_ports,
    privileged,
    allow_privilege_escalation,
    capabilities_restricted,
    restricted_volumes,
    run_as_non_root,
    seccomp_profile_restricted,
];

/// What `spec` violates at `level`, as upstream's `AggregateCheckResult.ForbiddenDetail()`
/// words it (`hostPath volumes (volume "data"), privileged (...)`), or None if allowed.
pub(crate) fn violations(level: Level, spec: &Value) -> Option<String> {
    let checks = match level {
        Level::Privileged => return None,
        Level::Baseline => BASELINE,
        Level::Restricted => RESTRICTED,
    };
    let found: Vec<String> = checks
        .iter()
        .filter_map(|check| check(spec))
        .map(|(reason, detail)| {
            if detail.is_empty() {
                reason.to_string()
            } else {
                format!("{reason} ({detail})")
            }
        })
        .collect();
    (!found.is_empty()).then(|| found.join(", "))
}

/// Why PodSecurity refuses `pod` in `namespace` (the text after `pods "NAME" is forbidden: `).
pub(crate) fn denial(namespace: Option<&Value>, config: &SimConfig, pod: &Value) -> Option<String> {
    let (level, version) = enforced(namespace, config);
    let detail = violations(level, &pod["spec"])?;
    Some(format!(
        "violates PodSecurity \"{}:{version}\": {detail}",
        level.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn baseline(spec: Value) -> Option<String> {
        violations(Level::Baseline, &spec)
    }

    fn restricted(spec: Value) -> Option<String> {
        violations(Level::Restricted, &spec)
    }

    #[test]
    fn namespaces_without_a_label_are_privileged_unless_the_quirk_says_baseline() {
        let ns = json!({"metadata": {"labels": {}}});
        let mut config = SimConfig::default();
        assert_eq!(enforced(Some(&ns), &config).0, Level::Privileged);
        config.quirks.insert(Quirk::PodSecurityBaseline);
        assert_eq!(enforced(Some(&ns), &config).0, Level::Baseline);
        let labelled = json!({"metadata": {"labels": {ENFORCE_LABEL: "privileged"}}});
        assert_eq!(enforced(Some(&labelled), &config).0, Level::Privileged);
    }

    #[test]
    fn host_path_volumes_are_refused_with_upstreams_message() {
        let ns = json!({"metadata": {"labels": {ENFORCE_LABEL: "baseline"}}});
        let pod = json!({"spec": {"containers": [{"name": "c"}],
            "volumes": [{"name": "data", "hostPath": {"path": "/tmp"}}]}});
        assert_eq!(
            denial(Some(&ns), &SimConfig::default(), &pod).as_deref(),
            Some("violates PodSecurity \"baseline:latest\": hostPath volumes (volume \"data\")")
        );
    }

    #[test]
    fn privileged_containers() {
        assert_eq!(
            baseline(
                json!({"containers": [{"name": "a", "securityContext": {"privileged": true}},
                                           {"name": "b", "securityContext": {"privileged": true}}]})
            )
            .as_deref(),
            Some(
                "privileged (containers \"a\", \"b\" must not set securityContext.privileged=true)"
            )
        );
    }

    #[test]
    fn unconfined_seccomp() {
        assert_eq!(
            baseline(json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}},
                            "containers": [{"name": "c"}]}))
            .as_deref(),
            Some("seccompProfile (pod must not set securityContext.seccompProfile.type to \"Unconfined\")")
        );
    }

    #[test]
    fn host_namespaces() {
        assert_eq!(
            baseline(json!({"hostNetwork": true, "hostIPC": true, "containers": []})).as_deref(),
            Some("host namespaces (hostNetwork=true, hostIPC=true)")
        );
    }

    #[test]
    fn host_ports() {
        assert_eq!(
            baseline(json!({"containers": [{"name": "web",
                "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81, "hostPort": 8081}]}]}))
            .as_deref(),
            Some("hostPort (container \"web\" uses hostPorts 8080, 8081)")
        );
    }

    #[test]
    fn non_default_capabilities() {
        assert_eq!(
            baseline(json!({"containers": [{"name": "c", "securityContext":
                {"capabilities": {"add": ["NET_ADMIN", "CHOWN", "SYS_ADMIN"]}}}]}))
            .as_deref(),
            Some("non-default capabilities (container \"c\" must not include \"NET_ADMIN\", \"SYS_ADMIN\" in securityContext.capabilities.add)")
        );
    }

    #[test]
    fn baseline_allows_a_plain_pod_and_restricted_lists_every_missing_control() {
        let plain =
            json!({"containers": [{"name": "c"}], "volumes": [{"name": "v", "emptyDir": {}}]});
        assert_eq!(baseline(plain.clone()), None);
        assert_eq!(
            restricted(plain).as_deref(),
            Some(
                "allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), \
                 unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), \
                 runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), \
                 seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
            )
        );
    }

    #[test]
    fn restricted_volume_types_and_explicit_bad_values() {
        let spec = json!({
            "securityContext": {"runAsNonRoot": false, "seccompProfile": {"type": "Unconfined"}},
            "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "NET_RAW"]}}}],
            "volumes": [{"name": "data", "hostPath": {"path": "/"}}, {"name": "n", "nfs": {"server": "s"}}],
        });
        assert_eq!(
            restricted(spec).as_deref(),
            Some(
                "unrestricted capabilities (container \"c\" must not include \"NET_RAW\" in securityContext.capabilities.add), \
                 restricted volume types (volumes \"data\", \"n\" use restricted volume types \"hostPath\", \"nfs\"), \
                 runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false), \
                 seccompProfile (pod must not set securityContext.seccompProfile.type to \"Unconfined\")"
            )
        );
    }

    #[test]
    fn windows_pods_are_exempt_from_the_linux_only_restricted_controls() {
        let spec = json!({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true},
                          "containers": [{"name": "c"}]});
        assert_eq!(restricted(spec), None);
        let not_non_root = json!({"os": {"name": "windows"}, "containers": [{"name": "c"}]});
        assert_eq!(
            restricted(not_non_root).as_deref(),
            Some("runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true)")
        );
    }
}
