//! `pods/{name}/exec` over WebSocket (subprotocols `v5.channel.k8s.io`, `v4.channel.k8s.io`):
//! the command runs in the simulated container, then stdout goes on channel 1, stderr on 2, the
//! exit status as a `Status` on 3, and the socket closes with code 1000 (the framing is
//! `exec_stream`'s, shared with the kubelet's `/exec`).

use axum::extract::ws::WebSocketUpgrade;
use axum::http::Method;
use axum::response::Response;

use super::authorization;
use super::crud::current;
use super::query::Query;
use super::route::Target;
use super::status::ApiError;
use super::ApiState;
use crate::exec_stream::{Frames, PROTOCOLS};
use crate::faults::Fault;

/// Handles an exec request. Errors that come before the command runs (no pod, no container,
/// not running, no WebSocket) are plain HTTP Status answers, as from a real API server.
pub(crate) async fn handle(
    state: &ApiState,
    target: &Target,
    query: &Query,
    method: &Method,
    upgrade: Option<WebSocketUpgrade>,
) -> Result<Response, ApiError> {
    if !matches!(*method, Method::GET | Method::POST) {
        return Err(ApiError::MethodNotAllowed(format!(
            "pods/exec does not allow {method}"
        )));
    }
    if state.config.has(Fault::ForbidExec) {
        tracing::debug!("sim api: injected fault forbid-exec");
        return Err(authorization::exec_forbidden(
            target.ns(),
            target.name.as_deref().unwrap_or_default(),
        ));
    }
    current(state, target)?;
    let Some(upgrade) = upgrade else {
        return Err(ApiError::BadRequest(
            "Upgrade request required: pods/exec is served over WebSocket (v5.channel.k8s.io or \
             v4.channel.k8s.io); SPDY is not supported by the simulated cluster"
                .to_string(),
        ));
    };
    let command = query.all("command");
    if command.is_empty() {
        return Err(ApiError::BadRequest(
            "you must specify at least 1 command".to_string(),
        ));
    }
    let name = target.name.as_deref().unwrap_or_default();
    let output = state
        .runtime
        .exec(target.ns(), name, query.get("container"), &command)
        .await?;
    let plan = Frames {
        stdout: query.get("stdout").is_none_or(|v| v != "false" && v != "0"),
        stderr: query.flag("stderr"),
        tty: query.flag("tty"),
        command,
        output,
    };
    Ok(upgrade
        .protocols(PROTOCOLS)
        .on_upgrade(move |socket| plan.send(socket)))
}
