//! Workload controllers: Deployments → ReplicaSets → Pods and Jobs → Pods, with
//! ownerReferences (the API layer's garbage collector removes dependents), status counts and
//! conditions. A Deployment's template change creates a new ReplicaSet and scales the old ones
//! to zero at once (no surge/unavailable arithmetic).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use serde_json::{json, Value};

use super::events::{self, Source};
use crate::api;
use crate::config::SimConfig;
use crate::meta;
use crate::store::{now_rfc3339, Store};

pub(super) fn owned_by(o: &Value, uid: &Value) -> bool {
    o["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| &r["uid"] == uid && r["controller"] == true)
}

/// The pods of `pods` that `owner` controls (same namespace, a controller ownerReference).
fn pods_of<'a>(pods: &'a [Value], owner: &'a Value) -> impl Iterator<Item = &'a Value> {
    let ns = meta::namespace(owner);
    let uid = &owner["metadata"]["uid"];
    pods.iter()
        .filter(move |p| meta::namespace(p) == ns && owned_by(p, uid))
}

/// One workload controller: the kind of object it reconciles and the name its events carry.
struct Controller {
    kind: &'static str,
    api_version: &'static str,
    source: &'static str,
}

const REPLICA_SETS: Controller = Controller {
    kind: "ReplicaSet",
    api_version: "apps/v1",
    source: "replicaset-controller",
};

const DEPLOYMENTS: Controller = Controller {
    kind: "Deployment",
    api_version: "apps/v1",
    source: "deployment-controller",
};

const JOBS: Controller = Controller {
    kind: "Job",
    api_version: "batch/v1",
    source: "job-controller",
};

impl Controller {
    /// `ownerReferences` making `owner` the controller of what it creates.
    fn owner_ref(&self, owner: &Value) -> Value {
        json!([{"apiVersion": self.api_version, "kind": self.kind, "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}])
    }

    /// Records an event about `object` from this controller.
    fn event(&self, store: &Store, object: &Value, warning: bool, reason: &str, message: &str) {
        let source = Source::Controller(self.source);
        events::record(store, self.kind, object, source, warning, reason, message);
    }

    /// Creates `count` pods from `owner`'s `spec.template` (named `<owner>-<suffix>`, with
    /// `extra_labels`), each with a SuccessfulCreate event; a pod the admission policies refuse
    /// is a FailedCreate Warning quoting the API server (`Error creating: pods "w-x" is
    /// forbidden: ...`), as the real controllers record, and no further pod is tried this pass.
    fn create_pods(
        &self,
        store: &Store,
        config: &SimConfig,
        owner: &Value,
        count: usize,
        extra_labels: &Value,
    ) {
        for _ in 0..count {
            match create_pod(
                store,
                config,
                meta::namespace(owner),
                &format!("{}-", meta::name(owner)),
                &owner["spec"]["template"],
                self.owner_ref(owner),
                extra_labels,
            ) {
                Ok(Some(p)) => {
                    let message = format!("Created pod: {}", meta::name(&p));
                    self.event(store, owner, false, "SuccessfulCreate", &message);
                }
                Ok(None) => {}
                Err(refused) => {
                    let message = format!("Error creating: {refused}");
                    self.event(store, owner, true, "FailedCreate", &message);
                    return;
                }
            }
        }
    }
}

pub(super) fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

pub(super) fn phase(pod: &Value) -> &str {
    pod["status"]["phase"].as_str().unwrap_or("Pending")
}

fn template_hash(template: &Value) -> String {
    let mut h = DefaultHasher::new();
    template.to_string().hash(&mut h);
    let alphabet = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = h.finish();
    (0..10)
        .map(|_| {
            let c = alphabet[(n % alphabet.len() as u64) as usize] as char;
            n /= alphabet.len() as u64;
            c
        })
        .collect()
}

/// Creates a pod from a template as the API server would store it, through its admission
/// policies (which see the generated name, as validating admission does).
pub(super) fn create_pod(
    store: &Store,
    config: &SimConfig,
    ns: &str,
    prefix: &str,
    template: &Value,
    owner: Value,
    extra_labels: &Value,
) -> Result<Option<Value>, api::status::ApiError> {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": template["metadata"].clone(),
        "spec": template["spec"].clone(),
    });
    if !pod["metadata"].is_object() {
        pod["metadata"] = json!({});
    }
    *super::field(&mut pod, &["metadata", "generateName"]) = json!(prefix);
    let name = format!("{prefix}{}", crate::store::random_suffix());
    *super::field(&mut pod, &["metadata", "name"]) = json!(name);
    *super::field(&mut pod, &["metadata", "ownerReferences"]) = owner;
    if !pod["metadata"]["labels"].is_object() {
        *super::field(&mut pod, &["metadata", "labels"]) = json!({});
    }
    for (k, v) in extra_labels.as_object().into_iter().flatten() {
        pod["metadata"]["labels"][k] = v.clone();
    }
    if let Some(def) = api::registry::find("", "v1", "pods") {
        api::defaults::on_create(def, &mut pod);
    }
    api::policy::admit_pod(store, config, ns, &name, &pod)?;
    Ok(store.create("pods", ns, pod).ok())
}

/// Deletes a pod as a controller does: gracefully if bound, at once otherwise.
pub(super) fn delete_pod(store: &Store, pod: &Value) {
    let ns = meta::namespace(pod);
    let name = meta::name(pod);
    if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
        let _ = store.remove("pods", ns, name);
        return;
    }
    let grace = pod["spec"]["terminationGracePeriodSeconds"]
        .as_i64()
        .unwrap_or(30);
    let stamp = (chrono::Utc::now() + chrono::Duration::seconds(grace))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let _ = store.modify("pods", ns, name, |p| {
        if meta::is_terminating(p) {
            return false;
        }
        *super::field(p, &["metadata", "deletionTimestamp"]) = json!(stamp);
        *super::field(p, &["metadata", "deletionGracePeriodSeconds"]) = json!(grace);
        true
    });
}

pub(super) fn write_status(store: &Store, resource: &str, obj: &Value, status: Value) {
    let uid = obj["metadata"]["uid"].clone();
    let _ = store.modify(resource, meta::namespace(obj), meta::name(obj), |o| {
        if o["metadata"]["uid"] != uid {
            return false;
        }
        let mut merged = o["status"].clone();
        if !merged.is_object() {
            merged = json!({});
        }
        for (k, v) in status.as_object().into_iter().flatten() {
            merged[k] = v.clone();
        }
        if merged == o["status"] {
            return false;
        }
        o["status"] = merged;
        true
    });
}

fn replicas(o: &Value) -> usize {
    o["spec"]["replicas"].as_u64().unwrap_or(1) as usize
}

/// One pass of the ReplicaSet controller.
pub(crate) fn reconcile_replicasets(store: &Store, config: &SimConfig) {
    let (sets, _) = store.list("replicasets", None);
    let (pods, _) = store.list("pods", None);
    for rs in &sets {
        if meta::is_terminating(rs) {
            continue;
        }
        let mine: Vec<&Value> = pods_of(&pods, rs)
            .filter(|p| !meta::is_terminating(p) && !matches!(phase(p), "Succeeded" | "Failed"))
            .collect();
        let want = replicas(rs);
        if mine.len() < want {
            REPLICA_SETS.create_pods(store, config, rs, want - mine.len(), &json!({}));
        } else if mine.len() > want {
            // Not-ready and newest pods go first.
            let mut victims = mine.clone();
            victims.sort_by_key(|p| {
                (
                    is_ready(p),
                    std::cmp::Reverse(
                        p["metadata"]["creationTimestamp"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    ),
                )
            });
            for p in victims.iter().take(mine.len() - want) {
                delete_pod(store, p);
                let message = format!("Deleted pod: {}", meta::name(p));
                REPLICA_SETS.event(store, rs, false, "SuccessfulDelete", &message);
            }
        }
        let count = mine.len();
        let ready = mine.iter().filter(|p| is_ready(p)).count();
        write_status(
            store,
            "replicasets",
            rs,
            json!({
                "replicas": count, "fullyLabeledReplicas": count, "readyReplicas": ready,
                "availableReplicas": ready, "observedGeneration": rs["metadata"]["generation"],
            }),
        );
    }
}

/// One pass of the Deployment controller.
pub(crate) fn reconcile_deployments(store: &Store) {
    let (deployments, _) = store.list("deployments", None);
    let (sets, _) = store.list("replicasets", None);
    let (pods, _) = store.list("pods", None);
    for d in &deployments {
        if meta::is_terminating(d) {
            continue;
        }
        let ns = meta::namespace(d);
        let name = meta::name(d);
        let want = replicas(d);
        let template = &d["spec"]["template"];
        let hash = template_hash(template);
        let rs_name = format!("{name}-{hash}");
        let owned: Vec<&Value> = sets
            .iter()
            .filter(|s| meta::namespace(s) == ns && owned_by(s, &d["metadata"]["uid"]))
            .collect();
        let revision = owned.len() + 1;
        match owned.iter().find(|s| meta::name(s) == rs_name) {
            None => {
                let mut tpl = template.clone();
                *super::field(&mut tpl, &["metadata", "labels", "pod-template-hash"]) = json!(hash);
                let mut selector = d["spec"]["selector"].clone();
                *super::field(&mut selector, &["matchLabels", "pod-template-hash"]) = json!(hash);
                let mut labels = template["metadata"]["labels"].clone();
                if !labels.is_object() {
                    labels = json!({});
                }
                labels["pod-template-hash"] = json!(hash);
                let rs = json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": rs_name, "labels": labels,
                                 "annotations": {"deployment.kubernetes.io/revision": revision.to_string(),
                                                 "deployment.kubernetes.io/desired-replicas": want.to_string()},
                                 "ownerReferences": DEPLOYMENTS.owner_ref(d)},
                    "spec": {"replicas": want, "selector": selector, "template": tpl},
                    "status": {"replicas": 0},
                });
                if store.create("replicasets", ns, rs).is_ok() {
                    let message = format!("Scaled up replica set {rs_name} from 0 to {want}");
                    DEPLOYMENTS.event(store, d, false, "ScalingReplicaSet", &message);
                }
            }
            Some(rs) if replicas(rs) != want => {
                let from = replicas(rs);
                let _ = store.modify("replicasets", ns, &rs_name, |r| {
                    *super::field(r, &["spec", "replicas"]) = json!(want);
                    true
                });
                let verb = if want > from { "up" } else { "down" };
                let message = format!("Scaled {verb} replica set {rs_name} from {from} to {want}");
                DEPLOYMENTS.event(store, d, false, "ScalingReplicaSet", &message);
            }
            Some(_) => {}
        }
        for old in owned
            .iter()
            .filter(|s| meta::name(s) != rs_name && replicas(s) > 0)
        {
            let from = replicas(old);
            let _ = store.modify("replicasets", ns, meta::name(old), |r| {
                *super::field(r, &["spec", "replicas"]) = json!(0);
                true
            });
            let message = format!(
                "Scaled down replica set {} from {from} to 0",
                meta::name(old)
            );
            DEPLOYMENTS.event(store, d, false, "ScalingReplicaSet", &message);
        }
        let live: Vec<&Value> = pods
            .iter()
            .filter(|p| {
                meta::namespace(p) == ns
                    && !meta::is_terminating(p)
                    && owned.iter().any(|s| owned_by(p, &s["metadata"]["uid"]))
            })
            .collect();
        let new_uid = owned
            .iter()
            .find(|s| meta::name(s) == rs_name)
            .map(|s| s["metadata"]["uid"].clone());
        let updated = live
            .iter()
            .filter(|p| new_uid.as_ref().is_some_and(|u| owned_by(p, u)))
            .count();
        let ready = live.iter().filter(|p| is_ready(p)).count();
        let now = now_rfc3339();
        let available = ready >= want;
        let done = available && updated == want && live.len() == want;
        let cond = |t: &str, ok: bool, reason: &str, msg: String| {
            json!({"type": t, "status": if ok {"True"} else {"False"},
            "reason": reason, "message": msg, "lastUpdateTime": now, "lastTransitionTime": now})
        };
        let mut conditions = vec![cond(
            "Available",
            available,
            if available {
                "MinimumReplicasAvailable"
            } else {
                "MinimumReplicasUnavailable"
            },
            if available {
                "Deployment has minimum availability.".into()
            } else {
                "Deployment does not have minimum availability.".into()
            },
        )];
        conditions.push(cond(
            "Progressing",
            true,
            if done {
                "NewReplicaSetAvailable"
            } else {
                "ReplicaSetUpdated"
            },
            if done {
                format!("ReplicaSet \"{rs_name}\" has successfully progressed.")
            } else {
                format!("ReplicaSet \"{rs_name}\" is progressing.")
            },
        ));
        // Keep transition times stable when nothing changed.
        let old_conditions = d["status"]["conditions"].clone();
        for c in conditions.iter_mut() {
            if let Some(o) = old_conditions.as_array().into_iter().flatten().find(|o| {
                o["type"] == c["type"] && o["status"] == c["status"] && o["reason"] == c["reason"]
            }) {
                c["lastUpdateTime"] = o["lastUpdateTime"].clone();
                c["lastTransitionTime"] = o["lastTransitionTime"].clone();
            }
        }
        write_status(
            store,
            "deployments",
            d,
            json!({
                "replicas": live.len(), "updatedReplicas": updated, "readyReplicas": ready,
                "availableReplicas": ready, "unavailableReplicas": live.len().saturating_sub(ready),
                "observedGeneration": d["metadata"]["generation"], "conditions": conditions,
            }),
        );
    }
}

