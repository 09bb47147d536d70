//! `expect`: a JSONPath against an object read as JSON, and a check of what it finds; with
//! `eventually`, retry until the check holds or the deadline passes (or, for a pod, until it
//! shows it can never start: a permanent image pull error). An `eventually` check of a pod's
//! restarts, readiness or start counts its timeout from the container's first start (the
//! first `startedAt` in its statuses), not from the step: a slow pull (Windows images take
//! minutes) does not eat the time the restarts or probes were given.

use std::time::{Duration, Instant};

use serde_json::Value;
use serde_json_path::JsonPath;

use super::{tries_note, StepError, StepFuture, StepKind};
use k8s_openapi::api::core::v1::Pod;

use crate::catalog::{Check, ObjectKind, ObjectRef};
use crate::run::objects;
use crate::run::retry::{self, Retry, STEP_RETRY_EVERY};
use crate::run::scope::TestScope;
use crate::run::wait as waits;

pub(super) struct Expect<'a> {
    pub(super) object: &'a ObjectRef,
    pub(super) path: &'a str,
    pub(super) check: &'a Check,
    /// Retry until the check holds or the step's deadline passes.
    pub(super) eventually: bool,
}

/// The fields whose changes a container's first start begins (restarts, readiness, start).
const CLOCKED_FROM_START: [&str; 3] = ["restartCount", "ready", "started"];

impl StepKind for Expect<'_> {
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(if self.eventually { 120 } else { 30 })
    }

    fn start_grace(&self) -> Duration {
        if self.counts_from_first_start() {
            super::wait::WAIT_TIMEOUT
        } else {
            Duration::ZERO
        }
    }

    fn describe(&self) -> String {
        format!(
            "expect {} {} {}",
            objects::describe(self.object),
            self.path,
            describe_check(self.check)
        )
    }

    fn run<'s>(&'s self, scope: &'s mut TestScope<'_>, deadline: Instant) -> StepFuture<'s> {
        Box::pin(self.expect(scope, deadline))
    }
}

impl Expect<'_> {
    async fn expect(&self, scope: &TestScope<'_>, deadline: Instant) -> Result<(), StepError> {
        let json_path = JsonPath::parse(self.path).map_err(|source| StepError::JsonPath {
            path: self.path.to_string(),
            source,
        })?;
        let check = match self.check {
            Check::Equals(v) => Check::Equals(scope.expand_value(v).await?),
            Check::NotEquals(v) => Check::NotEquals(scope.expand_value(v).await?),
            Check::Contains(t) => Check::Contains(scope.expand(t).await?),
            other => other.clone(),
        };
        let (json_path, check) = (&json_path, &check);
        let timeout = deadline.saturating_duration_since(Instant::now());
        let deadline = if self.counts_from_first_start() {
            let os = scope.os_of.get(&self.object.name).copied();
            let grace = self.start_grace().mul_f64(scope.timeout_scale_for(os));
            let started = self
                .first_start(scope, json_path, check, Instant::now() + grace)
                .await?;
            started + timeout
        } else {
            deadline
        };
        let mut tries = 0;
        let outcome = retry::until(deadline, STEP_RETRY_EVERY, || {
            tries += 1;
            async move {
                let value = objects::fetch(&scope.env.client, &scope.namespace, self.object)
                    .await
                    .map_err(|e| Retry::Stop(Err(StepError::from(e))))?;
                let found = json_path.query(&value).all();
                judge(&found, check).map_err(|seen| match self.never_starts(&value) {
                    Some(reason) => Retry::Stop(Ok(format!("{seen}; it cannot start: {reason}"))),
                    None => Retry::again_if(self.eventually, Ok(seen)),
                })
            }
        })
        .await;
        let seen = match outcome {
            Ok(()) => return Ok(()),
            Err(failure) => failure?,
        };
        // The step's description already names the object and the path.
        Err(StepError::Check(format!(
            "{seen}{}",
            tries_note(tries, |n| format!(
                "checked {n} times within the step's {:.1}s timeout",
                timeout.as_secs_f64()
            ))
        )))
    }
}

