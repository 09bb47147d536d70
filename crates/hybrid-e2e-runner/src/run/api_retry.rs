//! Surviving transient API errors: a tower retry [`Policy`] under every `kube::Client` of the
//! run, and [`client_with_retries`], which builds that client exactly the way kube's own
//! `Client::try_from(Config)` does (auth, TLS, proxy, timeouts, base URI) with the retry layer
//! on top.
//!
//! Retried: answers 5xx (except 501) and 429 (honouring `Retry-After`), and connection errors
//! (refused, reset, aborted, timed out, closed mid-answer), with capped exponential back-off and
//! jitter, for requests a retry cannot double-apply: GET (lists, watch starts, logs, the exec
//! upgrade), HEAD, DELETE, PUT, PATCH with a merge, strategic-merge or apply body, and POST
//! (create: the callers count an `AlreadyExists` on their own object as created). A JSON-patch
//! PATCH is not retried, and a failed connection of a request that is not retried says so. A
//! 5xx through a proxy subresource is the proxied server's answer, not retried either.
//! Every retry is counted in [`api_retries`] for the report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::{header, Method, Request, Response, StatusCode};
use kube::client::{Body, ClientBuilder};
use kube::{Client, Config};
use tower::buffer::{Buffer, BufferLayer};
use tower::retry::{Policy, Retry, RetryLayer};
use tower::BoxError;
use tower::Service;

/// The pause before the first retry; it doubles with each further retry.
pub(crate) const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest pause between two tries (back-off cap; also caps a server's `Retry-After`).
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(2);
/// Retries of one request (9 tries): under a 20 % failure rate, one request in 0.2^9 ≈ 2e6
/// still fails; a request that always fails gives up after about 9 seconds.
pub(crate) const MAX_RETRIES: u32 = 8;

/// How many requests were retried, shared by the clients that count into it.
#[derive(Debug, Clone, Default)]
pub struct ApiRetries(Arc<AtomicU64>);

impl ApiRetries {
    /// Retries so far.
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add_one(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The counter every client made by [`client_with_retries`] counts into (one per process).
pub fn api_retries() -> &'static ApiRetries {
    static RETRIES: OnceLock<ApiRetries> = OnceLock::new();
    RETRIES.get_or_init(ApiRetries::default)
}

/// A `kube::Client` for `config` that retries transient API errors, counting into
/// [`api_retries`]. Must be called inside a tokio runtime (the client's buffer runs on it).
pub fn client_with_retries(config: Config) -> Result<Client, kube::Error> {
    client_counting_into(config, api_retries().clone())
}

/// [`client_with_retries`] counting into `retries`.
pub(crate) fn client_counting_into(
    config: Config,
    retries: ApiRetries,
) -> Result<Client, kube::Error> {
    Ok(retrying(
        ClientBuilder::try_from(without_kube_retry(config))?,
        retries,
    )
    .build())
}

/// `config` without kube's own retry (429/503/504, up to 15 tries and 1000 s apart), which would
/// sit beneath ours.
pub(crate) fn without_kube_retry(mut config: Config) -> Config {
    config.default_retry = false;
    config
}

/// kube's client stack (whose futures are `F`) under the buffer and the retry layer.
pub(crate) type Retrying<F> = Retry<ApiRetryPolicy, Buffer<Request<Body>, F>>;

/// kube's client stack in `builder` with the retry layer on top, counting into `retries`.
pub(crate) fn retrying<S>(
    builder: ClientBuilder<S>,
    retries: ApiRetries,
) -> ClientBuilder<Retrying<S::Future>>
where
    S: Service<Request<Body>> + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError> + Send + Sync,
{
    builder
        // Retry clones the service it wraps; kube's stack is a (not clonable) BoxService.
        .with_layer(&BufferLayer::new(1024))
        .with_layer(&RetryLayer::new(ApiRetryPolicy::new(retries)))
}

/// The retry policy of one request (tower clones it for every request).
#[derive(Debug, Clone)]
pub(crate) struct ApiRetryPolicy {
    retries_done: u32,
    counter: ApiRetries,
}

impl ApiRetryPolicy {
    pub(crate) fn new(counter: ApiRetries) -> ApiRetryPolicy {
        ApiRetryPolicy {
            retries_done: 0,
            counter,
        }
    }
}

/// Why a request is not retried, or nothing when it may be.
fn not_retried_because(request: &Request<Body>) -> Option<String> {
    let method = request.method();
    if [
        Method::GET,
        Method::HEAD,
        Method::DELETE,
        Method::PUT,
        Method::POST,
    ]
    .contains(method)
    {
        return None;
    }
    if method == Method::PATCH {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let kind = content_type.split(';').next().unwrap_or_default().trim();
        return match kind {
            "application/merge-patch+json"
            | "application/strategic-merge-patch+json"
            | "application/apply-patch+yaml" => None,
            "application/json-patch+json" => Some("a JSON patch may apply twice".to_string()),
            other => Some(format!("a PATCH of type {other:?}")),
        };
    }
    Some(format!("a {method} request"))
}

/// Whether an answer is worth another try, and how long the server asked us to wait.
enum Verdict {
    Final,
    Transient { retry_after: Option<Duration> },
}

fn verdict<B>(request: &Request<Body>, result: &Result<Response<B>, BoxError>) -> Verdict {
    match result {
        // Through a proxy subresource the status is the proxied server's answer (a probe's
        // business, which retries on its own), not the API server's.
        Ok(_) if is_proxy(request) => Verdict::Final,
        Ok(response) => {
            let status = response.status();
            let transient = status == StatusCode::TOO_MANY_REQUESTS
                || (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED);
            if !transient {
                return Verdict::Final;
            }
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Verdict::Transient { retry_after }
        }
        Err(error) if is_connection_error(error.as_ref()) => {
            Verdict::Transient { retry_after: None }
        }
        Err(_) => Verdict::Final,
    }
}

/// `.../pods/NAME[:PORT]/proxy[/...]` (or a service's or node's).
fn is_proxy(request: &Request<Body>) -> bool {
    request
        .uri()
        .path()
        .split('/')
        .any(|segment| segment == "proxy")
}

/// Refused, reset, aborted, timed out or cut off: the server may answer the next try.
fn is_connection_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | NotConnected
                    | BrokenPipe
                    | TimedOut
                    | UnexpectedEof
            ) {
                return true;
            }
        }
        if let Some(hyper) = error.downcast_ref::<hyper::Error>() {
            if hyper.is_incomplete_message() || hyper.is_timeout() {
                return true;
            }
        }
        if let Some(legacy) = error.downcast_ref::<hyper_util::client::legacy::Error>() {
            if legacy.is_connect() {
                return true;
            }
        }
        cause = error.source();
    }
    false
}

