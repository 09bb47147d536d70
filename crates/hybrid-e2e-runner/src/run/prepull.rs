//! `--prepull`: before the first test, every image the tests that will run use is pulled on
//! every node of the OS that uses it, as upstream's Windows CI does (kubernetes-sigs
//! windows-testing's `prepull` DaemonSet, waited for up to 15 minutes): one DaemonSet per OS
//! (`nodeSelector kubernetes.io/os=<os>`, the test pods' tolerations, `--tolerate` included)
//! in a namespace of its own (`he2e-<run>-prepull`, labelled with the run id, so the sweep
//! deletes it too), one container per image running a no-op that stays up (agnhost `pause`;
//! pause its own entrypoint; any other image its entrypoint). An image counts as pulled on a
//! node once its container got past the pull (an `imageID`, or it ran), whatever it did next.
//!
//! A permanent pull error (`image_pull::permanent_cause`) ends that image on that node at
//! once; a transient one is waited out. The pre-pull ends when every node has every image or
//! a permanent error for it, or at its timeout. What failed becomes one error case in the
//! reports (`hybrid-e2e/prepull`), naming the node, the image and the pull error; the tests
//! run anyway (their own pulls then show the same). Images the catalogue knows to be
//! Linux-only are not pulled on Windows nodes (a test expects them to fail there), and a
//! Windows node is not asked for an image with no variant for its build
//! (`node.kubernetes.io/windows-build`; the run banner warns and those cells skip): its
//! container's pull error is expected, not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use crate::catalog::{Os, TestCase};
use crate::fixture::{FixtureSet, Images};
use crate::kube_error::error_chain;
use crate::pod_security::PodSecurityLevel;
use crate::report::events::{Reporter, RunEvent};
use crate::toleration::{self, TestToleration};

use super::image_pull;
use super::namespace;

/// The label on the pre-pull DaemonSets and their pods: the OS they pull for.
pub const PREPULL_LABEL: &str = "hybrid-e2e.io/prepull";

/// The test name the pre-pull namespace carries (and the name of its error case).
pub const PREPULL_NAME: &str = "hybrid-e2e/prepull";

/// A `--prepull-timeout` that is no duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a duration above zero (e.g. 15m, 90s, 1m30s)")]
pub struct TimeoutError(String);

/// Reads `--prepull-timeout`: `15m`, `90s`, `1m30s`, `500ms`, `1h`.
pub fn parse_timeout(text: &str) -> Result<Duration, TimeoutError> {
    crate::catalog::duration::parse_duration(text).ok_or_else(|| TimeoutError(text.to_string()))
}

/// How often the pods are looked at.
const POLL: Duration = Duration::from_secs(1);

/// The namespace of a run's pre-pull: `he2e-<run-id>-prepull`.
pub fn namespace_name(run_id: &str) -> String {
    format!("he2e-{run_id}-prepull")
}

/// The images to pull on each OS for `cases` (the cells that will run), sorted, each OS with
/// none left out. Images the catalogue knows serve no Windows build stay off Windows nodes.
pub fn images_by_os(
    cases: &[&TestCase],
    fixtures: &FixtureSet,
    images: &Images,
) -> Vec<(Os, Vec<String>)> {
    Os::ALL
        .into_iter()
        .filter_map(|os| {
            let found: BTreeSet<String> = cases
                .iter()
                .flat_map(|case| crate::windows_build::os_images(case, fixtures, images, os))
                .filter(|image| {
                    os != Os::Windows
                        || crate::windows_build::served_builds(image)
                            .is_none_or(|builds| !builds.is_empty())
                })
                .collect();
            (!found.is_empty()).then(|| (os, found.into_iter().collect()))
        })
        .collect()
}

/// The name of the container that pulls the `index`th image.
fn container_name(index: usize) -> String {
    format!("image-{index}")
}

/// Whether `image` is agnhost (any registry, any tag).
fn is_agnhost(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split([':', '@']).next() == Some("agnhost")
}

