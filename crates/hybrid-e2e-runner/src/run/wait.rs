//! Watch-based waits (kube-runtime's `Condition` shape): each kind a step can wait for is
//! [`Waitable`], saying what one observed state means for a wait ([`Verdict`]) and how to show
//! it. One watch loop, [`wait_for`], follows the object through watch errors (410s, dropped
//! connections), ends as soon as the verdict is done or hopeless (a permanent image pull
//! failure, crash loop, an Unschedulable pod past its grace or with only static reasons
//! (`unschedulable`), pod ended, job failed, a claim's Warning event that
//! retries cannot heal or that keeps repeating, a workload's pod in such a state:
//! `workload_pods`), and gives up at the deadline with the last state seen (and the workload's
//! pods' states, and the last pull error).

use std::fmt::Debug;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use super::live::Live;
use super::unschedulable::{self, Patience};
use super::workload_pods::{self, WorkloadPods};
use super::{image_pull, objects};
use crate::catalog::{ObjectKind, ObjectRef, WaitUntil};

/// Container waiting reasons after which waiting longer cannot help. Pull failures
/// (`ErrImagePull`, `ImagePullBackOff`) are hopeless only for a permanent cause
/// ([`image_pull::permanent_cause`]); otherwise the kubelet's back-off may still get the image.
const HOPELESS_WAITING_REASONS: &[&str] = &[
    "InvalidImageName",
    "ErrImageNeverPull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// How often a wait that fails on Warning events looks at the events.
const WARNING_CHECK_EVERY: Duration = Duration::from_millis(500);

/// Words (lowercase) of Warning messages about a claim that no retry heals: the class or its
/// parameters are wrong (`storageclass.storage.k8s.io "x" not found`, a CSI driver's
/// `InvalidArgument`, `invalid parameter`, `... is not supported`). Each entry is a set of
/// words that must all appear.
const TERMINAL_CLAIM_WARNINGS: &[&[&str]] = &[
    &["storageclass", "not found"],
    &["invalid parameter"],
    &["code = invalidargument"],
    &["is not supported"],
];

/// How often one Warning (same reason and message) must be reported before the wait stops
/// hoping that the provisioner's retries heal it.
const REPEATED_WARNING_IS_HOPELESS: i32 = 3;

/// What one observed state of an object means for a wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Done,
    Pending,
    /// The wait cannot succeed any more; the reason says why.
    Hopeless(String),
}

/// A pull error seen while waiting, for a timeout message that names the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PullError {
    /// `container "c": ErrImagePull: <the runtime's message>`.
    pub(crate) text: String,
    /// Whether it is the failure itself (`ErrImagePull`), not a back-off that may not say why.
    pub(crate) first_hand: bool,
}

impl PullError {
    /// Whether `newer` should replace this one as the error to report: a back-off message
    /// does not hide the error it backs off from.
    pub(crate) fn replaced_by(&self, newer: &PullError) -> bool {
        newer.first_hand || !self.first_hand
    }
}

/// Why a wait ended without success.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WaitError {
    /// The wait cannot succeed any more; the text says why.
    #[error("{0}")]
    Hopeless(String),
    /// The object went away (or never was): `pod "p"`, `deployment "d"`, ...
    #[error("{0} does not exist (deleted, or never created)")]
    Gone(String),
    /// The deadline came first.
    #[error("not {until} after {waited:.0?}; last state: {last}")]
    Timeout {
        /// What was waited for.
        until: WaitUntil,
        /// How long.
        waited: Duration,
        /// The last state seen (`never seen` when none was).
        last: String,
    },
    /// The object's controller cannot create its pods: a policy's admission refuses them (the
    /// test is skipped with this reason, quoting the controller's FailedCreate event).
    #[error("{0}")]
    Denied(String),
    /// The object's kind has no conditions to wait for (the catalog rejects such waits).
    #[error("cannot wait for objects of kind {0}")]
    NotWaitable(ObjectKind),
}

