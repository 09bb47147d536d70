//! Network checks from inside pods: ask the source pod's agnhost netexec to `/dial` a target,
//! through the API server's pod proxy, and judge the answer; resolve names with `nslookup` in
//! the pod; and reach NodePorts from the machine running the harness. Retries until the step's
//! deadline (routes may take a moment to converge), then fails with what every attempt saw.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::api::ListParams;
use kube::Api;
use serde::Deserialize;

use super::scope::TestScope;
use super::steps::StepError;
use crate::catalog::{DnsExpect, HttpExpect, Protocol, Target, TargetKind};

/// Port of the netexec HTTP server in the source pod (agnhost's default).
const NETEXEC_PORT: u16 = 8080;
/// Pause between attempts.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// Failed attempts in a row that make a negative check pass (routes and endpoints take a
/// moment to converge, so earlier answers are retried, not failed at once).
const UNREACHABLE_ATTEMPTS: usize = 3;
/// How long the harness waits for a TCP connection to a node address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

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
        TargetKind::NodePort(s) => format!("the nodePort of service \"{s}\" on every Ready node"),
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
pub fn describe_dns(from: &str, name: &str, expect: DnsExpect) -> String {
    format!(
        "dns from \"{from}\": {name} {}",
        match expect {
            DnsExpect::Resolves => "resolves",
            DnsExpect::Nxdomain => "does not exist (NXDOMAIN)",
        }
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

impl PodView {
    fn describe(&self) -> String {
        format!(
            "pod \"{}\" ({}, node {}, IP {})",
            self.name,
            self.os,
            self.node,
            if self.ip.is_empty() {
                "none yet"
            } else {
                &self.ip
            }
        )
    }
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

/// One address a check dials: host (IP or name), port, and a description for messages.
struct Endpoint {
    host: String,
    port: u16,
    desc: String,
}

/// Resolves the target to the addresses to dial (one, or one per node for `node-port`).
async fn resolve(scope: &TestScope<'_>, target: &Target) -> Result<Vec<Endpoint>, String> {
    let one = |host: String, desc: String| {
        Ok(vec![Endpoint {
            host,
            port: target.port,
            desc,
        }])
    };
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
            one(view.ip, desc)
        }
        TargetKind::Service(name) => {
            let svc = service(scope, name).await?;
            let ip = svc.spec.and_then(|s| s.cluster_ip).unwrap_or_default();
            if ip.is_empty() || ip == "None" {
                return Err(format!("service \"{name}\" has no ClusterIP"));
            }
            one(ip.clone(), format!("service \"{name}\" at {ip}"))
        }
        TargetKind::Host(host) => {
            let desc = match service_of_host(host, &scope.namespace) {
                Some(svc) => match service(scope, svc).await {
                    Ok(s) => format!(
                        "host {host} (service \"{svc}\" at {})",
                        s.spec.and_then(|s| s.cluster_ip).unwrap_or_default()
                    ),
                    Err(_) => format!("host {host} (no service \"{svc}\")"),
                },
                None => format!("host {host}"),
            };
            one(host.clone(), desc)
        }
        TargetKind::NodePort(name) => {
            let node_port = node_port(scope, name, target).await?;
            let nodes = ready_nodes(scope).await?;
            if nodes.is_empty() {
                return Err("no Ready node to dial".to_string());
            }
            Ok(nodes
                .into_iter()
                .filter_map(|n| {
                    let ip = n.internal_ip.clone()?;
                    Some(Endpoint {
                        desc: format!(
                            "nodePort {node_port} of service \"{name}\" on node {} ({}) at {ip}",
                            n.name, n.os
                        ),
                        host: ip,
                        port: node_port,
                    })
                })
                .collect())
        }
    }
}

/// The Service of this namespace a cluster DNS name names (`svc`, `svc.ns`, `svc.ns.svc`,
/// `svc.ns.svc.cluster.local`), for messages.
fn service_of_host<'a>(host: &'a str, namespace: &str) -> Option<&'a str> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let mut labels = host.trim_end_matches('.').split('.');
    let svc = labels.next()?;
    match labels.next() {
        None => Some(svc),
        Some(ns) if ns == namespace => Some(svc),
        Some(_) => None,
    }
}

