//! The step vocabulary, executed: `create`, `wait`, `http`, `exec`, `logs`, `expect`, `event`,
//! `patch`, `sleep`, `delete`.
//! Each step has a default timeout (scaled by `--timeout-scale`) and fails with a message that
//! says what was expected, what was seen, and where (pod, node, OS, target).

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{
    AttachParams, DeleteParams, DynamicObject, GroupVersionKind, LogParams, Patch as KubePatch,
    PatchParams, PostParams,
};
use kube::core::ApiResource;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::kube_error::{api_message, tail};
use super::scope::TestScope;
use super::wait::{self, WaitError};
use super::{mounts, objects, placeholders, probe};
use crate::catalog::{Action, Check, ObjectRef, Os, Step, WaitUntil};

/// Why a step failed. The Display text is what the report shows.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("cannot instantiate fixture \"{fixture}\": {message}")]
    Fixture { fixture: String, message: String },
    #[error("cannot create {kind} \"{name}\": {}", api_message(.source))]
    Create {
        kind: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("{object} ({os}): {source}")]
    Wait {
        /// `pod "p"`, `deployment "d"`, ...
        object: String,
        os: String,
        #[source]
        source: WaitError,
    },
    #[error("{0}")]
    Check(String),
    #[error("{what}: {}", api_message(.source))]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("timed out after {0:.0?}")]
    Timeout(Duration),
    /// The check cannot be made from here (e.g. nodes unreachable from the harness machine):
    /// the test is skipped with this reason, not failed.
    #[error("skipped: {0}")]
    Skip(String),
    /// An `http` or `dns` step's network check failed.
    #[error("{0}")]
    Probe(#[source] probe::ProbeError),
}

/// A probe that cannot be made from here skips the test; any other probe error fails the step.
impl From<probe::ProbeError> for StepError {
    fn from(error: probe::ProbeError) -> Self {
        match error {
            probe::ProbeError::Skip(reason) => StepError::Skip(reason),
            other => StepError::Probe(other),
        }
    }
}

fn api_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> StepError {
    let what = what.into();
    move |source| StepError::Api { what, source }
}

/// Pause between tries of steps that retry until their deadline (`eventually`, events).
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// The default timeout of each kind of step, before scaling.
pub fn default_timeout(action: &Action) -> Duration {
    Duration::from_secs(match action {
        Action::Create { .. } => 30,
        Action::Wait { .. } => 180,
        Action::Http { .. } | Action::HttpFromHarness { .. } | Action::Dns { .. } => 60,
        Action::Exec { .. } => 60,
        Action::Logs { .. } => 30,
        Action::Expect { eventually, .. } => {
            if *eventually {
                120
            } else {
                30
            }
        }
        Action::Event { .. } => 120,
        Action::Patch { .. } => 30,
        Action::Sleep(d) => d.as_secs() + 30,
        Action::Delete { .. } => 120,
    })
}

/// A one-line description of a step for logs and failure messages.
pub fn describe(action: &Action) -> String {
    let in_container = |container: &Option<String>| {
        container
            .as_ref()
            .map(|c| format!(" container \"{c}\""))
            .unwrap_or_default()
    };
    match action {
        Action::Create {
            fixture, name, os, ..
        } => format!("create {fixture} \"{name}\" on {os}"),
        Action::Wait {
            object,
            until,
            fails_with,
        } => match fails_with {
            None => format!(
                "wait for {} to be {}",
                objects::describe(object),
                wait::until_name(*until)
            ),
            Some(text) => format!(
                "wait for {} to fail to be {} with {text:?}",
                objects::describe(object),
                wait::until_name(*until)
            ),
        },
        Action::Http { from, to, .. } => {
            format!("http from \"{from}\" to {}", probe::describe_target(to))
        }
        Action::HttpFromHarness { to, .. } => {
            format!("http from the harness to {}", probe::describe_target(to))
        }
        Action::Dns { from, name, expect } => probe::describe_dns(from, name, *expect),
        Action::Exec {
            pod,
            container,
            command,
            ..
        } => format!(
            "exec in pod \"{pod}\"{}: {}",
            in_container(container),
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
            in_container(container)
        ),
        Action::Expect {
            object,
            path,
            check,
            ..
        } => format!(
            "expect {} {path} {}",
            objects::describe(object),
            describe_check(check)
        ),
        Action::Event {
            object,
            reason,
            type_,
        } => format!(
            "expect a {}{reason} event about {}",
            type_
                .as_deref()
                .map(|t| format!("{t} "))
                .unwrap_or_default(),
            objects::describe(object)
        ),
        Action::Patch { object, merge } => {
            format!("patch {} with {merge}", objects::describe(object))
        }
        Action::Sleep(d) => format!("sleep {d:?}"),
        Action::Delete { object, .. } => format!("delete {}", objects::describe(object)),
    }
}