/// The DaemonSet that pulls `images` on every node of `os` test pods may use.
pub fn daemon_set(os: Os, images: &[String], tolerations: &[TestToleration]) -> serde_json::Value {
    let containers: Vec<serde_json::Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            let mut container = json!({
                "name": container_name(i),
                "image": image,
                "resources": {"requests": {"cpu": "1m", "memory": "16Mi"},
                              "limits": {"cpu": "100m", "memory": "64Mi"}},
            });
            if is_agnhost(image) {
                container["args"] = json!(["pause"]);
            }
            container
        })
        .collect();
    let tolerations: Vec<serde_json::Value> = toleration::for_test_pods(os, tolerations)
        .iter()
        .map(TestToleration::to_json)
        .collect();
    let labels = json!({ PREPULL_LABEL: os.label() });
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": format!("prepull-{}", os.label()), "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "os": {"name": os.label()},
                    "nodeSelector": {"kubernetes.io/os": os.label()},
                    "tolerations": tolerations,
                    "terminationGracePeriodSeconds": 1,
                    "containers": containers,
                },
            },
        },
    })
}

/// What one node's pre-pull pod shows.
#[derive(Debug, Default, PartialEq)]
struct NodeState {
    /// Images to pull on this node (those of its OS that serve its build).
    total: usize,
    /// Images past their pull.
    pulled: usize,
    /// Images that cannot be pulled: image → the pull error and its cause.
    failed: BTreeMap<String, String>,
    /// Images still failing to pull with a transient error: image → the error.
    retrying: BTreeMap<String, String>,
}

impl NodeState {
    fn finished(&self) -> bool {
        self.pulled + self.failed.len() >= self.total
    }
}

fn past_pull(status: &ContainerStatus) -> bool {
    let ran = |state: Option<&k8s_openapi::api::core::v1::ContainerState>| {
        state.is_some_and(|s| s.running.is_some() || s.terminated.is_some())
    };
    !status.image_id.is_empty() || ran(status.state.as_ref()) || ran(status.last_state.as_ref())
}

/// The state of `pod`, whose containers pull `images` (`image-<i>` pulls `images[i]`), of
/// which its node is asked for those `expected` says.
fn node_state(pod: &Pod, images: &[String], expected: impl Fn(&str) -> bool) -> NodeState {
    let mut state = NodeState::default();
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    for (i, image) in images.iter().enumerate() {
        if !expected(image) {
            continue;
        }
        state.total += 1;
        let Some(status) = statuses.iter().find(|s| s.name == container_name(i)) else {
            continue;
        };
        if past_pull(status) {
            state.pulled += 1;
            continue;
        }
        let waiting = status.state.as_ref().and_then(|s| s.waiting.as_ref());
        let Some(waiting) = waiting else { continue };
        let reason = waiting.reason.as_deref().unwrap_or_default();
        if !image_pull::is_pull_reason(reason) {
            continue;
        }
        let message = waiting.message.as_deref().unwrap_or_default();
        let what = format!("{reason}: {message}");
        match image_pull::permanent_cause(message) {
            Some(cause) => state
                .failed
                .insert(image.clone(), format!("{what} ({cause})")),
            None => state.retrying.insert(image.clone(), what),
        };
    }
    state
}

/// Where the pre-pull stands: each node's state, by OS.
#[derive(Debug, Default)]
struct Progress {
    /// Node → (its OS, its state).
    nodes: BTreeMap<String, (Os, NodeState)>,
    /// OS → how many nodes its DaemonSet wants a pod on, and how many have one; `None` while
    /// the controller has not said.
    coverage: BTreeMap<Os, Option<(usize, usize)>>,
}

impl Progress {
    fn done(&self, plan: &[(Os, Vec<String>)]) -> bool {
        plan.iter().all(|(os, _)| {
            matches!(self.coverage.get(os), Some(Some((want, have))) if have >= want)
                && self
                    .nodes
                    .values()
                    .filter(|(o, _)| o == os)
                    .all(|(_, s)| s.finished())
        })
    }

