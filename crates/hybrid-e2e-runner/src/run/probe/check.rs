//! One check against each address of a target: try until the answers meet the expectation or
//! the deadline passes, judge every answer (reached? the right body?), and say what was seen.
//! Negative checks pass after [`UNREACHABLE_ATTEMPTS`] failed attempts in a row, counting only
//! dials netexec itself reported failed: an attempt whose transport to the source pod failed
//! ([`TransportFailure`]) is no evidence either way, and a check that ends on one fails as
//! [`ProbeError::Transport`], an error of the harness.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use serde::Deserialize;

use super::error::{CheckFailure, ProbeError, TransportFailure};
use super::lookup::Endpoint;
use super::nodes::LeftOut;
use super::protocol_name;
use crate::catalog::{HttpExpect, Protocol, Target};
use crate::run::retry::{self, Retry, PROBE_RETRY_EVERY};

/// Failed attempts in a row that make a negative check pass (routes and endpoints take a
/// moment to converge, so earlier answers are retried, not failed at once).
const UNREACHABLE_ATTEMPTS: usize = 3;

/// One attempt's answer, in the shape of netexec's `/dial` answer: the bodies received, or
/// the errors met on the way.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct DialResponse {
    /// The bodies of the answers.
    #[serde(default)]
    pub(crate) responses: Vec<String>,
    /// Why there was no answer (`dial tcp ...: connect: connection refused`).
    #[serde(default)]
    pub(crate) errors: Vec<String>,
}

/// Checks every endpoint at once, each with the whole budget until `deadline` (one silent
/// address cannot eat the others' time), with `attempt(endpoint)` making one try; fails with
/// what each failing endpoint saw, which answered, and `left_out` (the nodes a NodePort check
/// did not dial, and why), `from` naming where the checks ran.
pub(crate) async fn check_every<F, Fut, E>(
    from: String,
    endpoints: &[Endpoint],
    left_out: Vec<LeftOut>,
    target: &Target,
    expect: &HttpExpect,
    deadline: Instant,
    attempt: F,
) -> Result<(), ProbeError>
where
    F: Fn(&Endpoint) -> Fut,
    Fut: Future<Output = Result<DialResponse, E>>,
    E: Into<TransportFailure>,
{
    let attempt = &attempt;
    let outcomes = futures::future::join_all(endpoints.iter().map(|endpoint| {
        check_one(endpoint, target, expect, deadline, move || {
            attempt(endpoint)
        })
    }))
    .await;
    let mut failures = Vec::new();
    let mut answered = Vec::new();
    for (endpoint, outcome) in endpoints.iter().zip(outcomes) {
        match outcome {
            Ok(()) => answered.push(endpoint.desc.clone()),
            Err(Failed::Transport(transport)) => return Err(ProbeError::Transport(transport)),
            Err(Failed::Check(failure)) => failures.push(failure),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ProbeError::Unanswered {
            from,
            failures,
            answered,
            left_out,
        })
    }
}

/// How one check failed: on what netexec reported, or on the way to netexec.
#[derive(Debug, PartialEq)]
enum Failed {
    Check(CheckFailure),
    Transport(TransportFailure),
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Check(c) => c.fmt(f),
            Failed::Transport(t) => t.fmt(f),
        }
    }
}

