//! The step vocabulary, executed: one file per kind of step (`create`, `wait`, `http`, `dns`,
//! `exec`, `logs`, `expect`, `event`, `patch`, `sleep`, `delete`), each with its default
//! timeout (scaled by `--timeout-scale`), its one-line description, how it runs, and its tests.
//! A step fails with a message that says what was expected, what was seen, and where (pod,
//! node, OS, target).

mod create;
mod delete;
mod dns;
mod event;
mod exec;
mod expect;
mod http;
mod logs;
mod patch;
mod sleep;
mod wait;

use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::objects::ObjectError;
use super::placeholders::PlaceholderError;
use super::probe::ProbeError;
use super::scope::TestScope;
use super::signals::StopSignal;
use super::wait::WaitError;
use crate::catalog::{Action, Os, Step};
use crate::fixture::FixtureError;
use crate::kube_error::{api_message, ApiError};

/// Why a step failed. The Display text is what the report shows.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    /// The fixture could not be turned into objects.
    #[error("cannot instantiate fixture \"{fixture}\": {source}")]
    Fixture {
        /// The fixture's name.
        fixture: String,
        /// Why not.
        #[source]
        source: FixtureError,
    },
    /// The fixture made something that is not a Kubernetes object.
    #[error("cannot instantiate fixture \"{fixture}\": not a Kubernetes object: {source}")]
    NotAnObject {
        /// The fixture's name.
        fixture: String,
        /// Why it does not read as one.
        #[source]
        source: serde_json::Error,
    },
    /// The API server refused an object of a fixture.
    #[error("cannot create {kind} \"{name}\": {}", api_message(.source))]
    Create {
        /// The object's kind.
        kind: String,
        /// The object's name.
        name: String,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
    /// A wait ended without the object reaching its condition.
    #[error("{object} ({os}): {source}")]
    Wait {
        /// `pod "p"`, `deployment "d"`, ...
        object: String,
        /// The OS the object was created for.
        os: String,
        /// Why the wait ended.
        #[source]
        source: WaitError,
    },
    /// A run-time placeholder has no value.
    #[error(transparent)]
    Placeholder(#[from] PlaceholderError),
    /// The object a step names could not be read.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// An API call a step made failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// An `expect` step's JSONPath does not parse.
    #[error("invalid JSONPath {path:?}: {source}")]
    JsonPath {
        /// The path as written.
        path: String,
        /// Why it does not parse.
        #[source]
        source: serde_json_path::ParseError,
    },
    /// What the step checks does not hold; the text says what was expected and seen.
    #[error("{0}")]
    Check(String),
    /// The step ran out of time.
    #[error("timed out after {0:.0?}")]
    Timeout(Duration),
    /// An `http` or `dns` step's network check failed.
    #[error("{0}")]
    Probe(#[source] ProbeError),
    /// The check cannot be made from here (e.g. nodes unreachable from the harness machine):
    /// the test is skipped with this reason, not failed.
    #[error("skipped: {0}")]
    Skip(String),
    /// A stop signal ended the run while the step ran: the harness did not get to check.
    #[error("interrupted by {0}")]
    Interrupted(StopSignal),
}

impl StepError {
    /// Whether the harness could not check (its own fault or its machine's), as opposed to the
    /// cluster failing the check: the test ends `error`, not `failed`.
    pub(crate) fn is_harness_error(&self) -> bool {
        match self {
            StepError::Probe(p) => p.is_harness_error(),
            StepError::Interrupted(_) => true,
            _ => false,
        }
    }
}

/// A probe that cannot be made from here skips the test; any other probe error fails the step.
impl From<ProbeError> for StepError {
    fn from(error: ProbeError) -> Self {
        match error {
            ProbeError::Skip(reason) => StepError::Skip(reason),
            other => StepError::Probe(other),
        }
    }
}

/// One kind of step, borrowing its fields from the [`Action`].
/// What a step's run returns: boxed, so that every kind can sit behind one `dyn StepKind`.
type StepFuture<'s> = BoxFuture<'s, Result<(), StepError>>;

trait StepKind: Send + Sync {
    /// The step's timeout when the suite gives none, before scaling.
    fn default_timeout(&self) -> Duration;

    /// A one-line description for logs and failure messages.
    fn describe(&self) -> String;

    /// Runs the step; `deadline` is when its (scaled) timeout ends.
    fn run<'s>(&'s self, scope: &'s mut TestScope<'_>, deadline: Instant) -> StepFuture<'s>;

    /// How long, before scaling, the step may wait for its object to start before its own
    /// timeout begins (an `expect` of restarts counts from the container's first start).
    fn start_grace(&self) -> Duration {
        Duration::ZERO
    }

    /// Whether the step's timeout cuts it short (not for `sleep`, whose length is the step).
    fn bounded(&self) -> bool {
        true
    }
}

/// The kind of step an action is: the one match on [`Action`].
fn kind_of(action: &Action) -> Box<dyn StepKind + '_> {
    match action {
        Action::Create {
            fixture,
            name,
            os,
            vars,
        } => Box::new(create::Create {
            fixture,
            name,
            os: *os,
            vars,
        }),
        Action::Wait {
            object,
            until,
            fails_with,
        } => Box::new(wait::Wait {
            object,
            until: *until,
            fails_with: fails_with.as_deref(),
        }),
        Action::Http { from, to, expect } => Box::new(http::Http {
            from: Some(from),
            to,
            expect,
        }),
        Action::HttpFromHarness { to, expect } => Box::new(http::Http {
            from: None,
            to,
            expect,
        }),
        Action::Dns { from, name, expect } => Box::new(dns::Dns {
            from,
            name,
            expect: *expect,
        }),
        Action::Exec {
            pod,
            container,
            command,
            expect,
            eventually,
        } => Box::new(exec::Exec {
            pod,
            container: container.as_deref(),
            command,
            expect,
            eventually: *eventually,
        }),
        Action::Logs {
            pod,
            container,
            previous,
            contains,
        } => Box::new(logs::Logs {
            pod,
            container: container.as_deref(),
            previous: *previous,
            contains,
        }),
        Action::Expect {
            object,
            path,
            check,
            eventually,
        } => Box::new(expect::Expect {
            object,
            path,
            check,
            eventually: *eventually,
        }),
        Action::Event {
            object,
            reason,
            type_,
        } => Box::new(event::Event {
            object,
            reason,
            type_: type_.as_deref(),
        }),
        Action::Patch { object, merge } => Box::new(patch::Patch { object, merge }),
        Action::Sleep(length) => Box::new(sleep::Sleep { length: *length }),
        Action::Delete {
            object,
            wait,
            gone_after,
            gone_within,
        } => Box::new(delete::Delete {
            object,
            wait: *wait,
            gone_after: *gone_after,
            gone_within: *gone_within,
        }),
    }
}