    /// One line per node that failed, or (`timed_out`) did not finish, and per OS whose
    /// DaemonSet lacks pods.
    fn problems(&self, plan: &[(Os, Vec<String>)], timed_out: bool) -> Vec<String> {
        let mut lines = Vec::new();
        for (os, _) in plan {
            for (node, (_, state)) in self.nodes.iter().filter(|(_, (o, _))| o == os) {
                for (image, error) in &state.failed {
                    lines.push(format!("{node}: {image}: {error}"));
                }
                if timed_out && !state.finished() {
                    let waiting: Vec<String> = state
                        .retrying
                        .iter()
                        .map(|(image, error)| format!("{image}: {error}"))
                        .collect();
                    let why = if waiting.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", waiting.join("; "))
                    };
                    lines.push(format!(
                        "{node}: {}/{} images{why}",
                        state.pulled, state.total
                    ));
                }
            }
            if timed_out {
                match self.coverage.get(os) {
                    Some(Some((want, have))) if have < want => lines.push(format!(
                        "prepull-{os}: {} of {want} {os} nodes have no pod",
                        want - have
                    )),
                    Some(Some(_)) => {}
                    _ => lines.push(format!(
                        "prepull-{os}: the DaemonSet controller never reported on it"
                    )),
                }
            }
        }
        lines
    }
}

/// What the pre-pull needs from the caller.
pub struct Prepull<'a> {
    /// The run's client.
    pub client: &'a Client,
    /// The run's id (names and labels the namespace).
    pub run_id: &'a str,
    /// The images per OS ([`images_by_os`]).
    pub plan: &'a [(Os, Vec<String>)],
    /// `--tolerate`.
    pub tolerations: &'a [TestToleration],
    /// `--prepull-timeout`.
    pub timeout: Duration,
    /// The `node.kubernetes.io/windows-build` of each Windows node that has one.
    pub windows_builds: BTreeMap<String, String>,
}

