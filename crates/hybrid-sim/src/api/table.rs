//! Server-side printing: `meta.k8s.io/v1` Tables for clients that ask for them (`Accept: ...;
//! as=Table`, as `kubectl get` does), with the columns kubectl users know for pods, nodes,
//! namespaces, services, deployments, DaemonSets, jobs, PVCs, PVs and events (`-o wide` adds priority-1
//! columns), and NAME/AGE for the rest.

use axum::http::{header, HeaderMap};
use serde_json::{json, Value};

use super::registry::ResourceDef;
use crate::meta;

/// Whether the client asked for a Table.
pub(crate) fn wanted(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=Table"))
}

/// A Table of `objects`.
pub(crate) fn table(def: &ResourceDef, objects: &[Value], resource_version: Option<u64>) -> Value {
    let columns: Vec<Value> = columns(def.plural)
        .iter()
        .map(|(name, ty, priority)| {
            json!({"name": name, "type": ty, "format": if *name == "Name" {"name"} else {""},
                   "description": "", "priority": priority})
        })
        .collect();
    let now = chrono::Utc::now();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| json!({"cells": cells(def.plural, o, now), "object": o}))
        .collect();
    let mut metadata = json!({});
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = json!(rv.to_string());
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

type Column = (&'static str, &'static str, u8);

fn columns(plural: &str) -> &'static [Column] {
    match plural {
        "pods" => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        "nodes" => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
        "namespaces" => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Age", "string", 0),
        ],
        "services" => &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        "deployments" => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Age", "string", 0),
        ],
        "replicasets" => &[
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Age", "string", 0),
        ],
        "jobs" => &[
            ("Name", "string", 0),
            ("Completions", "string", 0),
            ("Age", "string", 0),
        ],
        "daemonsets" => &[
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Age", "string", 0),
        ],
        "persistentvolumeclaims" => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Volume", "string", 0),
            ("Capacity", "string", 0),
            ("Access Modes", "string", 0),
            ("StorageClass", "string", 0),
            ("Age", "string", 0),
        ],
        "persistentvolumes" => &[
            ("Name", "string", 0),
            ("Capacity", "string", 0),
            ("Access Modes", "string", 0),
            ("Reclaim Policy", "string", 0),
            ("Status", "string", 0),
            ("Claim", "string", 0),
            ("StorageClass", "string", 0),
            ("Age", "string", 0),
        ],
        "events" => &[
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Message", "string", 0),
        ],
        "configmaps" => &[
            ("Name", "string", 0),
            ("Data", "integer", 0),
            ("Age", "string", 0),
        ],
        _ => &[("Name", "string", 0), ("Age", "string", 0)],
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn or_none(v: String) -> String {
    if v.is_empty() {
        "<none>".to_string()
    } else {
        v
    }
}

