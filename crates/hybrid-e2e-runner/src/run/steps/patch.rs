//! `patch`: change an object with a JSON merge patch (RFC 7386).

use std::time::{Duration, Instant};

use kube::api::{DynamicObject, Patch as MergePatch, PatchParams};
use kube::Api;
use serde_json::Value;

use super::{StepError, StepFuture, StepKind};
use crate::catalog::ObjectRef;
use crate::kube_error::ApiError;
use crate::run::objects;
use crate::run::scope::TestScope;

pub(super) struct Patch<'a> {
    pub(super) object: &'a ObjectRef,
    pub(super) merge: &'a Value,
}

impl StepKind for Patch<'_> {
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(30)
    }

    fn describe(&self) -> String {
        format!(
            "patch {} with {}",
            objects::describe(self.object),
            self.merge
        )
    }

    fn run<'s>(&'s self, scope: &'s mut TestScope<'_>, _deadline: Instant) -> StepFuture<'s> {
        Box::pin(self.patch(scope))
    }
}

impl Patch<'_> {
    async fn patch(&self, scope: &TestScope<'_>) -> Result<(), StepError> {
        let merge = scope.expand_value(self.merge).await?;
        let resource = objects::resource(self.object.kind);
        Api::<DynamicObject>::namespaced_with(scope.client(), &scope.namespace, &resource)
            .patch(
                &self.object.name,
                &PatchParams::default(),
                &MergePatch::Merge(&merge),
            )
            .await
            .map_err(ApiError::wrap(format!(
                "cannot patch {}",
                objects::describe(self.object)
            )))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ObjectKind;
    use serde_json::json;

    #[test]
    fn describes_the_object_and_the_patch() {
        let config = ObjectRef {
            kind: ObjectKind::ConfigMap,
            name: "cfg".into(),
        };
        let merge = json!({"data": {"k": "v"}});
        let step = Patch {
            object: &config,
            merge: &merge,
        };
        assert_eq!(
            step.describe(),
            r#"patch configmap "cfg" with {"data":{"k":"v"}}"#
        );
    }
}