impl Prepull<'_> {
    /// Pulls the images and deletes the namespace again; `Err` says what failed (nodes,
    /// images, pull errors), for the report's error case.
    pub async fn run(&self, reporter: &dyn Reporter) -> Result<(), String> {
        let ns = namespace_name(self.run_id);
        let result = self.pull(&ns, reporter).await;
        // The sweep at the end of the run waits for it to go.
        if let Err(error) = namespace::delete(self.client, &ns).await {
            tracing::warn!("cannot delete {ns}: {}", error_chain(&error));
        }
        result
    }

    async fn pull(&self, ns: &str, reporter: &dyn Reporter) -> Result<(), String> {
        let started = Instant::now();
        let deadline = started + self.timeout;
        namespace::create_named(
            self.client,
            ns.to_string(),
            self.run_id,
            PREPULL_NAME,
            PodSecurityLevel::Privileged,
        )
        .await
        .map_err(|e| format!("cannot create namespace {ns}: {}", error_chain(&e)))?;
        namespace::wait_until_ready(self.client, ns, self.timeout)
            .await
            .map_err(|e| format!("namespace {ns}: {}", error_chain(&e)))?;
        let sets: Api<DaemonSet> = Api::namespaced(self.client.clone(), ns);
        for (os, images) in self.plan {
            let object = daemon_set(*os, images, self.tolerations);
            let typed: DaemonSet = serde_json::from_value(object)
                .map_err(|e| format!("the {os} DaemonSet does not serialize: {e}"))?;
            match sets.create(&PostParams::default(), &typed).await {
                Ok(_) => {}
                // A retried create whose first try went through (the namespace is fresh and ours).
                Err(e) if crate::kube_error::is_already_exists(&e) => {}
                Err(e) => {
                    let why = error_chain(&e);
                    return Err(format!("cannot create DaemonSet prepull-{os}: {why}"));
                }
            }
        }
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let mut shown: BTreeMap<String, usize> = BTreeMap::new();
        loop {
            let progress = self.look(&sets, &pods).await;
            if let Some(progress) = &progress {
                for (node, (_, state)) in &progress.nodes {
                    if shown.get(node) != Some(&state.pulled) {
                        shown.insert(node.clone(), state.pulled);
                        reporter.report(RunEvent::PrepullProgress {
                            node,
                            pulled: state.pulled,
                            total: state.total,
                        });
                    }
                }
                if progress.done(self.plan) {
                    let problems = progress.problems(self.plan, false);
                    if problems.is_empty() {
                        return Ok(());
                    }
                    return Err(format!("images failed to pull: {}", problems.join("; ")));
                }
            }
            if Instant::now() >= deadline {
                let problems = progress
                    .map(|p| p.problems(self.plan, true))
                    .unwrap_or_default();
                return Err(format!(
                    "timed out after {} (--prepull-timeout): {}",
                    humantime(self.timeout),
                    if problems.is_empty() {
                        "the cluster could not be read".to_string()
                    } else {
                        problems.join("; ")
                    }
                ));
            }
            tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }

    /// The DaemonSets' and pods' state now; `None` when they cannot be listed (the next look
    /// tries again).
    async fn look(&self, sets: &Api<DaemonSet>, pods: &Api<Pod>) -> Option<Progress> {
        let sets = sets.list(&ListParams::default()).await.ok()?;
        let pods = pods.list(&ListParams::default()).await.ok()?;
        let mut progress = Progress::default();
        for (os, images) in self.plan {
            let set = sets
                .items
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(&format!("prepull-{os}")));
            let mine: Vec<&Pod> = pods
                .items
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter(|p| {
                    p.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(PREPULL_LABEL))
                        .map(String::as_str)
                        == Some(os.label())
                })
                .collect();
            let mut nodes = 0;
            for pod in &mine {
                let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
                    continue;
                };
                nodes += 1;
                let build = self
                    .windows_builds
                    .get(&node)
                    .filter(|_| *os == Os::Windows);
                let expected = |image: &str| {
                    build.is_none_or(|b| crate::windows_build::unserved(image, b).is_none())
                };
                let state = node_state(pod, images, expected);
                progress.nodes.insert(node, (*os, state));
            }
            let coverage = set
                .and_then(|s| s.status.as_ref())
                .filter(|s| s.observed_generation.is_some())
                .map(|s| {
                    (
                        usize::try_from(s.desired_number_scheduled).unwrap_or(0),
                        nodes,
                    )
                });
            progress.coverage.insert(*os, coverage);
        }
        Some(progress)
    }
}

