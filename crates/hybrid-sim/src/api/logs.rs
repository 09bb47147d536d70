//! `pods/{name}/log`: a container's log through `Runtime::logs` (`container`, `previous`,
//! `tailLines`, `limitBytes`), and with `follow=true` a stream that sends new lines as they come
//! until the pod stops, is deleted, or the client leaves. `tail`, `limit_bytes` and `follow` are
//! shared with the kubelet's `/containerLogs`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use super::crud::current;
use super::query::Query;
use super::route::Target;
use super::status::ApiError;
use super::ApiState;
use crate::runtime::Runtime;

/// How often a followed log is polled for new output.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// `GET pods/{name}/log`.
pub(crate) fn log(state: &ApiState, target: &Target, query: &Query) -> Result<Response, ApiError> {
    current(state, target)?;
    let name = target.name.as_deref().unwrap_or_default();
    let text = state.runtime.logs(
        target.ns(),
        name,
        query.get("container"),
        query.flag("previous"),
    )?;
    let text = tail(&text, query.int("tailLines")?);
    let text = limit_bytes(text, query.int("limitBytes")?);
    let first = text.to_string();
    let body = if query.flag("follow") && !query.flag("previous") {
        follow(
            state.runtime.clone(),
            state.shutdown.clone(),
            Followed {
                namespace: target.ns().to_string(),
                pod: target.name.clone().unwrap_or_default(),
                container: query.get("container").map(str::to_string),
            },
            first,
        )
    } else {
        Body::from(first)
    };
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response())
}

/// The container whose log is followed.
pub(crate) struct Followed {
    pub(crate) namespace: String,
    pub(crate) pod: String,
    /// `None`: the pod's only app container.
    pub(crate) container: Option<String>,
}

/// Streams `first`, then whatever the log grows by, until the pod is gone or finished (or
/// `shutdown`, or the client leaves).
pub(crate) fn follow(
    runtime: Arc<Runtime>,
    shutdown: CancellationToken,
    followed: Followed,
    first: String,
) -> Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(16);
    let Followed {
        namespace,
        pod: name,
        container,
    } = followed;
    tokio::spawn(async move {
        let mut sent = match runtime.logs(&namespace, &name, container.as_deref(), false) {
            Ok(full) => full.len(),
            Err(_) => return,
        };
        if tx.send(Ok(Bytes::from(first))).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tx.closed() => return,
                _ = tokio::time::sleep(FOLLOW_POLL) => {}
            }
            let pod = runtime.store.get("pods", &namespace, &name);
            let finished = pod.as_ref().is_none_or(|p| {
                matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
            });
            let Ok(full) = runtime.logs(&namespace, &name, container.as_deref(), false) else {
                return;
            };
            if full.len() < sent {
                // A new container instance started over: its log is a new stream.
                return;
            }
            if full.len() > sent && full.is_char_boundary(sent) {
                let new = full[sent..].to_string();
                sent = full.len();
                if tx.send(Ok(Bytes::from(new))).await.is_err() {
                    return;
                }
            }
            if finished {
                return;
            }
        }
    });
    Body::from_stream(ReceiverStream::new(rx))
}

/// The first `limit` bytes of `text`, cut back to a character boundary (all of it without a
/// limit).
pub(crate) fn limit_bytes(text: &str, limit: Option<i64>) -> &str {
    match limit {
        Some(limit) if limit >= 0 && (limit as usize) < text.len() => {
            let mut end = limit as usize;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            &text[..end]
        }
        _ => text,
    }
}

/// The last `lines` lines of `text` (all of it without a limit).
pub(crate) fn tail(text: &str, lines: Option<i64>) -> &str {
    let Some(n) = lines.filter(|n| *n >= 0).map(|n| n as usize) else {
        return text;
    };
    if n == 0 {
        return "";
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    match body.rmatch_indices('\n').nth(n - 1) {
        Some((i, _)) => &text[i + 1..],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_lines() {
        assert_eq!(tail("a\nb\nc\n", Some(2)), "b\nc\n");
        assert_eq!(tail("a\nb\nc", Some(1)), "c");
        assert_eq!(tail("a\nb\n", Some(5)), "a\nb\n");
        assert_eq!(tail("a\nb\n", None), "a\nb\n");
        assert_eq!(tail("a\n", Some(0)), "");
    }

    #[test]
    fn limit_bytes_cuts_at_a_character_boundary() {
        assert_eq!(limit_bytes("abcdef", Some(3)), "abc");
        assert_eq!(limit_bytes("é", Some(1)), "");
        assert_eq!(limit_bytes("abc", Some(10)), "abc");
        assert_eq!(limit_bytes("abc", None), "abc");
    }
}