impl Expect<'_> {
    /// Whether the step's timeout counts from the pod's first container start: an `eventually`
    /// check of a pod's restarts, readiness or start.
    fn counts_from_first_start(&self) -> bool {
        self.eventually
            && self.object.kind == ObjectKind::Pod
            && CLOCKED_FROM_START.iter().any(|f| self.path.contains(f))
    }

    /// When the pod's first container started, as seen from here (now, if it had before the
    /// step, or if the check holds already); at `grace` at the latest, or as soon as the pod
    /// shows it can never start.
    async fn first_start(
        &self,
        scope: &TestScope<'_>,
        json_path: &JsonPath,
        check: &Check,
        grace: Instant,
    ) -> Result<Instant, StepError> {
        let outcome = retry::until(grace, STEP_RETRY_EVERY, || async move {
            let value = objects::fetch(&scope.env.client, &scope.namespace, self.object)
                .await
                .map_err(|e| Retry::Stop(StepError::from(e)))?;
            let holds = judge(&json_path.query(&value).all(), check).is_ok();
            if holds || has_started(&value) || self.never_starts(&value).is_some() {
                Ok(())
            } else {
                Err(Retry::Again(StepError::Timeout(Duration::ZERO)))
            }
        })
        .await;
        match outcome {
            Err(error @ StepError::Object(_)) | Err(error @ StepError::Api(_)) => Err(error),
            _ => Ok(Instant::now()),
        }
    }

    /// For an `eventually` check of a pod: why it can never start (a permanent image pull
    /// error), so the check stops instead of polling until its deadline.
    fn never_starts(&self, value: &Value) -> Option<String> {
        if !self.eventually || self.object.kind != ObjectKind::Pod {
            return None;
        }
        let pod: Pod = serde_json::from_value(value.clone()).ok()?;
        waits::image_blocker(&pod)
    }
}

/// Whether any container of the pod (init containers included) has started: a `startedAt` in
/// its `state.running`, `state.terminated` or `lastState.terminated`.
fn has_started(pod: &Value) -> bool {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|list| pod["status"][list].as_array())
        .flatten()
        .any(|status| {
            !status["state"]["running"]["startedAt"].is_null()
                || !status["state"]["terminated"]["startedAt"].is_null()
                || !status["lastState"]["terminated"]["startedAt"].is_null()
        })
}

fn describe_check(check: &Check) -> String {
    match check {
        Check::Equals(v) => format!("== {v}"),
        Check::NotEquals(v) => format!("!= {v}"),
        Check::AtLeast(n) => format!(">= {n}"),
        Check::AtMost(n) => format!("<= {n}"),
        Check::Contains(t) => format!("contains {t:?}"),
        Check::Exists(true) => "exists".to_string(),
        Check::Exists(false) => "does not exist".to_string(),
    }
}

