//! `wait`: watch an object (pod, deployment, job, claim) until it reaches a condition, or,
//! with `fails-with`, until the wait fails fast for the expected reason.

use std::time::{Duration, Instant};

use super::{StepError, StepFuture, StepKind};
use crate::catalog::{ObjectRef, WaitUntil};
use crate::run::scope::TestScope;
use crate::run::unschedulable::Patience;
use crate::run::wait::{self as waits, WaitError};
use crate::run::{image_pull, objects};

/// A wait's timeout when the suite gives none, before scaling.
pub(super) const WAIT_TIMEOUT: Duration = Duration::from_secs(180);

pub(super) struct Wait<'a> {
    pub(super) object: &'a ObjectRef,
    pub(super) until: WaitUntil,
    /// Negative wait: the wait must fail fast with a reason containing this text.
    pub(super) fails_with: Option<&'a str>,
}

impl StepKind for Wait<'_> {
    fn default_timeout(&self) -> Duration {
        WAIT_TIMEOUT
    }

    fn describe(&self) -> String {
        let object = objects::describe(self.object);
        match self.fails_with {
            None => format!("wait for {object} to be {}", self.until),
            Some(text) => format!(
                "wait for {object} to fail to be {} with {text:?}",
                self.until
            ),
        }
    }

    fn run<'s>(&'s self, scope: &'s mut TestScope<'_>, deadline: Instant) -> StepFuture<'s> {
        Box::pin(self.wait(scope, deadline))
    }
}

impl Wait<'_> {
    async fn wait(&self, scope: &TestScope<'_>, deadline: Instant) -> Result<(), StepError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let patience = Patience {
            expected_failure: self.fails_with,
            ..Patience::scaled(scope.env.timeout_scale)
        };
        let outcome = waits::wait(
            &scope.env.client,
            &scope.namespace,
            self.object,
            self.until,
            left,
            patience,
            &scope.live,
        )
        .await
        .map_err(|source| StepError::Wait {
            object: objects::describe(self.object),
            os: scope.os_label(&self.object.name),
            source,
        });
        self.judge(outcome)
    }

    /// The step's result from the wait's: as is, or (with `fails-with`) turned around; pods
    /// the cluster's admission refuses skip the test either way.
    fn judge(&self, outcome: Result<(), StepError>) -> Result<(), StepError> {
        match (self.fails_with, outcome) {
            (
                _,
                Err(StepError::Wait {
                    source: WaitError::Denied(reason),
                    ..
                }),
            ) => Err(StepError::Skip(reason)),
            (None, outcome) => outcome,
            (
                Some(text),
                Err(StepError::Wait {
                    source: WaitError::Hopeless(reason),
                    ..
                }),
            ) if image_pull::reason_matches(&reason, text) => Ok(()),
            (Some(text), Err(e)) => Err(StepError::Check(format!(
                "expected the wait to fail fast with {text:?}, but: {e}"
            ))),
            (Some(text), Ok(())) => Err(StepError::Check(format!(
                "expected {} to fail with {text:?}, but it became {}",
                objects::describe(self.object),
                self.until
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ObjectKind;

    fn hopeless(reason: &str) -> Result<(), StepError> {
        Err(StepError::Wait {
            object: "pod \"p\"".into(),
            os: "linux".into(),
            source: WaitError::Hopeless(reason.into()),
        })
    }

    #[test]
    fn refused_pods_skip_the_test_whatever_the_wait_expects() {
        let deployment = ObjectRef {
            kind: ObjectKind::Deployment,
            name: "web".into(),
        };
        let denied =
            "the cluster's admission refused the pods of ReplicaSet \"web-1\" (FailedCreate): x";
        for fails_with in [None, Some("ImagePullBackOff")] {
            let step = Wait {
                object: &deployment,
                until: WaitUntil::Available,
                fails_with,
            };
            let outcome = step.judge(Err(StepError::Wait {
                object: "deployment \"web\"".into(),
                os: "linux".into(),
                source: WaitError::Denied(denied.into()),
            }));
            match outcome {
                Err(StepError::Skip(reason)) => assert_eq!(reason, denied),
                other => panic!("not a skip: {other:?}"),
            }
        }
    }

    #[test]
    fn a_negative_wait_passes_only_when_it_fails_fast_for_the_reason() {
        let pod = ObjectRef {
            kind: ObjectKind::Pod,
            name: "p".into(),
        };
        let step = Wait {
            object: &pod,
            until: WaitUntil::Running,
            fails_with: Some("ImagePullBackOff"),
        };
        assert!(step
            .judge(hopeless("container \"c\" is waiting: ImagePullBackOff: x"))
            .is_ok());
        // The kubelet may be seen in either pull reason first.
        assert!(step
            .judge(hopeless(
                "container \"c\" is waiting: ErrImagePull: x: not found"
            ))
            .is_ok());
        let other = step
            .judge(hopeless("pod is Unschedulable: none"))
            .unwrap_err();
        assert_eq!(
            other.to_string(),
            "expected the wait to fail fast with \"ImagePullBackOff\", but: pod \"p\" (linux): pod is Unschedulable: none"
        );
        assert_eq!(
            step.judge(Ok(())).unwrap_err().to_string(),
            "expected pod \"p\" to fail with \"ImagePullBackOff\", but it became running"
        );
        assert_eq!(
            step.describe(),
            "wait for pod \"p\" to fail to be running with \"ImagePullBackOff\""
        );
    }
}
