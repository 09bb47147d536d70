//! The kubelet API a node serves on port 10250, inside an egress tunnel: TLS (see `tls.rs`), then
//! HTTP/1.1 with upgrades. What the API server reaches it for:
//!
//! - `GET /healthz`: `ok`;
//! - `GET /containerLogs/{namespace}/{pod}/{container}` (`previous`, `tailLines` or the old
//!   `tail`, `limitBytes`, `follow`; `timestamps` and `sinceSeconds` are accepted and ignored, as
//!   the simulated API's `pods/log` does), for `pods/log`;
//! - `GET|POST /exec/{namespace}/{pod}[/{uid}]/{container}?command=…&output=1&error=1&input=1&tty=1`
//!   over WebSocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`; the API server forwards the
//!   upgrade as is when the Node declares `ExtendWebSocketsToKubelet`), for `pods/exec`; the
//!   kubectl spellings `stdout`/`stderr`/`stdin` are accepted too;
//! - `GET /pods`, `GET /runningpods/`: the pods bound to the node.
//!
//! Errors are plain text with the kubelet's wording where it matters (`pod "x" does not exist`,
//! 404), as go-restful writes them; a node serves only the pods it runs.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::api::logs::{follow, limit_bytes, tail, Followed};
use crate::api::query::Query;
use crate::exec_stream::{Frames, PROTOCOLS};
use crate::runtime::{Runtime, RuntimeError};

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the kubelet of one node serves from.
#[derive(Clone)]
pub(crate) struct KubeletState {
    pub(crate) runtime: Arc<Runtime>,
    /// The node's InternalIP (it serves only pods with this `hostIP`).
    pub(crate) node_ip: String,
    /// Ends followed logs.
    pub(crate) shutdown: CancellationToken,
}

/// Accepts TLS on `io`, then serves the kubelet API until the client hangs up.
pub(crate) async fn serve<IO>(state: KubeletState, tls: &TlsAcceptor, io: IO)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(io)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "kubelet: TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("kubelet: TLS handshake timed out");
            return;
        }
    };
    let service = TowerToHyperService::new(router(state));
    if let Err(e) = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await
    {
        tracing::debug!(error = %e, "kubelet connection ended with an error");
    }
}

fn router(state: KubeletState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/pods", get(pods))
        .route("/runningpods/", get(pods))
        .route(
            "/containerLogs/{namespace}/{pod}/{container}",
            get(container_logs),
        )
        .route("/exec/{namespace}/{pod}/{container}", get(exec).post(exec))
        .route(
            "/exec/{namespace}/{pod}/{uid}/{container}",
            get(exec_with_uid).post(exec_with_uid),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .with_state(state)
}

/// A plain-text error, as go-restful's `WriteError` answers.
#[derive(Debug)]
struct KubeletError {
    status: StatusCode,
    message: String,
}

impl KubeletError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn pod_not_found(pod: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: format!("pod {pod:?} does not exist"),
        }
    }
}

impl From<RuntimeError> for KubeletError {
    fn from(err: RuntimeError) -> Self {
        match err {
            RuntimeError::PodNotFound(pod) => Self::pod_not_found(&pod),
            RuntimeError::NoSuchContainer { pod, container } => Self {
                status: StatusCode::NOT_FOUND,
                message: format!("container {container:?} not found in pod {pod:?}"),
            },
            other => Self::bad_request(other.to_string()),
        }
    }
}

impl IntoResponse for KubeletError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.message,
        )
            .into_response()
    }
}

impl KubeletState {
    /// 404 for a pod another node runs (this kubelet does not know it).
    fn on_this_node(&self, namespace: &str, pod: &str) -> Result<(), KubeletError> {
        match self.runtime.pod(namespace, pod) {
            Some(p) if !p.host_ip.is_empty() && p.host_ip != self.node_ip => {
                Err(KubeletError::pod_not_found(pod))
            }
            _ => Ok(()),
        }
    }
}

/// `/pods`: the pods bound to this node, as a v1 PodList.
async fn pods(State(state): State<KubeletState>) -> Json<serde_json::Value> {
    let (pods, _) = state.runtime.store.list("pods", None);
    let items: Vec<_> = pods
        .into_iter()
        .filter(|p| p["status"]["hostIP"].as_str() == Some(state.node_ip.as_str()))
        .collect();
    Json(json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}))
}

/// `/containerLogs/{namespace}/{pod}/{container}`.
async fn container_logs(
    State(state): State<KubeletState>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, KubeletError> {
    let query = Query::parse(raw.as_deref());
    let int = |key: &str| {
        query
            .int(key)
            .map_err(|e| KubeletError::bad_request(e.to_string()))
    };
    let tail_lines = match query.get("tail") {
        Some("all") => None,
        Some(_) => int("tail")?,
        None => int("tailLines")?,
    };
    let limit = int("limitBytes")?;
    if let Some(stream) = query
        .get("stream")
        .filter(|s| !matches!(*s, "All" | "Stdout" | "Stderr"))
    {
        return Err(KubeletError::bad_request(format!(
            "invalid stream type {stream:?}"
        )));
    }
    let previous = query.flag("previous");
    state.on_this_node(&namespace, &pod)?;
    let text = state
        .runtime
        .logs(&namespace, &pod, Some(&container), previous)?;
    let first = limit_bytes(tail(&text, tail_lines), limit).to_string();
    let body = if query.flag("follow") && !previous {
        follow(
            state.runtime.clone(),
            state.shutdown.clone(),
            Followed {
                namespace,
                pod,
                container: Some(container),
            },
            first,
        )
    } else {
        axum::body::Body::from(first)
    };
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response())
}

