//! Waits until a component answers its health endpoint (etcd `/health`, kube-apiserver
//! `/readyz`, KCM and scheduler `/healthz`), within a deadline, failing early when it exits.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::ControlPlaneError;
use crate::process::{log_tail, Running};

/// How often a probe is retried.
const PROBE_INTERVAL: Duration = Duration::from_millis(200);
/// How long one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// A health endpoint and what a healthy answer contains.
#[derive(Clone)]
pub(crate) struct Probe {
    client: kube::Client,
    path: &'static str,
    healthy_body: &'static str,
}

impl Probe {
    /// GET `path` on `client`'s server; healthy when 2xx and the body contains `healthy_body`.
    pub(crate) fn new(
        client: kube::Client,
        path: &'static str,
        healthy_body: &'static str,
    ) -> Probe {
        Probe {
            client,
            path,
            healthy_body,
        }
    }

    /// A probe of an endpoint with an unverified certificate, or plain HTTP, and no credentials.
    pub(crate) fn anonymous(
        url: &str,
        path: &'static str,
        healthy_body: &'static str,
    ) -> Result<Probe, ControlPlaneError> {
        let client_error =
            |source: Box<dyn std::error::Error + Send + Sync>| ControlPlaneError::Client {
                url: url.to_string(),
                source,
            };
        let uri: http::Uri = url
            .parse()
            .map_err(|error: http::uri::InvalidUri| client_error(error.into()))?;
        let mut config = kube::Config::new(uri);
        config.accept_invalid_certs = true;
        let client = kube::Client::try_from(for_probing(config))
            .map_err(|error| client_error(error.into()))?;
        Ok(Probe::new(client, path, healthy_body))
    }

    /// `Ok` when healthy, else what was seen.
    async fn check(&self) -> Result<(), String> {
        let request = http::Request::get(self.path)
            .body(Vec::new())
            .map_err(|error| error.to_string())?;
        match tokio::time::timeout(PROBE_TIMEOUT, self.client.request_text(request)).await {
            Err(_) => Err(format!("GET {} timed out", self.path)),
            Ok(Err(error)) => Err(format!("GET {}: {error}", self.path)),
            Ok(Ok(body)) if body.contains(self.healthy_body) => Ok(()),
            Ok(Ok(body)) => Err(format!("GET {} answered {:?}", self.path, body.trim())),
        }
    }
}

/// Short connect and read timeouts and no retries (kube-rs retries a 503 up to 15 times with
/// backoff by default, which would hide the probe's answer for minutes), for probing.
pub(crate) fn for_probing(mut config: kube::Config) -> kube::Config {
    config.connect_timeout = Some(PROBE_TIMEOUT);
    config.read_timeout = Some(PROBE_TIMEOUT);
    config.default_retry = false;
    config
}

/// Polls `probe` until it passes, `running` exits (an error naming it), or `timeout` passes.
pub(crate) async fn wait_ready(
    running: &mut Running,
    probe: &Probe,
    timeout: Duration,
) -> Result<(), ControlPlaneError> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = running.exit_status() {
            return Err(running.exited_error(status));
        }
        let last_probe = match probe.check().await {
            Ok(()) => return Ok(()),
            Err(seen) => seen,
        };
        if Instant::now() + PROBE_INTERVAL >= deadline {
            return Err(ControlPlaneError::NotReady {
                component: running.component,
                timeout,
                last_probe,
                log: running.log.clone(),
                tail: log_tail(&running.log),
            });
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}