/// A kind of object a `wait` step can wait for.
pub(crate) trait Waitable:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Debug
    + Send
    + 'static
{
    /// What this state of the object means for a wait for `until`.
    fn verdict(&self, until: WaitUntil) -> Verdict;

    /// One line describing the state, for a wait that timed out.
    fn summary(&self) -> String;

    /// A short line describing the state, for a `slow:` progress line (`run::progress`).
    fn brief(&self) -> String {
        self.summary()
    }

    /// Whether Warning events about the object that retries cannot heal, or that repeat
    /// [`REPEATED_WARNING_IS_HOPELESS`] times, mean the wait cannot succeed
    /// ([`hopeless_warning`]).
    const WARNINGS_ARE_HOPELESS: bool = false;

    /// The kind of the controller whose FailedCreate events say this object's pods are refused
    /// (`ReplicaSet` for a Deployment, named `<deployment>-<hash>`; `Job` for a Job).
    const POD_CREATOR: Option<&'static str> = None;

    /// The words appended to the reason when a Warning event ends the wait; `object` is its
    /// state before the wait, if it could be read.
    fn warning_context(_name: &str, _object: Option<&Self>) -> String {
        String::new()
    }

    /// The pull error this state shows, if any.
    fn pull_error(&self) -> Option<PullError> {
        None
    }

    /// Whether the object runs pods whose states the wait looks at ([`Waitable::pod_selector`]).
    const RUNS_PODS: bool = false;

    /// Whether the object is a pod, whose Unschedulable state the wait judges with its events
    /// ([`unschedulable::judge`]).
    const IS_POD: bool = false;

    /// The object as a pod, for [`Waitable::IS_POD`] kinds.
    fn as_pod(&self) -> Option<&Pod> {
        None
    }

    /// The label selector of the pods this object runs.
    fn pod_selector(&self) -> Option<String> {
        None
    }

    /// What the object's pods must become for the object to become `until`: a pod state
    /// hopeless for that ends the object's wait.
    fn pods_until(_until: WaitUntil) -> WaitUntil {
        WaitUntil::Ready
    }
}

/// Waits for the object a step names to be `until`; fails fast when it cannot, or times out.
/// `patience` says how long an Unschedulable pod (the object, or one of a workload's) keeps
/// the wait alive.
pub(crate) async fn wait(
    client: &Client,
    namespace: &str,
    object: &ObjectRef,
    until: WaitUntil,
    timeout: Duration,
    patience: Patience<'_>,
    live: &Live,
) -> Result<(), WaitError> {
    let p = patience;
    match object.kind {
        ObjectKind::Pod => wait_for::<Pod>(client, namespace, object, until, timeout, p, live)
            .await
            .map(drop),
        ObjectKind::Deployment => {
            wait_for::<Deployment>(client, namespace, object, until, timeout, p, live)
                .await
                .map(drop)
        }
        ObjectKind::Job => wait_for::<Job>(client, namespace, object, until, timeout, p, live)
            .await
            .map(drop),
        ObjectKind::PersistentVolumeClaim => {
            wait_for::<PersistentVolumeClaim>(client, namespace, object, until, timeout, p, live)
                .await
                .map(drop)
        }
        // The catalog accepts no wait for these.
        kind @ (ObjectKind::Service
        | ObjectKind::ConfigMap
        | ObjectKind::Secret
        | ObjectKind::NodeOf) => Err(WaitError::NotWaitable(kind)),
    }
}

