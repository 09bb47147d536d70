//! The two ways an `http` step reaches the agnhost netexec of its source pod ([`ProbeVia`]):
//! `exec` runs curl in the source pod against its own netexec on 127.0.0.1 (`curl.exe` in
//! Windows pods: Windows agnhost has `C:\curl` on PATH), through API server → kubelet, the way
//! `kubectl exec` goes; `proxy` sends the `GET` through the API server's pod proxy, which needs
//! the API server to reach the pod's IP. Either way netexec then `/dial`s the target from
//! inside the pod, and its JSON answer is the evidence. A failure on the way to netexec is a
//! [`TransportError`]: it says nothing about the target.

use super::check::DialResponse;
use super::excerpt;
use crate::catalog::Os;
use crate::kube_error::{api_message, ApiError};
use crate::run::scope::TestScope;
use crate::run::ProbeVia;

/// Port of the netexec HTTP server in the source pod (agnhost's default).
pub(crate) const NETEXEC_PORT: u16 = 8080;

/// curl's `--max-time` for one `/dial` (netexec's own dial gives up after 5 s).
const CURL_MAX_TIME_SECS: u32 = 10;

/// Why no `/dial` answer came back from netexec in the source pod.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// `pods/exec` was refused or failed.
    #[error("{0}")]
    Exec(ApiError),
    /// curl ran but did not get netexec's answer.
    #[error("curl exited with code {code}{}", stderr_part(.stderr))]
    Curl {
        /// curl's exit code (7: refused, 28: timed out, ...; 127: no curl).
        code: i32,
        /// What it wrote on stderr.
        stderr: String,
    },
    /// The proxy path is not a valid request.
    #[error("{0}")]
    Request(#[from] ::http::Error),
    /// The API server's pod proxy failed (cannot reach the pod, pod gone, ...).
    #[error("{}", api_message(.0))]
    Proxy(#[source] kube::Error),
    /// The answer is not netexec's JSON; the start of it.
    #[error("unexpected answer {0:?}")]
    NotJson(String),
}

/// `: <stderr, trimmed and shortened>`, or nothing when curl wrote nothing.
fn stderr_part(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {}", excerpt(stderr))
    }
}

/// One `/dial` of netexec in pod `from` (`query` is `dial?...`), the way `via` says; the answer.
pub(crate) async fn ask(
    scope: &TestScope<'_>,
    via: ProbeVia,
    from: &str,
    query: &str,
) -> Result<DialResponse, TransportError> {
    let text = match via {
        ProbeVia::Exec => by_exec(scope, from, query).await?,
        ProbeVia::Proxy => by_proxy(scope, from, query).await?,
    };
    serde_json::from_str(&text).map_err(|_| TransportError::NotJson(excerpt(&text)))
}

/// curl in the source pod, to its own netexec: stdout when curl exits 0.
async fn by_exec(scope: &TestScope<'_>, from: &str, query: &str) -> Result<String, TransportError> {
    let command = curl_command(scope.os_of.get(from).copied(), query);
    let (code, stdout, stderr) = scope
        .exec(from, None, &command)
        .await
        .map_err(TransportError::Exec)?;
    if code == 0 {
        Ok(stdout)
    } else {
        Err(TransportError::Curl { code, stderr })
    }
}

/// `curl -sS -m 10 http://127.0.0.1:8080/<query>` (`curl.exe` on Windows): silent but for
/// errors, so stdout is netexec's answer alone.
fn curl_command(os: Option<Os>, query: &str) -> Vec<String> {
    let curl = match os {
        Some(Os::Windows) => "curl.exe",
        _ => "curl",
    };
    vec![
        curl.to_string(),
        "-sS".to_string(),
        "-m".to_string(),
        CURL_MAX_TIME_SECS.to_string(),
        format!("http://127.0.0.1:{NETEXEC_PORT}/{query}"),
    ]
}

/// `GET` through the API server's pod proxy to the source pod's netexec: the body.
async fn by_proxy(
    scope: &TestScope<'_>,
    from: &str,
    query: &str,
) -> Result<String, TransportError> {
    let path = format!(
        "/api/v1/namespaces/{}/pods/{from}:{NETEXEC_PORT}/proxy/{query}",
        scope.namespace
    );
    let request = ::http::Request::get(path).body(Vec::new())?;
    scope
        .env
        .client
        .request_text(request)
        .await
        .map_err(TransportError::Proxy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_asks_the_pods_own_netexec_with_the_oss_curl() {
        let query = "dial?request=hostname&host=10.244.1.5&port=8080&protocol=http&tries=1";
        let url = format!("http://127.0.0.1:8080/{query}");
        assert_eq!(
            curl_command(Some(Os::Linux), query),
            ["curl", "-sS", "-m", "10", url.as_str()]
        );
        assert_eq!(curl_command(Some(Os::Windows), query)[0], "curl.exe");
        assert_eq!(curl_command(None, query)[0], "curl");
    }

    #[test]
    fn transport_errors_say_what_failed_on_the_way() {
        let refused = TransportError::Curl {
            code: 7,
            stderr: "curl: (7) Failed to connect to 127.0.0.1 port 8080 after 0 ms: \
                     Couldn't connect to server\n"
                .into(),
        };
        assert_eq!(
            refused.to_string(),
            "curl exited with code 7: curl: (7) Failed to connect to 127.0.0.1 port 8080 after \
             0 ms: Couldn't connect to server"
        );
        let silent = TransportError::Curl {
            code: 28,
            stderr: String::new(),
        };
        assert_eq!(silent.to_string(), "curl exited with code 28");
        let status = kube::core::Status::failure(
            "error trying to reach service: dial tcp 10.244.0.5:8080: i/o timeout",
            "ServiceUnavailable",
        )
        .with_code(503);
        assert_eq!(
            TransportError::Proxy(kube::Error::Api(status.boxed())).to_string(),
            "error trying to reach service: dial tcp 10.244.0.5:8080: i/o timeout \
             (ServiceUnavailable, 503)"
        );
    }

    #[test]
    fn answers_that_are_not_json_show_their_start() {
        let error = TransportError::NotJson(excerpt(&"x".repeat(500)));
        assert_eq!(
            error.to_string(),
            format!("unexpected answer {:?}", "x".repeat(200))
        );
    }
}