/// One check against one address, retried until it passes or the deadline.
async fn check_one<F, Fut, E>(
    endpoint: &Endpoint,
    target: &Target,
    expect: &HttpExpect,
    deadline: Instant,
    mut attempt: F,
) -> Result<(), Failed>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<DialResponse, E>>,
    E: Into<TransportFailure>,
{
    let progress = Mutex::new(Progress::new());
    let shared = &progress;
    let outcome = retry::until(deadline, PROBE_RETRY_EVERY, move || {
        let answer = attempt();
        async move {
            let answer = answer.await.map_err(Into::into);
            if shared
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .record(&answer, expect)
            {
                Ok(())
            } else {
                Err(Retry::Again(()))
            }
        }
    })
    .await;
    if outcome.is_ok() {
        return Ok(());
    }
    let progress = progress
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(transport) = progress.last_transport {
        return Err(Failed::Transport(transport));
    }
    let expected = if expect.unreachable {
        format!("it to become unreachable ({UNREACHABLE_ATTEMPTS} failed attempts in a row), but it answered")
    } else if !expect.bodies.is_empty() {
        format!(
            "answers containing each of {:?}; seen {:?}, missing {:?}",
            expect.bodies,
            progress.bodies,
            missing_bodies(expect, &progress.bodies)
        )
    } else if let Some(ip) = &expect.client_ip {
        format!("the client pod's own IP {ip} as the source")
    } else {
        match &expect.body {
            Some(b) => format!("an answer containing {b:?}"),
            None => "an answer".to_string(),
        }
    };
    let request = format!(
        "{} port {} over {}{} {}",
        endpoint.desc,
        endpoint.port,
        protocol_name(target.protocol),
        match target.protocol {
            Protocol::Http => "GET",
            Protocol::Udp => "request",
        },
        target.path
    );
    Err(Failed::Check(progress.attempts.failure(request, expected)))
}

/// What the attempts of one `http` check have seen so far.
struct Progress {
    attempts: Attempts,
    /// Every body of an answer that reached the target.
    bodies: BTreeSet<String>,
    failed_in_a_row: usize,
    /// The transport failure of the last attempt, if it had one.
    last_transport: Option<TransportFailure>,
}

impl Progress {
    fn new() -> Self {
        Progress {
            attempts: Attempts::new(),
            bodies: BTreeSet::new(),
            failed_in_a_row: 0,
            last_transport: None,
        }
    }

    /// Records one answer; whether the check has passed. A transport failure counts as an
    /// attempt but neither as reached nor as unreachable.
    fn record(
        &mut self,
        answer: &Result<DialResponse, TransportFailure>,
        expect: &HttpExpect,
    ) -> bool {
        if let Err(transport) = answer {
            self.attempts
                .saw(format!("no answer from netexec: {}", transport.cause));
            self.last_transport = Some(transport.clone());
            return false;
        }
        self.last_transport = None;
        let (reached, what) = judge(answer, expect);
        if let (true, Ok(r)) = (reached, answer) {
            self.bodies.extend(r.responses.iter().cloned());
        }
        self.attempts.saw(what);
        self.failed_in_a_row = if reached { 0 } else { self.failed_in_a_row + 1 };
        if expect.unreachable {
            !reached && self.failed_in_a_row >= UNREACHABLE_ATTEMPTS
        } else {
            reached && missing_bodies(expect, &self.bodies).is_empty()
        }
    }
}

/// How many attempts a check made, since when, and the last distinct things they saw.
pub(crate) struct Attempts {
    started: Instant,
    count: usize,
    /// The last distinct things seen, newest first, at most three.
    seen: Vec<String>,
}

impl Attempts {
    /// No attempt yet; the clock starts now.
    pub(crate) fn new() -> Self {
        Attempts {
            started: Instant::now(),
            count: 0,
            seen: Vec::new(),
        }
    }

    /// Counts one attempt that saw `what`.
    pub(crate) fn saw(&mut self, what: String) {
        self.count += 1;
        if self.seen.first() != Some(&what) {
            self.seen.retain(|s| s != &what);
            self.seen.insert(0, what);
            self.seen.truncate(3);
        }
    }

    /// The failure of a check that asked `request` and expected `expected`.
    pub(crate) fn failure(&self, request: String, expected: String) -> CheckFailure {
        let seen = match self.seen.split_first() {
            None => "nothing".into(),
            Some((last, [])) => last.clone(),
            Some((last, earlier)) => format!("{last} (earlier: {})", earlier.join("; ")),
        };
        CheckFailure {
            request,
            expected,
            seen,
            attempts: self.count,
            took: self.started.elapsed(),
        }
    }
}

/// What was wrong with an error text, in the words of the issue: timeout, refused, NXDOMAIN.
pub(crate) fn classify(error: &str) -> &'static str {
    let e = error.to_ascii_lowercase();
    if e.contains("no such host") || e.contains("nxdomain") || e.contains("non-existent domain") {
        "NXDOMAIN"
    } else if e.contains("refused") {
        "refused"
    } else if e.contains("timeout") || e.contains("timed out") {
        "timeout"
    } else {
        "error"
    }
}