/// One pass of the Job controller.
pub(crate) fn reconcile_jobs(store: &Store, config: &SimConfig) {
    let (jobs, _) = store.list("jobs", None);
    let (pods, _) = store.list("pods", None);
    for job in &jobs {
        if meta::is_terminating(job) {
            continue;
        }
        let name = meta::name(job);
        let uid = &job["metadata"]["uid"];
        let mine: Vec<&Value> = pods_of(&pods, job).collect();
        let succeeded = mine.iter().filter(|p| phase(p) == "Succeeded").count();
        let failed = mine.iter().filter(|p| phase(p) == "Failed").count();
        let active: Vec<&&Value> = mine
            .iter()
            .filter(|p| !matches!(phase(p), "Succeeded" | "Failed") && !meta::is_terminating(p))
            .collect();
        let completions = job["spec"]["completions"].as_u64().unwrap_or(1) as usize;
        let parallelism = job["spec"]["parallelism"].as_u64().unwrap_or(1) as usize;
        let backoff_limit = job["spec"]["backoffLimit"].as_u64().unwrap_or(6) as usize;
        let finished = job["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True");
        let now = now_rfc3339();
        let mut status = json!({"succeeded": succeeded, "failed": failed, "active": active.len(),
                                "ready": active.iter().filter(|p| is_ready(p)).count()});
        if job["status"]["startTime"].is_null() {
            status["startTime"] = json!(now);
        }
        if !finished {
            let cond = |t: &str, reason: &str, message: &str| {
                json!({"type": t, "status": "True", "reason": reason,
                "message": message, "lastProbeTime": now, "lastTransitionTime": now})
            };
            if succeeded >= completions {
                status["conditions"] = json!([
                    cond(
                        "SuccessCriteriaMet",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods"
                    ),
                    cond(
                        "Complete",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods"
                    )
                ]);
                status["completionTime"] = json!(now);
                JOBS.event(store, job, false, "Completed", "Job completed");
            } else if failed > backoff_limit {
                for p in &active {
                    delete_pod(store, p);
                }
                status["conditions"] = json!([
                    cond(
                        "FailureTarget",
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit"
                    ),
                    cond(
                        "Failed",
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit"
                    )
                ]);
                JOBS.event(
                    store,
                    job,
                    true,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                );
            } else {
                let want = parallelism.min(completions - succeeded);
                let labels = json!({"batch.kubernetes.io/job-name": name, "job-name": name,
                                    "batch.kubernetes.io/controller-uid": uid, "controller-uid": uid});
                JOBS.create_pods(
                    store,
                    config,
                    job,
                    want.saturating_sub(active.len()),
                    &labels,
                );
            }
        }
        write_status(store, "jobs", job, status);
    }
}

