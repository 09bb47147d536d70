//! The `http` step from a pod: ask the source pod's agnhost netexec, through the API server's
//! pod proxy, to `/dial` every address of the target once per attempt.

use std::time::Instant;

use super::check::{check_every, DialResponse};
use super::error::ProbeError;
use super::lookup::{pod_view, resolve};
use super::{excerpt, expand_http};
use crate::catalog::{HttpExpect, Protocol, Target};
use crate::kube_error::api_message;
use crate::run::retry::{self, Retry, PROBE_RETRY_EVERY};
use crate::run::scope::TestScope;

/// Port of the netexec HTTP server in the source pod (agnhost's default).
const NETEXEC_PORT: u16 = 8080;

/// Runs an `http` step: from pod `from`'s netexec to every address of the target.
pub(crate) async fn http(
    scope: &TestScope<'_>,
    from: &str,
    target: &Target,
    expect: &HttpExpect,
    deadline: Instant,
) -> Result<(), ProbeError> {
    let (target, expect) = expand_http(scope, target, expect).await?;
    let source = pod_view(scope, from).await?;
    // The target may not have an address yet (a pod without IP, a Service without ClusterIP
    // or nodePort): ask again until the deadline.
    let started = Instant::now();
    let endpoints = retry::until(deadline, PROBE_RETRY_EVERY, || async {
        resolve(scope, &target).await.map_err(Retry::Again)
    })
    .await
    .map_err(|last| ProbeError::Unresolved {
        from: source.describe(),
        last: Box::new(last),
        took: started.elapsed(),
    })?;
    check_every(
        source.describe(),
        &endpoints,
        &target,
        &expect,
        deadline,
        |endpoint| {
            let proxy = format!(
                "/api/v1/namespaces/{}/pods/{from}:{NETEXEC_PORT}/proxy/{}",
                scope.namespace,
                dial_query(&target, &endpoint.host, endpoint.port)
            );
            async move { ask(scope, &proxy).await }
        },
    )
    .await
}

/// The `/dial` query that asks netexec to reach `host:port` once.
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

/// Why netexec gave no `/dial` answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NoAnswer {
    /// The proxy path is not a valid request.
    #[error("{0}")]
    Request(#[from] ::http::Error),
    /// The API server's pod proxy failed (pod gone, netexec not listening, ...).
    #[error("{}", api_message(.0))]
    Proxy(#[source] kube::Error),
    /// The answer is not netexec's JSON; the start of it.
    #[error("unexpected answer {0:?}")]
    NotJson(String),
}

/// One `GET` of `path` through the API server (the pod proxy); netexec's answer.
async fn ask(scope: &TestScope<'_>, path: &str) -> Result<DialResponse, NoAnswer> {
    let request = ::http::Request::get(path).body(Vec::new())?;
    let text = scope
        .env
        .client
        .request_text(request)
        .await
        .map_err(NoAnswer::Proxy)?;
    serde_json::from_str(&text).map_err(|_| NoAnswer::NotJson(excerpt(&text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::probe::test_target as target;

    #[test]
    fn udp_requests_are_commands_not_paths() {
        let mut t = target();
        t.protocol = Protocol::Udp;
        t.path = "hostname".into();
        assert_eq!(
            dial_query(&t, "10.244.1.5", 8080),
            "dial?request=hostname&host=10.244.1.5&port=8080&protocol=udp&tries=1"
        );
    }

    #[test]
    fn dial_query_encodes_the_query() {
        assert_eq!(
            dial_query(&target(), "10.244.1.5", 31080),
            "dial?request=%2Fhostname&host=10.244.1.5&port=31080&protocol=http&tries=1"
        );
    }

    #[test]
    fn answers_that_are_not_json_show_their_start() {
        let error = NoAnswer::NotJson(excerpt(&"x".repeat(500)));
        assert_eq!(
            error.to_string(),
            format!("unexpected answer {:?}", "x".repeat(200))
        );
    }
}
