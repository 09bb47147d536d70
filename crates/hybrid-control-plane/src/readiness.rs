//! Waits until a component answers its health endpoint (etcd `/health`, kube-apiserver
//! `/readyz`, KCM and scheduler `/healthz`), within a deadline, failing early when it exits.

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use crate::component::Component;
use crate::error::ControlPlaneError;
use crate::kubeconfig;
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
    /// A probe with the admin credentials of the kubeconfig at `kubeconfig`.
    pub(crate) async fn admin(
        kubeconfig: &Path,
        path: &'static str,
        healthy_body: &'static str,
    ) -> Result<Probe, ControlPlaneError> {
        let config = kubeconfig::config(kubeconfig).await?;
        Probe::with_config(config, path, healthy_body)
    }

    /// A probe of an endpoint with an unverified certificate, or plain HTTP, and no credentials.
    pub(crate) fn anonymous(
        url: &str,
        path: &'static str,
        healthy_body: &'static str,
    ) -> Result<Probe, ControlPlaneError> {
        let uri: http::Uri =
            url.parse()
                .map_err(|error: http::uri::InvalidUri| ControlPlaneError::Client {
                    url: url.to_string(),
                    source: error.into(),
                })?;
        let mut config = kube::Config::new(uri);
        config.accept_invalid_certs = true;
        Probe::with_config(config, path, healthy_body)
    }

    fn with_config(
        config: kube::Config,
        path: &'static str,
        healthy_body: &'static str,
    ) -> Result<Probe, ControlPlaneError> {
        Ok(Probe {
            client: kubeconfig::build_client(for_probing(config))?,
            path,
            healthy_body,
        })
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
fn for_probing(mut config: kube::Config) -> kube::Config {
    config.connect_timeout = Some(PROBE_TIMEOUT);
    config.read_timeout = Some(PROBE_TIMEOUT);
    config.default_retry = false;
    config
}

/// Polls `probe` until it passes, any of the `started` components exits (an error naming it),
/// or `timeout` passes (an error naming `component`, which must be among `started`).
pub(crate) async fn wait_ready(
    started: &mut [Running],
    component: Component,
    probe: &Probe,
    timeout: Duration,
) -> Result<(), ControlPlaneError> {
    let deadline = Instant::now() + timeout;
    loop {
        for running in started.iter_mut() {
            if let Some(status) = running.exit_status() {
                return Err(running.exited_error(status));
            }
        }
        let last_probe = match probe.check().await {
            Ok(()) => return Ok(()),
            Err(seen) => seen,
        };
        if Instant::now() + PROBE_INTERVAL >= deadline {
            let log = started
                .iter()
                .find(|running| running.component == component)
                .map(|running| running.log.clone())
                .unwrap_or_default();
            return Err(ControlPlaneError::NotReady {
                component,
                timeout,
                last_probe,
                tail: log_tail(&log),
                log,
            });
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(component: Component, script: &str, log: std::path::PathBuf) -> Running {
        let args = ["-c".to_string(), script.to_string()];
        Running::spawn(component, Path::new("/bin/sh"), &args, log).unwrap()
    }

    #[tokio::test]
    async fn an_earlier_component_that_exits_is_named_rather_than_the_awaited_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut started = vec![
            shell(
                Component::Etcd,
                "echo 'etcd: gone'; exit 2",
                dir.path().join("etcd.log"),
            ),
            shell(
                Component::KubeApiserver,
                "exec sleep 30",
                dir.path().join("kube-apiserver.log"),
            ),
        ];
        // Nothing listens on port 1: the probe never passes.
        let probe = Probe::anonymous("http://127.0.0.1:1", "/readyz", "ok").unwrap();
        let error = wait_ready(
            &mut started,
            Component::KubeApiserver,
            &probe,
            Duration::from_secs(20),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                error,
                ControlPlaneError::Exited {
                    component: Component::Etcd,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_probe_that_never_passes_times_out_naming_the_awaited_component() {
        let dir = tempfile::tempdir().unwrap();
        let mut started = vec![shell(
            Component::KubeScheduler,
            "echo starting; exec sleep 30",
            dir.path().join("kube-scheduler.log"),
        )];
        let probe = Probe::anonymous("http://127.0.0.1:1", "/healthz", "ok").unwrap();
        let error = wait_ready(
            &mut started,
            Component::KubeScheduler,
            &probe,
            Duration::from_millis(500),
        )
        .await
        .unwrap_err();
        let ControlPlaneError::NotReady {
            component,
            last_probe,
            tail,
            ..
        } = error
        else {
            panic!("{error}")
        };
        assert_eq!(component, Component::KubeScheduler);
        assert!(last_probe.starts_with("GET /healthz: "), "{last_probe}");
        assert_eq!(tail, "starting\n");
    }
}