fn cells(plural: &str, o: &Value, now: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
    let name = json!(s(&o["metadata"]["name"]));
    let created = json!(age(&o["metadata"]["creationTimestamp"], now));
    let status = &o["status"];
    let spec = &o["spec"];
    match plural {
        "pods" => {
            let statuses = status["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = spec["containers"].as_array().map_or(0, Vec::len);
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses
                .iter()
                .filter_map(|c| c["restartCount"].as_i64())
                .sum();
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(o)),
                json!(restarts.to_string()),
                created.clone(),
                json!(or_none(s(&status["podIP"]))),
                json!(or_none(s(&spec["nodeName"]))),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        "nodes" => {
            let ready = status["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready")
                .map(|c| match c["status"].as_str() {
                    Some("True") => "Ready",
                    Some("False") => "NotReady",
                    _ => "Unknown",
                })
                .unwrap_or("Unknown");
            let mut state = ready.to_string();
            if spec["unschedulable"] == true {
                state.push_str(",SchedulingDisabled");
            }
            let roles: Vec<String> = o["metadata"]["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
                .map(str::to_string)
                .collect();
            let address = |kind: &str| {
                status["addresses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["type"] == kind)
                    .map(|a| s(&a["address"]))
                    .unwrap_or_default()
            };
            let info = &status["nodeInfo"];
            vec![
                name,
                json!(state),
                json!(or_none(roles.join(","))),
                created.clone(),
                json!(s(&info["kubeletVersion"])),
                json!(or_none(address("InternalIP"))),
                json!(or_none(address("ExternalIP"))),
                json!(or_none(s(&info["osImage"]))),
                json!(or_none(s(&info["kernelVersion"]))),
                json!(or_none(s(&info["containerRuntimeVersion"]))),
            ]
        }
        "namespaces" => vec![name, json!(s(&status["phase"])), created],
        "services" => {
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let proto = p["protocol"].as_str().unwrap_or("TCP");
                    match p["nodePort"].as_i64() {
                        Some(node) => format!("{}:{node}/{proto}", p["port"]),
                        None => format!("{}/{proto}", p["port"]),
                    }
                })
                .collect();
            let selector: Vec<String> = spec["selector"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", s(v)))
                .collect();
            vec![
                name,
                json!(spec["type"].as_str().unwrap_or("ClusterIP")),
                json!(or_none(s(&spec["clusterIP"]))),
                json!("<none>"),
                json!(or_none(ports.join(","))),
                created.clone(),
                json!(or_none(selector.join(","))),
            ]
        }
        "deployments" => vec![
            name,
            json!(format!(
                "{}/{}",
                status["readyReplicas"].as_i64().unwrap_or(0),
                spec["replicas"].as_i64().unwrap_or(1)
            )),
            json!(status["updatedReplicas"].as_i64().unwrap_or(0)),
            json!(status["availableReplicas"].as_i64().unwrap_or(0)),
            created.clone(),
        ],
        "replicasets" => vec![
            name,
            json!(spec["replicas"].as_i64().unwrap_or(1)),
            json!(status["replicas"].as_i64().unwrap_or(0)),
            json!(status["readyReplicas"].as_i64().unwrap_or(0)),
            created.clone(),
        ],
        "daemonsets" => vec![
            name,
            json!(status["desiredNumberScheduled"].as_i64().unwrap_or(0)),
            json!(status["currentNumberScheduled"].as_i64().unwrap_or(0)),
            json!(status["numberReady"].as_i64().unwrap_or(0)),
            json!(status["updatedNumberScheduled"].as_i64().unwrap_or(0)),
            json!(status["numberAvailable"].as_i64().unwrap_or(0)),
            created.clone(),
        ],
        "jobs" => vec![
            name,
            json!(format!(
                "{}/{}",
                status["succeeded"].as_i64().unwrap_or(0),
                spec["completions"].as_i64().unwrap_or(1)
            )),
            created.clone(),
        ],
        "persistentvolumeclaims" => vec![
            name,
            json!(s(&status["phase"])),
            json!(s(&spec["volumeName"])),
            json!(s(&status["capacity"]["storage"])),
            json!(access_modes(&status["accessModes"])),
            json!(or_none(s(&spec["storageClassName"]))),
            created.clone(),
        ],
        "persistentvolumes" => {
            let claim = &spec["claimRef"];
            let claim = if claim.is_object() {
                format!("{}/{}", s(&claim["namespace"]), s(&claim["name"]))
            } else {
                String::new()
            };
            vec![
                name,
                json!(s(&spec["capacity"]["storage"])),
                json!(access_modes(&spec["accessModes"])),
                json!(spec["persistentVolumeReclaimPolicy"]
                    .as_str()
                    .unwrap_or("Retain")),
                json!(s(&status["phase"])),
                json!(claim),
                json!(s(&spec["storageClassName"])),
                created.clone(),
            ]
        }
        "events" => {
            let when = [
                &o["lastTimestamp"],
                &o["eventTime"],
                &o["metadata"]["creationTimestamp"],
            ]
            .into_iter()
            .find(|v| v.is_string())
            .cloned()
            .unwrap_or(Value::Null);
            let involved = &o["involvedObject"];
            vec![
                json!(age(&when, now)),
                json!(s(&o["type"])),
                json!(s(&o["reason"])),
                json!(format!(
                    "{}/{}",
                    s(&involved["kind"]).to_lowercase(),
                    s(&involved["name"])
                )),
                json!(s(&o["message"])),
            ]
        }
        "configmaps" => {
            let n = o["data"].as_object().map_or(0, |m| m.len())
                + o["binaryData"].as_object().map_or(0, |m| m.len());
            vec![name, json!(n), created]
        }
        _ => vec![name, created],
    }
}

fn access_modes(modes: &Value) -> String {
    modes
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|m| match m {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The STATUS column of `kubectl get pods`.
fn pod_status(pod: &Value) -> String {
    let status = &pod["status"];
    let mut reason = status["reason"]
        .as_str()
        .or(status["phase"].as_str())
        .unwrap_or("Unknown")
        .to_string();
    for (i, c) in status["initContainerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let state = &c["state"];
        if state["terminated"]["exitCode"] == 0 {
            continue;
        }
        let total = pod["spec"]["initContainers"].as_array().map_or(0, Vec::len);
        reason = if let Some(r) = state["waiting"]["reason"]
            .as_str()
            .filter(|r| *r != "PodInitializing")
        {
            format!("Init:{r}")
        } else if let Some(r) = state["terminated"]["reason"].as_str() {
            format!("Init:{r}")
        } else {
            format!("Init:{i}/{total}")
        };
        break;
    }
    if !reason.starts_with("Init:") {
        for c in status["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .rev()
        {
            let state = &c["state"];
            if let Some(r) = state["waiting"]["reason"].as_str() {
                reason = r.to_string();
            } else if let Some(r) = state["terminated"]["reason"].as_str() {
                reason = r.to_string();
            } else if let Some(code) = state["terminated"]["exitCode"].as_i64() {
                reason = format!("ExitCode:{code}");
            }
        }
    }
    if meta::is_terminating(pod) {
        reason = "Terminating".to_string();
    }
    reason
}

/// Age as kubectl prints it (`45s`, `3m20s`, `5h`, `2d3h`, ...).
fn age(timestamp: &Value, now: chrono::DateTime<chrono::Utc>) -> String {
    let Some(then) = timestamp
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    else {
        return "<unknown>".to_string();
    };
    let secs = (now - then.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    match secs {
        s if s < 120 => format!("{s}s"),
        _ if m < 10 && secs % 60 != 0 => format!("{m}m{}s", secs % 60),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 && m % 60 != 0 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if h < 192 && h % 24 != 0 => format!("{d}d{}h", h % 24),
        _ => format!("{d}d"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::registry;

    #[test]
    fn pod_rows_read_like_kubectl() {
        let pod = json!({
            "metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"nodeName": "win-1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Pending", "podIP": "10.0.0.5", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 1,
                 "state": {"waiting": {"reason": "ImagePullBackOff"}}}]},
        });
        let t = table(registry::find("", "v1", "pods").unwrap(), &[pod], Some(3));
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[1], "1/2");
        assert_eq!(cells[2], "ImagePullBackOff");
        assert_eq!(cells[3], "3");
        assert_eq!(cells[6], "win-1");
        assert_eq!(
            t["columnDefinitions"].as_array().unwrap().len(),
            cells.as_array().unwrap().len()
        );
    }

    #[test]
    fn daemon_set_rows_count_desired_current_ready_like_kubectl() {
        let ds = json!({
            "metadata": {"name": "prepull-windows", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {},
            "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                       "updatedNumberScheduled": 2, "numberAvailable": 1},
        });
        let t = table(
            registry::find("apps", "v1", "daemonsets").unwrap(),
            &[ds],
            Some(3),
        );
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Age"
            ]
        );
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[0], "prepull-windows");
        assert_eq!(
            (&cells[1], &cells[3], &cells[5]),
            (&json!(2), &json!(1), &json!(1))
        );
    }

    #[test]
    fn ages() {
        let now = chrono::Utc::now();
        let at = |secs: i64| json!((now - chrono::Duration::seconds(secs)).to_rfc3339());
        assert_eq!(age(&at(5), now), "5s");
        assert_eq!(age(&at(200), now), "3m20s");
        assert_eq!(age(&at(3 * 3600), now), "3h");
        assert_eq!(age(&at(50 * 3600), now), "2d2h");
        assert_eq!(age(&json!(null), now), "<unknown>");
    }
}