fn describe_check(check: &Check) -> String {
    match check {
        Check::Equals(v) => format!("== {v}"),
        Check::AtLeast(n) => format!(">= {n}"),
        Check::AtMost(n) => format!("<= {n}"),
        Check::Contains(t) => format!("contains {t:?}"),
        Check::Exists(true) => "exists".to_string(),
        Check::Exists(false) => "does not exist".to_string(),
    }
}

/// Judges what a JSONPath found; `Err` says what was found instead.
pub fn judge(found: &[&Value], check: &Check) -> Result<(), String> {
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

    /// Substitutes run-time placeholders (`${namespace}`, `${ip.POD}`, ...) in a suite string.
    pub async fn expand(&self, text: &str) -> Result<String, StepError> {
        if !text.contains("${") {
            return Ok(text.to_string());
        }
        placeholders::expand(&self.env.client, &self.namespace, text)
            .await
            .map_err(|e| StepError::Check(e.to_string()))
    }

    async fn expand_value(&self, value: &Value) -> Result<Value, StepError> {
        placeholders::expand_value(&self.env.client, &self.namespace, value)
            .await
            .map_err(|e| StepError::Check(e.to_string()))
    }

    /// Runs one step within its (scaled) timeout.
    pub async fn run(&mut self, step: &Step) -> Result<(), StepError> {
        if let Action::Sleep(d) = step.action {
            tokio::time::sleep(d).await;
            return Ok(());
        }
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
            Action::Wait {
                object,
                until,
                fails_with,
            } => {
                let outcome = self.wait(object, *until, left()).await;
                match (fails_with, outcome) {
                    (None, outcome) => outcome,
                    (
                        Some(text),
                        Err(StepError::Wait {
                            source: WaitError::Hopeless(reason),
                            ..
                        }),
                    ) if reason.contains(text.as_str()) => Ok(()),
                    (Some(text), Err(e)) => Err(StepError::Check(format!(
                        "expected the wait to fail fast with {text:?}, but: {e}"
                    ))),
                    (Some(text), Ok(())) => Err(StepError::Check(format!(
                        "expected {} to fail with {text:?}, but it became {}",
                        objects::describe(object),
                        wait::until_name(*until)
                    ))),
                }
            }
            Action::Http { from, to, expect } => probe::http(self, from, to, expect, deadline)
                .await
                .map_err(StepError::from),
            Action::HttpFromHarness { to, expect } => {
                probe::from_harness(self, to, expect, deadline)
                    .await
                    .map_err(StepError::from)
            }
            Action::Dns { from, name, expect } => probe::dns(self, from, name, *expect, deadline)
                .await
                .map_err(StepError::from),
            Action::Exec {
                pod,
                container,
                command,
                expect,
                eventually,
            } => {
                let mut expanded = Vec::with_capacity(command.len());
                for part in command {
                    expanded.push(self.expand(part).await?);
                }
                let want_stdout = match &expect.stdout {
                    Some(s) => Some(self.expand(s).await?),
                    None => None,
                };
                let mut tries = 0;
                loop {
                    tries += 1;
                    let (code, stdout, stderr) =
                        self.exec(pod, container.as_deref(), &expanded).await?;
                    let mut problems = Vec::new();
                    if code != expect.exit_code {
                        problems.push(format!("exit code {code}, expected {}", expect.exit_code));
                    }
                    if let Some(want) = &want_stdout {
                        if !stdout.contains(want.as_str()) {
                            problems.push(format!("stdout does not contain {want:?}"));
                        }
                    }
                    if problems.is_empty() {
                        return Ok(());
                    }
                    if !*eventually || Instant::now() + RETRY_EVERY >= deadline {
                        return Err(StepError::Check(format!(
                            "command {:?} in pod \"{pod}\" ({}): {}; stdout: {:?}; stderr: {:?}{}",
                            expanded,
                            mounts::place(
                                &self.pods(),
                                pod,
                                &self.os_label(pod),
                                container.as_deref(),
                                &expanded
                            )
                            .await,
                            problems.join(", "),
                            truncate(&stdout, 2000),
                            truncate(&stderr, 2000),
                            if tries > 1 {
                                format!(" ({tries} tries)")
                            } else {
                                String::new()
                            }
                        )));
                    }
                    tokio::time::sleep(RETRY_EVERY).await;
                }
            }
            Action::Logs {
                pod,
                container,
                previous,
                contains,
            } => {
                let contains = self.expand(contains).await?;
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
                check,
                eventually,
            } => {
                self.expect(object, path, check, *eventually, deadline)
                    .await
            }
            Action::Event {
                object,
                reason,
                type_,
            } => self.event(object, reason, type_.as_deref(), deadline).await,
            Action::Patch { object, merge } => {
                let merge = self.expand_value(merge).await?;
                let resource = objects::resource(&object.kind).ok_or_else(|| {
                    StepError::Check(format!("cannot patch objects of kind {}", object.kind))
                })?;
                Api::<DynamicObject>::namespaced_with(self.client(), &self.namespace, &resource)
                    .patch(
                        &object.name,
                        &PatchParams::default(),
                        &KubePatch::Merge(&merge),
                    )
                    .await
                    .map(|_| ())
                    .map_err(api_err(format!(
                        "cannot patch {}",
                        objects::describe(object)
                    )))
            }
            Action::Sleep(d) => {
                tokio::time::sleep(*d).await;
                Ok(())
            }
            Action::Delete {
                object,
                wait,
                gone_after,
                gone_within,
            } => {
                self.delete(object, *wait, *gone_after, *gone_within, left())
                    .await
            }
        }
    }

    async fn create(
        &mut self,
        fixture: &str,
        name: &str,
        os: Os,
        vars: &std::collections::BTreeMap<String, Value>,
    ) -> Result<(), StepError> {
        // Run-time placeholders in the suite's vars (`${node-name.server}`) get their values now.
        let mut expanded = std::collections::BTreeMap::new();
        for (key, value) in vars {
            expanded.insert(key.clone(), self.expand_value(value).await?);
        }
        let placement = crate::fixture::Placement {
            namespace: &self.namespace,
            storage_class: self.env.storage_classes.get(&os).map(String::as_str),
        };
        let objects = crate::fixture::materialize(
            &self.env.fixtures,
            &self.env.images,
            fixture,
            name,
            os,
            &expanded,
            placement,
        )
        .map_err(|e| StepError::Fixture {
            fixture: fixture.to_string(),
            message: e.to_string(),
        })?;
        self.os_of.insert(name.to_string(), os);
        for object in objects {
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

    async fn wait(
        &self,
        object: &ObjectRef,
        until: WaitUntil,
        timeout: Duration,
    ) -> Result<(), StepError> {
        let client = self.client();
        let ns = &self.namespace;
        let name = object.name.as_str();
        let what = wait::until_name(until);
        let result = match object.kind.as_str() {
            "Pod" => wait::wait_for_pod(self.pods(), name, until, timeout)
                .await
                .map(|_| ()),
            "Deployment" => wait::wait_for(
                Api::<Deployment>::namespaced(client, ns),
                name,
                what,
                timeout,
                wait::deployment_verdict,
                wait::deployment_summary,
                None,
            )
            .await
            .map(|_| ()),
            "Job" => wait::wait_for(
                Api::<Job>::namespaced(client, ns),
                name,
                what,
                timeout,
                |j| wait::job_verdict(j, until),
                wait::job_summary,
                None,
            )
            .await
            .map(|_| ()),
            "PersistentVolumeClaim" => {
                let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns);
                let class = claims
                    .get(name)
                    .await
                    .ok()
                    .and_then(|c| c.spec.and_then(|s| s.storage_class_name))
                    .unwrap_or_else(|| "(cluster default)".to_string());
                let warnings = wait::WarningWatch {
                    client,
                    namespace: ns.clone(),
                    kind: "PersistentVolumeClaim",
                    context: format!(" for claim \"{name}\" (storage class {class})"),
                };
                wait::wait_for(
                    claims,
                    name,
                    what,
                    timeout,
                    wait::claim_verdict,
                    wait::claim_summary,
                    Some(warnings),
                )
                .await
                .map(|_| ())
            }
            other => {
                return Err(StepError::Check(format!(
                    "cannot wait for objects of kind {other}"
                )))
            }
        };
        result.map_err(|source| StepError::Wait {
            object: objects::describe(object),
            os: self.os_label(name),
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

    async fn expect(
        &self,
        object: &ObjectRef,
        path: &str,
        check: &Check,
        eventually: bool,
        deadline: Instant,
    ) -> Result<(), StepError> {
        let json_path = serde_json_path::JsonPath::parse(path)
            .map_err(|e| StepError::Check(format!("invalid JSONPath {path:?}: {e}")))?;
        let check = match check {
            Check::Equals(v) => Check::Equals(self.expand_value(v).await?),
            Check::Contains(t) => Check::Contains(self.expand(t).await?),
            other => other.clone(),
        };
        let mut tries = 0;
        loop {
            tries += 1;
            let value = objects::fetch(&self.env.client, &self.namespace, object)
                .await
                .map_err(|e| StepError::Check(e.to_string()))?;
            let found = json_path.query(&value).all();
            let Err(seen) = judge(&found, &check) else {
                return Ok(());
            };
            if !eventually || Instant::now() + RETRY_EVERY >= deadline {
                // The step's description already names the object and the path.
                return Err(StepError::Check(format!(
                    "{seen}{}",
                    if tries > 1 {
                        format!(" (checked {tries} times)")
                    } else {
                        String::new()
                    }
                )));
            }
            tokio::time::sleep(RETRY_EVERY).await;
        }
    }

    async fn event(
        &self,
        object: &ObjectRef,
        reason: &str,
        type_: Option<&str>,
        deadline: Instant,
    ) -> Result<(), StepError> {
        loop {
            let events = objects::events_of(
                &self.env.client,
                &self.namespace,
                &object.kind,
                &object.name,
            )
            .await
            .map_err(api_err("cannot list events"))?;
            let found = events.iter().any(|e| {
                e.reason.as_deref() == Some(reason)
                    && type_.is_none_or(|t| e.type_.as_deref() == Some(t))
            });
            if found {
                return Ok(());
            }
            if Instant::now() + RETRY_EVERY >= deadline {
                let seen: Vec<String> = events.iter().map(objects::event_line).collect();
                return Err(StepError::Check(format!(
                    "no {}{reason} event about {}; its events: {}",
                    type_.map(|t| format!("{t} ")).unwrap_or_default(),
                    objects::describe(object),
                    if seen.is_empty() {
                        "none".to_string()
                    } else {
                        seen.join(" | ")
                    }
                )));
            }
            tokio::time::sleep(RETRY_EVERY).await;
        }
    }

    async fn delete(
        &self,
        object: &ObjectRef,
        wait: bool,
        gone_after: Option<Duration>,
        gone_within: Option<Duration>,
        timeout: Duration,
    ) -> Result<(), StepError> {
        let resource = objects::resource(&object.kind).ok_or_else(|| {
            StepError::Check(format!("cannot delete objects of kind {}", object.kind))
        })?;
        let api = Api::<DynamicObject>::namespaced_with(self.client(), &self.namespace, &resource);
        let started = Instant::now();
        api.delete(&object.name, &DeleteParams::default())
            .await
            .map_err(api_err(format!(
                "cannot delete {}",
                objects::describe(object)
            )))?;
        if !wait {
            return Ok(());
        }
        let limit = gone_within.map_or(timeout, |w| w.min(timeout));
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
        let took = started.elapsed();
        match gone_after {
            Some(min) if took < min => Err(StepError::Check(format!(
                "{} was gone {:.1}s after it was deleted, expected it to take at least {:.1}s (graceful termination)",
                objects::describe(object),
                took.as_secs_f64(),
                min.as_secs_f64()
            ))),
            _ => Ok(()),
        }
    }
}

/// The API resource for an `apiVersion` and `kind` (plural guessed as kube does).
fn api_resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
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
