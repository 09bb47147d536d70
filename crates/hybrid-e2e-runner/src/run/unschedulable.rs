//! Unschedulable is a state, not a verdict: what a pod that is `PodScheduled=False
//! reason=Unschedulable` means for a wait, given its events and how long it has been so.
//!
//! Cluster autoscalers and Karpenter add nodes *because* pods are unschedulable, so such a pod
//! keeps its wait alive for a bounded grace ([`UNSCHEDULABLE_GRACE`], scaled by
//! `--timeout-scale`), and until the step's deadline once a node is coming: a `TriggeredScaleUp`
//! event from the cluster-autoscaler (`pod triggered scale-up: [{pool 1->2 (max: 8)}]`,
//! kubernetes/autoscaler#5938), a `Nominated` event from Karpenter (`Pod should schedule on:
//! nodeclaim/...`, kubernetes-sigs/karpenter `pkg/controllers/provisioning/scheduling/events.go`)
//! or a `status.nominatedNodeName` (preemption). The wait ends at once when the autoscaler says
//! it will not help (`NotTriggerScaleUp`, `pod didn't trigger scale-up: 1 node(s) didn't match
//! Pod's node affinity`, kubernetes/autoscaler#1291, #3503) or when the scheduler's message
//! lists only reasons that no waiting heals and no autoscaler sign is there: every node failed
//! the pod's node affinity/selector, or has a taint the pod does not tolerate (the real format:
//! `0/6 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, 4 Insufficient
//! cpu. preemption: ...`, kubernetes/autoscaler#5938; older schedulers said `node(s) didn't match
//! node selector` and `node(s) had taint {k: v}, that the pod didn't tolerate`). Taints that new
//! or recovering nodes carry for a while (`node.kubernetes.io/not-ready`,
//! `node.cloudprovider.kubernetes.io/uninitialized`, ...) are not static.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod};

use super::image_pull;
use super::objects;
use super::wait::Verdict;

/// How long an Unschedulable pod keeps its wait alive with no sign of a node coming, before
/// `--timeout-scale`: long enough for a cluster-autoscaler scan (10 s) and a cloud VM to boot
/// and join (the audit measured 2-5 minutes for Windows pools), never beyond the step's deadline.
pub(crate) const UNSCHEDULABLE_GRACE: Duration = Duration::from_secs(180);

/// Scheduler reasons (substrings) that waiting does not heal: the pod's node affinity or
/// selector rules nodes out, or a volume pins the pod where it cannot go.
const STATIC_REASONS: &[&str] = &[
    "didn't match Pod's node affinity",
    "didn't match node selector",
    "volume node affinity conflict",
];

/// Taint keys (prefixes) that nodes carry only for a while (starting, recovering, being
/// drained), so a pod untolerating them may still schedule once they are gone.
const PASSING_TAINTS: &[&str] = &[
    "node.kubernetes.io/",
    "node.cloudprovider.kubernetes.io/",
    "karpenter.sh/",
    "node.cilium.io/",
    "ToBeDeletedByClusterAutoscaler",
    "DeletionCandidateOfClusterAutoscaler",
];

/// Event reasons that say a node is coming for the pod.
const NODE_COMING: &[&str] = &["TriggeredScaleUp", "Nominated"];

/// The cluster-autoscaler's event saying no node group would fit the pod.
const NO_SCALE_UP: &str = "NotTriggerScaleUp";

/// How patient a pod wait is with an Unschedulable pod.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Patience<'a> {
    /// The grace with no sign of a node coming ([`UNSCHEDULABLE_GRACE`], scaled).
    pub(crate) grace: Duration,
    /// A `fails-with` text: a scheduler message that contains it is the expected failure, and
    /// ends the wait at once.
    pub(crate) expected_failure: Option<&'a str>,
}

impl Patience<'_> {
    /// The default grace scaled by `--timeout-scale`, no expected failure.
    pub(crate) fn scaled(timeout_scale: f64) -> Patience<'static> {
        Patience {
            grace: UNSCHEDULABLE_GRACE.mul_f64(timeout_scale),
            expected_failure: None,
        }
    }
}

/// The scheduler's message when the pod is Unschedulable; `None` when it is not, or when it
/// only waits for its claim to bind (the scheduler retries once it does).
pub(crate) fn unschedulable_message(pod: &Pod) -> Option<String> {
    let condition = pod
        .status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled")?;
    if condition.status != "False" || condition.reason.as_deref() != Some("Unschedulable") {
        return None;
    }
    let message = condition
        .message
        .clone()
        .unwrap_or_else(|| "no reason given".to_string());
    (!message.contains("unbound immediate PersistentVolumeClaims")).then_some(message)
}

