//! Why a probe failed or could not be made: [`ProbeError`], [`CheckFailure`], what one
//! address did instead of what was expected, and [`TransportFailure`], the harness's own path
//! to the source pod failing. The Display texts are the report's messages.

use std::fmt;
use std::time::Duration;

use super::nodes::LeftOut;
use crate::kube_error::api_message;
use crate::run::placeholders::PlaceholderError;
use crate::run::ProbeVia;

/// Why an `http` or `dns` step failed, or why it cannot be made from here ([`ProbeError::Skip`]).
/// (`pub`, not `pub(crate)`, only because the public `StepError` holds one.)
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProbeError {
    /// A run-time placeholder in the step has no value.
    #[error("{0}")]
    Placeholder(#[from] PlaceholderError),
    /// A pod the check names cannot be read.
    #[error("cannot read pod \"{name}\": {}", api_message(.source))]
    ReadPod {
        /// The pod's name.
        name: String,
        /// What the API server said.
        #[source]
        source: kube::Error,
    },
    /// A Service the check names cannot be read.
    #[error("cannot read service \"{name}\": {}", api_message(.source))]
    ReadService {
        /// The Service's name.
        name: String,
        /// What the API server said.
        #[source]
        source: kube::Error,
    },
    /// The nodes cannot be listed.
    #[error("cannot list nodes: {}", api_message(.source))]
    ListNodes {
        /// What the API server said.
        #[source]
        source: kube::Error,
    },
    /// The target pod has no IP yet.
    #[error("target pod \"{0}\" has no IP yet")]
    PodWithoutIp(String),
    /// The target Service has no ClusterIP (yet, or it is headless).
    #[error("service \"{0}\" has no ClusterIP")]
    NoClusterIp(String),
    /// The Service has no nodePort for the target's protocol and port.
    #[error(
        "service \"{service}\" (type {service_type}) has no {protocol} nodePort{}",
        for_port(*port)
    )]
    NoNodePort {
        /// The Service's name.
        service: String,
        /// Its `spec.type`.
        service_type: String,
        /// `TCP` or `UDP`.
        protocol: &'static str,
        /// The Service port the target names (0: any).
        port: u16,
    },
    /// The pods of a Service cannot be listed.
    #[error("cannot list pods {selector}: {}", api_message(.source))]
    ListPods {
        /// The Service's selector.
        selector: String,
        /// What the API server said.
        #[source]
        source: kube::Error,
    },
    /// No node is Ready, so there is no nodePort to dial.
    #[error("no Ready node to dial")]
    NoReadyNode,
    /// The target never got an address to dial before the deadline.
    #[error("from {from}: {last} (still after {:.1}s)", took.as_secs_f64())]
    Unresolved {
        /// The source pod, described.
        from: String,
        /// Why the last attempt found no address.
        #[source]
        last: Box<ProbeError>,
        /// How long it was asked for.
        took: Duration,
    },
    /// Some addresses did not answer as expected before the deadline.
    #[error("from {from} to {}{}{}", join(failures), also("answered as expected", answered), also("left out", &left_out.iter().map(ToString::to_string).collect::<Vec<_>>()))]
    Unanswered {
        /// The source pod described, or `the harness`.
        from: String,
        /// What went wrong at each address that failed.
        failures: Vec<CheckFailure>,
        /// The addresses that answered as expected, described (when several were dialled).
        answered: Vec<String>,
        /// The nodes a NodePort check left out, with why.
        left_out: Vec<LeftOut>,
    },
    /// The probe never got netexec's answer from the source pod: the harness's path into the
    /// pod failed, which says nothing about the target (an error of the harness, not a verdict).
    #[error("{0}")]
    Transport(TransportFailure),
    /// The harness dials only node ports and hosts.
    #[error("the harness cannot reach {0} targets")]
    HarnessCannotReach(String),
    /// The command of a `dns` step could not be run in the pod.
    #[error("{0}")]
    Exec(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The name did not resolve as expected before the deadline.
    #[error("from {from}: {failure}")]
    Dns {
        /// The pod that ran `nslookup`, described.
        from: String,
        /// What its lookups saw.
        failure: CheckFailure,
    },
    /// The check cannot be made from here (no node address reachable from the harness): the
    /// test is skipped with this reason, not failed.
    #[error("skipped: {0}")]
    Skip(String),
}

impl ProbeError {
    /// Whether the failure is the harness's own (its path to the source pod broke), not a
    /// verdict on what the test checks: reported as an error, not a failure.
    pub(crate) fn is_harness_error(&self) -> bool {
        matches!(self, ProbeError::Transport(_))
    }
}

/// The path from the harness to netexec in the source pod failed (`--probe-via`): exec or
/// curl in the pod, or the API server's pod proxy. (`pub` only because [`ProbeError`] is.)
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TransportFailure {
    /// The transport that failed.
    pub(crate) via: ProbeVia,
    /// The source pod, described.
    pub(crate) pod: String,
    /// What the last attempt met on the way.
    pub(crate) cause: String,
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let TransportFailure { via, pod, cause } = self;
        match via {
            ProbeVia::Proxy => write!(
                f,
                "the probe could not reach netexec in {pod} through the API server's pod proxy \
                 ({cause}): that is the API server's path to the pod, not pod networking; run \
                 with --probe-via exec (the default)"
            ),
            ProbeVia::Exec => write!(
                f,
                "the probe could not reach netexec in {pod} by running curl in it through \
                 pods/exec ({cause}): that is the harness's path into the pod, not pod \
                 networking; --probe-via proxy asks through the API server's pod proxy instead"
            ),
        }
    }
}

