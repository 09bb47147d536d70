//! The networking suite end to end: the real binary against a simulated cluster started in this
//! process. It passes on a behaving cluster and under each network quirk; each network fault
//! makes exactly the checks it breaks fail, alone and under every network quirk at once, with messages naming
//! source, target, expectation, what was seen and attempts;
//! without Windows nodes the Windows cells skip; `list` selects exactly the cross-OS cells.
//! The opt-in cells (partially qualified names from Windows clients, `windows-pqdn`) skip in
//! every run here, whatever the fault: `windows_dns.rs` selects them.

use std::collections::BTreeSet;
use std::time::Duration;

use hybrid_sim::{Fault, Quirk, SimConfig};

use crate::common::harness::{opt_in_cells, run_against_sim, Run, BIN, OPT_IN_HINT};

/// The cells of the networking suite, by test, with their matrix.
const PAIRS: &[&str] = &[
    "client=linux,server=linux",
    "client=linux,server=windows",
    "client=windows,server=linux",
    "client=windows,server=windows",
];
const PAIR_TESTS: &[&str] = &[
    "pod-to-pod",
    "pod-to-pod-udp",
    "source-ip",
    "service-by-ip",
    "service-by-name",
    "service-by-partial-name",
    "readiness-gating",
    "nodeport",
];

fn all_cells() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for test in PAIR_TESTS {
        for pair in PAIRS {
            out.insert(format!("networking/{test}[{pair}]"));
        }
    }
    for os in ["linux", "windows"] {
        out.insert(format!("networking/service-mixed-endpoints[client={os}]"));
        out.insert(format!("networking/dns[client={os}]"));
        out.insert(format!("networking/dns-partial-names[client={os}]"));
        out.insert(format!("networking/nodeport-external[server={os}]"));
        out.insert(format!("networking/pod-to-pod-same-node[os={os}]"));
        out.insert(format!("networking/pod-to-pod-other-node[os={os}]"));
    }
    out
}

/// The cells a `--tags networking` run runs: all but the opt-in ones.
fn runnable_cells() -> BTreeSet<String> {
    all_cells().difference(&opt_in_cells()).cloned().collect()
}

/// `networking/TEST[PAIR]` for each pair.
fn cells(test: &str, pairs: &[&str]) -> BTreeSet<String> {
    pairs
        .iter()
        .map(|p| format!("networking/{test}[{p}]"))
        .collect()
}

const CROSS: &[&str] = &["client=linux,server=windows", "client=windows,server=linux"];

/// Runs the networking suite with `args` against a fresh simulated cluster.
async fn run(config: SimConfig, args: &[&str]) -> Run {
    let args = [&["--tags", "networking"], args].concat();
    run_against_sim(config, &args, Duration::from_secs(300)).await
}

/// Runs with one fault (fast timeouts) and checks exactly the cells [`broken_by`] names failed,
/// the rest passed (the opt-in cells among them are skipped instead, as in every run here).
async fn run_with_fault(fault: Fault) -> Run {
    run_with_fault_under(fault, BTreeSet::new()).await
}

/// [`run_with_fault`] on a cluster with these quirks too.
async fn run_with_fault_under(fault: Fault, quirks: BTreeSet<Quirk>) -> Run {
    let broken: BTreeSet<String> = broken_by(fault)
        .difference(&opt_in_cells())
        .cloned()
        .collect();
    let under = if quirks.is_empty() {
        String::new()
    } else {
        format!(" under {} quirks", quirks.len())
    };
    let run = run(
        SimConfig {
            faults: [fault].into(),
            quirks,
            ..SimConfig::default()
        },
        &["--timeout-scale", "0.1"],
    )
    .await;
    assert_eq!(run.code, Some(1), "{fault}{under}: {}", run.stderr);
    let failed = run.with_outcome("failed");
    assert!(
        failed == broken,
        "{fault}{under}: failed but should not: {:?}; should fail but did not: {:?}{}",
        failed.difference(&broken).collect::<Vec<_>>(),
        broken.difference(&failed).collect::<Vec<_>>(),
        run.failures()
    );
    let passed: BTreeSet<String> = runnable_cells().difference(&broken).cloned().collect();
    assert_eq!(
        run.with_outcome("passed"),
        passed,
        "{fault}{under}: passed set"
    );
    assert_eq!(
        run.with_outcome("skipped"),
        opt_in_cells(),
        "{fault}{under}"
    );
    run
}

