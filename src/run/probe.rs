//! Network checks from inside pods: ask the source pod's agnhost netexec to `/dial` a target,
//! through the API server's pod proxy, and judge the answer. Retries until the step's deadline
//! (routes may take a moment to converge), then fails with what every attempt saw.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::Api;
use serde::Deserialize;

use super::steps::TestScope;
use crate::catalog::{HttpExpect, Protocol, Target, TargetKind};

/// Port of the netexec HTTP server in the source pod (agnhost's default).
const NETEXEC_PORT: u16 = 8080;
/// Pause between attempts.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// Attempts a negative check makes; every one must fail.
const UNREACHABLE_ATTEMPTS: usize = 3;

/// netexec's `/dial` answer.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
pub struct DialResponse {
    #[serde(default)]
    pub responses: Vec<String>,
    #[serde(default)]
    pub errors: Vec<String>,
}

pub fn describe_target(target: &Target) -> String {
    let what = match &target.kind {
        TargetKind::Pod(p) => format!("pod \"{p}\""),
        TargetKind::Service(s) => format!("service \"{s}\""),
        TargetKind::Host(h) => format!("host {h}"),
    };
    format!(
        "{what} port {} ({}{})",
        target.port,
        protocol_name(target.protocol),
        target.path
    )
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Http => "http ",
        Protocol::Udp => "udp ",
    }
}

/// A pod as a failure message names it.
struct PodView {
    name: String,
    os: String,
    node: String,
    ip: String,
}

async fn pod_view(scope: &TestScope<'_>, name: &str) -> Result<PodView, String> {
    let pod = Api::<Pod>::namespaced(scope.env.client.clone(), &scope.namespace)
        .get(name)
        .await
        .map_err(|e| format!("cannot read pod \"{name}\": {e}"))?;
    Ok(PodView {
        name: name.to_string(),
        os: scope
            .os_of
            .get(name)
            .map(|o| o.to_string())
            .unwrap_or_else(|| "unknown OS".into()),
        node: pod
            .spec
            .and_then(|s| s.node_name)
            .unwrap_or_else(|| "no node".into()),
        ip: pod.status.and_then(|s| s.pod_ip).unwrap_or_default(),
    })
}

/// Resolves the target to the host netexec should dial, and a description for messages.
async fn resolve(scope: &TestScope<'_>, target: &Target) -> Result<(String, String), String> {
    match &target.kind {
        TargetKind::Pod(name) => {
            let view = pod_view(scope, name).await?;
            if view.ip.is_empty() {
                return Err(format!("target pod \"{name}\" has no IP yet"));
            }
            let desc = format!(
                "pod \"{name}\" ({}, node {}) at {}",
                view.os, view.node, view.ip
            );
            Ok((view.ip, desc))
        }
        TargetKind::Service(name) => {
            let svc = Api::<Service>::namespaced(scope.env.client.clone(), &scope.namespace)
                .get(name)
                .await
                .map_err(|e| format!("cannot read service \"{name}\": {e}"))?;
            let ip = svc.spec.and_then(|s| s.cluster_ip).unwrap_or_default();
            Ok((ip.clone(), format!("service \"{name}\" at {ip}")))
        }
        TargetKind::Host(host) => {
            // Run-time placeholders were substituted by the step before.
            let host = host.clone();
            Ok((host.clone(), format!("host {host}")))
        }
    }
}

/// The `/dial` query for one attempt.
pub fn dial_path(target: &Target, host: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("request", &target.path)
        .append_pair("host", host)
        .append_pair("port", &target.port.to_string())
        .append_pair(
            "protocol",
            match target.protocol {
                Protocol::Http => "http",
                Protocol::Udp => "udp",
            },
        )
        .append_pair("tries", "1")
        .finish();
    format!("dial?{query}")
}