/// A check whose attempts never fail on the way to the source pod (the harness's own client).
impl From<std::convert::Infallible> for TransportFailure {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// ` for port 80`, or nothing for port 0.
fn for_port(port: u16) -> String {
    if port == 0 {
        String::new()
    } else {
        format!(" for port {port}")
    }
}

/// `; <what>: a; b`, or nothing when `items` is empty.
fn also(what: &str, items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!("; {what}: {}", items.join("; "))
    }
}

fn join(failures: &[CheckFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; and to ")
}

/// What one check saw instead of what it expected:
/// `<request>: expected <expected>; saw: <seen> (<n> attempts in <s>s)`.
/// (`pub` only because [`ProbeError`] is.)
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckFailure {
    /// What was asked of whom: `pod "server" (...) at 10.0.0.5 port 8080 over http GET /`.
    pub(crate) request: String,
    /// What should have happened, after `expected `.
    pub(crate) expected: String,
    /// The last distinct answers, newest first.
    pub(crate) seen: String,
    /// How many attempts were made.
    pub(crate) attempts: usize,
    /// How long they took.
    pub(crate) took: Duration,
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}; saw: {} ({} attempt{} in {:.1}s)",
            self.request,
            self.expected,
            self.seen,
            self.attempts,
            if self.attempts == 1 { "" } else { "s" },
            self.took.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(attempts: usize) -> CheckFailure {
        CheckFailure {
            request: "host web port 80 over http GET /".into(),
            expected: "an answer".into(),
            seen: "refused: no".into(),
            attempts,
            took: Duration::from_millis(2049),
        }
    }

    #[test]
    fn failures_read_as_one_sentence() {
        assert_eq!(
            failure(1).to_string(),
            "host web port 80 over http GET /: expected an answer; saw: refused: no (1 attempt in 2.0s)"
        );
        let both = ProbeError::Unanswered {
            from: "the harness".into(),
            failures: vec![failure(2), failure(3)],
            answered: vec![],
            left_out: vec![],
        };
        assert_eq!(
            both.to_string(),
            "from the harness to host web port 80 over http GET /: expected an answer; saw: refused: no (2 attempts in 2.0s); \
             and to host web port 80 over http GET /: expected an answer; saw: refused: no (3 attempts in 2.0s)"
        );
    }

    #[test]
    fn a_node_port_failure_also_names_what_answered_and_what_was_left_out() {
        let error = ProbeError::Unanswered {
            from: "pod \"client\"".into(),
            failures: vec![failure(2)],
            answered: vec!["nodePort 31000 on node l1".into()],
            left_out: vec![LeftOut {
                node: "vk".into(),
                reason: "virtual".into(),
            }],
        };
        assert!(
            error.to_string().ends_with(
                "(2 attempts in 2.0s); answered as expected: nodePort 31000 on node l1; \
                 left out: node vk (virtual)"
            ),
            "{error}"
        );
    }

    #[test]
    fn api_errors_show_the_servers_message_not_a_debug_dump() {
        let status =
            kube::core::Status::failure("pods \"server\" not found", "NotFound").with_code(404);
        let error = ProbeError::ReadPod {
            name: "server".into(),
            source: kube::Error::Api(status.boxed()),
        };
        assert_eq!(
            error.to_string(),
            "cannot read pod \"server\": pods \"server\" not found (NotFound, 404)"
        );
    }

    #[test]
    fn transport_failures_blame_the_path_to_the_pod_not_pod_networking() {
        let proxy = ProbeError::Transport(TransportFailure {
            via: ProbeVia::Proxy,
            pod: "pod \"client\"".into(),
            cause: "error trying to reach service: dial tcp 10.244.0.5:8080: i/o timeout \
                    (ServiceUnavailable, 503)"
                .into(),
        });
        assert_eq!(
            proxy.to_string(),
            "the probe could not reach netexec in pod \"client\" through the API server's pod \
             proxy (error trying to reach service: dial tcp 10.244.0.5:8080: i/o timeout \
             (ServiceUnavailable, 503)): that is the API server's path to the pod, not pod \
             networking; run with --probe-via exec (the default)"
        );
        assert!(proxy.is_harness_error());
        let exec = ProbeError::Transport(TransportFailure {
            via: ProbeVia::Exec,
            pod: "pod \"client\"".into(),
            cause: "curl exited with code 127".into(),
        });
        let text = exec.to_string();
        assert!(
            text.contains("by running curl in it through pods/exec (curl exited with code 127)"),
            "{text}"
        );
        assert!(text.contains("not pod networking"), "{text}");
        assert!(!ProbeError::NoReadyNode.is_harness_error());
    }

    #[test]
    fn node_port_errors_name_the_port_only_when_given() {
        let error = |port| ProbeError::NoNodePort {
            service: "web".into(),
            service_type: "ClusterIP".into(),
            protocol: "TCP",
            port,
        };
        assert_eq!(
            error(0).to_string(),
            "service \"web\" (type ClusterIP) has no TCP nodePort"
        );
        assert_eq!(
            error(80).to_string(),
            "service \"web\" (type ClusterIP) has no TCP nodePort for port 80"
        );
    }
}
