//! The `http` step from a pod: ask the source pod's agnhost netexec, by exec or through the
//! API server's pod proxy (`transport`), to `/dial` every address of the target once per
//! attempt.

use std::time::Instant;

use super::check::check_every;
use super::error::{ProbeError, TransportFailure};
use super::expand_http;
use super::lookup::{pod_view, resolve};
use super::transport;
use crate::catalog::{HttpExpect, Protocol, Target, TargetKind};
use crate::run::retry::{self, Retry, PROBE_RETRY_EVERY};
use crate::run::scope::TestScope;

/// Runs an `http` step: from pod `from`'s netexec to every address of the target. Passed, it
/// returns notes for the test's log (the nodes a NodePort check dialled and left out).
pub(crate) async fn http(
    scope: &TestScope<'_>,
    from: &str,
    target: &Target,
    expect: &HttpExpect,
    deadline: Instant,
) -> Result<Vec<String>, ProbeError> {
    let (target, expect) = expand_http(scope, target, expect).await?;
    let source = pod_view(scope, from).await?;
    // The target may not have an address yet (a pod without IP, a Service without ClusterIP
    // or nodePort): ask again until the deadline.
    let started = Instant::now();
    let resolved = retry::until(deadline, PROBE_RETRY_EVERY, || async {
        resolve(scope, &target, &source).await.map_err(|e| match e {
            // Every node was left out: no later attempt changes that.
            ProbeError::Skip(_) => Retry::Stop(e),
            _ => Retry::Again(e),
        })
    })
    .await
    .map_err(|last| match last {
        ProbeError::Skip(_) => last,
        _ => ProbeError::Unresolved {
            from: source.describe(),
            last: Box::new(last),
            took: started.elapsed(),
        },
    })?;
    let via = scope.env.probe_via;
    let described = source.describe();
    let notes = match target.kind {
        TargetKind::NodePort(_) => resolved.notes(),
        _ => vec![],
    };
    check_every(
        source.describe(),
        &resolved.endpoints,
        resolved.left_out,
        &target,
        &expect,
        deadline,
        |endpoint| {
            let query = dial_query(&target, &endpoint.host, endpoint.port);
            let described = described.clone();
            async move {
                transport::ask(scope, via, from, &query)
                    .await
                    .map_err(|cause| TransportFailure {
                        via,
                        pod: described,
                        cause: cause.to_string(),
                    })
            }
        },
    )
    .await?;
    Ok(notes)
}

/// The `/dial` query that asks netexec to reach `host:port` once. The request is the path
/// without its leading `/`, as upstream's e2e framework sends it: netexec builds
/// `http://host:port/<request>` (and takes a UDP request as a command, `hostname`).
fn dial_query(target: &Target, host: &str, port: u16) -> String {
    let request = target.path.trim_start_matches('/');
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("request", request)
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
    fn http_requests_are_paths_without_the_leading_slash_as_upstream_sends_them() {
        assert_eq!(
            dial_query(&target(), "10.244.1.5", 31080),
            "dial?request=hostname&host=10.244.1.5&port=31080&protocol=http&tries=1"
        );
        let mut echo = target();
        echo.path = "/echo?msg=a b".into();
        assert_eq!(
            dial_query(&echo, "fd00::5", 80),
            "dial?request=echo%3Fmsg%3Da+b&host=fd00%3A%3A5&port=80&protocol=http&tries=1"
        );
    }
}