/// What one attempt saw: reached (and the bodies of the answer) or why not.
fn judge(answer: &Result<DialResponse, TransportFailure>, expect: &HttpExpect) -> (bool, String) {
    match answer {
        Err(e) => (false, format!("no answer from netexec: {}", e.cause)),
        Ok(r) if !r.errors.is_empty() => (
            false,
            format!("{}: {}", classify(&r.errors[0]), r.errors.join("; ")),
        ),
        Ok(r) if r.responses.is_empty() => (false, "empty answer".to_string()),
        Ok(r) => judge_body(&r.responses, expect),
    }
}

/// Whether the bodies of an answer are what the step expects (any of them, if several).
fn judge_body(responses: &[String], expect: &HttpExpect) -> (bool, String) {
    if let Some(ip) = &expect.client_ip {
        return judge_client_ip(responses, ip);
    }
    let wanted: Vec<&String> = expect.body.iter().chain(expect.bodies.iter()).collect();
    if !wanted.is_empty()
        && !responses
            .iter()
            .any(|b| wanted.iter().any(|w| b.trim().contains(w.as_str())))
    {
        let shown = if wanted.len() == 1 {
            format!("{:?}", wanted[0])
        } else {
            format!("one of {wanted:?}")
        };
        return (
            false,
            format!("wrong body: answer {responses:?}, expected one containing {shown}"),
        );
    }
    (true, format!("answer {responses:?}"))
}

/// Whether netexec's `/clientip` answer (`10.244.1.5:43512`, `[fd00::5]:43512`) names `ip`
/// as the source. The address is parsed, never matched as text: `10.244.1.5` is a prefix of
/// `10.244.1.50`, and an IPv6 address has colons of its own.
fn judge_client_ip(responses: &[String], ip: &str) -> (bool, String) {
    let wanted = ip.parse::<std::net::IpAddr>().ok();
    let seen: Vec<Option<std::net::IpAddr>> = responses
        .iter()
        .map(|r| {
            r.trim()
                .parse::<std::net::SocketAddr>()
                .ok()
                .map(|a| a.ip())
        })
        .collect();
    if wanted.is_some() && seen.contains(&wanted) {
        return (true, format!("answer {responses:?}"));
    }
    let sources: Vec<String> = seen
        .iter()
        .zip(responses)
        .map(|(s, r)| match s {
            Some(addr) => addr.to_string(),
            None => format!("{:?} (not IP:port)", r.trim()),
        })
        .collect();
    (
        false,
        format!(
            "wrong source: the server saw the request come from {}, expected the client pod's \
             IP {ip}",
            sources.join(", ")
        ),
    )
}