/// The pause before retry number `retries_done + 1`: `FIRST_DELAY · 2^retries_done`, capped at
/// `MAX_DELAY`, of which a random half (jitter, so that failed clients do not retry in step).
pub(crate) fn backoff(retries_done: u32) -> Duration {
    let full = FIRST_DELAY
        .saturating_mul(2u32.saturating_pow(retries_done.min(16)))
        .min(MAX_DELAY);
    full / 2 + full.mul_f64(rand::random::<f64>() / 2.0)
}

/// A connection error of a request that was not (or no longer) retried, saying so.
#[derive(Debug, thiserror::Error)]
#[error("{why}")]
struct RetryEnded {
    why: String,
    #[source]
    source: BoxError,
}

fn say_why_it_ended<B>(result: &mut Result<Response<B>, BoxError>, why: String) {
    if let Err(source) = result {
        let source = std::mem::replace(source, Box::new(std::io::Error::other("")));
        *result = Err(Box::new(RetryEnded { why, source }));
    }
}

impl<B> Policy<Request<Body>, Response<B>, BoxError> for ApiRetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Request<Body>,
        result: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        let Verdict::Transient { retry_after } = verdict(request, result) else {
            return None;
        };
        if let Some(why) = not_retried_because(request) {
            say_why_it_ended(result, format!("not retried: {why}"));
            return None;
        }
        if self.retries_done >= MAX_RETRIES {
            say_why_it_ended(result, format!("gave up after {MAX_RETRIES} retries"));
            return None;
        }
        let delay = retry_after
            .map(|d| d.min(MAX_DELAY))
            .unwrap_or_else(|| backoff(self.retries_done));
        self.retries_done += 1;
        self.counter.add_one();
        tracing::debug!(
            method = %request.method(),
            uri = %request.uri(),
            retry = self.retries_done,
            ?delay,
            "retrying a transient API error"
        );
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, request: &Request<Body>) -> Option<Request<Body>> {
        // Only buffered bodies clone (all of kube's requests); a stream is tried once.
        let body = request.body().try_clone()?;
        let mut builder = Request::builder()
            .method(request.method().clone())
            .uri(request.uri().clone())
            .version(request.version());
        if let Some(headers) = builder.headers_mut() {
            headers.extend(request.headers().clone());
        }
        builder.body(body).ok().map(|mut copy| {
            *copy.extensions_mut() = request.extensions().clone();
            copy
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, content_type: Option<&str>) -> Request<Body> {
        let mut builder = Request::builder().method(method).uri("/api/v1/pods");
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(b"{}".to_vec())).unwrap()
    }

    fn answer(status: u16) -> Result<Response<()>, BoxError> {
        Ok(Response::builder().status(status).body(()).unwrap())
    }

    fn refused() -> Result<Response<()>, BoxError> {
        Err(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )))
    }

    fn retried(
        policy: &mut ApiRetryPolicy,
        mut request: Request<Body>,
        mut result: Result<Response<()>, BoxError>,
    ) -> bool {
        policy.retry(&mut request, &mut result).is_some()
    }

    #[tokio::test]
    async fn idempotent_requests_retry_5xx_429_and_refused_connections() {
        let counter = ApiRetries::default();
        for method in [Method::GET, Method::DELETE, Method::PUT, Method::POST] {
            for result in [answer(500), answer(503), answer(429), refused()] {
                let mut policy = ApiRetryPolicy::new(counter.clone());
                assert!(retried(&mut policy, request(method.clone(), None), result));
            }
        }
        for patch in [
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml; charset=utf-8",
        ] {
            let mut policy = ApiRetryPolicy::new(counter.clone());
            assert!(retried(
                &mut policy,
                request(Method::PATCH, Some(patch)),
                answer(500)
            ));
        }
        assert_eq!(counter.count(), 4 * 4 + 3);
    }

    #[tokio::test]
    async fn final_answers_are_not_retried() {
        let counter = ApiRetries::default();
        for status in [200, 201, 400, 403, 404, 409, 422, 501] {
            let mut policy = ApiRetryPolicy::new(counter.clone());
            assert!(!retried(
                &mut policy,
                request(Method::GET, None),
                answer(status)
            ));
        }
        let other: Result<Response<()>, BoxError> = Err("certificate unknown".into());
        let mut policy = ApiRetryPolicy::new(counter.clone());
        assert!(!retried(&mut policy, request(Method::GET, None), other));
        assert_eq!(counter.count(), 0);
    }

    #[tokio::test]
    async fn proxied_answers_are_the_backends_and_not_retried() {
        let mut policy = ApiRetryPolicy::new(ApiRetries::default());
        let proxied = || {
            Request::builder()
                .uri("/api/v1/namespaces/n/pods/p:8080/proxy/dial?host=x")
                .body(Body::empty())
                .unwrap()
        };
        assert!(!retried(&mut policy, proxied(), answer(503)));
        assert!(retried(&mut policy, proxied(), refused()));
    }

    #[tokio::test]
    async fn a_json_patch_is_not_retried_and_says_so() {
        let counter = ApiRetries::default();
        let mut policy = ApiRetryPolicy::new(counter.clone());
        let json_patch = || request(Method::PATCH, Some("application/json-patch+json"));
        assert!(!retried(&mut policy, json_patch(), answer(500)));
        let mut result = refused();
        assert!(policy.retry(&mut json_patch(), &mut result).is_none());
        let error = result.expect_err("still an error");
        let text = crate::kube_error::error_chain(error.as_ref());
        assert!(
            text.starts_with("not retried: a JSON patch may apply twice: "),
            "{text}"
        );
        assert_eq!(counter.count(), 0);
    }

    #[tokio::test]
    async fn a_request_gives_up_after_the_last_retry_and_says_so() {
        let counter = ApiRetries::default();
        let mut policy = ApiRetryPolicy::new(counter.clone());
        for _ in 0..MAX_RETRIES {
            assert!(retried(
                &mut policy,
                request(Method::GET, None),
                answer(500)
            ));
        }
        assert!(!retried(
            &mut policy,
            request(Method::GET, None),
            answer(500)
        ));
        let mut result = refused();
        assert!(policy
            .retry(&mut request(Method::GET, None), &mut result)
            .is_none());
        let text = crate::kube_error::error_chain(result.expect_err("error").as_ref());
        assert!(text.starts_with("gave up after 8 retries: "), "{text}");
        assert_eq!(counter.count(), u64::from(MAX_RETRIES));
    }

    #[test]
    fn the_backoff_doubles_from_the_first_delay_up_to_the_cap() {
        for retries_done in 0..40 {
            let full = (FIRST_DELAY * 2u32.pow(retries_done.min(10))).min(MAX_DELAY);
            let delay = backoff(retries_done);
            assert!(
                delay >= full / 2 && delay <= full,
                "{retries_done}: {delay:?}"
            );
        }
        assert!(backoff(0) <= FIRST_DELAY);
        assert!(backoff(30) <= MAX_DELAY);
    }

    #[tokio::test]
    async fn retry_after_is_honoured_up_to_the_cap() {
        let mut policy = ApiRetryPolicy::new(ApiRetries::default());
        let with_retry_after = |secs: &str| -> Result<Response<()>, BoxError> {
            Ok(Response::builder()
                .status(429)
                .header(header::RETRY_AFTER, secs)
                .body(())
                .unwrap())
        };
        for (retry_after, pause) in [("1", Duration::from_secs(1)), ("3600", MAX_DELAY)] {
            let before = tokio::time::Instant::now();
            let sleep = policy
                .retry(
                    &mut request(Method::GET, None),
                    &mut with_retry_after(retry_after),
                )
                .expect("429 is retried");
            let after = tokio::time::Instant::now();
            assert!(sleep.deadline() >= before + pause, "{retry_after}");
            assert!(sleep.deadline() <= after + pause, "{retry_after}");
        }
    }

    /// A one-trick API server on loopback: answers `/version` 500 the first `failures` times,
    /// then 200; every answer closes its connection.
    async fn flaky_server(failures: usize) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            for n in 0.. {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(read) => request.extend_from_slice(&buf[..read]),
                    }
                }
                let (status, body) = if n < failures {
                    (
                        "500 Internal Server Error",
                        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"flaky","reason":"InternalError","code":500}"#,
                    )
                } else {
                    (
                        "200 OK",
                        r#"{"major":"1","minor":"33","gitVersion":"v1.33.1","gitCommit":"","gitTreeState":"","buildDate":"","goVersion":"","compiler":"","platform":""}"#,
                    )
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        url
    }

    fn config_for(url: &str) -> Config {
        Config::new(url.parse().unwrap())
    }

    #[tokio::test]
    async fn the_client_retries_through_its_stack_and_counts() {
        let retries = ApiRetries::default();
        let client = client_counting_into(config_for(&flaky_server(2).await), retries.clone())
            .expect("client");
        let version = client
            .apiserver_version()
            .await
            .expect("answered on the third try");
        assert_eq!(version.git_version, "v1.33.1");
        assert_eq!(retries.count(), 2);
    }

    #[tokio::test]
    async fn the_client_gives_up_with_the_servers_status() {
        let retries = ApiRetries::default();
        let client =
            client_counting_into(config_for(&flaky_server(usize::MAX).await), retries.clone())
                .expect("client");
        let error = client.apiserver_version().await.expect_err("always 500");
        assert_eq!(
            crate::kube_error::error_chain(&error),
            "flaky (InternalError, 500)"
        );
        assert_eq!(retries.count(), u64::from(MAX_RETRIES));
    }

    #[tokio::test]
    async fn a_buffered_request_clones_with_its_headers() {
        let mut policy = ApiRetryPolicy::new(ApiRetries::default());
        let original = request(Method::PATCH, Some("application/merge-patch+json"));
        let copy =
            Policy::<Request<Body>, Response<()>, BoxError>::clone_request(&mut policy, &original)
                .expect("clones");
        assert_eq!(copy.method(), Method::PATCH);
        assert_eq!(copy.uri(), original.uri());
        assert_eq!(
            copy.headers().get(header::CONTENT_TYPE),
            original.headers().get(header::CONTENT_TYPE)
        );
    }
}
