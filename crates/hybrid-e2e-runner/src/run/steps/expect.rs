//! `expect`: a JSONPath against an object read as JSON, and a check of what it finds; with
//! `eventually`, retry until the check holds or the deadline passes (or, for a pod, until it
//! shows it can never start: a permanent image pull error).

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

impl StepKind for Expect<'_> {
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(if self.eventually { 120 } else { 30 })
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