/// What an Unschedulable pod means for a wait: `Pending` while the grace runs or a node is
/// coming, `Hopeless` (naming the scheduler's message, the pod's events and how long it waited)
/// when the autoscaler declined, the message lists only static reasons with no autoscaler
/// sign, or the grace ran out. `stuck_for` is the time since the wait first saw the pod
/// Unschedulable; events about other pods (or an earlier pod of the same name) are ignored.
/// A pod that is not Unschedulable is `Pending` here (its other states are `pod_verdict`'s).
pub(crate) fn judge(
    pod: &Pod,
    events: &[Event],
    stuck_for: Duration,
    patience: Patience<'_>,
) -> Verdict {
    let Some(message) = unschedulable_message(pod) else {
        return Verdict::Pending;
    };
    let ours = events_about(pod, events);
    let hopeless = |why: &str| {
        Verdict::Hopeless(format!(
            "pod is Unschedulable: {message} ({why}; waited {stuck_for:.1?}); events: {}",
            event_lines(&ours)
        ))
    };
    if patience
        .expected_failure
        .is_some_and(|text| image_pull::reason_matches(&message, text))
    {
        return hopeless("the expected reason");
    }
    // The autoscaler's latest word counts: a later scale-up overrides an earlier refusal.
    let latest_sign = ours.iter().rev().find_map(|e| {
        let reason = e.reason.as_deref()?;
        (NODE_COMING.contains(&reason) || reason == NO_SCALE_UP).then_some(reason)
    });
    let nominated = pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    match latest_sign {
        Some(NO_SCALE_UP) if !nominated => {
            return hopeless("the cluster autoscaler will not add a node for it")
        }
        Some(_) => return Verdict::Pending,
        None if nominated => return Verdict::Pending,
        None => {}
    }
    if only_static_reasons(&message) {
        return hopeless("no node can take it however long it waits, and no autoscaler sign");
    }
    if stuck_for >= patience.grace {
        return hopeless(&format!(
            "no node came within the grace of {:.0?}",
            patience.grace
        ));
    }
    Verdict::Pending
}

/// What a wait that reached its deadline while the pod was still Unschedulable adds to its
/// last state: how long it was so and the pod's events (`None` when it is not Unschedulable).
pub(crate) fn deadline_note(pod: &Pod, events: &[Event], stuck_for: Duration) -> Option<String> {
    unschedulable_message(pod)?;
    Some(format!(
        "; Unschedulable for {stuck_for:.1?}; events: {}",
        event_lines(&events_about(pod, events))
    ))
}

/// The events about this pod (not an earlier pod of its name), oldest first.
fn events_about<'e>(pod: &Pod, events: &'e [Event]) -> Vec<&'e Event> {
    let uid = pod.metadata.uid.as_deref();
    let mut ours: Vec<&Event> = events
        .iter()
        .filter(|e| {
            let other = e.involved_object.uid.as_deref();
            uid.is_none() || other.is_none() || other == uid
        })
        .collect();
    ours.sort_by_key(|e| event_time(e));
    ours
}

/// `Type Reason: message | ...`, or `none`.
fn event_lines(events: &[&Event]) -> String {
    if events.is_empty() {
        return "none".to_string();
    }
    let lines: Vec<String> = events.iter().map(|e| objects::event_line(e)).collect();
    lines.join(" | ")
}

/// When an event was last reported (`lastTimestamp`, else `eventTime`, else its first time).
fn event_time(e: &Event) -> Option<k8s_openapi::jiff::Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or(e.event_time.as_ref().map(|t| t.0))
        .or(e.first_timestamp.as_ref().map(|t| t.0))
}