/// Judges what a JSONPath found; `Err` says what was found instead.
fn judge(found: &[&Value], check: &Check) -> Result<(), String> {
    let shown = || {
        if found.is_empty() {
            "nothing".to_string()
        } else {
            found
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let ok = match (check, found) {
        (Check::Exists(want), _) => *want != found.is_empty(),
        (Check::Equals(want), [one]) => loosely_equal(one, want),
        (Check::NotEquals(unwanted), [one]) => !loosely_equal(one, unwanted),
        (Check::AtLeast(n), [one]) => number(one).is_some_and(|v| v >= *n),
        (Check::AtMost(n), [one]) => number(one).is_some_and(|v| v <= *n),
        (Check::Contains(t), [one]) => text_of(one).contains(t.as_str()),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "found {}, expected {}",
            shown(),
            describe_check(check)
        ))
    }
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Equal as JSON, or equal as text (so `3` matches `"3"` from a YAML suite).
fn loosely_equal(found: &Value, expected: &Value) -> bool {
    found == expected || text_of(found) == text_of(expected)
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_start_is_any_started_at() {
        let waiting = serde_json::json!({"status": {"containerStatuses": [
            {"state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}
        ]}});
        assert!(!has_started(&waiting));
        let restarted = serde_json::json!({"status": {"containerStatuses": [
            {"state": {"waiting": {"reason": "CrashLoopBackOff"}},
             "lastState": {"terminated": {"startedAt": "2026-01-02T03:04:05Z"}}}
        ]}});
        assert!(has_started(&restarted));
        let init_running = serde_json::json!({"status": {"initContainerStatuses": [
            {"state": {"running": {"startedAt": "2026-01-02T03:04:05Z"}}}
        ]}});
        assert!(has_started(&init_running));
    }

    #[test]
    fn restart_and_readiness_checks_of_pods_count_from_the_first_start() {
        let pod = ObjectRef {
            kind: ObjectKind::Pod,
            name: "p".into(),
        };
        let check = Check::AtLeast(2.0);
        let expect = |path, eventually| Expect {
            object: &pod,
            path,
            check: &check,
            eventually,
        };
        let restarts = expect("$.status.containerStatuses[0].restartCount", true);
        assert!(restarts.counts_from_first_start());
        assert_eq!(restarts.start_grace(), Duration::from_secs(180));
        assert!(
            !expect("$.status.containerStatuses[0].restartCount", false).counts_from_first_start()
        );
        assert!(!expect("$.status.phase", true).counts_from_first_start());
        assert_eq!(expect("$.status.phase", true).start_grace(), Duration::ZERO);
    }
    use serde_json::json;

    #[test]
    fn checks_judge_what_a_path_found() {
        let three = json!(3);
        let text = json!("Running");
        assert!(judge(&[&three], &Check::AtLeast(3.0)).is_ok());
        assert_eq!(
            judge(&[&three], &Check::AtLeast(4.0)),
            Err("found 3, expected >= 4".into())
        );
        assert!(judge(&[&three], &Check::AtMost(3.0)).is_ok());
        assert!(judge(&[&text], &Check::Contains("Run".into())).is_ok());
        assert!(judge(&[], &Check::Exists(false)).is_ok());
        assert_eq!(
            judge(&[], &Check::Exists(true)),
            Err("found nothing, expected exists".into())
        );
        assert!(
            judge(&[&three, &three], &Check::Equals(json!(3))).is_err(),
            "one value only"
        );
        let node = json!("linux-node-1");
        assert!(judge(&[&node], &Check::NotEquals(json!("linux-node-2"))).is_ok());
        assert_eq!(
            judge(&[&node], &Check::NotEquals(json!("linux-node-1"))),
            Err("found \"linux-node-1\", expected != \"linux-node-1\"".into())
        );
        assert!(
            judge(&[], &Check::NotEquals(json!("x"))).is_err(),
            "nothing found is not a different value"
        );
    }

    #[test]
    fn loose_equality_matches_numbers_and_their_text() {
        assert!(loosely_equal(&json!(3), &json!("3")));
        assert!(loosely_equal(&json!("linux"), &json!("linux")));
        assert!(!loosely_equal(&json!(3), &json!(4)));
    }

    #[test]
    fn eventually_waits_longer_by_default() {
        let pod = ObjectRef {
            kind: crate::catalog::ObjectKind::Pod,
            name: "p".into(),
        };
        let check = Check::Exists(false);
        let once = Expect {
            object: &pod,
            path: "$.status.phase",
            check: &check,
            eventually: false,
        };
        assert_eq!(once.default_timeout(), Duration::from_secs(30));
        assert_eq!(
            once.describe(),
            "expect pod \"p\" $.status.phase does not exist"
        );
        let eventually = Expect {
            eventually: true,
            ..once
        };
        assert_eq!(eventually.default_timeout(), Duration::from_secs(120));
    }
}
