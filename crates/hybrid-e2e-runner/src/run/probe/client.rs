//! The harness's own network client: whether a TCP port answers at all ([`reachable`]), and a
//! plain-HTTP `GET` on a fresh connection ([`get`], hyper's HTTP/1.1 client) whose failures
//! read like netexec's `/dial` errors, so one judge reads both.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use ::http::header::{CONNECTION, HOST};
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::check::DialResponse;
use super::excerpt;
use crate::kube_error::error_chain;

/// How long the harness waits for a TCP connection to a node address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long it waits for the whole answer once connected.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(4);

/// Whether a TCP connection to `host:port` is possible at all: it connects, or the host
/// answers that the port is closed (refused). Timeouts and unroutable addresses are not.
pub(crate) async fn reachable(host: &str, port: u16) -> bool {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port))).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        Err(_) => false,
    }
}

/// `GET path` over HTTP/1.1 on a fresh connection, as netexec's `/dial` would report it: the
/// body of a `200 OK`, or the error (`Get "http://...": dial tcp ...: connect: connection
/// refused`).
pub(crate) async fn get(host: &str, port: u16, path: &str) -> DialResponse {
    match fetch(host, port, path).await {
        Ok(body) => DialResponse {
            responses: vec![body],
            errors: vec![],
        },
        Err(e) => DialResponse {
            responses: vec![],
            errors: vec![format!("Get \"http://{host}:{port}{path}\": {e}")],
        },
    }
}

/// Why a `GET` got no `200 OK`; the texts follow Go's `net/http`, as netexec reports them.
#[derive(Debug, thiserror::Error)]
enum GetError {
    #[error("dial tcp: i/o timeout")]
    ConnectTimeout,
    #[error("dial tcp {address}: connect: connection refused")]
    Refused { address: String },
    #[error("dial tcp {address}: {source}")]
    Connect {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid request: {0}")]
    Request(#[from] ::http::Error),
    #[error("i/o timeout (awaiting the answer)")]
    AnswerTimeout,
    #[error("EOF: the connection was closed without an answer")]
    Eof,
    #[error("malformed answer: {0}")]
    Malformed(#[source] hyper::Error),
    #[error("read: {}", error_chain(.0))]
    Read(#[source] hyper::Error),
    #[error("HTTP status {status}: {body:?}")]
    Status { status: u16, body: String },
}

impl From<hyper::Error> for GetError {
    fn from(error: hyper::Error) -> Self {
        if error.is_incomplete_message() {
            GetError::Eof
        } else if error.is_parse() {
            GetError::Malformed(error)
        } else {
            GetError::Read(error)
        }
    }
}

/// The body of a `200 OK` answer to `GET path` at `host:port`.
async fn fetch(host: &str, port: u16, path: &str) -> Result<String, GetError> {
    let address = format!("{host}:{port}");
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port))).await
    {
        Err(_) => return Err(GetError::ConnectTimeout),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(GetError::Refused { address })
        }
        Ok(Err(source)) => return Err(GetError::Connect { address, source }),
        Ok(Ok(stream)) => stream,
    };
    let request = ::http::Request::get(path)
        .header(HOST, address)
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())?;
    let (status, body) = tokio::time::timeout(ANSWER_TIMEOUT, exchange(stream, request))
        .await
        .map_err(|_| GetError::AnswerTimeout)??;
    let body = String::from_utf8_lossy(&body).into_owned();
    if status != ::http::StatusCode::OK {
        return Err(GetError::Status {
            status: status.as_u16(),
            body: excerpt(&body),
        });
    }
    Ok(body)
}

/// Sends one request on the connection and reads the whole answer.
async fn exchange(
    stream: TcpStream,
    request: ::http::Request<Empty<Bytes>>,
) -> Result<(::http::StatusCode, Bytes), hyper::Error> {
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    let answer = async move {
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    };
    until_answered(answer, connection).await
}

/// Drives `connection` while `answer` waits for it; the connection's end (the server closed
/// it) settles the answer too, with whatever it got.
async fn until_answered<A, C>(answer: A, connection: C) -> A::Output
where
    A: Future,
    C: Future,
{
    let mut answer = pin!(answer);
    tokio::select! {
        biased;
        done = &mut answer => done,
        _ = connection => answer.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::probe::check::classify;

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
    async fn chunked_bodies_are_decoded() {
        let port = serve_once(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nser\r\n3\r\nver\r\n0\r\n\r\n",
        )
        .await;
        let answer = get("127.0.0.1", port, "/hostname").await;
        assert_eq!(answer.responses, vec!["server".to_string()], "{answer:?}");
    }

    #[tokio::test]
    async fn content_length_bodies_are_read() {
        let port =
            serve_once("HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nserver")
                .await;
        let answer = get("127.0.0.1", port, "/hostname").await;
        assert_eq!(answer.responses, vec!["server".to_string()], "{answer:?}");
        assert!(answer.errors.is_empty());
        let port = serve_once("").await;
        assert!(reachable("127.0.0.1", port).await, "a listening port");
    }

    #[tokio::test]
    async fn other_statuses_are_errors() {
        let port = serve_once("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope").await;
        let answer = get("127.0.0.1", port, "/x").await;
        assert_eq!(
            answer.errors,
            vec![format!(
                "Get \"http://127.0.0.1:{port}/x\": HTTP status 404: \"nope\""
            )]
        );
    }

    #[tokio::test]
    async fn a_silent_close_is_an_eof() {
        let port = serve_once("").await;
        let answer = get("127.0.0.1", port, "/").await;
        assert!(
            answer.errors[0].ends_with(": EOF: the connection was closed without an answer"),
            "{answer:?}"
        );
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
        let answer = get("127.0.0.1", port, "/").await;
        assert_eq!(
            answer.errors,
            vec![format!(
                "Get \"http://127.0.0.1:{port}/\": dial tcp 127.0.0.1:{port}: connect: connection refused"
            )]
        );
        assert_eq!(classify(&answer.errors[0]), "refused");
    }
}