async fn service(scope: &TestScope<'_>, name: &str) -> Result<Service, String> {
    Api::<Service>::namespaced(scope.env.client.clone(), &scope.namespace)
        .get(name)
        .await
        .map_err(|e| format!("cannot read service \"{name}\": {e}"))
}

/// The nodePort of the Service port the target names (port 0: the first of its protocol).
async fn node_port(scope: &TestScope<'_>, name: &str, target: &Target) -> Result<u16, String> {
    let svc = service(scope, name).await?;
    let spec = svc.spec.unwrap_or_default();
    let protocol = match target.protocol {
        Protocol::Http => "TCP",
        Protocol::Udp => "UDP",
    };
    spec.ports
        .unwrap_or_default()
        .iter()
        .filter(|p| p.protocol.as_deref().unwrap_or("TCP") == protocol)
        .find(|p| target.port == 0 || p.port == i32::from(target.port))
        .and_then(|p| p.node_port)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| {
            format!(
                "service \"{name}\" (type {}) has no {protocol} nodePort{}",
                spec.type_.as_deref().unwrap_or("ClusterIP"),
                if target.port == 0 {
                    String::new()
                } else {
                    format!(" for port {}", target.port)
                }
            )
        })
}

/// A Ready node and its addresses.
struct NodeView {
    name: String,
    os: String,
    internal_ip: Option<String>,
    /// ExternalIP first, then InternalIP: what the harness machine may reach.
    addresses: Vec<String>,
    /// How many of `addresses` are ExternalIPs (they are tried before any InternalIP).
    external_count: usize,
}

async fn ready_nodes(scope: &TestScope<'_>) -> Result<Vec<NodeView>, String> {
    let nodes = Api::<Node>::all(scope.env.client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("cannot list nodes: {e}"))?;
    let mut out = Vec::new();
    for node in nodes.items {
        let status = node.status.unwrap_or_default();
        let ready = status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if !ready {
            continue;
        }
        let addresses = status.addresses.unwrap_or_default();
        let of_type = |t: &str| -> Vec<String> {
            addresses
                .iter()
                .filter(|a| a.type_ == t)
                .map(|a| a.address.clone())
                .collect()
        };
        let internal = of_type("InternalIP");
        let mut reachable = of_type("ExternalIP");
        let external_count = reachable.len();
        reachable.extend(internal.iter().cloned());
        out.push(NodeView {
            name: node.metadata.name.unwrap_or_default(),
            os: node
                .metadata
                .labels
                .unwrap_or_default()
                .get("kubernetes.io/os")
                .cloned()
                .unwrap_or_else(|| "unknown OS".into()),
            internal_ip: internal.first().cloned(),
            addresses: reachable,
            external_count,
        });
    }
    Ok(out)
}

/// The `/dial` query for one attempt.
pub fn dial_path(target: &Target, host: &str) -> String {
    dial_query(target, host, target.port)
}