/// The per-node reasons of a scheduler message (`node(s) didn't match ...`, `Insufficient
/// cpu`), without their counts; `None` when the message is not of the scheduler's form.
fn reasons(message: &str) -> Option<Vec<String>> {
    let (_, rest) = message.split_once("nodes are available: ")?;
    let list = rest.split(". preemption:").next()?.trim_end_matches('.');
    let mut entries: Vec<String> = Vec::new();
    for piece in list.split(", ") {
        let counted = piece
            .split_once(' ')
            .filter(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        match (counted, entries.last_mut()) {
            (Some((_, reason)), _) => entries.push(reason.to_string()),
            // `had taint {k: v}, that the pod didn't tolerate`: one reason with a comma.
            (None, Some(last)) => {
                last.push_str(", ");
                last.push_str(piece);
            }
            (None, None) => return None,
        }
    }
    (!entries.is_empty()).then_some(entries)
}

/// Whether every reason in the scheduler's message is one that waiting does not heal.
pub(crate) fn only_static_reasons(message: &str) -> bool {
    reasons(message).is_some_and(|all| all.iter().all(|r| is_static(r)))
}

/// Whether one per-node reason is static: an affinity/selector mismatch, a volume affinity
/// conflict, or a taint the pod does not tolerate that is not one of [`PASSING_TAINTS`].
fn is_static(reason: &str) -> bool {
    if STATIC_REASONS.iter().any(|s| reason.contains(s)) {
        return true;
    }
    let Some((_, taint)) = reason.split_once("taint {") else {
        return false;
    };
    let key = taint.split([':', '}']).next().unwrap_or_default().trim();
    !PASSING_TAINTS.iter().any(|p| key.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const INSUFFICIENT: &str = "0/4 nodes are available: 2 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/4 nodes are available: 2 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.";
    const NOWHERE: &str = "0/5 nodes are available: 2 node(s) had untolerated taint {os: windows}, 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.";

    fn pending_pod(message: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "uid": "u1"},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": message}]}
        }))
        .unwrap()
    }

    fn event(reason: &str, message: &str, at: &str) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": format!("p.{reason}")},
            "involvedObject": {"kind": "Pod", "name": "p", "uid": "u1"},
            "type": if reason == "FailedScheduling" { "Warning" } else { "Normal" },
            "reason": reason, "message": message, "lastTimestamp": at}))
        .unwrap()
    }

    fn patience() -> Patience<'static> {
        Patience::scaled(1.0)
    }

    fn hopeless_text(v: Verdict) -> String {
        match v {
            Verdict::Hopeless(text) => text,
            other => panic!("not hopeless: {other:?}"),
        }
    }

    #[test]
    fn insufficient_capacity_waits_out_the_grace_then_names_message_and_events() {
        let pod = pending_pod(INSUFFICIENT);
        let failed = event("FailedScheduling", INSUFFICIENT, "2026-01-01T00:00:00Z");
        let just_under = UNSCHEDULABLE_GRACE - Duration::from_secs(1);
        assert_eq!(
            judge(&pod, std::slice::from_ref(&failed), just_under, patience()),
            Verdict::Pending
        );
        let text = hopeless_text(judge(&pod, &[failed], UNSCHEDULABLE_GRACE, patience()));
        assert!(
            text.starts_with(&format!("pod is Unschedulable: {INSUFFICIENT}")),
            "{text}"
        );
        assert!(
            text.contains("no node came within the grace of 180s"),
            "{text}"
        );
        assert!(text.contains("waited 180.0s"), "{text}");
        assert!(
            text.ends_with(&format!("events: Warning FailedScheduling: {INSUFFICIENT}")),
            "{text}"
        );
    }

    #[test]
    fn the_grace_scales_with_the_timeout_scale() {
        let pod = pending_pod(INSUFFICIENT);
        let scaled = Patience::scaled(2.0);
        assert_eq!(scaled.grace, Duration::from_secs(360));
        assert_eq!(
            judge(&pod, &[], Duration::from_secs(200), scaled),
            Verdict::Pending
        );
        assert!(matches!(
            judge(&pod, &[], Duration::from_secs(200), patience()),
            Verdict::Hopeless(_)
        ));
    }

    #[test]
    fn a_node_coming_keeps_the_wait_past_the_grace() {
        let late = UNSCHEDULABLE_GRACE * 3;
        for sign in [
            event(
                "TriggeredScaleUp",
                "pod triggered scale-up: [{windows-pool 2->3 (max: 10)}]",
                "2026-01-01T00:00:05Z",
            ),
            event(
                "Nominated",
                "Pod should schedule on: nodeclaim/windows-x7k2q",
                "2026-01-01T00:00:05Z",
            ),
        ] {
            // Even a static-looking message: a scale-from-zero pool brings the matching node.
            for message in [INSUFFICIENT, NOWHERE] {
                assert_eq!(
                    judge(
                        &pending_pod(message),
                        std::slice::from_ref(&sign),
                        late,
                        patience()
                    ),
                    Verdict::Pending,
                    "{message}"
                );
            }
        }
        let mut preempting = pending_pod(NOWHERE);
        preempting.status.as_mut().unwrap().nominated_node_name = Some("windows-node-1".into());
        assert_eq!(judge(&preempting, &[], late, patience()), Verdict::Pending);
    }

    #[test]
    fn static_reasons_end_the_wait_at_once() {
        let text = hopeless_text(judge(
            &pending_pod(NOWHERE),
            &[],
            Duration::ZERO,
            patience(),
        ));
        assert!(text.contains("no node can take it"), "{text}");
        assert!(text.contains("events: none"), "{text}");
        for message in [
            "0/2 nodes are available: 2 node(s) didn't match node selector.",
            "0/3 nodes are available: 1 node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate, 2 node(s) didn't match node selector.",
            "0/3 nodes are available: 3 node(s) had volume node affinity conflict.",
        ] {
            assert!(only_static_reasons(message), "{message}");
        }
        for message in [
            INSUFFICIENT,
            "0/3 nodes are available: 3 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.",
            "0/2 nodes are available: 1 node(s) had untolerated taint {node.cloudprovider.kubernetes.io/uninitialized: true}, 1 node(s) didn't match Pod's node affinity/selector.",
            "0/2 nodes are available: 2 node(s) were unschedulable.",
            "0/2 nodes are available: 2 Too many pods.",
            "no nodes available to schedule pods",
            "something the scheduler never said",
        ] {
            assert!(!only_static_reasons(message), "{message}");
            assert_eq!(
                judge(&pending_pod(message), &[], Duration::ZERO, patience()),
                Verdict::Pending,
                "{message}"
            );
        }
    }

    #[test]
    fn the_autoscaler_declining_ends_the_wait_unless_it_scaled_up_later() {
        let pod = pending_pod(INSUFFICIENT);
        let declined = event(
            "NotTriggerScaleUp",
            "pod didn't trigger scale-up: 1 Insufficient memory, 1 max node group size reached",
            "2026-01-01T00:00:10Z",
        );
        let text = hopeless_text(judge(
            &pod,
            std::slice::from_ref(&declined),
            Duration::from_secs(1),
            patience(),
        ));
        assert!(
            text.contains("the cluster autoscaler will not add a node"),
            "{text}"
        );
        assert!(
            text.contains(
                "Normal NotTriggerScaleUp: pod didn't trigger scale-up: 1 Insufficient memory"
            ),
            "{text}"
        );
        let later = event(
            "TriggeredScaleUp",
            "pod triggered scale-up: [{pool 1->2 (max: 3)}]",
            "2026-01-01T00:00:20Z",
        );
        assert_eq!(
            judge(&pod, &[later, declined], Duration::from_secs(1), patience()),
            Verdict::Pending
        );
    }

    #[test]
    fn events_of_an_earlier_pod_of_the_same_name_do_not_count() {
        let mut old = event(
            "TriggeredScaleUp",
            "pod triggered scale-up: [{pool 1->2 (max: 3)}]",
            "2026-01-01T00:00:05Z",
        );
        old.involved_object.uid = Some("u0".into());
        assert!(matches!(
            judge(&pending_pod(NOWHERE), &[old], Duration::ZERO, patience()),
            Verdict::Hopeless(_)
        ));
    }

    #[test]
    fn an_expected_reason_ends_the_wait_at_once() {
        let pod = pending_pod(
            "0/4 nodes are available: 2 Insufficient memory, 2 node(s) didn't match Pod's node affinity/selector.",
        );
        let expecting = Patience {
            expected_failure: Some("Insufficient memory"),
            ..patience()
        };
        assert!(matches!(
            judge(&pod, &[], Duration::ZERO, expecting),
            Verdict::Hopeless(_)
        ));
        let other = Patience {
            expected_failure: Some("Insufficient cpu"),
            ..patience()
        };
        assert_eq!(judge(&pod, &[], Duration::ZERO, other), Verdict::Pending);
    }

    #[test]
    fn a_pod_waiting_for_its_claim_or_scheduled_is_not_unschedulable() {
        let claim = pending_pod("0/4 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.");
        assert_eq!(unschedulable_message(&claim), None);
        assert_eq!(
            judge(&claim, &[], UNSCHEDULABLE_GRACE * 2, patience()),
            Verdict::Pending
        );
        let mut scheduled = pending_pod(INSUFFICIENT);
        let condition = &mut scheduled
            .status
            .as_mut()
            .unwrap()
            .conditions
            .as_mut()
            .unwrap()[0];
        condition.status = "True".into();
        condition.reason = None;
        assert_eq!(unschedulable_message(&scheduled), None);
    }

    #[test]
    fn a_deadline_reached_while_unschedulable_names_time_and_events() {
        let pod = pending_pod(INSUFFICIENT);
        let events = [
            event(
                "TriggeredScaleUp",
                "pod triggered scale-up: [{windows-pool 2->3 (max: 10)}]",
                "2026-01-01T00:00:05Z",
            ),
            event("FailedScheduling", INSUFFICIENT, "2026-01-01T00:00:00Z"),
        ];
        assert_eq!(
            deadline_note(&pod, &events, Duration::from_secs(30)).as_deref(),
            Some(format!(
                "; Unschedulable for 30.0s; events: Warning FailedScheduling: {INSUFFICIENT} | Normal TriggeredScaleUp: pod triggered scale-up: [{{windows-pool 2->3 (max: 10)}}]"
            ).as_str())
        );
        let mut scheduled = pod.clone();
        scheduled.status.as_mut().unwrap().conditions = None;
        assert_eq!(
            deadline_note(&scheduled, &events, Duration::from_secs(30)),
            None
        );
    }
}
