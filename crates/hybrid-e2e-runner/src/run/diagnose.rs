//! Why a test failed, from the cluster's side: the state of every pod in the test's namespace,
//! the nodes (readiness and taints: what an `Unschedulable` message counts but does not name),
//! the namespace's events, and container log tails (current and previous). Written into the
//! failure's details and, in full, into the test's artifacts folder.

use std::fmt::Write as _;
use std::path::Path;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{ListParams, LogParams};
use kube::{Api, Client};

use super::wait::summarize;
use crate::kube_error::{api_message, tail};

/// Lines of each container log kept in the failure details (the artifact has it all).
const LOG_TAIL_LINES: usize = 30;
/// Events kept in the failure details.
const EVENTS_KEPT: usize = 40;

/// Collects pods, events and logs of `namespace`; writes them under `artifacts` if given and
/// returns the text for the failure details.
pub(crate) async fn collect(client: &Client, namespace: &str, artifacts: Option<&Path>) -> String {
    let mut details = String::new();
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    let pod_list = match pods.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(e) => {
            let _ = writeln!(details, "(cannot list pods: {})", api_message(&e));
            Vec::new()
        }
    };
    let _ = writeln!(details, "Pods in namespace {namespace}:");
    for pod in &pod_list {
        let _ = writeln!(
            details,
            "  {}: {}",
            pod.metadata.name.as_deref().unwrap_or("?"),
            summarize(pod)
        );
    }

    let nodes: Vec<String> = match Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
    {
        Ok(nodes) => nodes.items.iter().map(describe_node).collect(),
        Err(e) => vec![format!("(cannot list nodes: {})", api_message(&e))],
    };
    let _ = writeln!(details, "Nodes:");
    for line in &nodes {
        let _ = writeln!(details, "  {line}");
    }

    let events = Api::<Event>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let mut event_lines: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            let when = e
                .last_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
                .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
                .or_else(|| {
                    e.metadata
                        .creation_timestamp
                        .as_ref()
                        .map(|t| t.0.to_string())
                })
                .unwrap_or_default();
            let line = format!(
                "{} {} {}/{}: {}",
                e.type_.as_deref().unwrap_or("Normal"),
                e.reason.as_deref().unwrap_or(""),
                e.involved_object
                    .kind
                    .as_deref()
                    .unwrap_or("")
                    .to_lowercase(),
                e.involved_object.name.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or("").trim()
            );
            (when, line)
        })
        .collect();
    // Stable: events of the same second keep the API server's order.
    event_lines.sort_by(|a, b| a.0.cmp(&b.0));
    let all_events: Vec<String> = event_lines.into_iter().map(|(_, l)| l).collect();
    let _ = writeln!(details, "Events ({}):", all_events.len());
    for line in &all_events[all_events.len().saturating_sub(EVENTS_KEPT)..] {
        let _ = writeln!(details, "  {line}");
    }

    let mut logs: Vec<(String, String)> = Vec::new();
    for pod in &pod_list {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let statuses = pod.status.as_ref().map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
                .cloned()
                .collect::<Vec<_>>()
        });
        for cs in statuses.unwrap_or_default() {
            for previous in [false, true] {
                if previous && cs.restart_count == 0 {
                    continue;
                }
                let params = LogParams {
                    container: Some(cs.name.clone()),
                    previous,
                    ..Default::default()
                };
                if let Ok(text) = pods.logs(&name, &params).await {
                    let label = format!(
                        "{name}_{}{}",
                        cs.name,
                        if previous { "_previous" } else { "" }
                    );
                    logs.push((label, text));
                }
            }
        }
    }
    for (label, text) in &logs {
        let _ = writeln!(details, "Log {label} (last {LOG_TAIL_LINES} lines):");
        for line in tail(text, LOG_TAIL_LINES).lines() {
            let _ = writeln!(details, "  {line}");
        }
    }

    if let Some(dir) = artifacts {
        if let Err(e) = write_artifacts(dir, &pod_list, &nodes, &all_events, &logs) {
            let _ = writeln!(
                details,
                "(cannot write artifacts to {}: {e})",
                dir.display()
            );
        } else {
            let _ = writeln!(details, "Artifacts: {}", dir.display());
        }
    }
    details
}

/// `name (os) Ready=True taints: key=value:Effect, ...`.
fn describe_node(node: &Node) -> String {
    let name = node.metadata.name.as_deref().unwrap_or("?");
    let os = node
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("kubernetes.io/os"))
        .map_or("?", String::as_str);
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map_or("?", |c| c.status.as_str());
    let taints: Vec<String> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .map(|t| match &t.value {
            Some(value) => format!("{}={value}:{}", t.key, t.effect),
            None => format!("{}:{}", t.key, t.effect),
        })
        .collect();
    let taints = if taints.is_empty() {
        "none".to_string()
    } else {
        taints.join(", ")
    };
    format!("{name} ({os}) Ready={ready} taints: {taints}")
}

fn write_artifacts(
    dir: &Path,
    pods: &[Pod],
    nodes: &[String],
    events: &[String],
    logs: &[(String, String)],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("logs"))?;
    let pods_json = serde_json::to_string_pretty(pods).unwrap_or_default();
    std::fs::write(dir.join("pods.json"), pods_json)?;
    std::fs::write(dir.join("nodes.txt"), nodes.join("\n") + "\n")?;
    std::fs::write(dir.join("events.txt"), events.join("\n") + "\n")?;
    for (label, text) in logs {
        std::fs::write(dir.join("logs").join(format!("{label}.log")), text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_named_with_its_os_readiness_and_taints() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "w1", "labels": {"kubernetes.io/os": "windows"}},
            "spec": {"taints": [{"key": "os", "value": "windows", "effect": "NoSchedule"},
                                {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]},
        }))
        .unwrap();
        assert_eq!(
            describe_node(&node),
            "w1 (windows) Ready=Unknown taints: os=windows:NoSchedule, node.kubernetes.io/unreachable:NoExecute"
        );
    }
}
