//! Container probes and lifecycle hooks against the modeled processes: httpGet (the process's
//! HTTP handler), tcpSocket (a listening port), exec (the shell subset). Probe timings are
//! scaled: one probe second (`initialDelaySeconds`, `periodSeconds`) is 100 ms.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::runtime::{PodRt, Running, Runtime};
use crate::workload::shell::{self, Sink};

/// One probe second in simulated time.
pub(crate) const PROBE_SECOND: Duration = Duration::from_millis(100);

/// Resolves a probe or hook port (number or container port name).
pub(crate) fn port_of(port: &IntOrString, container: &Container) -> Option<u16> {
    match port {
        IntOrString::Int(p) => u16::try_from(*p).ok(),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .or_else(|| name.parse().ok()),
    }
}

/// An HTTP GET against the pod's own IP, as the kubelet sends it.
pub(crate) async fn http_get(
    rt: &Runtime,
    pod: &Arc<PodRt>,
    port: Option<u16>,
    path: &str,
) -> Result<(), String> {
    let Some(port) = port else {
        return Err("invalid port".into());
    };
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let client = format!("{}:{}", pod.host_ip, rt.net().source_port());
    match rt.http_to(pod, port, &path, &client).await {
        Ok(r) if (200..400).contains(&r.status) => Ok(()),
        Ok(r) => Err(format!("HTTP probe failed with statuscode: {}", r.status)),
        Err(_) => Err(format!(
            "Get \"http://{}:{port}{path}\": dial tcp {}:{port}: connect: connection refused",
            pod.ip, pod.ip
        )),
    }
}

/// Runs one probe of a running container: `Err(message)` when it fails.
pub(crate) async fn run(
    rt: &Runtime,
    pod: &Arc<PodRt>,
    running: &Running,
    probe: &Probe,
    container: &Container,
) -> Result<(), String> {
    if let Some(h) = &probe.http_get {
        return http_get(
            rt,
            pod,
            port_of(&h.port, container),
            h.path.as_deref().unwrap_or("/"),
        )
        .await;
    }
    if let Some(t) = &probe.tcp_socket {
        let port = port_of(&t.port, container).unwrap_or(0);
        return match pod.listener(port, false) {
            Some(_) => Ok(()),
            None => Err(format!(
                "dial tcp {}:{port}: connect: connection refused",
                pod.ip
            )),
        };
    }
    if let Some(e) = &probe.exec {
        let command = e.command.clone().unwrap_or_default();
        if command.is_empty() {
            return Err(shell::not_modeled("an exec probe without a command"));
        }
        let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
        let mut sink = Sink::default();
        let run = shell::run_argv(&command, pod.dialect(), &running.sandbox, &mut sink);
        return match tokio::time::timeout(timeout, run).await {
            Ok(0) => Ok(()),
            Ok(code) => Err(format!(
                "command {:?} exited with {code}: {}{}",
                command.join(" "),
                sink.stdout,
                sink.stderr
            )),
            Err(_) => Err(format!("command {:?} timed out", command.join(" "))),
        };
    }
    Err(shell::not_modeled("this probe type (grpc)"))
}

/// Probe bookkeeping of one container instance.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProbeState {
    pub(crate) next_at: Option<std::time::Instant>,
    pub(crate) failures: i32,
    pub(crate) successes: i32,
}

impl ProbeState {
    pub(crate) fn reset(probe: Option<&Probe>, now: std::time::Instant) -> Self {
        let delay = probe
            .and_then(|p| p.initial_delay_seconds)
            .unwrap_or(0)
            .max(0) as u32;
        Self {
            next_at: Some(now + PROBE_SECOND * delay),
            failures: 0,
            successes: 0,
        }
    }

    /// Whether the probe is due now; if so, schedules the next one.
    pub(crate) fn due(&mut self, probe: &Probe, now: std::time::Instant) -> bool {
        match self.next_at {
            Some(at) if now >= at => {
                let period = probe.period_seconds.unwrap_or(10).max(1) as u32;
                self.next_at = Some(now + PROBE_SECOND * period);
                true
            }
            _ => false,
        }
    }
}
