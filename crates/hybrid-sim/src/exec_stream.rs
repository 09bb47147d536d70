//! The exec channel protocol over WebSocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`), shared by
//! the API's `pods/exec` and the kubelet's `/exec`: once a command has run, its stdout goes on
//! channel 1, its stderr on 2 (each in frames of at most 32 KiB, as the kubelet's copy loop
//! writes them), the exit status as a `Status` on 3, and the socket closes with code 1000.
//!
//! As from a real kubelet, the first frame is an empty one on the lowest channel asked for (the
//! "connection established" signal of `remotecommand/websocket.go`), and output follows only after
//! the time a container runtime takes to start the process. kubectl before v1.33 drops frames
//! that arrive before it has set up its streams (kubernetes/kubernetes#131189), so output sent at
//! once would be lost there, as it never is against a real cluster.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use serde_json::{json, Value};

use crate::runtime::ExecOutput;

/// The channel subprotocols served, preferred first.
pub(crate) const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;

/// The most bytes of one stream per frame: the container runtime and the kubelet copy a
/// process's output with Go's `io.Copy`, whose buffer is 32 KiB, and each write is one frame.
const CHUNK: usize = 32 * 1024;

/// How long after the upgrade the first output arrives: a container runtime takes tens of
/// milliseconds to start an exec'd process (a CRI `Exec`, then the process itself).
const PROCESS_START: Duration = Duration::from_millis(30);

/// What to send once upgraded: the output of a finished command, and which streams the client
/// asked for.
pub(crate) struct Frames {
    /// Send stdout (channel 1).
    pub(crate) stdout: bool,
    /// Send stderr (channel 2; merged into stdout with a TTY).
    pub(crate) stderr: bool,
    /// A TTY was asked for: stderr goes to stdout.
    pub(crate) tty: bool,
    /// The command, for the message of a non-zero exit status.
    pub(crate) command: Vec<String>,
    pub(crate) output: ExecOutput,
}

impl Frames {
    /// Sends the frames and the close, then waits (briefly) for the client's close.
    pub(crate) async fn send(self, mut socket: WebSocket) {
        if socket.send(self.ready()).await.is_err() {
            return;
        }
        tokio::time::sleep(PROCESS_START).await;
        let frames = self.frames();
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

impl Frames {
    /// The empty frame that tells the client the streams are up: on stdout if asked for, else
    /// stderr, else the status channel.
    fn ready(&self) -> Message {
        let channel = if self.stdout {
            STDOUT
        } else if self.stderr {
            STDERR
        } else {
            STATUS
        };
        frame(channel, &[])
    }

    /// The data frames, then the status: each stream cut into [`CHUNK`]-byte frames.
    fn frames(&self) -> Vec<Message> {
        let mut out = self.output.stdout.clone();
        if self.tty {
            out.extend_from_slice(&self.output.stderr);
        }
        let mut frames = Vec::new();
        if self.stdout {
            frames.extend(out.chunks(CHUNK).map(|c| frame(STDOUT, c)));
        }
        if self.stderr && !self.tty {
            frames.extend(self.output.stderr.chunks(CHUNK).map(|c| frame(STDERR, c)));
        }
        frames.push(frame(
            STATUS,
            exit_status(&self.command, self.output.exit_code)
                .to_string()
                .as_bytes(),
        ));
        frames
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_zero_exit_names_the_command_and_the_code() {
        let status = exit_status(&["sh".into(), "-c".into(), "exit 3".into()], 3);
        assert_eq!(status["reason"], "NonZeroExitCode");
        assert_eq!(status["details"]["causes"][0]["message"], "3");
        assert!(status["message"]
            .as_str()
            .is_some_and(|m| m.contains("[sh -c exit 3], exit code 3")));
        assert_eq!(exit_status(&[], 0)["status"], "Success");
    }

    #[test]
    fn the_ready_frame_is_empty_and_on_the_lowest_channel_asked_for() {
        let frames = |stdout, stderr| Frames {
            stdout,
            stderr,
            tty: false,
            command: vec![],
            output: ExecOutput {
                exit_code: 0,
                stdout: b"x".to_vec(),
                stderr: vec![],
            },
        };
        let ready = |f: Frames| match f.ready() {
            Message::Binary(b) => b.to_vec(),
            _ => vec![],
        };
        assert_eq!(ready(frames(true, true)), [STDOUT]);
        assert_eq!(ready(frames(false, true)), [STDERR]);
        assert_eq!(ready(frames(false, false)), [STATUS]);
    }

    #[test]
    fn big_output_goes_in_32_kib_frames_stdout_then_stderr_then_status() {
        let frames = Frames {
            stdout: true,
            stderr: true,
            tty: false,
            command: vec!["sh".into()],
            output: ExecOutput {
                exit_code: 0,
                stdout: b"done\n".to_vec(),
                stderr: vec![b'e'; 70_000],
            },
        }
        .frames();
        let shape: Vec<(u8, usize)> = frames
            .iter()
            .map(|m| match m {
                Message::Binary(b) => (b[0], b.len() - 1),
                _ => (0, 0),
            })
            .collect();
        let status_len = shape.last().map(|s| s.1).unwrap_or_default();
        assert_eq!(
            shape,
            [
                (1, 5),
                (2, 32 * 1024),
                (2, 32 * 1024),
                (2, 70_000 - 64 * 1024),
                (3, status_len)
            ]
        );
    }
}