/// Runs the workload controllers when their objects or pods change, and every second.
pub(crate) async fn run(store: Arc<Store>, config: SimConfig) {
    let watched = ["pods", "deployments", "replicasets", "jobs"];
    super::on_changes(&store, &watched, || {
        reconcile_deployments(&store);
        reconcile_replicasets(&store, &config);
        reconcile_jobs(&store, &config);
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "w"}},
               "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}})
    }

    fn reasons(store: &Store) -> Vec<String> {
        let (events, _) = store.list("events", Some("ns"));
        events
            .iter()
            .map(|e| {
                let (kind, from) = (&e["involvedObject"]["kind"], &e["source"]["component"]);
                format!("{kind} {} {from}", e["reason"])
            })
            .map(|s| s.replace('"', ""))
            .collect()
    }

    #[test]
    fn a_pod_the_admission_refuses_is_a_failed_create_warning_quoting_the_api_server() {
        let store = Store::new();
        store
            .create("namespaces", "", json!({"metadata": {"name": "ns"}}))
            .unwrap();
        let rs = json!({"metadata": {"name": "web-1"},
                        "spec": {"replicas": 2, "template": template()}});
        store.create("replicasets", "ns", rs).unwrap();
        let config = SimConfig {
            quirks: [crate::quirks::Quirk::QuotaRequiresLimits].into(),
            ..SimConfig::default()
        };
        reconcile_replicasets(&store, &config);
        let (pods, _) = store.list("pods", Some("ns"));
        assert!(pods.is_empty());
        let (events, _) = store.list("events", Some("ns"));
        assert_eq!(events.len(), 1, "one attempt per pass");
        assert_eq!(events[0]["type"], "Warning");
        assert_eq!(events[0]["reason"], "FailedCreate");
        let message = events[0]["message"].as_str().unwrap();
        assert!(
            message.starts_with("Error creating: pods \"web-1-"),
            "{message}"
        );
        assert!(
            message.ends_with(
                "\" is forbidden: failed quota: compute-limits: must specify limits.cpu for: c; limits.memory for: c"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_replica_set_creates_its_pods_once_and_scales_down_to_its_count() {
        let store = Store::new();
        let rs = json!({"metadata": {"name": "web-1"},
                        "spec": {"replicas": 2, "template": template()}});
        let rs = store.create("replicasets", "ns", rs).unwrap();
        reconcile_replicasets(&store, &SimConfig::default());
        reconcile_replicasets(&store, &SimConfig::default());
        let (pods, _) = store.list("pods", Some("ns"));
        assert_eq!(pods_of(&pods, &rs).count(), 2);
        assert!(pods.iter().all(|p| meta::name(p).starts_with("web-1-")));
        assert_eq!(
            pods[0]["metadata"]["ownerReferences"][0]["kind"],
            "ReplicaSet"
        );
        assert_eq!(
            reasons(&store),
            ["ReplicaSet SuccessfulCreate replicaset-controller"; 2]
        );

        store
            .modify("replicasets", "ns", "web-1", |r| {
                r["spec"]["replicas"] = json!(1);
                true
            })
            .unwrap();
        reconcile_replicasets(&store, &SimConfig::default());
        let (pods, _) = store.list("pods", Some("ns"));
        assert_eq!(pods.len(), 1, "an unbound pod is removed at once");
        assert!(reasons(&store)
            .contains(&"ReplicaSet SuccessfulDelete replicaset-controller".to_string()));
    }

    #[test]
    fn a_job_creates_up_to_parallelism_pods_labelled_with_its_name() {
        let store = Store::new();
        let job = json!({"metadata": {"name": "once"},
                         "spec": {"completions": 3, "parallelism": 2, "template": template()}});
        let job = store.create("jobs", "ns", job).unwrap();
        reconcile_jobs(&store, &SimConfig::default());
        reconcile_jobs(&store, &SimConfig::default());
        let (pods, _) = store.list("pods", Some("ns"));
        assert_eq!(pods_of(&pods, &job).count(), 2);
        for pod in &pods {
            assert_eq!(pod["metadata"]["labels"]["job-name"], "once");
            assert_eq!(pod["metadata"]["labels"]["app"], "w");
            assert_eq!(
                pod["metadata"]["ownerReferences"][0]["apiVersion"],
                "batch/v1"
            );
        }
        assert_eq!(reasons(&store), ["Job SuccessfulCreate job-controller"; 2]);
        let (jobs, _) = store.list("jobs", Some("ns"));
        assert_eq!(jobs[0]["status"]["active"], 2);
    }
}
