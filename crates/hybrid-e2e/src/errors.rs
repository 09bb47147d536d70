//! Every way a command can end other than success, and the one match from each to its
//! documented exit code (cargo-nextest's `ExpectedError::process_exit_code`).

use std::io;

use hybrid_control_plane::ControlPlaneError;
use hybrid_e2e_runner::cluster::DiscoveryError;
use hybrid_e2e_runner::render::RenderError;
use hybrid_e2e_runner::run::connect::ConnectError;
use hybrid_e2e_runner::run::{error_chain, RunError};
use hybrid_sim::SimError;

use crate::exit;
use crate::plan::PlanError;

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The flags, the suites or the tag expression do not make a plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A fixture could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// No client could be made from the kubeconfig.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The async runtime would not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] io::Error),
    /// The simulated cluster would not start.
    #[error("cannot start the simulated cluster")]
    Sim(#[source] SimError),
    /// The real control plane would not start (its error names the component and its log).
    #[error("cannot start the real control plane")]
    ControlPlane(#[source] ControlPlaneError),
    /// The files the simulated nodes share with the real control plane could not be made.
    #[error("cannot prepare the real control plane's files")]
    SimFiles(#[source] io::Error),
    /// The run stopped before its tests (the reports say why too).
    #[error(transparent)]
    Run(#[from] RunError),
    /// Reading the cluster failed (doctor).
    #[error("cluster at {server}")]
    Discovery {
        /// Where the client pointed.
        server: String,
        /// What went wrong.
        #[source]
        source: DiscoveryError,
    },
    /// Deleting namespaces failed (cleanup).
    #[error("cluster at {server}")]
    Cleanup {
        /// Where the client pointed.
        server: String,
        /// What went wrong.
        #[source]
        source: kube::Error,
    },
    /// Namespaces were still terminating when cleanup stopped waiting.
    #[error("still terminating after 5 minutes: {}", .0.join(", "))]
    NamespacesLeft(Vec<String>),
    /// Writing to stdout failed (a closed pipe is not an error: see `exit_code`).
    #[error("cannot write to standard output")]
    Output(#[source] io::Error),
    /// At least one test failed or ended in error (the harness could not check it; the console
    /// and the reports said which). Both are exit code 1.
    #[error("{0} test(s) failed or errored")]
    TestsFailed(usize),
    /// `--prepull` failed (the console and the reports' `hybrid-e2e/prepull` case said
    /// where); the tests passed. Exit code 1.
    #[error("the pre-pull failed (see the hybrid-e2e/prepull case of the reports)")]
    PrepullFailed,
    /// `--fail-on-flaky` and at least one test passed only after failing (the console has
    /// said which).
    #[error("{0} test(s) passed only after failing (--fail-on-flaky)")]
    FlakyTests(usize),
    /// Ctrl-C stopped the run (the console said so, and what was cleaned up).
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// The documented exit code (see `exit.rs` and the README).
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            _ if plugin_failure(self).is_some() => exit::USAGE,
            Error::Plan(_)
            | Error::Render(_)
            | Error::Connect(_)
            | Error::Runtime(_)
            | Error::Sim(_)
            | Error::ControlPlane(_)
            | Error::SimFiles(_) => exit::USAGE,
            Error::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => exit::OK,
            Error::Output(_) => exit::USAGE,
            Error::Run(RunError::Discovery { .. })
            | Error::Run(RunError::MissingPermissions { .. })
            | Error::Discovery { .. }
            | Error::Cleanup { .. }
            | Error::NamespacesLeft(_) => exit::CLUSTER,
            Error::TestsFailed(_) | Error::FlakyTests(_) | Error::PrepullFailed => {
                exit::TEST_FAILED
            }
            Error::Interrupted => exit::INTERRUPTED,
        }
    }

    /// The line for stderr, or None when the console has said it already (failed tests, an
    /// interrupt) or there is nothing to say (a closed pipe, as ripgrep treats it).
    pub(crate) fn message(&self) -> Option<String> {
        match self {
            Error::TestsFailed(_) | Error::Interrupted => None,
            Error::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => None,
            other => Some(format!("error: {}", other.reason())),
        }
    }

    /// What happened, with its causes, on one line, and what to do where we know it (also the
    /// reason the report of a run that could not start gives).
    pub(crate) fn reason(&self) -> String {
        match self {
            Error::Connect(e) => with_hint(e),
            other => match plugin_failure(other) {
                Some(plugin) => with_hint(plugin),
                None => error_chain(other),
            },
        }
    }
}

fn with_hint(error: &ConnectError) -> String {
    match what_to_do(error) {
        Some(hint) => format!("{} ({hint})", error_chain(error)),
        None => error_chain(error),
    }
}

/// A credential plugin that failed when kube re-ran it (its token expired; seen at discovery or
/// in a step) is the same configuration error as one failing at the start.
fn plugin_failure(error: &Error) -> Option<&ConnectError> {
    let mut cause = std::error::Error::source(error);
    while let Some(current) = cause {
        if let Some(found @ ConnectError::CredentialPlugin { .. }) = current.downcast_ref() {
            return Some(found);
        }
        cause = current.source();
    }
    None
}

/// What the user can do about a missing kubeconfig, in this binary's flags.
fn what_to_do(error: &ConnectError) -> Option<&'static str> {
    match error {
        ConnectError::MissingKubeconfig(_) => {
            Some("pass --kubeconfig PATH, set KUBECONFIG, or try --sim")
        }
        ConnectError::NoKubeconfig => Some("pass --kubeconfig PATH, or try --sim"),
        ConnectError::UnknownContext { .. } => Some("pass --context NAME with one of them"),
        ConnectError::BadProxyUrl { .. } => {
            Some("want http://HOST:PORT, https://HOST:PORT or socks5://HOST:PORT")
        }
        ConnectError::CredentialPlugin { .. } => {
            Some("run it yourself to see why it gives no ExecCredential")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hybrid_e2e_runner::run::preflight::Permission;

    #[test]
    fn a_closed_pipe_is_success_and_says_nothing() {
        let error = Error::Output(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!(error.exit_code(), exit::OK);
        assert_eq!(error.message(), None);
    }

    #[test]
    fn each_kind_has_its_documented_code() {
        assert_eq!(Error::TestsFailed(2).exit_code(), exit::TEST_FAILED);
        assert_eq!(Error::FlakyTests(1).exit_code(), exit::TEST_FAILED);
        assert_eq!(Error::PrepullFailed.exit_code(), exit::TEST_FAILED);
        assert_eq!(Error::Interrupted.exit_code(), exit::INTERRUPTED);
        assert_eq!(
            Error::Plan(PlanError::TimeoutScale(0.0)).exit_code(),
            exit::USAGE
        );
        assert_eq!(
            Error::NamespacesLeft(vec!["a".into()]).exit_code(),
            exit::CLUSTER
        );
    }

    #[test]
    fn missing_permissions_exit_3_naming_each_one() {
        let exec = |verb: &str| Permission {
            group: String::new(),
            resource: "pods".into(),
            subresource: "exec".into(),
            verb: verb.into(),
        };
        let error = Error::Run(RunError::MissingPermissions {
            server: "https://k:6443".into(),
            missing: vec![exec("create"), exec("get")],
        });
        assert_eq!(error.exit_code(), exit::CLUSTER);
        assert_eq!(
            error.message().as_deref(),
            Some("error: cluster at https://k:6443: the credentials may not do what the selected tests need: cannot create pods/exec cluster-wide; cannot get pods/exec cluster-wide")
        );
    }

    #[test]
    fn a_missing_kubeconfig_says_what_to_do() {
        let error = Error::Connect(ConnectError::MissingKubeconfig("/x".into()));
        assert_eq!(
            error.message().as_deref(),
            Some("error: kubeconfig /x does not exist (pass --kubeconfig PATH, set KUBECONFIG, or try --sim)")
        );
    }

    #[test]
    fn a_credential_plugin_that_cannot_run_is_a_configuration_error() {
        let error = Error::Connect(ConnectError::CredentialPlugin {
            origin: "kubeconfig /x".into(),
            user: "eks".into(),
            command: "aws".into(),
            problem: hybrid_e2e_runner::run::connect::PluginProblem::NotFound { on_path: true },
        });
        assert_eq!(error.exit_code(), exit::USAGE);
        assert_eq!(
            error.message().as_deref(),
            Some("error: kubeconfig /x: user \"eks\": credential plugin \"aws\" not found on PATH (run it yourself to see why it gives no ExecCredential)")
        );
    }

    #[test]
    fn a_bad_proxy_says_what_a_proxy_url_looks_like() {
        let error = Error::Connect(ConnectError::BadProxyUrl {
            field: "HTTPS_PROXY".into(),
            value: "proxy".into(),
            problem: "no scheme".into(),
        });
        assert_eq!(error.exit_code(), exit::USAGE);
        assert_eq!(
            error.message().as_deref(),
            Some("error: HTTPS_PROXY \"proxy\" is not a proxy URL: no scheme (want http://HOST:PORT, https://HOST:PORT or socks5://HOST:PORT)")
        );
    }

    #[test]
    fn the_message_carries_the_causes_on_one_line() {
        let error = Error::Runtime(io::Error::other("no threads"));
        assert_eq!(
            error.message().as_deref(),
            Some("error: cannot start the async runtime: no threads")
        );
    }
}