/// A one-line description of a step for logs and failure messages.
pub(crate) fn describe(action: &Action) -> String {
    kind_of(action).describe()
}

/// ` container "c"`, or nothing when the step names no container.
fn in_container(container: Option<&str>) -> String {
    container
        .map(|c| format!(" container \"{c}\""))
        .unwrap_or_default()
}

/// ` (3 tries)` after more than one try (the words from `note`), else nothing.
fn tries_note(tries: usize, note: impl FnOnce(usize) -> String) -> String {
    if tries > 1 {
        format!(" ({})", note(tries))
    } else {
        String::new()
    }
}

/// The name of the object a step acts on (for `http` and `dns`: the pod they run from), and the
/// OS a `create` step makes it for; `None` for steps on no object (`sleep`, `http` from the
/// harness).
fn subject(action: &Action) -> Option<(&str, Option<Os>)> {
    match action {
        Action::Create { name, os, .. } => Some((name, Some(*os))),
        Action::Wait { object, .. }
        | Action::Expect { object, .. }
        | Action::Event { object, .. }
        | Action::Patch { object, .. }
        | Action::Delete { object, .. } => Some((&object.name, None)),
        Action::Http { from, .. } | Action::Dns { from, .. } => Some((from, None)),
        Action::Exec { pod, .. } | Action::Logs { pod, .. } => Some((pod, None)),
        Action::HttpFromHarness { .. } | Action::Sleep(_) => None,
    }
}