/// Waits, by watching, until the named object's verdict is done; fails fast when it is
/// hopeless, or (for kinds that watch warnings) as soon as a Warning event about it appears.
async fn wait_for<K: Waitable>(
    client: &Client,
    namespace: &str,
    object: &ObjectRef,
    until: WaitUntil,
    timeout: Duration,
    patience: Patience<'_>,
    live: &Live,
) -> Result<K, WaitError> {
    let name = object.name.as_str();
    let gone = || WaitError::Gone(objects::describe(object));
    let api = Api::<K>::namespaced(client.clone(), namespace);
    let warnings = if K::WARNINGS_ARE_HOPELESS {
        let before = api.get(name).await.ok();
        Some(WarningWatch {
            client: client.clone(),
            namespace: namespace.to_string(),
            kind: K::kind(&()).to_string(),
            context: K::warning_context(name, before.as_ref()),
        })
    } else {
        None
    };
    let denials = K::POD_CREATOR.map(|creator| DenialWatch {
        client: client.clone(),
        namespace: namespace.to_string(),
        creator,
    });
    let mut pods = K::RUNS_PODS.then(|| WorkloadPods::new(client, namespace, patience));
    let mut stuck = K::IS_POD.then(|| UnschedulableWatch {
        client: client.clone(),
        namespace: namespace.to_string(),
        since: None,
        events: Vec::new(),
    });
    let mut last: Option<K> = None;
    let mut last_pull_error: Option<PullError> = None;
    let mut last_pods: Option<String> = None;
    let mut stream = watcher::watch_object(api, name).default_backoff().boxed();
    let mut tick = tokio::time::interval(WARNING_CHECK_EVERY);
    let mut remember = |error: Option<PullError>| {
        if let Some(error) = error {
            if last_pull_error
                .as_ref()
                .is_none_or(|e| e.replaced_by(&error))
            {
                last_pull_error = Some(error);
            }
        }
    };
    let watch = async {
        loop {
            tokio::select! {
                event = stream.next() => match event {
                    Some(Ok(Some(object))) => {
                        match object.verdict(until) {
                            Verdict::Done => return Ok(object),
                            Verdict::Hopeless(reason) => return Err(WaitError::Hopeless(reason)),
                            Verdict::Pending => {}
                        }
                        remember(object.pull_error());
                        if let (Some(s), Some(pod)) = (&mut stuck, object.as_pod()) {
                            s.saw(pod);
                        }
                        live.saw(object.brief());
                        last = Some(object);
                    }
                    Some(Ok(None)) | None => return Err(gone()),
                    // The backoff wrapper retries; a watch error is not the object's fault.
                    Some(Err(error)) => tracing::debug!(object = name, %error, "watch error while waiting; retrying"),
                },
                _ = tick.tick(), if warnings.is_some() || denials.is_some() || pods.is_some() || stuck.is_some() => {
                    if let (Some(s), Some(pod)) = (&mut stuck, last.as_ref().and_then(K::as_pod)) {
                        if let Some(reason) = s.check(pod, patience).await {
                            return Err(WaitError::Hopeless(reason));
                        }
                    }
                    let selector = last.as_ref().and_then(K::pod_selector);
                    if let (Some(p), Some(selector)) = (&mut pods, selector) {
                        if let Some(seen) = p.look(&selector, K::pods_until(until)).await {
                            if let Some(reason) = seen.blocker {
                                return Err(WaitError::Hopeless(reason));
                            }
                            remember(seen.pull_error);
                            if let Some(object) = &last {
                                live.saw(format!("{}; pods: {}", object.brief(), seen.states));
                            }
                            last_pods = Some(seen.states);
                        }
                    }
                    if let Some(w) = &warnings {
                        if let Some(reason) = w.check(name).await {
                            return Err(WaitError::Hopeless(reason));
                        }
                    }
                    if let Some(d) = &denials {
                        if let Some(reason) = d.check(name).await {
                            return Err(WaitError::Denied(reason));
                        }
                    }
                }
            }
        }
    };
    match tokio::time::timeout(timeout, watch).await {
        Ok(result) => result,
        Err(_) => {
            let mut state = last
                .as_ref()
                .map(K::summary)
                .unwrap_or_else(|| "never seen".to_string());
            let note = stuck
                .as_ref()
                .zip(last.as_ref().and_then(K::as_pod))
                .and_then(|(s, pod)| s.deadline_note(pod));
            if let Some(note) = note {
                state.push_str(&note);
            }
            if let Some(pods) = last_pods {
                state.push_str(&format!("; pods: {pods}"));
            }
            if let Some(error) = last_pull_error.filter(|e| !state.contains(&e.text)) {
                state.push_str(&format!("; last pull error: {}", error.text));
            }
            Err(WaitError::Timeout {
                until,
                waited: timeout,
                last: state,
            })
        }
    }
}

/// Judges a waited-for pod while it is Unschedulable ([`unschedulable::judge`]), from when the
/// wait first saw it so.
struct UnschedulableWatch {
    client: Client,
    namespace: String,
    /// When the wait first saw the pod Unschedulable.
    since: Option<tokio::time::Instant>,
    /// The pod's events at the last look, for a wait that reaches its deadline.
    events: Vec<k8s_openapi::api::core::v1::Event>,
}

impl UnschedulableWatch {
    /// Starts the clock when the pod is first seen Unschedulable.
    fn saw(&mut self, pod: &Pod) {
        if unschedulable::unschedulable_message(pod).is_some() {
            self.since.get_or_insert_with(tokio::time::Instant::now);
        }
    }

    /// Why the wait for this Unschedulable pod cannot succeed, if it cannot.
    async fn check(&mut self, pod: &Pod, patience: Patience<'_>) -> Option<String> {
        unschedulable::unschedulable_message(pod)?;
        let since = *self.since.get_or_insert_with(tokio::time::Instant::now);
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        // Events that cannot be read now are looked at again at the next tick.
        let events = objects::events_of(&self.client, &self.namespace, "Pod", name)
            .await
            .ok()?;
        let verdict = unschedulable::judge(pod, &events, since.elapsed(), patience);
        self.events = events;
        match verdict {
            Verdict::Hopeless(reason) => Some(reason),
            Verdict::Done | Verdict::Pending => None,
        }
    }

    /// What the timeout message adds for a pod still Unschedulable at the deadline.
    fn deadline_note(&self, pod: &Pod) -> Option<String> {
        let stuck_for = self.since?.elapsed();
        unschedulable::deadline_note(pod, &self.events, stuck_for)
    }
}

/// Fails a wait as soon as a Warning event about the object is terminal or repeated.
struct WarningWatch {
    client: Client,
    namespace: String,
    /// The involved object's kind (`PersistentVolumeClaim`).
    kind: String,
    /// Extra context appended to the reason (e.g. the StorageClass).
    context: String,
}

impl WarningWatch {
    async fn check(&self, name: &str) -> Option<String> {
        let events = objects::events_of(&self.client, &self.namespace, &self.kind, name)
            .await
            .ok()?;
        let why = hopeless_warning(&events)?;
        let lines: Vec<String> = events.iter().map(objects::event_line).collect();
        Some(format!(
            "{why}{}; events: {}",
            self.context,
            lines.join(" | ")
        ))
    }
}

