//! How `http` probes reach the source pod's netexec (`--probe-via`), against a simulated
//! cluster whose API server cannot reach pod IPs (quirk `pod-proxy-blocked`, as on GKE private
//! clusters): the default (`exec`: curl in the pod) passes; `--probe-via proxy` fails with a
//! message that blames the proxy path, never pod networking, and negative checks
//! (`readiness-gating`) do not pass on transport errors.

use std::time::Duration;

use hybrid_sim::{Quirk, SimConfig};

use crate::common::harness::{hybrid_e2e, run_against_sim, Run};

fn blocked_proxy() -> SimConfig {
    SimConfig {
        quirks: [Quirk::PodProxyBlocked].into(),
        ..SimConfig::default()
    }
}

async fn networking(args: &[&str]) -> Run {
    let args = [&["--tags", "networking"], args].concat();
    run_against_sim(blocked_proxy(), &args, Duration::from_secs(300)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn probes_by_exec_pass_where_the_pod_proxy_is_blocked() {
    let run = networking(&[]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.failures(), run.stderr);
    assert!(run.named("failed").is_empty(), "{}", run.failures());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn probes_through_a_blocked_pod_proxy_blame_the_proxy_and_gate_nothing() {
    let run = networking(&["--probe-via", "proxy", "--timeout-scale", "0.1"]).await;
    assert_ne!(run.code, Some(0), "{}", run.stderr);
    let message = run.message("networking/pod-to-pod[client=linux,server=windows]");
    for part in [
        "the probe could not reach netexec in pod \"client\"",
        "through the API server's pod proxy",
        "error trying to reach service: dial tcp ",
        ": i/o timeout",
        "not pod networking",
        "run with --probe-via exec (the default)",
    ] {
        assert!(message.contains(part), "missing {part:?} in: {message}");
    }
    for wording in ["expected an answer", "saw: timeout"] {
        assert!(
            !message.contains(wording),
            "a verdict on pod networking ({wording:?}): {message}"
        );
    }
    // Negative checks: a broken transport is no evidence that the Service is closed.
    let gating: Vec<&serde_json::Value> = run
        .tests
        .iter()
        .filter(|t| {
            t["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("networking/readiness-gating["))
        })
        .collect();
    assert_eq!(gating.len(), 4, "{:#?}", run.tests);
    for cell in gating {
        assert_eq!(cell["outcome"], "error", "an error of the harness: {cell}");
    }
    assert_eq!(
        run.test("networking/pod-to-pod[client=linux,server=windows]")["outcome"],
        "error"
    );
}

#[test]
fn an_unknown_transport_is_a_usage_error() {
    let (code, _, stderr) = hybrid_e2e(&["run", "--sim", "--probe-via", "carrier-pigeon"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid value 'carrier-pigeon' for '--probe-via <HOW>'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[possible values: exec, proxy]"),
        "{stderr}"
    );
}
