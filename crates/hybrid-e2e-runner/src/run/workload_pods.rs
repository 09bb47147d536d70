//! The pods of a workload (Deployment, ReplicaSet, Job) while a wait watches the workload: a
//! pod state that would end a pod wait (a permanent pull error, a crash loop, a config error,
//! ...) ends the workload's wait at once, naming the pod, its node and OS and the reason, as
//! does an Unschedulable pod that `unschedulable::judge` finds hopeless (each pod's time
//! counted from when the wait first saw it Unschedulable); the pods' last states fill the
//! wait's timeout message.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Event;
use tokio::time::Instant;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::ListParams;
use kube::{Api, Client};

use super::unschedulable::{self, Patience};
use super::wait::{pod_pull_error, pod_verdict, summarize, PullError, Verdict};
use crate::catalog::WaitUntil;

/// At most this many pods are described in a timeout message.
const DESCRIBED_PODS: usize = 5;

/// What one look at a workload's pods found.
#[derive(Debug, Default)]
pub(crate) struct PodsSeen {
    /// Why the workload cannot become what is waited for (a pod's hopeless reason, with the
    /// pod's name, node and OS).
    pub(crate) blocker: Option<String>,
    /// The most telling pull error among the pods.
    pub(crate) pull_error: Option<PullError>,
    /// One line per pod: its name and state.
    pub(crate) states: String,
}

/// Looks at the pods of workloads in one namespace.
pub(crate) struct WorkloadPods<'a> {
    client: Client,
    namespace: String,
    /// How patient the wait is with an Unschedulable pod.
    patience: Patience<'a>,
    /// When each pod (by UID, else name) was first seen Unschedulable.
    unschedulable_since: HashMap<String, Instant>,
}

impl<'a> WorkloadPods<'a> {
    pub(crate) fn new(client: &Client, namespace: &str, patience: Patience<'a>) -> Self {
        WorkloadPods {
            client: client.clone(),
            namespace: namespace.to_string(),
            patience,
            unschedulable_since: HashMap::new(),
        }
    }

    /// The pods matching `selector`, judged as pods waited for `until`; `None` when they
    /// cannot be listed (the next look tries again).
    pub(crate) async fn look(&mut self, selector: &str, until: WaitUntil) -> Option<PodsSeen> {
        let pods = Api::<Pod>::namespaced(self.client.clone(), &self.namespace)
            .list(&ListParams::default().labels(selector))
            .await
            .ok()?;
        let mut pods: Vec<Pod> = pods
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let judged = judge(&pods, until);
        let blocker = match judged.blocker {
            Some((pod, reason)) => Some((pod, reason)),
            None => self.unschedulable_blocker(&pods).await,
        };
        let blocker = match blocker {
            Some((pod, reason)) => Some(self.name_the_pod(pod, &reason).await),
            None => None,
        };
        Some(PodsSeen {
            blocker,
            pull_error: judged.pull_error,
            states: judged.states,
        })
    }

    /// The first Unschedulable pod that [`unschedulable::judge`] finds hopeless, with why.
    async fn unschedulable_blocker<'p>(&mut self, pods: &'p [Pod]) -> Option<(&'p Pod, String)> {
        let stuck: Vec<&Pod> = pods
            .iter()
            .filter(|p| unschedulable::unschedulable_message(p).is_some())
            .collect();
        if stuck.is_empty() {
            return None;
        }
        let now = Instant::now();
        for pod in &stuck {
            self.unschedulable_since.entry(pod_key(pod)).or_insert(now);
        }
        // Events that cannot be read now are looked at again at the next look.
        let events = Api::<Event>::namespaced(self.client.clone(), &self.namespace)
            .list(&ListParams::default())
            .await
            .ok()?
            .items;
        stuck.into_iter().find_map(|pod| {
            let name = pod.metadata.name.as_deref();
            let about: Vec<Event> = events
                .iter()
                .filter(|e| {
                    e.involved_object.kind.as_deref() == Some("Pod")
                        && e.involved_object.name.as_deref() == name
                })
                .cloned()
                .collect();
            let since = self.unschedulable_since.get(&pod_key(pod)).copied()?;
            match unschedulable::judge(pod, &about, now - since, self.patience) {
                Verdict::Hopeless(reason) => Some((pod, reason)),
                Verdict::Done | Verdict::Pending => None,
            }
        })
    }

    /// `pod "NAME" (node NODE, OS): REASON`, or `(not scheduled)` for a pod on no node.
    async fn name_the_pod(&self, pod: &Pod, reason: &str) -> String {
        let place = match pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            Some(node) => format!("node {node}, {}", self.node_os(node).await),
            None => "not scheduled".to_string(),
        };
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        format!("pod \"{name}\" ({place}): {reason}")
    }

    /// The node's `kubernetes.io/os` label, or `OS unknown`.
    async fn node_os(&self, node: &str) -> String {
        Api::<Node>::all(self.client.clone())
            .get(node)
            .await
            .ok()
            .and_then(|n| n.metadata.labels)
            .and_then(|labels| labels.get("kubernetes.io/os").cloned())
            .unwrap_or_else(|| "OS unknown".to_string())
    }
}