/// How often an event was reported: its `series.count` or `count` (at least once).
fn times_reported(event: &k8s_openapi::api::core::v1::Event) -> i32 {
    let series = event.series.as_ref().and_then(|s| s.count);
    series
        .into_iter()
        .chain(event.count)
        .max()
        .unwrap_or(1)
        .max(1)
}

/// Why these events about an object say that waiting longer cannot help, if they do: a
/// Warning whose message no retry heals ([`TERMINAL_CLAIM_WARNINGS`]), or one Warning (same
/// reason and message, over all its Event objects) reported [`REPEATED_WARNING_IS_HOPELESS`]
/// times. A single transient Warning (a provisioning timeout) keeps the wait going.
fn hopeless_warning(events: &[k8s_openapi::api::core::v1::Event]) -> Option<String> {
    let warnings = events
        .iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"));
    let mut repeats: Vec<((&str, &str), i32)> = Vec::new();
    for event in warnings {
        let reason = event.reason.as_deref().unwrap_or_default();
        let message = event.message.as_deref().unwrap_or_default();
        let lower = message.to_lowercase();
        if TERMINAL_CLAIM_WARNINGS
            .iter()
            .any(|words| words.iter().all(|w| lower.contains(w)))
        {
            return Some(format!(
                "a Warning event that retries cannot heal was reported ({reason})"
            ));
        }
        match repeats
            .iter_mut()
            .find(|(key, _)| *key == (reason, message))
        {
            Some((_, times)) => *times += times_reported(event),
            None => repeats.push(((reason, message), times_reported(event))),
        }
    }
    repeats
        .into_iter()
        .find(|(_, times)| *times >= REPEATED_WARNING_IS_HOPELESS)
        .map(|((reason, _), times)| {
            format!("a Warning event was reported {times} times ({reason})")
        })
}

/// Ends a workload's wait when its controller reports that admission refuses its pods.
struct DenialWatch {
    client: Client,
    namespace: String,
    /// The kind of the controller that creates the pods.
    creator: &'static str,
}

impl DenialWatch {
    async fn check(&self, name: &str) -> Option<String> {
        let events = Api::<k8s_openapi::api::core::v1::Event>::namespaced(
            self.client.clone(),
            &self.namespace,
        )
        .list(&Default::default())
        .await
        .ok()?;
        let prefix = format!("{name}-");
        events.items.iter().find_map(|e| {
            let involved = &e.involved_object;
            let ours = involved.kind.as_deref() == Some(self.creator)
                && involved
                    .name
                    .as_deref()
                    .is_some_and(|n| n == name || n.starts_with(&prefix));
            let message = e.message.as_deref().unwrap_or_default();
            (ours
                && e.reason.as_deref() == Some("FailedCreate")
                && super::admission::is_policy_denial(message))
            .then(|| {
                format!(
                    "the cluster's admission refused the pods of {} \"{}\" (FailedCreate): {}",
                    self.creator,
                    involved.name.as_deref().unwrap_or_default(),
                    message.trim()
                )
            })
        })
    }
}

impl Waitable for Pod {
    const IS_POD: bool = true;

    fn as_pod(&self) -> Option<&Pod> {
        Some(self)
    }

    fn verdict(&self, until: WaitUntil) -> Verdict {
        pod_verdict(self, until)
    }

    fn summary(&self) -> String {
        summarize(self)
    }

    fn brief(&self) -> String {
        brief(self)
    }

    fn pull_error(&self) -> Option<PullError> {
        pod_pull_error(self)
    }
}

/// A Deployment is available when all replicas are updated, available, and observed.
impl Waitable for Deployment {
    const POD_CREATOR: Option<&'static str> = Some("ReplicaSet");
    const RUNS_PODS: bool = true;

    fn pod_selector(&self) -> Option<String> {
        self.spec
            .as_ref()
            .map(|s| workload_pods::selector_string(&s.selector))
            .filter(|s| !s.is_empty())
    }

    fn verdict(&self, _until: WaitUntil) -> Verdict {
        let want = self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let Some(status) = &self.status else {
            return Verdict::Pending;
        };
        let observed =
            status.observed_generation.unwrap_or(0) >= self.metadata.generation.unwrap_or(0);
        let all = |n: Option<i32>| n.unwrap_or(0) == want;
        if observed
            && all(status.updated_replicas)
            && all(status.available_replicas)
            && all(status.replicas)
        {
            Verdict::Done
        } else {
            Verdict::Pending
        }
    }

    fn summary(&self) -> String {
        let want = self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let s = self.status.clone().unwrap_or_default();
        format!(
            "{want} wanted, {} replicas, {} updated, {} ready, {} available",
            s.replicas.unwrap_or(0),
            s.updated_replicas.unwrap_or(0),
            s.ready_replicas.unwrap_or(0),
            s.available_replicas.unwrap_or(0)
        )
    }
}