/// What one attempt saw.
fn judge(answer: &Result<DialResponse, String>, expect: &HttpExpect) -> (bool, String) {
    match answer {
        Err(e) => (false, format!("no answer from netexec: {e}")),
        Ok(r) if !r.errors.is_empty() => (false, r.errors.join("; ")),
        Ok(r) if r.responses.is_empty() => (false, "empty answer".to_string()),
        Ok(r) => match &expect.body {
            Some(want) if !r.responses.iter().any(|b| b.trim().contains(want.as_str())) => (
                false,
                format!("answer {:?}, expected one containing {want:?}", r.responses),
            ),
            _ => (true, format!("answer {:?}", r.responses)),
        },
    }
}

/// Runs an `http` step.
pub async fn http(
    scope: &TestScope<'_>,
    from: &str,
    target: &Target,
    expect: &HttpExpect,
    deadline: Instant,
) -> Result<(), String> {
    let source = pod_view(scope, from).await?;
    let (host, target_desc) = resolve(scope, target).await?;
    let proxy = format!(
        "/api/v1/namespaces/{}/pods/{}:{NETEXEC_PORT}/proxy/{}",
        scope.namespace,
        from,
        dial_path(target, &host)
    );
    let started = Instant::now();
    let mut attempts = 0usize;
    let mut last = String::new();
    loop {
        attempts += 1;
        let answer = ask(scope, &proxy).await;
        let (reached, seen) = judge(&answer, expect);
        last = if seen == last || last.is_empty() {
            seen
        } else {
            format!("{seen} (earlier: {last})")
        };
        let negative_done = expect.unreachable && attempts >= UNREACHABLE_ATTEMPTS;
        match (expect.unreachable, reached) {
            (false, true) => return Ok(()),
            (true, true) => break,
            (true, false) if negative_done => return Ok(()),
            _ => {}
        }
        if Instant::now() + RETRY_EVERY >= deadline {
            break;
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
    let expectation = if expect.unreachable {
        "expected it to be unreachable, but it answered".to_string()
    } else {
        match &expect.body {
            Some(b) => format!("expected an answer containing {b:?}"),
            None => "expected an answer".to_string(),
        }
    };
    Err(format!(
        "from pod \"{}\" ({}, node {}, IP {}) to {target_desc} port {} over {}GET {}: {expectation}; saw: {last} ({attempts} attempt{} in {:.1}s)",
        source.name,
        source.os,
        source.node,
        source.ip,
        target.port,
        protocol_name(target.protocol),
        target.path,
        if attempts == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64()
    ))
}

async fn ask(scope: &TestScope<'_>, path: &str) -> Result<DialResponse, String> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let text = scope
        .env
        .client
        .request_text(request)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|_| {
        format!(
            "unexpected answer {:?}",
            text.chars().take(200).collect::<String>()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            kind: TargetKind::Pod("server".into()),
            port: 8080,
            path: "/hostname".into(),
            protocol: Protocol::Http,
        }
    }

    #[test]
    fn dial_path_encodes_the_query() {
        assert_eq!(
            dial_path(&target(), "10.244.1.5"),
            "dial?request=%2Fhostname&host=10.244.1.5&port=8080&protocol=http&tries=1"
        );
    }

    #[test]
    fn judging_answers() {
        let expect = HttpExpect {
            body: Some("server".into()),
            unreachable: false,
        };
        let ok = Ok(DialResponse {
            responses: vec!["server".into()],
            errors: vec![],
        });
        assert!(judge(&ok, &expect).0);
        let wrong = Ok(DialResponse {
            responses: vec!["other".into()],
            errors: vec![],
        });
        assert_eq!(
            judge(&wrong, &expect),
            (
                false,
                "answer [\"other\"], expected one containing \"server\"".into()
            )
        );
        let timeout = Ok(DialResponse {
            responses: vec![],
            errors: vec!["dial tcp 10.0.0.1:8080: i/o timeout".into()],
        });
        assert_eq!(
            judge(&timeout, &expect),
            (false, "dial tcp 10.0.0.1:8080: i/o timeout".into())
        );
    }
}
