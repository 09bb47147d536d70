//! The run's namespaces: one per test, labelled with the run id so that whatever a run created
//! can be found and deleted, even after a crash (`kubectl delete ns -l hybrid-e2e.io/run-id=ID`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};

use crate::pod_security::PodSecurityLevel;

/// `n` random lowercase letters and digits (valid in names and label values).
pub fn random_suffix(n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| CHARS[rand::random_range(0..CHARS.len())] as char)
        .collect()
}

pub use crate::labels::{RUN_ID_LABEL, TEST_ANNOTATION, TEST_LABEL};

/// `he2e-<run-id>-<n>`.
pub fn namespace_name(run_id: &str, index: usize) -> String {
    format!("he2e-{run_id}-{index}")
}

/// The namespace of attempt `attempt` (1-based) of test `index`: the first attempt's is
/// [`namespace_name`], a retry's gets `-a<attempt>` so it never meets the earlier, still
/// terminating namespace.
pub fn attempt_namespace_name(run_id: &str, index: usize, attempt: u32) -> String {
    match attempt {
        0 | 1 => namespace_name(run_id, index),
        n => format!("{}-a{n}", namespace_name(run_id, index)),
    }
}

/// A test name squeezed into a label value: `[a-z0-9A-Z._-]`, at most 63, alphanumeric ends.
pub fn label_value(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    mapped
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// A set of namespace names shared between tests: those created and not yet deleted (what
/// Ctrl-C must clean up), or those kept on purpose (--keep-namespaces).
#[derive(Default)]
pub struct LiveNamespaces(Mutex<BTreeSet<String>>);

impl LiveNamespaces {
    /// Adds a namespace name to the set.
    pub fn insert(&self, name: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string());
    }
    /// Removes a namespace name from the set, if it is there.
    pub fn remove(&self, name: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }
    /// The names in the set, sorted.
    pub fn names(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// Creates the namespace of one test, labelled for PodSecurity admission to enforce (and warn
/// and audit) `pod_security`, so that the cluster's own default level does not apply.
pub async fn create(
    client: &Client,
    run_id: &str,
    index: usize,
    test_name: &str,
    pod_security: PodSecurityLevel,
) -> Result<String, kube::Error> {
    create_named(
        client,
        namespace_name(run_id, index),
        run_id,
        test_name,
        pod_security,
    )
    .await
}

/// Like [`create`], for a namespace called `name` (a retry's, see [`attempt_namespace_name`]).
pub async fn create_named(
    client: &Client,
    name: String,
    run_id: &str,
    test_name: &str,
    pod_security: PodSecurityLevel,
) -> Result<String, kube::Error> {
    let ns = namespace_object(&name, run_id, test_name, pod_security);
    let namespaces = Api::<Namespace>::all(client.clone());
    match namespaces.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(name),
        // A retried create whose first try went through: the namespace is ours if it carries
        // this run's and this test's labels (the name alone is only likely to be ours).
        Err(e) if crate::kube_error::is_already_exists(&e) => match namespaces.get_opt(&name).await
        {
            Ok(Some(existing)) if labels_match(&existing, &ns) => Ok(name),
            _ => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Whether `existing` carries every label `wanted` has, with the same values.
fn labels_match(existing: &Namespace, wanted: &Namespace) -> bool {
    let have = existing.metadata.labels.as_ref();
    wanted
        .metadata
        .labels
        .iter()
        .flatten()
        .all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v))
}

/// The namespace `create` sends.
fn namespace_object(
    name: &str,
    run_id: &str,
    test_name: &str,
    pod_security: PodSecurityLevel,
) -> Namespace {
    let mut labels: BTreeMap<String, String> = [
        (RUN_ID_LABEL.to_string(), run_id.to_string()),
        (TEST_LABEL.to_string(), label_value(test_name)),
    ]
    .into();
    labels.extend(crate::pod_security::namespace_labels(pod_security));
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels),
            annotations: Some([(TEST_ANNOTATION.to_string(), test_name.to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// How long a new namespace may go without its `default` ServiceAccount (upstream e2e's
/// `ServiceAccountProvisionTimeout`), before `--timeout-scale`.
pub const SERVICE_ACCOUNT_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a new namespace is not ready for pods.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceReadyError {
    /// The ServiceAccount admission plugin refuses pods until this exists.
    #[error(
        "its \"default\" ServiceAccount did not appear within {}s (kube-controller-manager's \
         serviceaccount controller creates it; is the controller-manager running?)",
        .0.as_secs()
    )]
    NoDefaultServiceAccount(Duration),
    /// Watching for it failed.
    #[error("cannot watch for its \"default\" ServiceAccount")]
    Watch(#[source] kube::runtime::wait::Error),
}

/// Waits until `namespace` has its `default` ServiceAccount: on a real cluster the
/// controller-manager creates it moments after the namespace, and until then the
/// ServiceAccount admission plugin refuses every pod (`error looking up service account`).
pub async fn wait_until_ready(
    client: &Client,
    namespace: &str,
    timeout: Duration,
) -> Result<(), NamespaceReadyError> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let present =
        kube::runtime::wait::await_condition(accounts, "default", |sa: Option<&ServiceAccount>| {
            sa.is_some()
        });
    match tokio::time::timeout(timeout, present).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(NamespaceReadyError::Watch(e)),
        Err(_) => Err(NamespaceReadyError::NoDefaultServiceAccount(timeout)),
    }
}

/// Starts deleting a namespace (NotFound counts as done).
pub async fn delete(client: &Client, name: &str) -> Result<(), kube::Error> {
    match Api::<Namespace>::all(client.clone())
        .delete(name, &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// The label selector for the namespaces of one run, or (None) of every run.
pub fn run_selector(run_id: Option<&str>) -> String {
    match run_id {
        Some(id) => format!("{RUN_ID_LABEL}={id}"),
        None => RUN_ID_LABEL.to_string(),
    }
}

/// Deletes every namespace matching `selector` (see `run_selector`) except those in `keep`, and
/// waits until they are gone, at most `timeout`. Returns the names still present at the end.
pub async fn sweep(
    client: &Client,
    selector: &str,
    keep: &[String],
    timeout: Duration,
) -> Result<Vec<String>, kube::Error> {
    let api = Api::<Namespace>::all(client.clone());
    let mut existing = api.list(&ListParams::default().labels(selector)).await?;
    existing
        .items
        .retain(|ns| !ns.metadata.name.as_ref().is_some_and(|n| keep.contains(n)));
    for ns in &existing.items {
        if let Some(name) = &ns.metadata.name {
            if ns.metadata.deletion_timestamp.is_none() {
                delete(client, name).await?;
            }
        }
    }
    if existing.items.is_empty() {
        return Ok(Vec::new());
    }
    let config = watcher::Config::default().labels(selector);
    let wait_until_empty = async {
        let mut stream = watcher::watcher(api.clone(), config)
            .default_backoff()
            .boxed();
        let mut present: BTreeSet<String> = BTreeSet::new();
        let mut init: BTreeSet<String> = BTreeSet::new();
        let mut synced = false;
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Init) => init.clear(),
                Ok(watcher::Event::InitApply(ns)) => {
                    init.extend(ns.metadata.name.filter(|n| !keep.contains(n)));
                }
                Ok(watcher::Event::InitDone) => {
                    present = std::mem::take(&mut init);
                    synced = true;
                }
                Ok(watcher::Event::Apply(ns)) => {
                    present.extend(ns.metadata.name.filter(|n| !keep.contains(n)));
                }
                Ok(watcher::Event::Delete(ns)) => {
                    present.remove(&ns.metadata.name.unwrap_or_default());
                }
                Err(error) => {
                    tracing::debug!(%error, "watch error while waiting for namespaces to go")
                }
            }
            if synced && present.is_empty() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(timeout, wait_until_empty).await;
    let left = api.list(&ListParams::default().labels(selector)).await?;
    Ok(left
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .filter(|n| !keep.contains(n))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_namespace_is_ours_only_with_our_labels() {
        let labelled = |labels: &[(&str, &str)]| Namespace {
            metadata: ObjectMeta {
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        };
        let ours = labelled(&[(RUN_ID_LABEL, "r1"), (TEST_LABEL, "t")]);
        let with_more = labelled(&[(RUN_ID_LABEL, "r1"), (TEST_LABEL, "t"), ("x", "y")]);
        assert!(labels_match(&with_more, &ours));
        assert!(!labels_match(
            &labelled(&[(RUN_ID_LABEL, "r2"), (TEST_LABEL, "t")]),
            &ours
        ));
        assert!(!labels_match(&labelled(&[(TEST_LABEL, "t")]), &ours));
        assert!(!labels_match(&Namespace::default(), &ours));
    }

    #[test]
    fn label_values_are_valid_and_bounded() {
        assert_eq!(
            label_value("networking/pod-to-pod[client=linux,server=windows]"),
            "networking-pod-to-pod-client-linux-server-windows"
        );
        let long = label_value(&"a/".repeat(100));
        assert!(long.len() <= 63 && long.ends_with('a'));
    }

    #[test]
    fn namespaces_carry_the_chosen_pod_security_level() {
        let ns = namespace_object("n", "r", "s/t", PodSecurityLevel::Baseline);
        let labels = ns.metadata.labels.unwrap();
        assert_eq!(labels["pod-security.kubernetes.io/enforce"], "baseline");
        assert_eq!(labels["pod-security.kubernetes.io/warn"], "baseline");
        assert_eq!(labels[RUN_ID_LABEL], "r");
    }

    #[test]
    fn namespace_names_carry_run_id_and_index() {
        assert_eq!(
            namespace_name("20261128-121500-ab12", 7),
            "he2e-20261128-121500-ab12-7"
        );
        assert_eq!(
            attempt_namespace_name("20261128-121500-ab12", 7, 1),
            "he2e-20261128-121500-ab12-7"
        );
        assert_eq!(
            attempt_namespace_name("20261128-121500-ab12", 7, 3),
            "he2e-20261128-121500-ab12-7-a3"
        );
    }
}