/// The bodies an `http` step must see (all of `bodies`) that are not among those seen so far.
fn missing_bodies(expect: &HttpExpect, seen: &BTreeSet<String>) -> Vec<String> {
    expect
        .bodies
        .iter()
        .filter(|b| !seen.iter().any(|s| s.trim().contains(b.as_str())))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::run::probe::test_target as target;

    fn endpoint() -> Endpoint {
        Endpoint {
            host: "10.244.1.5".into(),
            port: 8080,
            desc: "pod \"server\" (linux, node n1) at 10.244.1.5".into(),
        }
    }

    fn answer(body: &str) -> Result<DialResponse, TransportFailure> {
        Ok(DialResponse {
            responses: vec![body.into()],
            errors: vec![],
        })
    }

    fn refused() -> Result<DialResponse, TransportFailure> {
        Ok(DialResponse {
            responses: vec![],
            errors: vec!["dial tcp 10.244.1.5:8080: connect: connection refused".into()],
        })
    }

    fn proxy_blocked() -> TransportFailure {
        TransportFailure {
            via: crate::run::ProbeVia::Proxy,
            pod: "pod \"client\"".into(),
            cause: "error trying to reach service (ServiceUnavailable, 503)".into(),
        }
    }

    #[tokio::test]
    async fn a_negative_check_whose_transport_fails_does_not_pass() {
        let expect = HttpExpect {
            unreachable: true,
            ..HttpExpect::default()
        };
        let deadline = Instant::now() + Duration::from_millis(2500);
        let err = check_every(
            "pod \"client\"".into(),
            &[endpoint()],
            vec![],
            &target(),
            &expect,
            deadline,
            |_| async { Err::<DialResponse, _>(proxy_blocked()) },
        )
        .await
        .unwrap_err();
        assert!(err.is_harness_error(), "{err}");
        assert!(
            err.to_string()
                .contains("through the API server's pod proxy"),
            "{err}"
        );
        // Transport failures between netexec's own failures neither count nor pass the check.
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        let outcome = check_one(&endpoint(), &target(), &expect, deadline, || {
            n += 1;
            let a = if n % 2 == 0 {
                Err(proxy_blocked())
            } else {
                refused()
            };
            async move { a }
        })
        .await;
        assert_eq!(outcome, Ok(()));
        assert_eq!(n, 5, "three refusals counted, two transport failures not");
    }

    #[tokio::test]
    async fn a_positive_check_retries_transport_failures_until_the_deadline() {
        let expect = HttpExpect::default();
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        let outcome = check_one(&endpoint(), &target(), &expect, deadline, || {
            n += 1;
            let a = if n < 3 {
                Err(proxy_blocked())
            } else {
                answer("server")
            };
            async move { a }
        })
        .await;
        assert_eq!(outcome, Ok(()));
    }

    #[tokio::test]
    async fn checks_retry_until_the_path_works() {
        let expect = HttpExpect {
            body: Some("server".into()),
            ..HttpExpect::default()
        };
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        let outcome = check_one(&endpoint(), &target(), &expect, deadline, || {
            n += 1;
            let a = if n < 3 { refused() } else { answer("server") };
            async move { a }
        })
        .await;
        assert_eq!(outcome, Ok(()));
        assert_eq!(n, 3);
    }

    #[tokio::test]
    async fn a_broken_path_fails_within_the_deadline_with_what_it_saw() {
        let expect = HttpExpect {
            body: Some("server".into()),
            ..HttpExpect::default()
        };
        let started = Instant::now();
        let deadline = started + Duration::from_millis(2500);
        let err = check_one(&endpoint(), &target(), &expect, deadline, || async {
            refused()
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(started.elapsed() < Duration::from_millis(2600), "{err}");
        assert!(
            err.starts_with("pod \"server\" (linux, node n1) at 10.244.1.5 port 8080 over http GET /hostname: expected an answer containing \"server\"; saw: refused: "),
            "{err}"
        );
        assert!(err.contains("(3 attempts in 2."), "{err}");
    }

    #[tokio::test]
    async fn negative_checks_wait_for_the_path_to_close() {
        let expect = HttpExpect {
            unreachable: true,
            ..HttpExpect::default()
        };
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        let outcome = check_one(&endpoint(), &target(), &expect, deadline, || {
            n += 1;
            let a = if n < 2 { answer("server") } else { refused() };
            async move { a }
        })
        .await;
        assert_eq!(outcome, Ok(()));
        assert_eq!(n, 4, "one answer, then three failures in a row");
    }

    #[tokio::test]
    async fn negative_checks_restart_the_count_when_the_target_answers() {
        let expect = HttpExpect {
            unreachable: true,
            ..HttpExpect::default()
        };
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_millis(4500);
        let err = check_one(&endpoint(), &target(), &expect, deadline, || {
            n += 1;
            let a = if n == 3 { answer("server") } else { refused() };
            async move { a }
        })
        .await
        .unwrap_err();
        let Failed::Check(err) = err else {
            panic!("not a check failure: {err}");
        };
        assert_eq!(
            err.attempts, 5,
            "refused twice, answered, refused twice: {err}"
        );
        assert!(
            err.to_string().contains(
                "expected it to become unreachable (3 failed attempts in a row), but it answered"
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn bodies_must_all_be_seen() {
        let expect = HttpExpect {
            bodies: vec!["a".into(), "b".into()],
            ..HttpExpect::default()
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        let err = check_one(&endpoint(), &target(), &expect, deadline, || async {
            answer("a")
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("seen {\"a\"}, missing [\"b\"]"), "{err}");
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(3);
        let ok = check_one(&endpoint(), &target(), &expect, deadline, || {
            n += 1;
            let a = answer(if n % 2 == 0 { "a" } else { "b" });
            async move { a }
        })
        .await;
        assert_eq!(ok, Ok(()));
    }

    #[tokio::test]
    async fn every_endpoint_is_checked_and_each_failure_named() {
        let expect = HttpExpect::default();
        let mut other = endpoint();
        other.host = "10.244.2.7".into();
        other.desc = "pod \"server\" (windows, node w1) at 10.244.2.7".into();
        let deadline = Instant::now();
        let err = check_every(
            "pod \"client\"".into(),
            &[endpoint(), other],
            vec![LeftOut {
                node: "vk".into(),
                reason: "virtual".into(),
            }],
            &target(),
            &expect,
            deadline,
            |e: &Endpoint| {
                let reached = e.host == "10.244.1.5";
                async move {
                    if reached {
                        answer("server")
                    } else {
                        refused()
                    }
                }
            },
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "from pod \"client\" to pod \"server\" (windows, node w1) at 10.244.2.7 port 8080"
            ),
            "{err}"
        );
        assert!(!err.contains("; and to "), "only the failing one: {err}");
        assert!(
            err.ends_with(&format!(
                "; answered as expected: {}; left out: node vk (virtual)",
                endpoint().desc
            )),
            "what answered and what was left out are named too: {err}"
        );
    }

    #[test]
    fn client_ips_are_parsed_in_both_forms_never_matched_as_text() {
        let v4 = |answer: &str| judge_client_ip(&[answer.to_string()], "10.244.1.5");
        assert!(v4("10.244.1.5:43512\n").0);
        let (ok, what) = v4("10.244.1.50:43512");
        assert!(
            !ok,
            "a longer address with the same start is another address"
        );
        assert_eq!(
            what,
            "wrong source: the server saw the request come from 10.244.1.50, expected the \
             client pod's IP 10.244.1.5"
        );
        let v6 = |answer: &str| judge_client_ip(&[answer.to_string()], "fd00:10:244:1::5");
        assert!(v6("[fd00:10:244:1::5]:43512").0);
        assert!(!v6("[fd00:10:244:1::6]:43512").0);
        let (ok, what) = v4("oops");
        assert!(!ok);
        assert!(what.contains("\"oops\" (not IP:port)"), "{what}");
    }

    #[test]
    fn attempts_show_the_last_distinct_sightings_newest_first() {
        let mut attempts = Attempts::new();
        for what in ["a", "b", "a", "c", "d", "d"] {
            attempts.saw(what.into());
        }
        let failure = attempts.failure("r".into(), "e".into());
        assert_eq!(failure.seen, "d (earlier: c; a)");
        assert_eq!(failure.attempts, 6);
        assert_eq!(
            Attempts::new().failure("r".into(), "e".into()).seen,
            "nothing"
        );
    }

    #[test]
    fn judging_answers() {
        let expect = HttpExpect {
            body: Some("server".into()),
            ..HttpExpect::default()
        };
        assert!(judge(&answer("server"), &expect).0);
        assert_eq!(
            judge(&answer("other"), &expect),
            (
                false,
                "wrong body: answer [\"other\"], expected one containing \"server\"".into()
            )
        );
        let timeout: Result<DialResponse, TransportFailure> = Ok(DialResponse {
            responses: vec![],
            errors: vec!["dial tcp 10.0.0.1:8080: i/o timeout".into()],
        });
        assert_eq!(
            judge(&timeout, &expect),
            (false, "timeout: dial tcp 10.0.0.1:8080: i/o timeout".into())
        );
        let broken: Result<DialResponse, TransportFailure> = Err(proxy_blocked());
        assert_eq!(
            judge(&broken, &expect),
            (
                false,
                "no answer from netexec: error trying to reach service (ServiceUnavailable, 503)"
                    .into()
            )
        );
    }
}
