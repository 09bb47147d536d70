//! Network checks of the `http` and `dns` steps: ask the source pod's agnhost netexec to
//! `/dial` a target, by curl in the pod or through the API server's pod proxy ([`http`],
//! `transport`), reach NodePorts and hosts
//! from the machine running the harness ([`from_harness`]), and resolve names with `nslookup`
//! in a pod ([`dns`]). Every check retries until the step's deadline (routes and endpoints take
//! a moment to converge), then fails with what its attempts saw.
//!
//! One job per file: `lookup` finds the pods, Services and nodes a check names; `nodes`
//! chooses the nodes a NodePort check dials; `check` tries every address at once until the
//! deadline and judges the answers; `http`, `harness` and `dns` are the
//! three entry points; `transport` is how `http` reaches the source pod's netexec; `client` is
//! the harness's own plain HTTP client; `error` says why a probe failed.

mod check;
mod client;
mod dns;
mod error;
mod harness;
mod http;
mod lookup;
mod nodes;
mod transport;

pub(crate) use self::http::http;
pub(crate) use dns::dns;
pub(crate) use error::ProbeError;
pub(crate) use harness::from_harness;

use super::placeholders;
use super::scope::TestScope;
use crate::catalog::{DnsExpect, HttpExpect, Protocol, Target, TargetKind};

/// `pod "server" port 8080 (http /hostname)`: an `http` step's target as a step list names it.
pub(crate) fn describe_target(target: &Target) -> String {
    let what = match &target.kind {
        TargetKind::Pod(p) => format!("pod \"{p}\""),
        TargetKind::Service(s) => format!("service \"{s}\""),
        TargetKind::Host(h) => format!("host {h}"),
        TargetKind::NodePort(s) => {
            format!("the nodePort of service \"{s}\" on the server's node and a node of each OS")
        }
    };
    let port = if target.port == 0 {
        String::new()
    } else {
        format!(" port {}", target.port)
    };
    format!(
        "{what}{port} ({}{})",
        protocol_name(target.protocol),
        target.path
    )
}

/// `dns from "client": kubernetes.default resolves`.
pub(crate) fn describe_dns(from: &str, name: &str, expect: DnsExpect) -> String {
    format!(
        "dns from \"{from}\": {name} {}",
        match expect {
            DnsExpect::Resolves => "resolves",
            DnsExpect::Nxdomain => "does not exist (NXDOMAIN)",
        }
    )
}

/// The protocol as messages write it, with a trailing space: `http `, `udp `.
fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Http => "http ",
        Protocol::Udp => "udp ",
    }
}

/// Substitutes run-time placeholders (`${ip.POD}`, ...) in a suite string.
async fn expand(scope: &TestScope<'_>, text: &str) -> Result<String, ProbeError> {
    Ok(placeholders::expand(scope.placeholders(), text).await?)
}

/// Substitutes run-time placeholders in the target and the expectation of an `http` step.
async fn expand_http(
    scope: &TestScope<'_>,
    target: &Target,
    expect: &HttpExpect,
) -> Result<(Target, HttpExpect), ProbeError> {
    let mut target = target.clone();
    if let TargetKind::Host(host) = &target.kind {
        target.kind = TargetKind::Host(expand(scope, host).await?);
    }
    target.path = expand(scope, &target.path).await?;
    let mut expect = expect.clone();
    if let Some(b) = &expect.body {
        expect.body = Some(expand(scope, b).await?);
    }
    let mut bodies = Vec::with_capacity(expect.bodies.len());
    for b in &expect.bodies {
        bodies.push(expand(scope, b).await?);
    }
    expect.bodies = bodies;
    if let Some(pod) = &expect.client_ip {
        let view = lookup::pod_view(scope, pod).await?;
        if view.ip.is_empty() {
            return Err(ProbeError::PodWithoutIp(pod.clone()));
        }
        expect.client_ip = Some(view.ip);
    }
    Ok((target, expect))
}

/// The first 200 characters of a text (never splitting one), for messages.
fn excerpt(text: &str) -> String {
    text.chars().take(200).collect()
}

/// The target of most unit tests: pod "server" port 8080, `GET /hostname`.
#[cfg(test)]
fn test_target() -> Target {
    Target {
        kind: TargetKind::Pod("server".into()),
        port: 8080,
        path: "/hostname".into(),
        protocol: Protocol::Http,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_as_step_lists_name_them() {
        let target = Target {
            kind: TargetKind::NodePort("web".into()),
            port: 0,
            path: "hostname".into(),
            protocol: Protocol::Udp,
        };
        assert_eq!(
            describe_target(&target),
            "the nodePort of service \"web\" on the server's node and a node of each OS (udp hostname)"
        );
    }

    #[test]
    fn excerpts_never_split_a_character() {
        let text = "é".repeat(300);
        assert_eq!(excerpt(&text).chars().count(), 200);
        assert_eq!(excerpt("short"), "short");
    }
}
