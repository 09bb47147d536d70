//! `logs`: read a container's log (or its previous instance's) until it contains a text, or the
//! step's deadline passes: a container that is Running (even Ready, without a probe) may not
//! have written its first line yet.

use std::time::{Duration, Instant};

use kube::api::LogParams;

use super::{in_container, StepError, StepFuture, StepKind};
use crate::kube_error::{tail, ApiError};
use crate::run::retry::{self, Retry, STEP_RETRY_EVERY};
use crate::run::scope::TestScope;

/// Lines of the log a failure message quotes.
const LINES_SHOWN: usize = 20;

pub(super) struct Logs<'a> {
    pub(super) pod: &'a str,
    pub(super) container: Option<&'a str>,
    pub(super) previous: bool,
    pub(super) contains: &'a str,
}

impl StepKind for Logs<'_> {
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(30)
    }

    fn describe(&self) -> String {
        format!(
            "{}logs of pod \"{}\"{}",
            self.previous_note(),
            self.pod,
            in_container(self.container)
        )
    }

    fn run<'s>(&'s self, scope: &'s mut TestScope<'_>, deadline: Instant) -> StepFuture<'s> {
        Box::pin(async move {
            let scope = &*scope;
            retry::until(deadline, STEP_RETRY_EVERY, || async {
                self.check(scope).await.map_err(Retry::Again)
            })
            .await
        })
    }
}

impl Logs<'_> {
    fn previous_note(&self) -> &'static str {
        if self.previous {
            "previous "
        } else {
            ""
        }
    }

    async fn check(&self, scope: &TestScope<'_>) -> Result<(), StepError> {
        let pod = self.pod;
        let contains = scope.expand(self.contains).await?;
        let params = LogParams {
            container: self.container.map(str::to_string),
            previous: self.previous,
            ..Default::default()
        };
        let text = scope
            .pods()
            .logs(pod, &params)
            .await
            .map_err(ApiError::wrap(format!("cannot read logs of pod \"{pod}\"")))?;
        if text.contains(contains.as_str()) {
            return Ok(());
        }
        Err(StepError::Check(format!(
            "{}logs of pod \"{pod}\" ({}) do not contain {contains:?}; last lines:\n{}",
            self.previous_note(),
            scope.os_label(pod),
            tail(&text, LINES_SHOWN)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_previous_logs_and_the_container() {
        let step = Logs {
            pod: "app",
            container: Some("side"),
            previous: true,
            contains: "ready",
        };
        assert_eq!(
            step.describe(),
            "previous logs of pod \"app\" container \"side\""
        );
        let current = Logs {
            previous: false,
            container: None,
            ..step
        };
        assert_eq!(current.describe(), "logs of pod \"app\"");
    }
}
