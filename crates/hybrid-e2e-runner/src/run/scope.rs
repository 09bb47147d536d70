//! The context a test's steps run in: what every test of a run shares ([`TestEnv`]), the state
//! of one test ([`TestScope`]), and what steps and probes do through it: substitute run-time
//! placeholders and run a command in a container. Steps, probes and waits take a scope; they
//! import nothing else from each other.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::AttachParams;
use kube::{Api, Client};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

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
    /// `--windows-timeout-scale`: the timeouts of steps acting on Windows objects are
    /// multiplied by it too.
    pub windows_timeout_scale: f64,
    /// StorageClasses chosen for claims that name none (none: the cluster's default).
    pub storage_classes: crate::cluster::StorageClassChoice,
    /// How `http` steps from a pod reach its netexec (`--probe-via`).
    pub probe_via: super::ProbeVia,
    /// What `--tolerate` adds to every test pod, after its OS's own tolerations.
    pub tolerations: Vec<crate::toleration::TestToleration>,
    /// The cluster's DNS domain, `${cluster-domain}`: set once per run, before the tests
    /// (see `run::cluster_domain`); unset, `cluster.local`.
    pub cluster_domain: std::sync::OnceLock<String>,
}

impl TestEnv {
    /// `${cluster-domain}`: the run's cluster domain, `cluster.local` until it is set.
    pub(crate) fn cluster_domain(&self) -> &str {
        self.cluster_domain
            .get()
            .map_or(super::cluster_domain::DEFAULT_DOMAIN, String::as_str)
    }
}

/// The state of one test while its steps run.
pub(crate) struct TestScope<'a> {
    /// What the run shares.
    pub env: &'a TestEnv,
    /// The test's own namespace.
    pub namespace: String,
    /// The OS each created name was created for.
    pub os_of: HashMap<String, Os>,
    /// What steps noted for the report, a line each (the nodes a NodePort check left out);
    /// taken by the test after each step.
    pub notes: Vec<String>,
    /// What the test is at, for progress lines (`run::live`); waits record what they see.
    pub live: super::live::Live,
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
        placeholders::expand(self.placeholders(), text).await
    }

    /// Substitutes run-time placeholders in every string of a suite value.
    pub(crate) async fn expand_value(&self, value: &Value) -> Result<Value, PlaceholderError> {
        placeholders::expand_value(self.placeholders(), value).await
    }

    /// What run-time placeholders are substituted with in this test.
    pub(crate) fn placeholders(&self) -> placeholders::Context<'_> {
        placeholders::Context {
            client: &self.env.client,
            namespace: &self.namespace,
            cluster_domain: self.env.cluster_domain(),
        }
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
        // Both streams at once: kube-client hands each over through a 1 KiB pipe, so reading
        // stdout to its end first stalls a command that writes more than that to stderr.
        let status = process.take_status();
        let stdout = process.stdout();
        let stderr = process.stderr();
        let (stdout, stderr, status) = tokio::join!(
            read_bounded(stdout, OUTPUT_KEPT),
            read_bounded(stderr, OUTPUT_KEPT),
            async {
                match status {
                    Some(s) => s.await,
                    None => None,
                }
            }
        );
        let _ = process.join().await;
        Ok((exit_code(status.as_ref()), stdout, stderr))
    }
}

/// Bytes of stdout and of stderr an exec keeps; the rest is read and counted, not kept.
const OUTPUT_KEPT: usize = 1024 * 1024;

/// Reads `stream` to its end (nothing when absent), keeping its first `max` bytes as text
/// (invalid UTF-8 replaced) and ending with `[… N bytes not kept]` when there was more. A read
/// error ends the stream: what came before it is kept.
async fn read_bounded(stream: Option<impl AsyncRead + Unpin>, max: usize) -> String {
    let Some(mut stream) = stream else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut dropped: u64 = 0;
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let room = max.saturating_sub(kept.len()).min(n);
        kept.extend_from_slice(&chunk[..room]);
        dropped += (n - room) as u64;
    }
    let mut text = String::from_utf8_lossy(&kept).into_owned();
    if dropped > 0 {
        text.push_str(&format!("[… {dropped} bytes not kept]"));
    }
    text
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

    #[tokio::test]
    async fn output_beyond_the_bound_is_drained_and_counted() {
        let big = vec![b'x'; 100_000];
        let text = read_bounded(Some(&big[..]), 10).await;
        assert_eq!(text, "xxxxxxxxxx[… 99990 bytes not kept]");
        assert_eq!(read_bounded(Some(&b"short"[..]), 10).await, "short");
        assert_eq!(read_bounded(None::<&[u8]>, 10).await, "");
        assert_eq!(read_bounded(Some(&b"ok\xff"[..]), 10).await, "ok\u{fffd}");
    }

    #[tokio::test]
    async fn both_streams_drain_while_a_small_pipe_blocks_the_writer() {
        // kube-client's shape: one writer task feeding 1 KiB pipes, stdout first, then stderr.
        let (out_r, mut out_w) = tokio::io::simplex(1024);
        let (err_r, mut err_w) = tokio::io::simplex(1024);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = err_w.write_all(&vec![b'e'; 70_000]).await;
            let _ = out_w.write_all(b"done\n").await;
            let _ = err_w.shutdown().await;
            let _ = out_w.shutdown().await;
        });
        let (out, err) = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            tokio::join!(
                read_bounded(Some(out_r), OUTPUT_KEPT),
                read_bounded(Some(err_r), OUTPUT_KEPT)
            )
        })
        .await
        .expect("no stall");
        assert_eq!(out, "done\n");
        assert_eq!(err.len(), 70_000);
        let _ = writer.await;
    }
}