/// A Job is complete (or failed) by its conditions.
impl Waitable for Job {
    const POD_CREATOR: Option<&'static str> = Some("Job");
    const RUNS_PODS: bool = true;

    /// The Job's selector (the API server sets `controller-uid`), else its `job-name` label.
    fn pod_selector(&self) -> Option<String> {
        let selector = self
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .map(workload_pods::selector_string)
            .filter(|s| !s.is_empty());
        selector.or_else(|| self.metadata.name.as_ref().map(|n| format!("job-name={n}")))
    }

    fn pods_until(until: WaitUntil) -> WaitUntil {
        match until {
            // Pods crash on the way to a failed Job; only what stops them running counts.
            WaitUntil::Failed => WaitUntil::Failed,
            _ => WaitUntil::Succeeded,
        }
    }

    fn verdict(&self, until: WaitUntil) -> Verdict {
        let condition = |t: &str| {
            self.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .find(|c| c.type_ == t && c.status == "True")
                .map(|c| c.message.clone().unwrap_or_default())
        };
        match (until, condition("Complete"), condition("Failed")) {
            (WaitUntil::Complete, Some(_), _) | (WaitUntil::Failed, _, Some(_)) => Verdict::Done,
            (WaitUntil::Complete, None, Some(m)) => Verdict::Hopeless(format!("job failed: {m}")),
            (WaitUntil::Failed, Some(_), None) => {
                Verdict::Hopeless("job completed instead of failing".into())
            }
            _ => Verdict::Pending,
        }
    }

    fn summary(&self) -> String {
        let s = self.status.clone().unwrap_or_default();
        format!(
            "{} active, {} succeeded, {} failed",
            s.active.unwrap_or(0),
            s.succeeded.unwrap_or(0),
            s.failed.unwrap_or(0)
        )
    }
}

/// A claim is bound by its phase; a Warning about it that retries cannot heal (an unknown
/// class, invalid parameters) or that keeps repeating ends the wait, a transient one does not.
impl Waitable for PersistentVolumeClaim {
    fn verdict(&self, _until: WaitUntil) -> Verdict {
        match self.status.as_ref().and_then(|s| s.phase.as_deref()) {
            Some("Bound") => Verdict::Done,
            Some("Lost") => Verdict::Hopeless("claim is Lost (its volume is gone)".into()),
            _ => Verdict::Pending,
        }
    }

    fn summary(&self) -> String {
        format!(
            "phase {}, storage class {}",
            self.status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .unwrap_or("Pending"),
            storage_class(Some(self))
        )
    }

    const WARNINGS_ARE_HOPELESS: bool = true;

    fn warning_context(name: &str, claim: Option<&Self>) -> String {
        format!(
            " for claim \"{name}\" (storage class {})",
            storage_class(claim)
        )
    }
}

/// The claim's StorageClass, or `(cluster default)` when it names none (or is unknown).
fn storage_class(claim: Option<&PersistentVolumeClaim>) -> &str {
    claim
        .and_then(|c| c.spec.as_ref())
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("(cluster default)")
}

/// Decides what this state of the pod means for a wait for `until`.
pub(crate) fn pod_verdict(pod: &Pod, until: WaitUntil) -> Verdict {
    let status = pod.status.clone().unwrap_or_default();
    let phase = status.phase.as_deref().unwrap_or("Pending");
    let condition = |t: &str| {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == t)
            .map(|c| {
                (
                    c.status.as_str() == "True",
                    c.reason.clone(),
                    c.message.clone(),
                )
            })
    };
    let done = match until {
        WaitUntil::Scheduled => pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_some(),
        WaitUntil::Running => phase == "Running",
        WaitUntil::Ready => condition("Ready").is_some_and(|c| c.0),
        WaitUntil::Succeeded => phase == "Succeeded",
        WaitUntil::Failed => phase == "Failed",
        WaitUntil::Completed => phase == "Succeeded" || phase == "Failed",
        WaitUntil::NotReady => condition("Ready").is_some_and(|c| !c.0),
        // Not pod conditions; the catalog rejects them for pods.
        WaitUntil::Available | WaitUntil::Complete | WaitUntil::Bound => false,
    };
    if done {
        return Verdict::Done;
    }
    // Unschedulable is a state, not a verdict: the wait judges it with the pod's events and
    // the time it has been so (`unschedulable::judge`).
    let waits_for_end = matches!(until, WaitUntil::Failed | WaitUntil::Completed);
    if !waits_for_end || phase == "Pending" {
        for cs in status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten())
        {
            if let Some(waiting) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
                let reason = waiting.reason.as_deref().unwrap_or_default();
                let message = waiting.message.as_deref().unwrap_or("no message");
                let hopeless = if image_pull::is_pull_reason(reason) {
                    image_pull::permanent_cause(message).is_some()
                } else {
                    HOPELESS_WAITING_REASONS.contains(&reason)
                };
                if hopeless {
                    return Verdict::Hopeless(format!(
                        "container \"{}\" is waiting: {reason}: {message}",
                        cs.name
                    ));
                }
            }
        }
    }
    let ended = phase == "Succeeded" || phase == "Failed";
    if ended {
        return Verdict::Hopeless(format!(
            "pod ended while waiting for it to be {until}: {}",
            summarize(pod)
        ));
    }
    Verdict::Pending
}