fn dial_query(target: &Target, host: &str, port: u16) -> String {
    let request = match target.protocol {
        // netexec's UDP server takes a command (`hostname`, `clientip`, `echo x`), not a path.
        Protocol::Udp => target.path.trim_start_matches('/').to_string(),
        Protocol::Http => target.path.clone(),
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("request", &request)
        .append_pair("host", host)
        .append_pair("port", &port.to_string())
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

/// What was wrong with an error text, in the words of the issue: timeout, refused, NXDOMAIN.
fn classify(error: &str) -> &'static str {
    let e = error.to_ascii_lowercase();
    if e.contains("no such host") || e.contains("nxdomain") || e.contains("non-existent domain") {
        "NXDOMAIN"
    } else if e.contains("refused") {
        "refused"
    } else if e.contains("timeout") || e.contains("timed out") {
        "timeout"
    } else {
        "error"
    }
}

/// What one attempt saw: reached (and the bodies of the answer) or why not.
fn judge(answer: &Result<DialResponse, String>, expect: &HttpExpect) -> (bool, String) {
    match answer {
        Err(e) => (false, format!("no answer from netexec: {e}")),
        Ok(r) if !r.errors.is_empty() => (
            false,
            format!("{}: {}", classify(&r.errors[0]), r.errors.join("; ")),
        ),
        Ok(r) if r.responses.is_empty() => (false, "empty answer".to_string()),
        Ok(r) => judge_body(&r.responses, expect),
    }
}

fn judge_body(responses: &[String], expect: &HttpExpect) -> (bool, String) {
    let wanted: Vec<&String> = expect.body.iter().chain(expect.bodies.iter()).collect();
    if !wanted.is_empty()
        && !responses
            .iter()
            .any(|b| wanted.iter().any(|w| b.trim().contains(w.as_str())))
    {
        let shown = if wanted.len() == 1 {
            format!("{:?}", wanted[0])
        } else {
            format!("one of {wanted:?}")
        };
        return (
            false,
            format!("wrong body: answer {responses:?}, expected one containing {shown}"),
        );
    }
    (true, format!("answer {responses:?}"))
}

/// Keeps the last distinct things seen, newest first, bounded.
#[derive(Default)]
struct Seen {
    items: Vec<String>,
}

impl Seen {
    fn push(&mut self, seen: String) {
        if self.items.first() != Some(&seen) {
            self.items.retain(|s| s != &seen);
            self.items.insert(0, seen);
            self.items.truncate(3);
        }
    }

    fn show(&self) -> String {
        match self.items.split_first() {
            None => "nothing".into(),
            Some((last, [])) => last.clone(),
            Some((last, earlier)) => format!("{last} (earlier: {})", earlier.join("; ")),
        }
    }
}

/// The bodies an `http` step must see (all of `bodies`), the ones seen so far.
fn missing_bodies(expect: &HttpExpect, seen: &BTreeSet<String>) -> Vec<String> {
    expect
        .bodies
        .iter()
        .filter(|b| !seen.iter().any(|s| s.trim().contains(b.as_str())))
        .cloned()
        .collect()
}

/// One check against one address, retried until it passes or the deadline; `Err` is the
/// message without the source part.
async fn check_one<F, Fut>(
    endpoint: &Endpoint,
    target: &Target,
    expect: &HttpExpect,
    deadline: Instant,
    mut attempt: F,
) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<DialResponse, String>>,
{
    let started = Instant::now();
    let mut attempts = 0usize;
    let mut seen = Seen::default();
    let mut bodies_seen = BTreeSet::new();
    let mut failed_in_a_row = 0usize;
    loop {
        attempts += 1;
        let answer = attempt().await;
        let (reached, what) = judge(&answer, expect);
        if reached {
            if let Ok(r) = &answer {
                bodies_seen.extend(r.responses.iter().cloned());
            }
        }
        let missing = missing_bodies(expect, &bodies_seen);
        seen.push(what);
        failed_in_a_row = if reached { 0 } else { failed_in_a_row + 1 };
        match (expect.unreachable, reached) {
            (false, true) if missing.is_empty() => return Ok(()),
            (true, false) if failed_in_a_row >= UNREACHABLE_ATTEMPTS => return Ok(()),
            _ => {}
        }
        if Instant::now() + RETRY_EVERY >= deadline {
            break;
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
    let expectation = if expect.unreachable {
        format!("expected it to become unreachable ({UNREACHABLE_ATTEMPTS} failed attempts in a row), but it answered")
    } else if !expect.bodies.is_empty() {
        format!(
            "expected answers containing each of {:?}; seen {:?}, missing {:?}",
            expect.bodies,
            bodies_seen,
            missing_bodies(expect, &bodies_seen)
        )
    } else {
        match &expect.body {
            Some(b) => format!("expected an answer containing {b:?}"),
            None => "expected an answer".to_string(),
        }
    };
    Err(format!(
        "{} port {} over {}{} {}: {expectation}; saw: {} ({attempts} attempt{} in {:.1}s)",
        endpoint.desc,
        endpoint.port,
        protocol_name(target.protocol),
        match target.protocol {
            Protocol::Http => "GET",
            Protocol::Udp => "request",
        },
        target.path,
        seen.show(),
        if attempts == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64()
    ))
}

/// Substitutes run-time placeholders in the target and the expectation.
async fn expand(
    scope: &TestScope<'_>,
    target: &Target,
    expect: &HttpExpect,
) -> Result<(Target, HttpExpect), StepError> {
    let mut target = target.clone();
    if let TargetKind::Host(host) = &target.kind {
        target.kind = TargetKind::Host(scope.expand(host).await?);
    }
    target.path = scope.expand(&target.path).await?;
    let mut expect = expect.clone();
    if let Some(b) = &expect.body {
        expect.body = Some(scope.expand(b).await?);
    }
    let mut bodies = Vec::with_capacity(expect.bodies.len());
    for b in &expect.bodies {
        bodies.push(scope.expand(b).await?);
    }
    expect.bodies = bodies;
    Ok((target, expect))
}

/// Runs an `http` step: from a pod's netexec to every address of the target.
pub async fn http(
    scope: &TestScope<'_>,
    from: &str,
    target: &Target,
    expect: &HttpExpect,
    deadline: Instant,
) -> Result<(), StepError> {
    let (target, expect) = expand(scope, target, expect).await?;
    let source = pod_view(scope, from).await.map_err(StepError::Check)?;
    // The target may not have an address yet (a pod without IP, a Service without ClusterIP
    // or nodePort): ask again until the deadline.
    let started = Instant::now();
    let endpoints = loop {
        match resolve(scope, &target).await {
            Ok(endpoints) => break endpoints,
            Err(e) if Instant::now() + RETRY_EVERY >= deadline => {
                return Err(StepError::Check(format!(
                    "from {}: {e} (still after {:.1}s)",
                    source.describe(),
                    started.elapsed().as_secs_f64()
                )))
            }
            Err(_) => tokio::time::sleep(RETRY_EVERY).await,
        }
    };
    let mut failures = Vec::new();
    for endpoint in &endpoints {
        let proxy = format!(
            "/api/v1/namespaces/{}/pods/{}:{NETEXEC_PORT}/proxy/{}",
            scope.namespace,
            from,
            dial_query(&target, &endpoint.host, endpoint.port)
        );
        let outcome = check_one(endpoint, &target, &expect, deadline, || ask(scope, &proxy)).await;
        if let Err(e) = outcome {
            failures.push(e);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(StepError::Check(format!(
            "from {} to {}",
            source.describe(),
            failures.join("; and to ")
        )))
    }
}

/// Runs an `http` step from the harness machine: plain HTTP to every node address it can
/// reach; skips the test when it reaches none.
pub async fn from_harness(
    scope: &TestScope<'_>,
    target: &Target,
    expect: &HttpExpect,
    deadline: Instant,
) -> Result<(), StepError> {
    let (target, expect) = expand(scope, target, expect).await?;
    let mut endpoints = Vec::new();
    let mut unreachable = Vec::new();
    match &target.kind {
        TargetKind::NodePort(name) => {
            let node_port = node_port(scope, name, &target)
                .await
                .map_err(StepError::Check)?;
            let nodes = ready_nodes(scope).await.map_err(StepError::Check)?;
            // Every node at once (a real cluster's private addresses time out, and one at a
            // time they would outlast a scaled-down step timeout). A node's InternalIPs are
            // dialled only when none of its ExternalIPs answers.
            let checks = nodes.iter().map(|node| async move {
                let (external, internal) = node.addresses.split_at(node.external_count);
                let probe = |addresses: &[String]| {
                    let addresses = addresses.to_vec();
                    async move {
                        let answers = futures::future::join_all(
                            addresses.iter().map(|a| reachable(a, node_port)),
                        )
                        .await;
                        addresses.into_iter().zip(answers).collect::<Vec<_>>()
                    }
                };
                let mut probed = probe(external).await;
                if !probed.iter().any(|(_, ok)| *ok) {
                    probed.extend(probe(internal).await);
                }
                probed
            });
            let probed = futures::future::join_all(checks).await;
            for (node, addresses) in nodes.iter().zip(probed) {
                let found = addresses.iter().find(|(_, ok)| *ok).map(|(a, _)| a.clone());
                if found.is_none() {
                    unreachable.extend(
                        addresses
                            .iter()
                            .map(|(a, _)| format!("{} {a}:{node_port}", node.name)),
                    );
                }
                if let Some(addr) = found {
                    endpoints.push(Endpoint {
                        desc: format!(
                            "nodePort {node_port} of service \"{name}\" on node {} ({}) at {addr}",
                            node.name, node.os
                        ),
                        host: addr,
                        port: node_port,
                    });
                }
            }
        }
        TargetKind::Host(host) => {
            if reachable(host, target.port).await {
                endpoints.push(Endpoint {
                    host: host.clone(),
                    port: target.port,
                    desc: format!("host {host}"),
                });
            } else {
                unreachable.push(host.clone());
            }
        }
        other => {
            return Err(StepError::Check(format!(
                "the harness cannot reach {other:?} targets"
            )))
        }
    }
    if endpoints.is_empty() {
        return Err(StepError::Skip(format!(
            "no node address is reachable from the machine running the harness (tried {})",
            if unreachable.is_empty() {
                "none: no Ready node".to_string()
            } else {
                unreachable.join(", ")
            }
        )));
    }
    let mut failures = Vec::new();
    for endpoint in &endpoints {
        let outcome = check_one(endpoint, &target, &expect, deadline, || {
            plain_get(&endpoint.host, endpoint.port, &target.path)
        })
        .await;
        if let Err(e) = outcome {
            failures.push(e);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(StepError::Check(format!(
            "from the harness to {}",
            failures.join("; and to ")
        )))
    }
}

/// Whether a TCP connection to `host:port` is possible at all: it connects, or the host
/// answers that the port is closed (refused). Timeouts and unroutable addresses are not.
async fn reachable(host: &str, port: u16) -> bool {
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        Err(_) => false,
    }
}

/// `GET path` over HTTP/1.1 on a fresh connection, as netexec's `/dial` would report it.
async fn plain_get(host: &str, port: u16, path: &str) -> Result<DialResponse, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = format!("http://{host}:{port}{path}");
    let fail = |e: String| {
        Ok(DialResponse {
            responses: vec![],
            errors: vec![format!("Get \"{url}\": {e}")],
        })
    };
    let connect = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((host, port)),
    )
    .await;
    let mut stream = match connect {
        Err(_) => return fail("dial tcp: i/o timeout".into()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return fail(format!(
                "dial tcp {host}:{port}: connect: connection refused"
            ))
        }
        Ok(Err(e)) => return fail(format!("dial tcp {host}:{port}: {e}")),
        Ok(Ok(s)) => s,
    };
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    if let Err(e) = stream.write_all(request.as_bytes()).await {
        return fail(format!("write: {e}"));
    }
    let mut raw = Vec::new();
    match tokio::time::timeout(CONNECT_TIMEOUT * 2, stream.read_to_end(&mut raw)).await {
        Err(_) => return fail("i/o timeout (awaiting the answer)".into()),
        Ok(Err(e)) => return fail(format!("read: {e}")),
        Ok(Ok(_)) => {}
    }
    if raw.is_empty() {
        return fail("EOF: the connection was closed without an answer".into());
    }
    let text = String::from_utf8_lossy(&raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return fail(format!("malformed answer {:?}", truncate(&text)));
    };
    let status = head.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        return fail(format!("HTTP status {status}: {:?}", truncate(body)));
    }
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(DialResponse {
        responses: vec![body],
        errors: vec![],
    })
}

/// The payload of a chunked HTTP/1.1 body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn truncate(text: &str) -> String {
    text.chars().take(200).collect()
}

