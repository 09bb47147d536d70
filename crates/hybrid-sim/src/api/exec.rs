//! `pods/{name}/exec` over WebSocket (subprotocols `v5.channel.k8s.io`, `v4.channel.k8s.io`):
//! the command runs in the simulated container, then stdout goes on channel 1, stderr on 2, the
//! exit status as a `Status` on 3, and the socket closes with code 1000.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Value};

use super::crud::current;
use super::query::Query;
use super::route::Target;
use super::status::ApiError;
use super::ApiState;
use crate::runtime::ExecOutput;

/// The channel subprotocols served, preferred first.
pub(crate) const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;

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

/// What to send once upgraded.
struct Frames {
    stdout: bool,
    stderr: bool,
    tty: bool,
    command: Vec<String>,
    output: ExecOutput,
}

impl Frames {
    async fn send(self, mut socket: WebSocket) {
        let mut out = self.output.stdout.clone();
        if self.tty {
            out.extend_from_slice(&self.output.stderr);
        }
        let mut frames = Vec::new();
        if self.stdout && !out.is_empty() {
            frames.push(frame(STDOUT, &out));
        }
        if self.stderr && !self.tty && !self.output.stderr.is_empty() {
            frames.push(frame(STDERR, &self.output.stderr));
        }
        frames.push(frame(
            STATUS,
            exit_status(&self.command, self.output.exit_code)
                .to_string()
                .as_bytes(),
        ));
        for f in frames {
            if socket.send(f).await.is_err() {
                return;
            }
        }
        let close = Message::Close(Some(CloseFrame {
            code: 1000,
            reason: "".into(),
        }));
        if socket.send(close).await.is_err() {
            return;
        }
        // Let the client answer the close; do not wait forever.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = socket.recv().await {}
        })
        .await;
    }
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(data);
    Message::Binary(bytes.into())
}

/// The Status sent on channel 3: Success, or NonZeroExitCode with the code as a cause.
pub(crate) fn exit_status(command: &[String], code: i32) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            command.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}