/// Why a pod's container can never start because of its image (a permanent pull error,
/// `InvalidImageName`, `ErrImageNeverPull`): `container "c" is waiting: REASON: MESSAGE`. Steps
/// that poll a pod (`expect ... eventually`) stop on it instead of polling to their deadline;
/// crash loops are not such a reason (restart checks expect them).
pub(crate) fn image_blocker(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .find_map(|cs| {
            let waiting = cs.state.as_ref()?.waiting.as_ref()?;
            let reason = waiting.reason.as_deref().unwrap_or_default();
            let message = waiting.message.as_deref().unwrap_or("no message");
            let never = if image_pull::is_pull_reason(reason) {
                image_pull::permanent_cause(message).is_some()
            } else {
                matches!(reason, "InvalidImageName" | "ErrImageNeverPull")
            };
            never.then(|| format!("container \"{}\" is waiting: {reason}: {message}", cs.name))
        })
}

/// The pull error a pod's containers show (`container "c": ErrImagePull: ...`), the failure
/// itself before a back-off.
pub(crate) fn pod_pull_error(pod: &Pod) -> Option<PullError> {
    let status = pod.status.as_ref()?;
    let mut found: Option<PullError> = None;
    for cs in status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
    {
        let Some(waiting) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.as_deref().unwrap_or_default();
        if !image_pull::is_pull_reason(reason) {
            continue;
        }
        let error = PullError {
            text: format!(
                "container \"{}\": {reason}: {}",
                cs.name,
                waiting.message.as_deref().unwrap_or("no message")
            ),
            first_hand: reason == image_pull::PULL_REASONS[0],
        };
        if found
            .as_ref()
            .is_none_or(|f| !f.first_hand && error.first_hand)
        {
            found = Some(error);
        }
    }
    found
}

/// One line describing a pod's state: phase, node, conditions not met, container states.
pub(crate) fn summarize(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let mut parts = vec![format!(
        "phase {}",
        status.phase.as_deref().unwrap_or("Pending")
    )];
    if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_ref()) {
        parts.push(format!("node {node}"));
    }
    for c in status
        .conditions
        .iter()
        .flatten()
        .filter(|c| c.status != "True")
    {
        let mut text = format!("{}={}", c.type_, c.status);
        if let Some(reason) = &c.reason {
            text.push_str(&format!(" ({reason}"));
            if let Some(message) = &c.message {
                text.push_str(&format!(": {message}"));
            }
            text.push(')');
        }
        parts.push(text);
    }
    for cs in status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
    {
        let state = cs.state.clone().unwrap_or_default();
        let text = if let Some(w) = state.waiting {
            format!(
                "waiting {}{}",
                w.reason.unwrap_or_default(),
                w.message.map(|m| format!(": {m}")).unwrap_or_default()
            )
        } else if let Some(t) = state.terminated {
            format!(
                "terminated exit code {} ({})",
                t.exit_code,
                t.reason.unwrap_or_default()
            )
        } else if state.running.is_some() {
            "running".to_string()
        } else {
            "unknown".to_string()
        };
        let restarts = if cs.restart_count > 0 {
            format!(", {} restarts", cs.restart_count)
        } else {
            String::new()
        };
        parts.push(format!("container {}: {text}{restarts}", cs.name));
    }
    parts.join("; ")
}

