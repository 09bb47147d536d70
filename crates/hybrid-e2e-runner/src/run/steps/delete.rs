//! `delete`: delete an object and (by default) wait until it is gone, optionally checking that
//! it went no sooner than `gone-after` (graceful termination) and no later than `gone-within`
//! (scaled up by `--timeout-scale`, and `--windows-timeout-scale` for Windows objects).

use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{DeleteParams, DynamicObject};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;

use super::{StepError, StepFuture, StepKind};
use crate::catalog::ObjectRef;
use crate::kube_error::ApiError;
use crate::run::objects;
use crate::run::scope::TestScope;

pub(super) struct Delete<'a> {
    pub(super) object: &'a ObjectRef,
    pub(super) wait: bool,
    /// The object must still exist this long after the delete (graceful termination).
    pub(super) gone_after: Option<Duration>,
    /// The object must be gone this long after the delete.
    pub(super) gone_within: Option<Duration>,
}

impl StepKind for Delete<'_> {
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(120)
    }

    fn describe(&self) -> String {
        format!("delete {}", objects::describe(self.object))
    }

    fn run<'s>(&'s self, scope: &'s mut TestScope<'_>, deadline: Instant) -> StepFuture<'s> {
        Box::pin(self.delete(scope, deadline))
    }
}

impl Delete<'_> {
    async fn delete(&self, scope: &TestScope<'_>, deadline: Instant) -> Result<(), StepError> {
        let object = self.object;
        let timeout = deadline.saturating_duration_since(Instant::now());
        let resource = objects::resource(object.kind);
        let api =
            Api::<DynamicObject>::namespaced_with(scope.client(), &scope.namespace, &resource);
        let started = Instant::now();
        api.delete(&object.name, &DeleteParams::default())
            .await
            .map_err(ApiError::wrap(format!(
                "cannot delete {}",
                objects::describe(object)
            )))?;
        if !self.wait {
            return Ok(());
        }
        let os = scope.os_of.get(&object.name).copied();
        let limit = self.gone_within.map_or(timeout, |w| {
            scaled_bound(w, scope.timeout_scale_for(os)).min(timeout)
        });
        let mut stream = watcher::watch_object(api, &object.name)
            .default_backoff()
            .boxed();
        let gone = async {
            while let Some(event) = stream.next().await {
                if let Ok(None) = event {
                    return;
                }
            }
        };
        tokio::time::timeout(limit, gone).await.map_err(|_| {
            StepError::Check(format!(
                "{} still exists {limit:.1?} after it was deleted",
                objects::describe(object)
            ))
        })?;
        self.judge_took(started.elapsed())
    }

    /// Whether the object went too soon for `gone-after`.
    fn judge_took(&self, took: Duration) -> Result<(), StepError> {
        match self.gone_after {
            Some(min) if took < min => Err(StepError::Check(format!(
                "{} was gone {:.1}s after it was deleted, expected it to take at least {:.1}s (graceful termination)",
                objects::describe(self.object),
                took.as_secs_f64(),
                min.as_secs_f64()
            ))),
            _ => Ok(()),
        }
    }
}

/// `gone-within` under the run's timeout scales: longer on slow clusters (and for Windows
/// pods), never shorter than written, since the bound is what the grace period itself needs.
fn scaled_bound(gone_within: Duration, scale: f64) -> Duration {
    gone_within.mul_f64(scale.max(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ObjectKind;

    #[test]
    fn gone_within_grows_with_the_scale_but_never_shrinks() {
        let eight = Duration::from_secs(8);
        assert_eq!(scaled_bound(eight, 3.0), Duration::from_secs(24));
        assert_eq!(scaled_bound(eight, 0.1), eight);
    }

    #[test]
    fn going_too_soon_breaks_graceful_termination() {
        let pod = ObjectRef {
            kind: ObjectKind::Pod,
            name: "web".into(),
        };
        let step = Delete {
            object: &pod,
            wait: true,
            gone_after: Some(Duration::from_secs(5)),
            gone_within: None,
        };
        assert_eq!(
            step.judge_took(Duration::from_secs(1))
                .unwrap_err()
                .to_string(),
            "pod \"web\" was gone 1.0s after it was deleted, expected it to take at least 5.0s (graceful termination)"
        );
        assert!(step.judge_took(Duration::from_secs(6)).is_ok());
        assert_eq!(step.describe(), "delete pod \"web\"");
    }
}
