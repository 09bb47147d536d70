//! `create`: instantiate a fixture for one OS under a name, in the test's namespace.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kube::api::{DynamicObject, GroupVersionKind, PostParams};
use kube::core::ApiResource;
use kube::Api;
use serde_json::Value;

use super::{StepError, StepFuture, StepKind};
use crate::catalog::Os;
use crate::fixture::{materialize, Placement};
use crate::run::admission;
use crate::run::scope::TestScope;

pub(super) struct Create<'a> {
    pub(super) fixture: &'a str,
    pub(super) name: &'a str,
    pub(super) os: Os,
    pub(super) vars: &'a BTreeMap<String, Value>,
}

impl StepKind for Create<'_> {
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(30)
    }

    fn describe(&self) -> String {
        format!("create {} \"{}\" on {}", self.fixture, self.name, self.os)
    }

    fn run<'s>(&'s self, scope: &'s mut TestScope<'_>, _deadline: Instant) -> StepFuture<'s> {
        Box::pin(self.create(scope))
    }
}

impl Create<'_> {
    async fn create(&self, scope: &mut TestScope<'_>) -> Result<(), StepError> {
        let fixture = self.fixture;
        // Run-time placeholders in the suite's vars (`${node-name.server}`) get their values now.
        let mut expanded = BTreeMap::new();
        for (key, value) in self.vars {
            expanded.insert(key.clone(), scope.expand_value(value).await?);
        }
        let placement = Placement {
            namespace: &scope.namespace,
            storage_class: scope.env.storage_classes.for_os(self.os),
            tolerations: &scope.env.tolerations,
        };
        let objects = materialize(
            &scope.env.fixtures,
            &scope.env.images,
            fixture,
            self.name,
            self.os,
            &expanded,
            placement,
        )
        .map_err(|source| StepError::Fixture {
            fixture: fixture.to_string(),
            source,
        })?;
        scope.os_of.insert(self.name.to_string(), self.os);
        for object in objects {
            let object: DynamicObject =
                serde_json::from_value(object).map_err(|source| StepError::NotAnObject {
                    fixture: fixture.to_string(),
                    source,
                })?;
            let types = object.types.clone().unwrap_or_default();
            let object_name = object.metadata.name.clone().unwrap_or_default();
            let resource = api_resource(&types.api_version, &types.kind);
            let api =
                Api::<DynamicObject>::namespaced_with(scope.client(), &scope.namespace, &resource);
            create_once(&api, object)
                .await
                .map_err(|source| create_error(&types.kind, object_name, source))?;
        }
        Ok(())
    }
}

/// Marks each object this step creates with a token of that one create call, so that an
/// AlreadyExists answer to a retried create (the first try went through, its answer was lost)
/// can tell our own object from one that was there before.
const CREATE_TOKEN_ANNOTATION: &str = "hybrid-e2e.io/create-token";

/// Creates `object`; an AlreadyExists answer counts as created when the object there carries
/// this call's token.
async fn create_once(
    api: &Api<DynamicObject>,
    mut object: DynamicObject,
) -> Result<(), kube::Error> {
    let token = crate::run::namespace::random_suffix(16);
    object
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(CREATE_TOKEN_ANNOTATION.to_string(), token.clone());
    match api.create(&PostParams::default(), &object).await {
        Ok(_) => Ok(()),
        Err(e) if crate::kube_error::is_already_exists(&e) => {
            let name = object.metadata.name.as_deref().unwrap_or_default();
            let existing = match name {
                "" => None,
                name => api.get_opt(name).await.ok().flatten(),
            };
            if existing.is_some_and(|existing| created_by(&existing, &token)) {
                Ok(())
            } else {
                Err(e)
            }
        }
        Err(e) => Err(e),
    }
}

/// Whether `object` is the one the create call holding `token` made.
fn created_by(object: &DynamicObject, token: &str) -> bool {
    object
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CREATE_TOKEN_ANNOTATION))
        .is_some_and(|t| t == token)
}

/// A refused create: a policy's admission refusal (PodSecurity, quota, LimitRange, webhook)
/// skips the test quoting the denial; anything else fails the step.
fn create_error(kind: &str, name: String, source: kube::Error) -> StepError {
    match admission::policy_denial(&source) {
        Some(message) => StepError::Skip(admission::skip_reason(kind, &name, &message)),
        None => StepError::Create {
            kind: kind.to_string(),
            name,
            source,
        },
    }
}

/// The API resource for an `apiVersion` and `kind` (plural guessed as kube does).
fn api_resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_resources_for_core_and_grouped_kinds() {
        let pod = api_resource("v1", "Pod");
        assert_eq!((pod.group.as_str(), pod.plural.as_str()), ("", "pods"));
        let deploy = api_resource("apps/v1", "Deployment");
        assert_eq!(
            (deploy.group.as_str(), deploy.plural.as_str()),
            ("apps", "deployments")
        );
    }

    #[test]
    fn an_existing_object_is_ours_only_with_this_calls_token() {
        let with_token = |token: Option<&str>| {
            let mut object = DynamicObject::new("p", &api_resource("v1", "Pod"));
            if let Some(token) = token {
                object.metadata.annotations =
                    Some([(CREATE_TOKEN_ANNOTATION.to_string(), token.to_string())].into());
            }
            object
        };
        assert!(created_by(&with_token(Some("abc")), "abc"));
        assert!(!created_by(&with_token(Some("abd")), "abc"));
        assert!(!created_by(&with_token(None), "abc"));
    }

    #[test]
    fn policy_refusals_skip_and_other_refusals_fail() {
        let refused = |message: &str| {
            kube::Error::Api(
                kube::core::Status::failure(message, "Forbidden")
                    .with_code(403)
                    .boxed(),
            )
        };
        let denial = "pods \"p\" is forbidden: violates PodSecurity \"baseline:latest\": hostPath volumes (volume \"host\")";
        match create_error("Pod", "p".into(), refused(denial)) {
            StepError::Skip(reason) => assert_eq!(
                reason,
                format!("the cluster's admission refused Pod \"p\": {denial}")
            ),
            other => panic!("not a skip: {other}"),
        }
        let rbac = "pods is forbidden: User \"u\" cannot create resource \"pods\"";
        assert!(matches!(
            create_error("Pod", "p".into(), refused(rbac)),
            StepError::Create { .. }
        ));
    }

    #[test]
    fn describes_fixture_name_and_os() {
        let vars = BTreeMap::new();
        let step = Create {
            fixture: "web",
            name: "server",
            os: Os::Windows,
            vars: &vars,
        };
        assert_eq!(step.describe(), "create web \"server\" on windows");
    }
}