/// A pod's UID, else its name.
fn pod_key(pod: &Pod) -> String {
    pod.metadata
        .uid
        .clone()
        .or_else(|| pod.metadata.name.clone())
        .unwrap_or_default()
}

/// What a look at pods found, before the blocking pod's node is looked up.
struct Judged<'p> {
    blocker: Option<(&'p Pod, String)>,
    pull_error: Option<PullError>,
    states: String,
}

/// Judges pods (not ended ones: a Job replaces failed pods) as pods waited for `until`.
fn judge(pods: &[Pod], until: WaitUntil) -> Judged<'_> {
    let mut blocker = None;
    let mut pull_error: Option<PullError> = None;
    for pod in pods {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            continue;
        }
        if let Some(error) = pod_pull_error(pod) {
            let error = PullError {
                text: format!("pod \"{name}\": {}", error.text),
                ..error
            };
            if pull_error.as_ref().is_none_or(|e| e.replaced_by(&error)) {
                pull_error = Some(error);
            }
        }
        if blocker.is_none() {
            if let Verdict::Hopeless(reason) = pod_verdict(pod, until) {
                blocker = Some((pod, reason));
            }
        }
    }
    let mut states: Vec<String> = pods
        .iter()
        .take(DESCRIBED_PODS)
        .map(|p| {
            format!(
                "pod \"{}\": {}",
                p.metadata.name.as_deref().unwrap_or_default(),
                summarize(p)
            )
        })
        .collect();
    if pods.len() > DESCRIBED_PODS {
        states.push(format!("{} more", pods.len() - DESCRIBED_PODS));
    }
    let states = if states.is_empty() {
        "no pods".to_string()
    } else {
        states.join(" | ")
    };
    Judged {
        blocker,
        pull_error,
        states,
    }
}

/// A label selector as `kubectl get -l` takes it (`app=web,tier in (a,b),!legacy`).
pub(crate) fn selector_string(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "x"}], "nodeName": "n1"},
            "status": status
        }))
        .unwrap()
    }

    fn waiting(reason: &str, message: &str) -> serde_json::Value {
        json!({"phase": "Pending", "containerStatuses": [{
            "name": "c", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
            "state": {"waiting": {"reason": reason, "message": message}}}]})
    }

    #[test]
    fn a_permanent_pull_error_of_one_pod_blocks_the_workload() {
        let pods = [
            pod("web-1", json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})),
            pod("web-2", waiting("ErrImagePull", "failed to pull and unpack image \"x\": failed to resolve reference \"x\": x: not found")),
        ];
        let judged = judge(&pods, WaitUntil::Ready);
        let (blocking, reason) = judged.blocker.expect("blocked");
        assert_eq!(blocking.metadata.name.as_deref(), Some("web-2"));
        assert!(
            reason.starts_with("container \"c\" is waiting: ErrImagePull: "),
            "{reason}"
        );
        assert!(
            judged.states.contains("pod \"web-1\": phase Running"),
            "{}",
            judged.states
        );
        assert!(judged
            .pull_error
            .unwrap()
            .text
            .starts_with("pod \"web-2\": container \"c\": ErrImagePull"));
    }

    #[test]
    fn a_transient_pull_error_does_not_block_but_is_remembered() {
        let pods = [pod(
            "web-1",
            waiting(
                "ImagePullBackOff",
                "Back-off pulling image \"x\": ErrImagePull: dial tcp 1.2.3.4:443: i/o timeout",
            ),
        )];
        let judged = judge(&pods, WaitUntil::Ready);
        assert!(judged.blocker.is_none());
        assert!(judged.pull_error.unwrap().text.contains("i/o timeout"));
    }

    #[test]
    fn crash_loops_block_a_deployment_but_ended_job_pods_do_not() {
        let crashing = pod(
            "web-1",
            json!({"phase": "Running", "containerStatuses": [{
            "name": "c", "ready": false, "restartCount": 3, "image": "x", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}}]}),
        );
        assert!(judge(std::slice::from_ref(&crashing), WaitUntil::Ready)
            .blocker
            .is_some());
        // A Job waited to fail: its pods crashing is the point.
        assert!(judge(std::slice::from_ref(&crashing), WaitUntil::Failed)
            .blocker
            .is_none());
        let failed = [pod("batch-1", json!({"phase": "Failed"}))];
        let judged = judge(&failed, WaitUntil::Succeeded);
        assert!(judged.blocker.is_none());
        assert!(judge(&[], WaitUntil::Ready).states == "no pods");
    }

    #[test]
    fn selectors_read_as_kubectl_takes_them() {
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "legacy", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        assert_eq!(selector_string(&selector), "app=web,tier in (a,b),!legacy");
    }
}
