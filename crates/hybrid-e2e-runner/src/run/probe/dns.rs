//! The `dns` step: `nslookup NAME` in a pod, retried until it resolves (or does not exist, as
//! expected), and the reading of `nslookup`'s output on Linux and Windows.

use std::sync::Mutex;
use std::time::Instant;

use super::check::Attempts;
use super::error::ProbeError;
use super::lookup::pod_view;
use super::{excerpt, expand};
use crate::catalog::DnsExpect;
use crate::run::retry::{self, Retry, PROBE_RETRY_EVERY};
use crate::run::scope::TestScope;

/// Runs a `dns` step: `nslookup NAME` in pod `from`, retried until the expectation holds.
pub(crate) async fn dns(
    scope: &TestScope<'_>,
    from: &str,
    name: &str,
    expect: DnsExpect,
    deadline: Instant,
) -> Result<(), ProbeError> {
    let name = expand(scope, name).await?;
    let command = vec!["nslookup".to_string(), name.clone()];
    let attempts = Mutex::new(Attempts::new());
    let outcome = retry::until(deadline, PROBE_RETRY_EVERY, || async {
        let (code, stdout, stderr) = scope
            .exec(from, None, &command)
            .await
            .map_err(|e| Retry::Stop(Some(ProbeError::Exec(Box::new(e)))))?;
        let answer = judge_nslookup(code, &stdout, &stderr);
        let ok = matches!(
            (&answer, expect),
            (Lookup::Resolved(_), DnsExpect::Resolves) | (Lookup::NxDomain, DnsExpect::Nxdomain)
        );
        attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .saw(answer.describe(code, &stdout, &stderr));
        if ok {
            Ok(())
        } else {
            Err(Retry::Again(None))
        }
    })
    .await;
    match outcome {
        Ok(()) => Ok(()),
        Err(Some(error)) => Err(error),
        Err(None) => {
            let expected = match expect {
                DnsExpect::Resolves => "it to resolve to an address",
                DnsExpect::Nxdomain => "NXDOMAIN (the name does not exist)",
            };
            let failure = attempts
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .failure(
                    format!("nslookup {name} over udp to cluster DNS"),
                    expected.to_string(),
                );
            let source = pod_view(scope, from).await?;
            Err(ProbeError::Dns {
                from: source.describe(),
                failure,
            })
        }
    }
}

/// What an `nslookup` run said.
#[derive(Debug, PartialEq, Eq)]
enum Lookup {
    /// The first address of the name.
    Resolved(String),
    NxDomain,
    Timeout,
    Other,
}

impl Lookup {
    /// What the run saw, for messages.
    fn describe(&self, code: i32, stdout: &str, stderr: &str) -> String {
        match self {
            Lookup::Resolved(ip) => format!("resolved to {ip}"),
            Lookup::NxDomain => "NXDOMAIN".into(),
            Lookup::Timeout => "timeout: no DNS server answered".into(),
            Lookup::Other => format!(
                "exit code {code}, output {:?}",
                excerpt(&format!("{stdout}{stderr}"))
            ),
        }
    }
}

/// Reads `nslookup` output (busybox / bind-tools on Linux, Windows' own): the address after
/// the `Name:` line, NXDOMAIN, or a timeout.
fn judge_nslookup(code: i32, stdout: &str, stderr: &str) -> Lookup {
    let all = format!("{stdout}\n{stderr}").to_ascii_lowercase();
    if all.contains("nxdomain") || all.contains("non-existent domain") {
        return Lookup::NxDomain;
    }
    if all.contains("timed out") || all.contains("timed-out") || all.contains("no servers could") {
        return Lookup::Timeout;
    }
    if code == 0 {
        let after_name = stdout
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("Name:"))
            .skip(1)
            .find_map(|l| {
                let l = l.trim();
                l.strip_prefix("Address:")
                    .or_else(|| l.strip_prefix("Addresses:"))
                    .map(|a| a.trim().to_string())
            });
        if let Some(ip) = after_name.filter(|a| !a.is_empty()) {
            return Lookup::Resolved(ip);
        }
    }
    Lookup::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nslookup_outputs_of_both_oses() {
        let linux_ok = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\nName:\tkubernetes.default.svc.cluster.local\nAddress: 10.96.0.1\n";
        assert_eq!(
            judge_nslookup(0, linux_ok, ""),
            Lookup::Resolved("10.96.0.1".into())
        );
        let windows_ok = "Server:  kube-dns.kube-system.svc.cluster.local\r\nAddress:  10.96.0.10\r\n\r\nName:    kubernetes.default.svc.cluster.local\r\nAddress:  10.96.0.1\r\n";
        assert_eq!(
            judge_nslookup(0, windows_ok, ""),
            Lookup::Resolved("10.96.0.1".into())
        );
        assert_eq!(
            judge_nslookup(1, "", "** server can't find nope: NXDOMAIN\n"),
            Lookup::NxDomain
        );
        assert_eq!(
            judge_nslookup(
                1,
                "",
                "*** kube-dns can't find nope: Non-existent domain\r\n"
            ),
            Lookup::NxDomain
        );
        assert_eq!(
            judge_nslookup(
                1,
                ";; connection timed out; no servers could be reached\n",
                ""
            ),
            Lookup::Timeout
        );
        // The server's own address is not the answer.
        assert_eq!(
            judge_nslookup(0, "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n", ""),
            Lookup::Other
        );
    }

    #[test]
    fn other_outputs_are_shown_shortened() {
        let long = "x".repeat(300);
        assert_eq!(
            Lookup::Other.describe(2, &long, "!"),
            format!("exit code 2, output {:?}", "x".repeat(200))
        );
    }
}