/// Runs a `dns` step: `nslookup NAME` in the pod, retried until the expectation holds.
pub async fn dns(
    scope: &TestScope<'_>,
    from: &str,
    name: &str,
    expect: DnsExpect,
    deadline: Instant,
) -> Result<(), StepError> {
    let name = scope.expand(name).await?;
    let command = vec!["nslookup".to_string(), name.clone()];
    let started = Instant::now();
    let mut attempts = 0usize;
    let mut seen = Seen::default();
    loop {
        attempts += 1;
        let (code, stdout, stderr) = scope.exec(from, None, &command).await?;
        let answer = judge_nslookup(code, &stdout, &stderr);
        let ok = matches!(
            (&answer, expect),
            (Lookup::Resolved(_), DnsExpect::Resolves) | (Lookup::NxDomain, DnsExpect::Nxdomain)
        );
        if ok {
            return Ok(());
        }
        seen.push(answer.describe(code, &stdout, &stderr));
        if Instant::now() + RETRY_EVERY >= deadline {
            break;
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
    let source = pod_view(scope, from).await.map_err(StepError::Check)?;
    Err(StepError::Check(format!(
        "from {}: nslookup {name} over udp to cluster DNS: expected {}; saw: {} ({attempts} attempt{} in {:.1}s)",
        source.describe(),
        match expect {
            DnsExpect::Resolves => "it to resolve to an address",
            DnsExpect::Nxdomain => "NXDOMAIN (the name does not exist)",
        },
        seen.show(),
        if attempts == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64()
    )))
}

/// What an `nslookup` run said.
#[derive(Debug, PartialEq, Eq)]
enum Lookup {
    Resolved(String),
    NxDomain,
    Timeout,
    Other,
}

impl Lookup {
    fn describe(&self, code: i32, stdout: &str, stderr: &str) -> String {
        match self {
            Lookup::Resolved(ip) => format!("resolved to {ip}"),
            Lookup::NxDomain => "NXDOMAIN".into(),
            Lookup::Timeout => "timeout: no DNS server answered".into(),
            Lookup::Other => format!(
                "exit code {code}, output {:?}",
                truncate(&format!("{stdout}{stderr}"))
            ),
        }
    }
}

/// Reads `nslookup` output (busybox / bind-tools on Linux, Windows' own): the address after
/// the `Name:` line, NXDOMAIN, or a timeout.
fn judge_nslookup(code: i32, stdout: &str, stderr: &str) -> Lookup {
    let all = format!("{stdout}\n{stderr}").to_ascii_lowercase();
    if all.contains("nxdomain") || all.contains("non-existent domain") {
        return Lookup::NxDomain;
    }
    if all.contains("timed out") || all.contains("timed-out") || all.contains("no servers could") {
        return Lookup::Timeout;
    }
    if code == 0 {
        let after_name = stdout
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("Name:"))
            .skip(1)
            .find_map(|l| {
                let l = l.trim();
                l.strip_prefix("Address:")
                    .or_else(|| l.strip_prefix("Addresses:"))
                    .map(|a| a.trim().to_string())
            });
        if let Some(ip) = after_name.filter(|a| !a.is_empty()) {
            return Lookup::Resolved(ip);
        }
    }
    Lookup::Other
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

    fn endpoint() -> Endpoint {
        Endpoint {
            host: "10.244.1.5".into(),
            port: 8080,
            desc: "pod \"server\" (linux, node n1) at 10.244.1.5".into(),
        }
    }

    fn answer(body: &str) -> Result<DialResponse, String> {
        Ok(DialResponse {
            responses: vec![body.into()],
            errors: vec![],
        })
    }

    fn refused() -> Result<DialResponse, String> {
        Ok(DialResponse {
            responses: vec![],
            errors: vec!["dial tcp 10.244.1.5:8080: connect: connection refused".into()],
        })
    }

    #[tokio::test]
    async fn checks_retry_until_the_path_works() {
        let expect = HttpExpect {
            body: Some("server".into()),
            ..HttpExpect::default()
        };
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        let outcome = check_one(&endpoint(), &target(), &expect, deadline, || {
            n += 1;
            let a = if n < 3 { refused() } else { answer("server") };
            async move { a }
        })
        .await;
        assert_eq!(outcome, Ok(()));
        assert_eq!(n, 3);
    }

    #[tokio::test]
    async fn a_broken_path_fails_within_the_deadline_with_what_it_saw() {
        let expect = HttpExpect {
            body: Some("server".into()),
            ..HttpExpect::default()
        };
        let started = Instant::now();
        let deadline = started + Duration::from_millis(2500);
        let err = check_one(&endpoint(), &target(), &expect, deadline, || async {
            refused()
        })
        .await
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(2600), "{err}");
        assert!(
            err.starts_with("pod \"server\" (linux, node n1) at 10.244.1.5 port 8080 over http GET /hostname: expected an answer containing \"server\"; saw: refused: "),
            "{err}"
        );
        assert!(err.contains("(3 attempts in 2."), "{err}");
    }

    #[tokio::test]
    async fn negative_checks_wait_for_the_path_to_close() {
        let expect = HttpExpect {
            unreachable: true,
            ..HttpExpect::default()
        };
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        let outcome = check_one(&endpoint(), &target(), &expect, deadline, || {
            n += 1;
            let a = if n < 2 { answer("server") } else { refused() };
            async move { a }
        })
        .await;
        assert_eq!(outcome, Ok(()));
        assert_eq!(n, 4, "one answer, then three failures in a row");
    }

    #[tokio::test]
    async fn bodies_must_all_be_seen() {
        let expect = HttpExpect {
            bodies: vec!["a".into(), "b".into()],
            ..HttpExpect::default()
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        let err = check_one(&endpoint(), &target(), &expect, deadline, || async {
            answer("a")
        })
        .await
        .unwrap_err();
        assert!(err.contains("seen {\"a\"}, missing [\"b\"]"), "{err}");
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(3);
        let ok = check_one(&endpoint(), &target(), &expect, deadline, || {
            n += 1;
            let a = answer(if n % 2 == 0 { "a" } else { "b" });
            async move { a }
        })
        .await;
        assert_eq!(ok, Ok(()));
    }

    #[test]
    fn nslookup_outputs_of_both_oses() {
        let linux_ok = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\nName:\tkubernetes.default.svc.cluster.local\nAddress: 10.96.0.1\n";
        assert_eq!(
            judge_nslookup(0, linux_ok, ""),
            Lookup::Resolved("10.96.0.1".into())
        );
        let windows_ok = "Server:  kube-dns.kube-system.svc.cluster.local\r\nAddress:  10.96.0.10\r\n\r\nName:    kubernetes.default.svc.cluster.local\r\nAddress:  10.96.0.1\r\n";
        assert_eq!(
            judge_nslookup(0, windows_ok, ""),
            Lookup::Resolved("10.96.0.1".into())
        );
        assert_eq!(
            judge_nslookup(1, "", "** server can't find nope: NXDOMAIN\n"),
            Lookup::NxDomain
        );
        assert_eq!(
            judge_nslookup(
                1,
                "",
                "*** kube-dns can't find nope: Non-existent domain\r\n"
            ),
            Lookup::NxDomain
        );
        assert_eq!(
            judge_nslookup(
                1,
                ";; connection timed out; no servers could be reached\n",
                ""
            ),
            Lookup::Timeout
        );
        // The server's own address is not the answer.
        assert_eq!(
            judge_nslookup(0, "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n", ""),
            Lookup::Other
        );
    }

    #[test]
    fn host_names_of_test_services() {
        assert_eq!(service_of_host("web", "t1"), Some("web"));
        assert_eq!(service_of_host("web.t1", "t1"), Some("web"));
        assert_eq!(
            service_of_host("web.t1.svc.cluster.local", "t1"),
            Some("web")
        );
        assert_eq!(service_of_host("kubernetes.default", "t1"), None);
        assert_eq!(service_of_host("10.96.0.1", "t1"), None);
    }

    /// A one-shot HTTP server on loopback answering `reply` to the first request.
    async fn serve_once(reply: &'static str) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(reply.as_bytes()).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn the_harness_speaks_plain_http() {
        let port = serve_once(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n6\r\nserver\r\n0\r\n\r\n",
        )
        .await;
        assert!(reachable("127.0.0.1", port).await);
        let port =
            serve_once("HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nserver")
                .await;
        let answer = plain_get("127.0.0.1", port, "/hostname").await;
        assert_eq!(answer.map(|a| a.responses), Ok(vec!["server".to_string()]));
        let port = serve_once("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
        let answer = plain_get("127.0.0.1", port, "/x").await.expect("an answer");
        assert!(answer.errors[0].contains("HTTP status 404"), "{answer:?}");
    }

    #[tokio::test]
    async fn a_closed_port_is_reachable_but_refuses() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        assert!(
            reachable("127.0.0.1", port).await,
            "refused means the host answers"
        );
        let answer = plain_get("127.0.0.1", port, "/").await.expect("an answer");
        assert_eq!(classify(&answer.errors[0]), "refused", "{answer:?}");
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        assert_eq!(dechunk("6\r\nserver\r\n0\r\n\r\n"), "server");
    }

    #[test]
    fn udp_requests_are_commands_not_paths() {
        let mut t = target();
        t.protocol = Protocol::Udp;
        t.path = "hostname".into();
        assert_eq!(
            dial_path(&t, "10.244.1.5"),
            "dial?request=hostname&host=10.244.1.5&port=8080&protocol=udp&tries=1"
        );
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
            ..HttpExpect::default()
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
                "wrong body: answer [\"other\"], expected one containing \"server\"".into()
            )
        );
        let timeout = Ok(DialResponse {
            responses: vec![],
            errors: vec!["dial tcp 10.0.0.1:8080: i/o timeout".into()],
        });
        assert_eq!(
            judge(&timeout, &expect),
            (false, "timeout: dial tcp 10.0.0.1:8080: i/o timeout".into())
        );
    }
}
