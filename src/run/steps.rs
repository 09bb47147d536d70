//! The step vocabulary, executed: `create`, `wait`, `http`, `exec`, `logs`, `expect`, `delete`.
//! Each step has a default timeout (scaled by `--timeout-scale`) and fails with a message that
//! says what was expected, what was seen, and where (pod, node, OS, target).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod, Service};
use kube::api::{
    AttachParams, DeleteParams, DynamicObject, GroupVersionKind, LogParams, PostParams,
};
use kube::core::ApiResource;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::probe;
use super::wait::{self, WaitError};
use crate::catalog::{Action, ObjectRef, Os, Step, WaitUntil};
use crate::fixture::{FixtureSet, Images};

/// What every test of a run shares.
pub struct TestEnv {
    pub client: Client,
    pub fixtures: Arc<FixtureSet>,
    pub images: Images,
    pub timeout_scale: f64,
}

/// The state of one test while its steps run.
pub struct TestScope<'a> {
    pub env: &'a TestEnv,
    pub namespace: String,
    /// The OS each created name was created for.
    pub os_of: HashMap<String, Os>,
}

/// Why a step failed. The Display text is what the report shows.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("cannot instantiate fixture \"{fixture}\": {message}")]
    Fixture { fixture: String, message: String },
    #[error("cannot create {kind} \"{name}\": {source}")]
    Create {
        kind: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("pod \"{pod}\" ({os}): {source}")]
    Wait {
        pod: String,
        os: String,
        #[source]
        source: WaitError,
    },
    #[error("{0}")]
    Check(String),
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("timed out after {0:.0?}")]
    Timeout(Duration),
}

fn api_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> StepError {
    let what = what.into();
    move |source| StepError::Api { what, source }
}

/// The default timeout of each kind of step, before scaling.
pub fn default_timeout(action: &Action) -> Duration {
    Duration::from_secs(match action {
        Action::Create { .. } => 30,
        Action::Wait { .. } => 180,
        Action::Http { .. } => 60,
        Action::Exec { .. } => 60,
        Action::Logs { .. } => 30,
        Action::Expect { .. } => 30,
        Action::Delete { .. } => 120,
    })
}

/// A one-line description of a step for logs and failure messages.
pub fn describe(action: &Action) -> String {
    match action {
        Action::Create {
            fixture, name, os, ..
        } => format!("create {fixture} \"{name}\" on {os}"),
        Action::Wait { pod, until } => {
            format!("wait for pod \"{pod}\" to be {}", wait::until_name(*until))
        }
        Action::Http { from, to, .. } => {
            format!("http from \"{from}\" to {}", probe::describe_target(to))
        }
        Action::Exec {
            pod,
            container,
            command,
            ..
        } => format!(
            "exec in pod \"{pod}\"{}: {}",
            container
                .as_ref()
                .map(|c| format!(" container \"{c}\""))
                .unwrap_or_default(),
            command.join(" ")
        ),
        Action::Logs {
            pod,
            container,
            previous,
            ..
        } => format!(
            "{}logs of pod \"{pod}\"{}",
            if *previous { "previous " } else { "" },
            container
                .as_ref()
                .map(|c| format!(" container \"{c}\""))
                .unwrap_or_default()
        ),
        Action::Expect {
            object,
            path,
            equals,
        } => format!("expect {} {path} == {equals}", describe_ref(object)),
        Action::Delete { object, .. } => format!("delete {}", describe_ref(object)),
    }
}

fn describe_ref(object: &ObjectRef) -> String {
    match object.kind.as_str() {
        "NodeOf" => format!("the node of pod \"{}\"", object.name),
        kind => format!("{} \"{}\"", kind.to_lowercase(), object.name),
    }
}