/// `15m`, `90s`, `1m30s`, `500ms`.
fn humantime(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60, d.subsec_millis()) {
        (0, 0, ms) => format!("{ms}ms"),
        (0, s, _) => format!("{s}s"),
        (m, 0, _) => format!("{m}m"),
        (m, s, _) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn pod(statuses: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"},
            "spec": {"nodeName": "windows-node-1", "containers": []},
            "status": {"containerStatuses": statuses}}))
        .unwrap()
    }

    fn status(i: usize, image_id: &str, state: serde_json::Value) -> serde_json::Value {
        json!({"name": container_name(i), "image": "x", "imageID": image_id, "ready": false,
               "restartCount": 0, "state": state})
    }

    #[test]
    fn the_catalog_pulls_agnhost_and_pause_on_both_oses_and_stress_on_linux_only() {
        let catalog = Catalog::load(None, None).unwrap();
        let cases: Vec<&TestCase> = catalog.tests.iter().collect();
        let plan = images_by_os(&cases, &catalog.fixtures, &Images::default());
        let of = |os: Os| {
            plan.iter()
                .find(|(o, _)| *o == os)
                .map(|(_, images)| images.clone())
                .unwrap_or_default()
        };
        let linux = of(Os::Linux);
        let windows = of(Os::Windows);
        assert!(linux.iter().any(|i| i.contains("/stress:")), "{linux:?}");
        assert!(
            !windows.iter().any(|i| i.contains("/stress:")),
            "{windows:?}"
        );
        for images in [&linux, &windows] {
            assert!(images.iter().any(|i| is_agnhost(i)), "{images:?}");
            assert!(images.iter().any(|i| i.contains("/pause:")), "{images:?}");
        }
    }

    #[test]
    fn the_daemon_set_selects_the_os_tolerates_like_test_pods_and_runs_a_no_op() {
        let extra = [TestToleration::parse("CriticalAddonsOnly=true:NoSchedule").unwrap()];
        let images = [
            "registry.k8s.io/e2e-test-images/agnhost:2.66.1".to_string(),
            "registry.k8s.io/pause:3.10.2".to_string(),
        ];
        let ds = daemon_set(Os::Windows, &images, &extra);
        let spec = &ds["spec"]["template"]["spec"];
        assert_eq!(spec["nodeSelector"]["kubernetes.io/os"], "windows");
        let tolerations = spec["tolerations"].to_string();
        assert!(tolerations.contains("CriticalAddonsOnly"), "{tolerations}");
        assert!(tolerations.contains("\"os\""), "{tolerations}");
        assert_eq!(spec["containers"][0]["args"], json!(["pause"]));
        assert!(spec["containers"][1]["args"].is_null());
        assert_eq!(
            ds["spec"]["selector"]["matchLabels"][PREPULL_LABEL],
            "windows"
        );
        assert!(serde_json::from_value::<DaemonSet>(ds).is_ok());
    }

    #[test]
    fn a_node_counts_pulled_images_and_tells_permanent_from_transient_pull_errors() {
        let images: Vec<String> = ["a:1", "b:1", "c:1", "d:1"].map(String::from).into();
        let pod = pod(json!([
            status(0, "sha256:1", json!({"running": {}})),
            status(
                1,
                "",
                json!({"waiting": {"reason": "ErrImagePull",
                "message": "failed to pull and unpack image \"b:1\": no match for platform in manifest: not found"}})
            ),
            status(
                2,
                "",
                json!({"waiting": {"reason": "ImagePullBackOff",
                "message": "Back-off pulling image \"c:1\": ErrImagePull: dial tcp 1.2.3.4:443: i/o timeout"}})
            ),
            status(3, "", json!({"waiting": {"reason": "ContainerCreating"}})),
        ]));
        let state = node_state(&pod, &images, |_| true);
        assert_eq!(state.pulled, 1);
        assert_eq!(state.failed.len(), 1);
        assert!(state.failed["b:1"].ends_with("(no image for this node's platform)"));
        assert!(state.retrying["c:1"].contains("i/o timeout"));
        assert!(!state.finished());
        // An image with no variant for the node's build is not asked of it.
        let state = node_state(&pod, &images, |image| image != "b:1");
        assert_eq!((state.total, state.failed.len()), (3, 0));
    }

    #[test]
    fn a_timeout_names_each_unfinished_node_and_the_nodes_without_a_pod() {
        let plan = vec![(Os::Windows, vec!["a:1".to_string(), "b:1".to_string()])];
        let mut progress = Progress::default();
        progress.nodes.insert(
            "windows-node-1".into(),
            (
                Os::Windows,
                NodeState {
                    total: 2,
                    pulled: 1,
                    retrying: [("b:1".to_string(), "ImagePullBackOff: slow".to_string())].into(),
                    ..NodeState::default()
                },
            ),
        );
        progress.coverage.insert(Os::Windows, Some((2, 1)));
        assert!(!progress.done(&plan));
        assert_eq!(
            progress.problems(&plan, true),
            [
                "windows-node-1: 1/2 images (b:1: ImagePullBackOff: slow)",
                "prepull-windows: 1 of 2 windows nodes have no pod"
            ]
        );
        assert_eq!(humantime(Duration::from_secs(900)), "15m");
        assert_eq!(humantime(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn timeouts_are_durations_above_zero() {
        assert_eq!(parse_timeout("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_timeout("1m30s"), Ok(Duration::from_secs(90)));
        for bad in ["0s", "soon", "-5m", ""] {
            let error = parse_timeout(bad).unwrap_err().to_string();
            assert!(error.contains("not a duration"), "{error}");
        }
    }
}
