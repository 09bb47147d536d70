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

/// Reads `nslookup` output (BIND's on both OSes, busybox's, Windows' own) for its FINAL
/// answer: an address after a `Name:` line outside the server block wins over earlier
/// timeouts or NXDOMAIN lines (BIND prints `;; connection timed out; trying next origin` for a
/// search-list name and then may answer for the next); else NXDOMAIN; else a timeout.
fn judge_nslookup(code: i32, stdout: &str, stderr: &str) -> Lookup {
    let _ = code;
    let all = format!("{stdout}\n{stderr}");
    let mut in_server_block = false;
    let mut after_name = false;
    let mut answer = None;
    for line in all.lines() {
        let line = line.trim();
        if line.is_empty() {
            in_server_block = false;
            continue;
        }
        if line.starts_with("Server:") {
            in_server_block = true;
            after_name = false;
            continue;
        }
        if line.starts_with("Name:") {
            in_server_block = false;
            after_name = true;
            continue;
        }
        if after_name && !in_server_block {
            let address = line
                .strip_prefix("Addresses:")
                .or_else(|| line.strip_prefix("Address:"))
                .map(str::trim)
                .filter(|a| !a.is_empty());
            if let (Some(a), None) = (address, &answer) {
                answer = Some(a.to_string());
            }
        }
    }
    if let Some(ip) = answer {
        return Lookup::Resolved(ip);
    }
    let lower = all.to_ascii_lowercase();
    if lower.contains("nxdomain") || lower.contains("non-existent domain") {
        return Lookup::NxDomain;
    }
    if lower.contains("timed out")
        || lower.contains("timed-out")
        || lower.contains("no servers could")
    {
        return Lookup::Timeout;
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
    fn binds_final_answer_wins_over_earlier_search_list_failures() {
        let bind_ok = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\nName:\tweb.t.svc.cluster.local\nAddress: 10.96.1.1\n\n";
        assert_eq!(
            judge_nslookup(0, bind_ok, ""),
            Lookup::Resolved("10.96.1.1".into())
        );
        let after_timeout = format!(";; connection timed out; trying next origin\n{bind_ok}");
        assert_eq!(
            judge_nslookup(0, &after_timeout, ""),
            Lookup::Resolved("10.96.1.1".into())
        );
        let windows_bind = bind_ok.replace('\n', "\r\n");
        assert_eq!(
            judge_nslookup(0, &windows_bind, ""),
            Lookup::Resolved("10.96.1.1".into())
        );
        let bind_nx = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n** server can't find no-such-service.t.svc.cluster.local: NXDOMAIN\n\n";
        assert_eq!(judge_nslookup(1, bind_nx, ""), Lookup::NxDomain);
        let all_timed_out = ";; connection timed out; trying next origin\n;; connection timed out; trying next origin\n;; connection timed out; no servers could be reached\n\n";
        assert_eq!(judge_nslookup(1, all_timed_out, ""), Lookup::Timeout);
        // BIND 9.18 wording of the same.
        let bind18 =
            ";; communications error to 10.96.0.10#53: timed out\n;; no servers could be reached\n";
        assert_eq!(judge_nslookup(1, bind18, ""), Lookup::Timeout);
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