/// `/exec/{namespace}/{pod}/{container}`.
async fn exec(
    State(state): State<KubeletState>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, KubeletError> {
    let target = ExecTarget {
        namespace,
        pod,
        container,
    };
    exec_in(state, target, raw, &headers, upgrade).await
}

/// `/exec/{namespace}/{pod}/{uid}/{container}` (the uid is not checked).
async fn exec_with_uid(
    State(state): State<KubeletState>,
    Path((namespace, pod, _uid, container)): Path<(String, String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, KubeletError> {
    let target = ExecTarget {
        namespace,
        pod,
        container,
    };
    exec_in(state, target, raw, &headers, upgrade).await
}

struct ExecTarget {
    namespace: String,
    pod: String,
    container: String,
}

/// Which streams an exec asked for (the kubelet's `input`/`output`/`error`, or kubectl's
/// spellings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Streams {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

impl Streams {
    fn parse(query: &Query) -> Result<Self, KubeletError> {
        let either = |kubelet: &str, kubectl: &str| query.flag(kubelet) || query.flag(kubectl);
        let tty = query.flag("tty");
        let streams = Streams {
            stdin: either("input", "stdin"),
            stdout: either("output", "stdout"),
            // A TTY has no separate stderr.
            stderr: either("error", "stderr") && !tty,
            tty,
        };
        if !streams.stdin && !streams.stdout && !streams.stderr {
            return Err(KubeletError::bad_request(
                "you must specify at least 1 of stdin, stdout, stderr",
            ));
        }
        Ok(streams)
    }
}

async fn exec_in(
    state: KubeletState,
    target: ExecTarget,
    raw: Option<String>,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, KubeletError> {
    let query = Query::parse(raw.as_deref());
    let streams = Streams::parse(&query)?;
    state.on_this_node(&target.namespace, &target.pod)?;
    let upgrade = upgrade.map_err(|_| not_websocket(headers))?;
    let command = query.all("command");
    let output = state
        .runtime
        .exec(
            &target.namespace,
            &target.pod,
            Some(&target.container),
            &command,
        )
        .await?;
    let frames = Frames {
        stdout: streams.stdout,
        stderr: streams.stderr,
        tty: streams.tty,
        command,
        output,
    };
    Ok(upgrade
        .protocols(PROTOCOLS)
        .on_upgrade(move |socket| frames.send(socket)))
}

/// 400 for an exec that is not a WebSocket upgrade; says why a SPDY one came.
fn not_websocket(headers: &HeaderMap) -> KubeletError {
    let spdy = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("spdy"));
    let mut message = String::from(
        "Upgrade request required: the simulated kubelet serves exec over WebSocket only \
         (v5.channel.k8s.io or v4.channel.k8s.io)",
    );
    if spdy {
        message.push_str(
            "; this request asked for SPDY, which kube-apiserver sends when the Node does not \
             declare the ExtendWebSocketsToKubelet feature (status.declaredFeatures)",
        );
    }
    KubeletError::bad_request(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_streams_accept_both_spellings_and_need_one() {
        let parse = |q: &str| Streams::parse(&Query::parse(Some(q)));
        let kubelet = parse("command=ls&output=1&error=1").unwrap();
        assert!(kubelet.stdout && kubelet.stderr && !kubelet.stdin && !kubelet.tty);
        let kubectl = parse("command=ls&stdout=true&stdin=true").unwrap();
        assert!(kubectl.stdout && kubectl.stdin && !kubectl.stderr);
        let tty = parse("output=1&error=1&tty=1").unwrap();
        assert!(tty.tty && !tty.stderr);
        let none = parse("command=ls").unwrap_err();
        assert_eq!(none.status, StatusCode::BAD_REQUEST);
        assert!(
            none.message.contains("at least 1 of stdin"),
            "{}",
            none.message
        );
    }

    #[test]
    fn runtime_errors_keep_the_kubelet_wording() {
        let e = KubeletError::from(RuntimeError::PodNotFound("web".into()));
        assert_eq!(
            (e.status, e.message.as_str()),
            (StatusCode::NOT_FOUND, "pod \"web\" does not exist")
        );
        let e = KubeletError::from(RuntimeError::NoSuchContainer {
            pod: "web".into(),
            container: "nope".into(),
        });
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.message, "container \"nope\" not found in pod \"web\"");
        let e = KubeletError::from(RuntimeError::NoPrevious {
            pod: "web".into(),
            container: "c".into(),
        });
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_spdy_exec_is_told_about_the_node_feature() {
        let mut headers = HeaderMap::new();
        assert!(!not_websocket(&headers)
            .message
            .contains("ExtendWebSocketsToKubelet"));
        headers.insert(header::UPGRADE, "SPDY/3.1".parse().unwrap());
        let e = not_websocket(&headers);
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(
            e.message.contains("ExtendWebSocketsToKubelet"),
            "{}",
            e.message
        );
    }
}
