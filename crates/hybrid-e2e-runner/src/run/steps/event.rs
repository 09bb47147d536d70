//! `event`: wait until an event about an object exists (`Unhealthy`, `ProvisioningFailed`,
//! ...), optionally of one type (`Normal`, `Warning`).

use std::time::{Duration, Instant};

use super::{StepError, StepFuture, StepKind};
use crate::catalog::ObjectRef;
use crate::kube_error::ApiError;
use crate::run::objects;
use crate::run::retry::{self, Retry, STEP_RETRY_EVERY};
use crate::run::scope::TestScope;

pub(super) struct Event<'a> {
    pub(super) object: &'a ObjectRef,
    pub(super) reason: &'a str,
    /// `Normal` or `Warning`; any when `None`.
    pub(super) type_: Option<&'a str>,
}

impl StepKind for Event<'_> {
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(120)
    }

    fn describe(&self) -> String {
        format!(
            "expect a {}{} event about {}",
            self.type_note(),
            self.reason,
            objects::describe(self.object)
        )
    }

    fn run<'s>(&'s self, scope: &'s mut TestScope<'_>, deadline: Instant) -> StepFuture<'s> {
        Box::pin(self.wait(scope, deadline))
    }
}

impl Event<'_> {
    /// `Warning ` (with the space), or nothing for any type.
    fn type_note(&self) -> String {
        self.type_.map(|t| format!("{t} ")).unwrap_or_default()
    }

    async fn wait(&self, scope: &TestScope<'_>, deadline: Instant) -> Result<(), StepError> {
        let outcome = retry::until(deadline, STEP_RETRY_EVERY, || async {
            let events = objects::events_of(
                &scope.env.client,
                &scope.namespace,
                self.object.kind.as_str(),
                &self.object.name,
            )
            .await
            .map_err(|e| Retry::Stop(Err(ApiError::wrap("cannot list events")(e))))?;
            let found = events.iter().any(|e| {
                e.reason.as_deref() == Some(self.reason)
                    && self.type_.is_none_or(|t| e.type_.as_deref() == Some(t))
            });
            if found {
                Ok(())
            } else {
                Err(Retry::Again(Ok(events)))
            }
        })
        .await;
        let events = match outcome {
            Ok(()) => return Ok(()),
            Err(failure) => failure?,
        };
        let seen: Vec<String> = events.iter().map(objects::event_line).collect();
        Err(StepError::Check(format!(
            "no {}{} event about {}; its events: {}",
            self.type_note(),
            self.reason,
            objects::describe(self.object),
            if seen.is_empty() {
                "none".to_string()
            } else {
                seen.join(" | ")
            }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ObjectKind;

    #[test]
    fn describes_the_type_only_when_given() {
        let claim = ObjectRef {
            kind: ObjectKind::PersistentVolumeClaim,
            name: "data".into(),
        };
        let warning = Event {
            object: &claim,
            reason: "ProvisioningFailed",
            type_: Some("Warning"),
        };
        assert_eq!(
            warning.describe(),
            "expect a Warning ProvisioningFailed event about claim \"data\""
        );
        let any = Event {
            type_: None,
            ..warning
        };
        assert_eq!(
            any.describe(),
            "expect a ProvisioningFailed event about claim \"data\""
        );
    }
}
