//! The context a test's steps run in: what every test of a run shares ([`TestEnv`]), the state
//! of one test ([`TestScope`]), and what steps and probes do through it: substitute run-time
//! placeholders and run a command in a container. Steps, probes and waits take a scope; they
//! import nothing else from each other.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::AttachParams;
use kube::{Api, Client};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::placeholders::{self, PlaceholderError};
use crate::catalog::Os;
use crate::fixture::{FixtureSet, Images};
use crate::kube_error::ApiError;

/// What every test of a run shares.
pub(crate) struct TestEnv {
    /// The cluster's API.
    pub client: Client,
    /// The fixtures `create` steps instantiate.
    pub fixtures: Arc<FixtureSet>,
    /// The images fixtures use, per OS.
    pub images: Images,
    /// `--timeout-scale`: every step timeout is multiplied by it.
    pub timeout_scale: f64,
    /// StorageClass per OS for claims that name none (absent: the cluster's default).
    pub storage_classes: BTreeMap<Os, String>,
    /// How `http` steps from a pod reach its netexec (`--probe-via`).
    pub probe_via: super::ProbeVia,
}

/// The state of one test while its steps run.
pub(crate) struct TestScope<'a> {
    /// What the run shares.
    pub env: &'a TestEnv,
    /// The test's own namespace.
    pub namespace: String,
    /// The OS each created name was created for.
    pub os_of: HashMap<String, Os>,
}

/// What a command run in a container gave: exit code, stdout, stderr.
pub(crate) type ExecOutput = (i32, String, String);

impl TestScope<'_> {
    pub(crate) fn client(&self) -> Client {
        self.env.client.clone()
    }

    /// The pods of the test's namespace.
    pub(crate) fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client(), &self.namespace)
    }

    /// The OS the name was created for (`linux`), or `unknown OS`.
    pub(crate) fn os_label(&self, name: &str) -> String {
        self.os_of
            .get(name)
            .map(|o| o.to_string())
            .unwrap_or_else(|| "unknown OS".to_string())
    }

    /// Substitutes run-time placeholders (`${namespace}`, `${ip.POD}`, ...) in a suite string.
    pub(crate) async fn expand(&self, text: &str) -> Result<String, PlaceholderError> {
        if !text.contains("${") {
            return Ok(text.to_string());
        }
        placeholders::expand(&self.env.client, &self.namespace, text).await
    }

    /// Substitutes run-time placeholders in every string of a suite value.
    pub(crate) async fn expand_value(&self, value: &Value) -> Result<Value, PlaceholderError> {
        placeholders::expand_value(&self.env.client, &self.namespace, value).await
    }

    /// Runs a command in a container; returns exit code, stdout, stderr.
    pub(crate) async fn exec(
        &self,
        pod: &str,
        container: Option<&str>,
        command: &[String],
    ) -> Result<ExecOutput, ApiError> {
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
            .map_err(ApiError::wrap(what))?;
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
}

/// The exit code in an exec status: `Success` → 0, `NonZeroExitCode` → the cause's code.
fn exit_code(status: Option<&Status>) -> i32 {
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

#[cfg(test)]
mod tests {
    use super::*;
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
}