/// The quirks of real clusters' networking: the suite must pass under each, and under all of
/// them at once every network fault must still fail exactly its cells.
const NETWORK_QUIRKS: [Quirk; 7] = [
    Quirk::PodProxyBlocked,
    Quirk::WindowsDnsPqdn,
    Quirk::HostnameLabelDiffers,
    Quirk::VirtualNode,
    Quirk::WindowsNoLocalNodeport,
    Quirk::ClusterDomain,
    Quirk::Ipv6,
];

/// The network faults, each breaking its own cells.
const NETWORK_FAULTS: [Fault; 6] = [
    Fault::CrossOsNetwork,
    Fault::Dns,
    Fault::NoEndpoints,
    Fault::NodeportClosed,
    Fault::Snat,
    Fault::UdpDrop,
];

/// The cells a fault breaks, and no others.
fn broken_by(fault: Fault) -> BTreeSet<String> {
    let mut broken = BTreeSet::new();
    let both = ["linux", "windows"];
    match fault {
        Fault::CrossOsNetwork => {
            for test in PAIR_TESTS {
                broken.extend(cells(test, CROSS));
            }
            for os in both {
                broken.insert(format!("networking/service-mixed-endpoints[client={os}]"));
            }
        }
        Fault::Dns => {
            broken.extend(cells("service-by-name", PAIRS));
            broken.extend(cells("service-by-partial-name", PAIRS));
            for os in both {
                broken.insert(format!("networking/dns[client={os}]"));
                broken.insert(format!("networking/dns-partial-names[client={os}]"));
            }
        }
        Fault::NoEndpoints => {
            for test in [
                "service-by-ip",
                "service-by-name",
                "service-by-partial-name",
                "readiness-gating",
                "nodeport",
            ] {
                broken.extend(cells(test, PAIRS));
            }
            for os in both {
                broken.insert(format!("networking/service-mixed-endpoints[client={os}]"));
                broken.insert(format!("networking/nodeport-external[server={os}]"));
            }
        }
        // A Windows node that drops NodePorts fails every NodePort check: each dials a
        // Windows node (one node per OS), whatever OS the server has.
        Fault::NodeportClosed | Fault::NodeportSilentWindows => {
            broken.extend(cells("nodeport", PAIRS));
            for os in both {
                broken.insert(format!("networking/nodeport-external[server={os}]"));
            }
        }
        Fault::Snat => broken.extend(cells("source-ip", PAIRS)),
        Fault::UdpDrop => {
            broken.extend(cells("pod-to-pod-udp", PAIRS));
            // service-by-ip also reaches the Service's UDP port; the placement tests check UDP too.
            broken.extend(cells("service-by-ip", PAIRS));
            for os in both {
                broken.insert(format!("networking/pod-to-pod-same-node[os={os}]"));
                broken.insert(format!("networking/pod-to-pod-other-node[os={os}]"));
            }
        }
        Fault::ProbesIgnored => broken.extend(cells("readiness-gating", PAIRS)),
        other => panic!("no expected cells for {other}"),
    }
    broken
}