impl TestScope<'_> {
    /// The factor on a step's timeout: `--timeout-scale`, times `--windows-timeout-scale` when
    /// the step acts on an object created for Windows (or runs from a Windows pod).
    pub(crate) fn timeout_scale_of(&self, action: &Action) -> f64 {
        let os =
            subject(action).and_then(|(name, os)| os.or_else(|| self.os_of.get(name).copied()));
        self.timeout_scale_for(os)
    }

    /// `--timeout-scale`, times `--windows-timeout-scale` for `Some(Os::Windows)`.
    pub(crate) fn timeout_scale_for(&self, os: Option<Os>) -> f64 {
        match os {
            Some(Os::Windows) => self.env.timeout_scale * self.env.windows_timeout_scale,
            _ => self.env.timeout_scale,
        }
    }

    /// Runs one step within its (scaled) timeout.
    pub(crate) async fn run(&mut self, step: &Step) -> Result<(), StepError> {
        let kind = kind_of(&step.action);
        let scale = self.timeout_scale_of(&step.action);
        let timeout = step
            .timeout
            .unwrap_or_else(|| kind.default_timeout())
            .mul_f64(scale);
        let deadline = Instant::now() + timeout;
        let bounded = kind.bounded();
        let limit = timeout + kind.start_grace().mul_f64(scale) + Duration::from_secs(1);
        let work = kind.run(self, deadline);
        if !bounded {
            return work.await;
        }
        match tokio::time::timeout(limit, work).await {
            Ok(result) => result,
            Err(_) => Err(StepError::Timeout(timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{ObjectKind, ObjectRef, WaitUntil};
    use crate::run::scope::TestEnv;
    use std::collections::HashMap;

    #[test]
    fn what_the_cluster_did_is_never_a_harness_error() {
        assert!(!StepError::Check("stdout does not contain \"x\"".into()).is_harness_error());
        assert!(!StepError::Timeout(Duration::from_secs(1)).is_harness_error());
        assert!(!StepError::Skip("no route".into()).is_harness_error());
    }

    #[test]
    fn actions_are_described_and_timed_by_their_kind() {
        let pod = ObjectRef {
            kind: ObjectKind::Pod,
            name: "web".into(),
        };
        let wait = Action::Wait {
            object: pod.clone(),
            until: WaitUntil::NotReady,
            fails_with: None,
        };
        assert_eq!(describe(&wait), "wait for pod \"web\" to be not ready");
        assert_eq!(kind_of(&wait).default_timeout(), Duration::from_secs(180));
        let sleep = Action::Sleep(Duration::from_secs(2));
        assert_eq!(describe(&sleep), "sleep 2s");
        assert_eq!(kind_of(&sleep).default_timeout(), Duration::from_secs(32));
    }

    #[test]
    fn placeholder_and_object_errors_keep_their_text_and_source() {
        let error = StepError::from(PlaceholderError::Missing {
            placeholder: "ip.server".into(),
            what: "pod \"server\"".into(),
            field: "IP",
        });
        assert_eq!(
            error.to_string(),
            "${ip.server}: pod \"server\" has no IP yet"
        );
        let error = StepError::from(ObjectError::Unbound("p".into()));
        assert_eq!(error.to_string(), "pod \"p\" is not bound to a node");
    }

    fn env(timeout_scale: f64, windows_timeout_scale: f64) -> TestEnv {
        let config = kube::Config::new("http://127.0.0.1:1".parse().expect("a URL"));
        TestEnv {
            client: kube::Client::try_from(config).expect("a client"),
            fixtures: Default::default(),
            images: Default::default(),
            timeout_scale,
            windows_timeout_scale,
            storage_classes: Default::default(),
            probe_via: Default::default(),
            tolerations: Vec::new(),
            cluster_domain: Default::default(),
        }
    }

    #[tokio::test]
    async fn steps_on_windows_objects_get_the_windows_scale_on_top() {
        let env = env(2.0, 3.0);
        let scope = TestScope {
            env: &env,
            namespace: "ns".into(),
            os_of: HashMap::from([("win".into(), Os::Windows), ("lin".into(), Os::Linux)]),
            notes: Vec::new(),
            live: Default::default(),
        };
        let pod = |name: &str| ObjectRef {
            kind: ObjectKind::Pod,
            name: name.into(),
        };
        let wait = |name: &str| Action::Wait {
            object: pod(name),
            until: WaitUntil::Ready,
            fails_with: None,
        };
        assert_eq!(scope.timeout_scale_of(&wait("win")), 6.0);
        assert_eq!(scope.timeout_scale_of(&wait("lin")), 2.0);
        assert_eq!(scope.timeout_scale_of(&wait("unknown")), 2.0);
        let create = Action::Create {
            fixture: "netexec".into(),
            name: "new".into(),
            os: Os::Windows,
            vars: Default::default(),
        };
        assert_eq!(scope.timeout_scale_of(&create), 6.0);
        let dns = Action::Dns {
            from: "win".into(),
            name: "kubernetes.default".into(),
            expect: crate::catalog::DnsExpect::Resolves,
        };
        assert_eq!(scope.timeout_scale_of(&dns), 6.0);
        assert_eq!(
            scope.timeout_scale_of(&Action::Sleep(Duration::from_secs(1))),
            2.0
        );
    }

    #[test]
    fn notes_appear_after_more_than_one_try() {
        assert_eq!(tries_note(1, |n| format!("{n} tries")), "");
        assert_eq!(tries_note(3, |n| format!("{n} tries")), " (3 tries)");
    }
}