impl TestScope<'_> {
    fn client(&self) -> Client {
        self.env.client.clone()
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client(), &self.namespace)
    }

    fn os_label(&self, name: &str) -> String {
        self.os_of
            .get(name)
            .map(|o| o.to_string())
            .unwrap_or_else(|| "unknown OS".to_string())
    }

    /// Substitutes run-time variables (`${namespace}`) in a string from the suite.
    pub fn expand(&self, text: &str) -> String {
        text.replace("${namespace}", &self.namespace)
    }

    /// Runs one step within its (scaled) timeout.
    pub async fn run(&mut self, step: &Step) -> Result<(), StepError> {
        let timeout = step
            .timeout
            .unwrap_or_else(|| default_timeout(&step.action))
            .mul_f64(self.env.timeout_scale);
        let deadline = Instant::now() + timeout;
        let work = self.run_action(&step.action, deadline);
        match tokio::time::timeout(timeout + Duration::from_secs(1), work).await {
            Ok(result) => result,
            Err(_) => Err(StepError::Timeout(timeout)),
        }
    }

    async fn run_action(&mut self, action: &Action, deadline: Instant) -> Result<(), StepError> {
        let left = || deadline.saturating_duration_since(Instant::now());
        match action {
            Action::Create {
                fixture,
                name,
                os,
                vars,
            } => self.create(fixture, name, *os, vars).await,
            Action::Wait { pod, until } => self.wait(pod, *until, left()).await,
            Action::Http { from, to, expect } => probe::http(self, from, to, expect, deadline)
                .await
                .map_err(StepError::Check),
            Action::Exec {
                pod,
                container,
                command,
                expect,
            } => {
                let (code, stdout, stderr) = self.exec(pod, container.as_deref(), command).await?;
                let mut problems = Vec::new();
                if code != expect.exit_code {
                    problems.push(format!("exit code {code}, expected {}", expect.exit_code));
                }
                if let Some(want) = &expect.stdout {
                    if !stdout.contains(want.as_str()) {
                        problems.push(format!("stdout does not contain {want:?}"));
                    }
                }
                if problems.is_empty() {
                    return Ok(());
                }
                Err(StepError::Check(format!(
                    "command {:?} in pod \"{pod}\" ({}): {}; stdout: {:?}; stderr: {:?}",
                    command,
                    self.os_label(pod),
                    problems.join(", "),
                    truncate(&stdout, 2000),
                    truncate(&stderr, 2000)
                )))
            }
            Action::Logs {
                pod,
                container,
                previous,
                contains,
            } => {
                let params = LogParams {
                    container: container.clone(),
                    previous: *previous,
                    ..Default::default()
                };
                let text = self
                    .pods()
                    .logs(pod, &params)
                    .await
                    .map_err(api_err(format!("cannot read logs of pod \"{pod}\"")))?;
                if text.contains(contains.as_str()) {
                    Ok(())
                } else {
                    Err(StepError::Check(format!(
                        "{}logs of pod \"{pod}\" ({}) do not contain {contains:?}; last lines:\n{}",
                        if *previous { "previous " } else { "" },
                        self.os_label(pod),
                        tail(&text, 20)
                    )))
                }
            }
            Action::Expect {
                object,
                path,
                equals,
            } => self.expect(object, path, equals).await,
            Action::Delete { object, wait } => self.delete(object, *wait, left()).await,
        }
    }

    async fn create(
        &mut self,
        fixture: &str,
        name: &str,
        os: Os,
        vars: &std::collections::BTreeMap<String, Value>,
    ) -> Result<(), StepError> {
        let objects = self
            .env
            .fixtures
            .instantiate(fixture, name, os, vars, &self.env.images)
            .map_err(|e| StepError::Fixture {
                fixture: fixture.to_string(),
                message: e.to_string(),
            })?;
        self.os_of.insert(name.to_string(), os);
        for mut object in objects {
            crate::fixture::place_in_namespace(&mut object, &self.namespace);
            let object: DynamicObject =
                serde_json::from_value(object).map_err(|e| StepError::Fixture {
                    fixture: fixture.to_string(),
                    message: format!("not a Kubernetes object: {e}"),
                })?;
            let types = object.types.clone().unwrap_or_default();
            let object_name = object.metadata.name.clone().unwrap_or_default();
            let resource = api_resource(&types.api_version, &types.kind);
            Api::<DynamicObject>::namespaced_with(self.client(), &self.namespace, &resource)
                .create(&PostParams::default(), &object)
                .await
                .map_err(|source| StepError::Create {
                    kind: types.kind.clone(),
                    name: object_name,
                    source,
                })?;
        }
        Ok(())
    }

    async fn wait(&self, pod: &str, until: WaitUntil, timeout: Duration) -> Result<(), StepError> {
        wait::wait_for_pod(self.pods(), pod, until, timeout)
            .await
            .map(|_| ())
            .map_err(|source| StepError::Wait {
                pod: pod.to_string(),
                os: self.os_label(pod),
                source,
            })
    }

    /// Runs a command in a container; returns exit code, stdout, stderr.
    pub async fn exec(
        &self,
        pod: &str,
        container: Option<&str>,
        command: &[String],
    ) -> Result<(i32, String, String), StepError> {
        let mut params = AttachParams::default()
            .stdin(false)
            .stdout(true)
            .stderr(true);
        if let Some(c) = container {
            params = params.container(c);
        }
        let what = format!(
            "cannot exec {:?} in pod \"{pod}\" ({})",
            command,
            self.os_label(pod)
        );
        let mut process = self
            .pods()
            .exec(pod, command.to_vec(), &params)
            .await
            .map_err(api_err(what))?;
        let mut stdout = String::new();
        let mut stderr = String::new();
        let status = process.take_status();
        if let Some(mut out) = process.stdout() {
            let _ = out.read_to_string(&mut stdout).await;
        }
        if let Some(mut err) = process.stderr() {
            let _ = err.read_to_string(&mut stderr).await;
        }
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        let _ = process.join().await;
        Ok((exit_code(status.as_ref()), stdout, stderr))
    }

    async fn fetch(&self, object: &ObjectRef) -> Result<Value, StepError> {
        let what = format!("cannot read {}", describe_ref(object));
        let value = match object.kind.as_str() {
            "NodeOf" => {
                let pod = self
                    .pods()
                    .get(&object.name)
                    .await
                    .map_err(api_err(what.clone()))?;
                let node = pod.spec.and_then(|s| s.node_name).ok_or_else(|| {
                    StepError::Check(format!("pod \"{}\" is not bound to a node", object.name))
                })?;
                to_json(
                    Api::<Node>::all(self.client())
                        .get(&node)
                        .await
                        .map_err(api_err(what))?,
                )
            }
            "Pod" => to_json(self.pods().get(&object.name).await.map_err(api_err(what))?),
            "Service" => to_json(
                Api::<Service>::namespaced(self.client(), &self.namespace)
                    .get(&object.name)
                    .await
                    .map_err(api_err(what))?,
            ),
            "PersistentVolumeClaim" => to_json(
                Api::<PersistentVolumeClaim>::namespaced(self.client(), &self.namespace)
                    .get(&object.name)
                    .await
                    .map_err(api_err(what))?,
            ),
            other => {
                return Err(StepError::Check(format!(
                    "cannot read objects of kind {other}"
                )))
            }
        };
        Ok(value)
    }

    async fn expect(
        &self,
        object: &ObjectRef,
        path: &str,
        equals: &Value,
    ) -> Result<(), StepError> {
        let value = self.fetch(object).await?;
        let json_path = serde_json_path::JsonPath::parse(path)
            .map_err(|e| StepError::Check(format!("invalid JSONPath {path:?}: {e}")))?;
        let found = json_path.query(&value).all();
        let expected = match equals {
            Value::String(s) => Value::String(self.expand(s)),
            other => other.clone(),
        };
        match found.as_slice() {
            [one] if loosely_equal(one, &expected) => Ok(()),
            [] => Err(StepError::Check(format!(
                "{} has nothing at {path}; expected {expected}",
                describe_ref(object)
            ))),
            many => Err(StepError::Check(format!(
                "{}: {path} is {}, expected {expected}",
                describe_ref(object),
                many.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    async fn delete(
        &self,
        object: &ObjectRef,
        wait: bool,
        timeout: Duration,
    ) -> Result<(), StepError> {
        let resource = match object.kind.as_str() {
            "Pod" => ApiResource::erase::<Pod>(&()),
            "Service" => ApiResource::erase::<Service>(&()),
            "PersistentVolumeClaim" => ApiResource::erase::<PersistentVolumeClaim>(&()),
            other => {
                return Err(StepError::Check(format!(
                    "cannot delete objects of kind {other}"
                )))
            }
        };
        let api = Api::<DynamicObject>::namespaced_with(self.client(), &self.namespace, &resource);
        api.delete(&object.name, &DeleteParams::default())
            .await
            .map_err(api_err(format!("cannot delete {}", describe_ref(object))))?;
        if !wait {
            return Ok(());
        }
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
        tokio::time::timeout(timeout, gone).await.map_err(|_| {
            StepError::Check(format!(
                "{} still exists {timeout:.0?} after it was deleted",
                describe_ref(object)
            ))
        })
    }
}

/// The API resource for an `apiVersion` and `kind` (plural guessed as kube does).
fn api_resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
}

fn to_json<T: serde::Serialize>(object: T) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
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

/// The exit code in an exec status: `Success` → 0, `NonZeroExitCode` → the cause's code.
pub fn exit_code(status: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>) -> i32 {
    let Some(status) = status else { return -1 };
    if status.status.as_deref() == Some("Success") {
        return 0;
    }
    status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message.as_deref())
        .and_then(|m| m.trim().parse().ok())
        .unwrap_or(-1)
}

/// The last `lines` lines of a text.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes]", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
    use serde_json::json;

    #[test]
    fn exit_codes_come_from_the_status_causes() {
        let ok: Status = serde_json::from_value(json!({"status": "Success"})).unwrap();
        assert_eq!(exit_code(Some(&ok)), 0);
        let three: Status =
            serde_json::from_value(json!({"status": "Failure", "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}))
            .unwrap();
        assert_eq!(exit_code(Some(&three)), 3);
        assert_eq!(exit_code(None), -1);
    }

    #[test]
    fn loose_equality_matches_numbers_and_their_text() {
        assert!(loosely_equal(&json!(3), &json!("3")));
        assert!(loosely_equal(&json!("linux"), &json!("linux")));
        assert!(!loosely_equal(&json!(3), &json!(4)));
    }

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
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 3), "é… [4 more bytes]");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
    }
}