/// The pod's state in a few words: the reason its first waiting container waits (else its
/// phase, and `not Ready` when running but not ready) and its node, or why it is not scheduled:
/// `ContainerCreating on windows-node-1`, `Unschedulable: 0/4 nodes are available: ...`.
pub(crate) fn brief(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    let Some(node) = node else {
        return match unschedulable::unschedulable_message(pod) {
            Some(message) => format!("Unschedulable: {message}"),
            None => "not scheduled yet".to_string(),
        };
    };
    let waiting = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .find_map(|cs| cs.state.as_ref()?.waiting.as_ref()?.reason.clone());
    let phase = status.phase.unwrap_or_else(|| "Pending".to_string());
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let state = match waiting {
        Some(reason) => reason,
        None if phase == "Running" && !ready => "Running, not Ready".to_string(),
        None => phase,
    };
    format!("{state} on {node}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Event;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "x"}], "nodeName": "n1"},
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn ready_condition_ends_a_ready_wait() {
        let p =
            pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}));
        assert_eq!(p.verdict(WaitUntil::Ready), Verdict::Done);
        let p =
            pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}));
        assert_eq!(p.verdict(WaitUntil::Ready), Verdict::Pending);
    }

    #[test]
    fn a_pod_in_brief_is_why_it_waits_and_where() {
        assert_eq!(
            pulling("ContainerCreating", "").brief(),
            "ContainerCreating on n1"
        );
        let p =
            pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}));
        assert_eq!(p.brief(), "Running, not Ready on n1");
        let unscheduled: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Pending"}
        }))
        .unwrap();
        assert_eq!(unscheduled.brief(), "not scheduled yet");
    }

    fn pulling(reason: &str, message: &str) -> Pod {
        pod(json!({"phase": "Pending", "containerStatuses": [{
            "name": "c", "ready": false, "restartCount": 0, "image": "busybox", "imageID": "",
            "state": {"waiting": {"reason": reason, "message": message}}}]}))
    }

    #[test]
    fn a_permanent_pull_error_is_hopeless_with_its_message() {
        let message = "Back-off pulling image \"busybox\": ErrImagePull: failed to pull and unpack image \"docker.io/library/busybox:latest\": no match for platform in manifest: not found";
        let Verdict::Hopeless(reason) =
            pulling("ImagePullBackOff", message).verdict(WaitUntil::Ready)
        else {
            panic!("not hopeless")
        };
        assert_eq!(
            reason,
            format!("container \"c\" is waiting: ImagePullBackOff: {message}")
        );
    }

    #[test]
    fn a_transient_pull_error_waits_through_the_back_off() {
        let timeout = "failed to pull and unpack image \"registry.k8s.io/pause:3.10\": failed to resolve reference \"registry.k8s.io/pause:3.10\": failed to do request: Head \"https://registry.k8s.io/v2/pause/manifests/3.10\": dial tcp 34.96.108.209:443: i/o timeout";
        let first = pulling("ErrImagePull", timeout);
        assert_eq!(first.verdict(WaitUntil::Ready), Verdict::Pending);
        let backoff = pulling(
            "ImagePullBackOff",
            "Back-off pulling image \"registry.k8s.io/pause:3.10\"",
        );
        assert_eq!(backoff.verdict(WaitUntil::Ready), Verdict::Pending);
        // The error itself is what a timeout names, not the back-off after it.
        let error = first.pull_error().unwrap();
        assert!(error.first_hand);
        assert_eq!(
            error.text,
            format!("container \"c\": ErrImagePull: {timeout}")
        );
        let later = backoff.pull_error().unwrap();
        assert!(!error.replaced_by(&later));
        assert!(later.replaced_by(&error));
    }

    #[test]
    fn only_image_problems_stop_a_poll_of_a_pod() {
        let gone = pulling("ErrImagePull", "failed to pull and unpack image \"x\": failed to resolve reference \"x\": x: not found");
        assert_eq!(
            image_blocker(&gone).as_deref(),
            Some("container \"c\" is waiting: ErrImagePull: failed to pull and unpack image \"x\": failed to resolve reference \"x\": x: not found")
        );
        let slow = pulling("ErrImagePull", "dial tcp 1.2.3.4:443: i/o timeout");
        assert_eq!(image_blocker(&slow), None);
        let crashing = pulling(
            "CrashLoopBackOff",
            "back-off 10s restarting failed container",
        );
        assert_eq!(image_blocker(&crashing), None);
    }

    #[test]
    fn workloads_select_their_pods() {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {}}}))
        .unwrap();
        assert_eq!(d.pod_selector().as_deref(), Some("app=web"));
        let j: Job = serde_json::from_value(json!({
            "metadata": {"name": "batch"}, "spec": {"template": {}}}))
        .unwrap();
        assert_eq!(j.pod_selector().as_deref(), Some("job-name=batch"));
        assert_eq!(Job::pods_until(WaitUntil::Failed), WaitUntil::Failed);
        assert_eq!(Job::pods_until(WaitUntil::Complete), WaitUntil::Succeeded);
    }

    #[test]
    fn unschedulable_alone_is_a_state_not_a_verdict() {
        let p = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/4 nodes are available: 4 Insufficient cpu."}]}),
        );
        assert_eq!(p.verdict(WaitUntil::Running), Verdict::Pending);
        assert_eq!(Pod::IS_POD, p.as_pod().is_some());
    }

    #[test]
    fn a_pod_waiting_for_its_claim_to_bind_is_not_hopeless() {
        let p = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable",
            "message": "0/4 nodes are available: pod has unbound immediate PersistentVolumeClaims."}]}),
        );
        assert_eq!(p.verdict(WaitUntil::Ready), Verdict::Pending);
    }

    #[test]
    fn a_pod_that_ends_cannot_become_ready_but_ends_a_completed_wait() {
        let p = pod(json!({"phase": "Failed", "containerStatuses": [{
            "name": "c", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
            "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}]}));
        let Verdict::Hopeless(reason) = p.verdict(WaitUntil::Ready) else {
            panic!("not hopeless")
        };
        assert!(reason.contains("terminated exit code 3"), "{reason}");
        assert_eq!(p.verdict(WaitUntil::Completed), Verdict::Done);
        assert_eq!(p.verdict(WaitUntil::Failed), Verdict::Done);
        assert!(matches!(
            p.verdict(WaitUntil::Succeeded),
            Verdict::Hopeless(_)
        ));
    }

    #[test]
    fn not_ready_needs_a_ready_condition_that_is_false() {
        let p =
            pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}));
        assert_eq!(p.verdict(WaitUntil::NotReady), Verdict::Done);
        let p =
            pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}));
        assert_eq!(p.verdict(WaitUntil::NotReady), Verdict::Pending);
    }

    #[test]
    fn deployments_are_available_when_every_replica_is() {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "d", "generation": 2}, "spec": {"replicas": 3, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2}}))
        .unwrap();
        assert_eq!(d.verdict(WaitUntil::Available), Verdict::Pending);
        assert_eq!(
            d.summary(),
            "3 wanted, 3 replicas, 3 updated, 0 ready, 2 available"
        );
        let mut done = d.clone();
        done.status.as_mut().unwrap().available_replicas = Some(3);
        assert_eq!(done.verdict(WaitUntil::Available), Verdict::Done);
    }

    #[test]
    fn a_failed_job_is_hopeless_for_a_complete_wait() {
        let j: Job = serde_json::from_value(json!({
            "metadata": {"name": "j"}, "spec": {"template": {}},
            "status": {"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}}))
        .unwrap();
        assert_eq!(
            j.verdict(WaitUntil::Complete),
            Verdict::Hopeless("job failed: BackoffLimitExceeded".into())
        );
        assert_eq!(j.verdict(WaitUntil::Failed), Verdict::Done);
    }

    fn claim_event(type_: &str, reason: &str, message: &str, count: Option<i32>) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": format!("data.{reason}")},
            "involvedObject": {"kind": "PersistentVolumeClaim", "name": "data"},
            "type": type_, "reason": reason, "message": message, "count": count}))
        .unwrap()
    }

    #[test]
    fn a_single_transient_provisioning_failure_keeps_a_claim_wait_going() {
        let timeout = claim_event(
            "Warning",
            "ProvisioningFailed",
            "failed to provision volume with StorageClass \"standard\": rpc error: code = DeadlineExceeded desc = context deadline exceeded",
            Some(1),
        );
        let normal = claim_event(
            "Normal",
            "Provisioning",
            "External provisioner is provisioning volume",
            Some(9),
        );
        assert_eq!(hopeless_warning(&[normal.clone(), timeout.clone()]), None);
        let mut twice = timeout.clone();
        twice.count = Some(2);
        assert_eq!(
            hopeless_warning(&[normal, twice.clone()]),
            None,
            "two tries are not yet hopeless"
        );
        // The third report of the same warning ends the wait, counted over its Event objects.
        assert_eq!(
            hopeless_warning(&[twice, timeout.clone()]).as_deref(),
            Some("a Warning event was reported 3 times (ProvisioningFailed)")
        );
        let mut series = timeout;
        series.count = None;
        series.series = Some(serde_json::from_value(json!({"count": 4})).unwrap());
        assert_eq!(
            hopeless_warning(&[series]).as_deref(),
            Some("a Warning event was reported 4 times (ProvisioningFailed)")
        );
    }

    #[test]
    fn a_terminal_provisioning_failure_ends_a_claim_wait_at_once() {
        for message in [
            "storageclass.storage.k8s.io \"fast\" not found",
            "failed to provision volume with StorageClass \"disk\": rpc error: code = InvalidArgument desc = invalid parameter \"skuName\"",
            "failed to provision volume with StorageClass \"disk\": fsType \"ntfs\" is not supported",
        ] {
            let event = claim_event("Warning", "ProvisioningFailed", message, Some(1));
            assert_eq!(
                hopeless_warning(&[event]).as_deref(),
                Some("a Warning event that retries cannot heal was reported (ProvisioningFailed)"),
                "{message}"
            );
        }
        let normal = claim_event(
            "Normal",
            "FailedBinding",
            "storageclass.storage.k8s.io \"x\" not found",
            Some(1),
        );
        assert_eq!(hopeless_warning(&[normal]), None, "only Warnings count");
    }

    #[test]
    fn crash_loop_does_not_end_a_wait_for_failure_of_a_running_pod() {
        let p = pod(json!({"phase": "Running", "containerStatuses": [{
            "name": "c", "ready": false, "restartCount": 3, "image": "x", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}}]}));
        assert_eq!(p.verdict(WaitUntil::Completed), Verdict::Pending);
        assert!(matches!(p.verdict(WaitUntil::Ready), Verdict::Hopeless(_)));
    }
}