fn assert_has(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "missing {part:?} in: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_suite_passes_on_the_default_sim() {
    let run = run(SimConfig::default(), &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.failures());
    assert_eq!(run.with_outcome("passed"), runnable_cells());
    assert_eq!(run.with_outcome("skipped"), opt_in_cells());
    for name in opt_in_cells() {
        let reason = run.field(&name, "skip_reason");
        assert!(reason.ends_with(OPT_IN_HINT), "{name}: {reason}");
    }
    assert!(run.took < Duration::from_secs(120), "took {:?}", run.took);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cross_os_network_breaks_only_cross_os_cells() {
    let run = run_with_fault(Fault::CrossOsNetwork).await;
    let m = run.message("networking/pod-to-pod[client=linux,server=windows]");
    assert_has(
        m,
        &[
            "from pod \"client\" (linux, node linux-node-",
            "to pod \"server\" (windows, node windows-node-",
            "port 8080 over http GET /hostname",
            "expected an answer containing \"server\"",
            "saw: timeout: ",
            "attempts in ",
        ],
    );
    let m = run.message("networking/service-mixed-endpoints[client=windows]");
    assert_has(
        m,
        &[
            "expected answers containing each of [\"backend-linux\", \"backend-windows\"]",
            "missing [\"backend-linux\"]",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dns_fault_breaks_names_not_addresses() {
    let run = run_with_fault(Fault::Dns).await;
    let m = run.message("networking/dns[client=windows]");
    assert_has(
        m,
        &[
            "from pod \"client\" (windows, node windows-node-",
            "nslookup web over udp to cluster DNS",
            "expected it to resolve to an address",
            "saw: timeout: no DNS server answered",
            "attempts in ",
        ],
    );
    let m = run.message("networking/service-by-name[client=linux,server=windows]");
    assert_has(
        m,
        &[
            "to host web (service \"web\" at 10.96.",
            ") port 80 over http GET /hostname",
            "saw: NXDOMAIN: ",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_endpoints_breaks_every_service_check() {
    let run = run_with_fault(Fault::NoEndpoints).await;
    let m = run.message("networking/service-by-ip[client=windows,server=linux]");
    assert_has(
        m,
        &[
            "from pod \"client\" (windows, node windows-node-",
            "to service \"web\" at 10.96.",
            "port 80 over http GET /hostname",
            "saw: refused: ",
        ],
    );
    let m = run.message("networking/nodeport-external[server=linux]");
    assert_has(m, &["from the harness to nodePort ", "EOF"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodeport_closed_breaks_only_nodeports() {
    let run = run_with_fault(Fault::NodeportClosed).await;
    let m = run.message("networking/nodeport[client=linux,server=windows]");
    assert_has(
        m,
        &[
            "from pod \"client\" (linux, node linux-node-",
            "of service \"web\" on node linux-node-1 (linux, one node per OS) at 10.240.0.10",
            "(windows, the server's node)",
            "saw: refused: ",
        ],
    );
    let m = run.message("networking/nodeport-external[server=windows]");
    assert_has(
        m,
        &["from the harness to nodePort ", "at 127.", "saw: refused: "],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snat_breaks_only_source_ip() {
    let run = run_with_fault(Fault::Snat).await;
    let m = run.message("networking/source-ip[client=windows,server=linux]");
    assert_has(
        m,
        &[
            "from pod \"client\" (windows, node windows-node-",
            "GET /clientip",
            "saw: wrong source: the server saw the request come from 10.240.0.",
            "expected the client pod's IP 10.244.",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn udp_drop_breaks_only_udp_checks() {
    let run = run_with_fault(Fault::UdpDrop).await;
    let m = run.message("networking/pod-to-pod-udp[client=linux,server=windows]");
    assert_has(
        m,
        &[
            "port 8081 over udp request hostname",
            "saw: timeout: reading from ",
        ],
    );
    let m = run.message("networking/service-by-ip[client=linux,server=linux]");
    assert_has(m, &["to service \"web\" at 10.96.", "port 90 over udp"]);
}

/// `probes-ignored` (readiness has no effect): the gated pod never leaves its Service.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn probes_ignored_breaks_readiness_gating() {
    let run = run_with_fault(Fault::ProbesIgnored).await;
    let m = run.message("networking/readiness-gating[client=windows,server=linux]");
    assert_has(
        m,
        &[
            "wait for pod \"server\" to be not ready",
            "pod \"server\" (linux)",
        ],
    );
}

/// A Windows node that never programmed its NodePorts drops them silently: the check dials a
/// Windows node from every client and from the harness (which judges it reachable on the
/// kubelet port, not on the NodePort), so the silent node fails the check instead of being
/// left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_windows_node_with_silent_nodeports_fails_every_nodeport_check() {
    let run = run_with_fault(Fault::NodeportSilentWindows).await;
    let m = run.message("networking/nodeport-external[server=windows]");
    assert_has(
        m,
        &[
            "from the harness to nodePort ",
            "on node windows-node-",
            "(windows, the server's node)",
            "saw: timeout: ",
            "answered as expected: nodePort ",
            "on node linux-node-1 (linux, one node per OS)",
        ],
    );
    let m = run.message("networking/nodeport[client=windows,server=linux]");
    assert_has(
        m,
        &[
            "saw: timeout: ",
            "left out: node windows-node-",
            "the Windows client's own node",
        ],
    );
}

/// Each network fault fails exactly its cells on a cluster with every network quirk at once
/// too: the quirks hide no fault, and none of the verdicts depends on them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_network_fault_fails_exactly_its_cells_under_every_network_quirk() {
    let every: BTreeSet<Quirk> = NETWORK_QUIRKS.into();
    // One at a time: the runs use a tenth of every timeout, which a loaded machine can outlast.
    for fault in NETWORK_FAULTS {
        run_with_fault_under(fault, every.clone()).await;
    }
}

/// Every network quirk alone: the suite passes (only the opt-in cells skip).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_suite_passes_under_each_network_quirk_alone() {
    let runs = futures::future::join_all(NETWORK_QUIRKS.iter().map(|quirk| async {
        let config = SimConfig {
            quirks: [*quirk].into(),
            ..SimConfig::default()
        };
        (*quirk, run(config, &[]).await)
    }))
    .await;
    for (quirk, run) in runs {
        assert_eq!(run.code, Some(0), "{quirk}: {}", run.failures());
        assert_eq!(run.with_outcome("passed"), runnable_cells(), "{quirk}");
    }
}

/// With one Linux node (and the virtual node, which takes no test pods), the Linux cell of
/// `pod-to-pod-other-node` cannot be placed: it is skipped with that reason before any pod is
/// made, never left Unschedulable; same-node and the Windows cells still run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_one_linux_node_the_other_node_cell_is_skipped_with_the_reason() {
    let config = SimConfig {
        linux_nodes: 1,
        quirks: [Quirk::VirtualNode].into(),
        ..SimConfig::default()
    };
    let run = run(config, &["pod-to-pod-same-node", "pod-to-pod-other-node"]).await;
    assert_eq!(run.code, Some(0), "{}", run.failures());
    assert_eq!(
        run.with_outcome("skipped"),
        ["networking/pod-to-pod-other-node[os=linux]".to_string()].into()
    );
    let reason = run.field("networking/pod-to-pod-other-node[os=linux]", "skip_reason");
    assert_has(
        reason,
        &[
            "needs two schedulable nodes with kubernetes.io/os=linux (pods on different nodes), found 1 (linux-node-1)",
            "not counted: virtual-node-aci-linux: ",
        ],
    );
    assert_eq!(run.with_outcome("passed").len(), 3, "{}", run.failures());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_windows_nodes_windows_cells_skip_and_linux_cells_run() {
    let run = run(
        SimConfig {
            windows_nodes: 0,
            ..SimConfig::default()
        },
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let linux_only: BTreeSet<String> = all_cells()
        .into_iter()
        .filter(|n| !n.contains("windows") && !n.contains("mixed-endpoints"))
        .collect();
    assert_eq!(run.with_outcome("passed"), linux_only);
    let skipped = run.with_outcome("skipped");
    assert_eq!(
        skipped,
        all_cells().difference(&linux_only).cloned().collect()
    );
    for name in &skipped {
        let reason = run.field(name, "skip_reason");
        assert!(reason.contains("windows"), "{name}: {reason}");
    }
}

#[test]
fn list_hybrid_selects_exactly_the_cross_os_cells() {
    let out = std::process::Command::new(BIN)
        .args(["list", "--tags", "networking && hybrid"])
        .output()
        .expect("binary runs");
    assert!(out.status.success());
    let listed: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("networking/"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    let cross: BTreeSet<String> = all_cells()
        .into_iter()
        .filter(|n| (n.contains("linux") && n.contains("windows")) || n.contains("mixed"))
        .collect();
    assert_eq!(listed, cross);
}
