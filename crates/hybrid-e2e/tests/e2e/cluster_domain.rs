//! The cluster's own DNS domain, `${cluster-domain}`, end to end: discovered from a Linux pod
//! on a cluster whose domain is not cluster.local (quirk `cluster-domain`: cluster.example),
//! taken from `--cluster-domain` when given (a wrong one makes the FQDN check fail, naming the
//! name), assumed cluster.local with a warning without Linux nodes; a bad flag value and a
//! suite using it where nothing substitutes it exit 2 before touching a cluster.

use std::time::Duration;

use hybrid_sim::{Quirk, SimConfig};
use serde_json::{json, Value};

use crate::common::harness::{hybrid_e2e, results, text, Cluster};

/// The cells using `${cluster-domain}`, Linux clients only (the cheapest that check it).
const CELLS: &[&str] = &[
    "networking/dns[client=linux]",
    "networking/service-by-name[client=linux,server=linux]",
];

/// What one run against a fresh simulated cluster left: exit code, stderr, results.json's
/// `run` and `tests`, the JUnit text, and the run's namespaces still there afterwards.
struct DomainRun {
    code: Option<i32>,
    stderr: String,
    run: Value,
    tests: Vec<Value>,
    junit: String,
    leftovers: Vec<String>,
}

async fn run(config: SimConfig, args: &[&str]) -> DomainRun {
    let cluster = Cluster::start(config).await;
    let mut all: Vec<&str> = vec!["--exact"];
    all.extend(CELLS);
    all.extend(args);
    let out = cluster.run_within(&all, Duration::from_secs(300)).await;
    let reports = cluster.reports();
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(reports.join("results.json")).expect("results.json"),
    )
    .expect("JSON");
    let done = DomainRun {
        code: out.status.code(),
        stderr: text(&out.stderr),
        run: json["run"].clone(),
        tests: results(&reports),
        junit: std::fs::read_to_string(reports.join("junit.xml")).expect("junit.xml"),
        leftovers: cluster.leftover_namespaces().await,
    };
    cluster.sim.shutdown().await;
    done
}

fn with_quirk() -> SimConfig {
    SimConfig {
        quirks: [Quirk::ClusterDomain].into(),
        ..SimConfig::default()
    }
}

fn outcome<'a>(run: &'a DomainRun, name: &str) -> &'a Value {
    run.tests
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} ran: {:#?}", run.tests))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_domain_is_discovered_from_a_linux_pod() {
    let run = run(with_quirk(), &[]).await;
    assert_eq!(run.code, Some(0), "{}\n{:#?}", run.stderr, run.tests);
    for name in CELLS {
        assert_eq!(outcome(&run, name)["outcome"], "passed", "{name}");
    }
    assert_eq!(
        run.run["cluster_domain"],
        json!({"name": "cluster.example", "source": "discovered"})
    );
    assert!(
        run.stderr
            .contains("Cluster domain: cluster.example (discovered)."),
        "{}",
        run.stderr
    );
    assert!(
        run.junit
            .contains(r#"name="cluster.domain" value="cluster.example (discovered)""#),
        "{}",
        run.junit
    );
    assert!(
        run.leftovers.is_empty(),
        "the discovery namespace is gone too: {:?}",
        run.leftovers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_flag_is_used_instead_of_discovery() {
    let run = run(
        with_quirk(),
        &[
            "--cluster-domain",
            "cluster.local.",
            "--timeout-scale",
            "0.1",
        ],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.run["cluster_domain"],
        json!({"name": "cluster.local", "source": "flag"})
    );
    assert!(
        run.stderr
            .contains("Cluster domain: cluster.local (--cluster-domain)."),
        "{}",
        run.stderr
    );
    let by_name = outcome(&run, CELLS[1]);
    assert_eq!(by_name["outcome"], "failed", "{by_name}");
    let message = by_name["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(".svc.cluster.local (service \"web\"") && message.contains("NXDOMAIN"),
        "{message}"
    );
    // The dns test resolves the FQDN under the domain it was given, before its NXDOMAIN check.
    let dns = outcome(&run, CELLS[0]);
    assert_eq!(dns["outcome"], "failed", "{dns}");
    let message = dns["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("nslookup web.") && message.contains(".svc.cluster.local"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_linux_nodes_cluster_local_is_assumed_with_a_warning() {
    let cluster = Cluster::start(SimConfig {
        linux_nodes: 0,
        ..SimConfig::default()
    })
    .await;
    let args = ["--exact", "networking/dns[client=windows]"];
    let out = cluster.run_within(&args, Duration::from_secs(300)).await;
    let stderr = text(&out.stderr);
    let tests = results(&cluster.reports());
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(cluster.reports().join("results.json")).expect("results.json"),
    )
    .expect("JSON");
    cluster.sim.shutdown().await;
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{tests:#?}");
    assert_eq!(tests[0]["outcome"], "passed", "{tests:#?}");
    assert_eq!(
        json["run"]["cluster_domain"],
        json!({"name": "cluster.local", "source": "assumed", "reason": "no Linux node takes test pods"})
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: cluster domain"))
        .collect();
    assert_eq!(
        warnings,
        ["warning: cluster domain: cluster.local (assumed: no Linux node takes test pods); --cluster-domain sets it"],
        "{stderr}"
    );
}

#[test]
fn a_cluster_domain_that_is_no_dns_name_exits_2_naming_the_flag() {
    let (code, _, stderr) = hybrid_e2e(&["run", "--sim", "--cluster-domain", "bad_domain!"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--cluster-domain"), "{stderr}");
    assert!(stderr.contains("bad_domain!"), "{stderr}");
}

#[test]
fn a_suite_using_it_where_nothing_substitutes_it_exits_2_with_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let suite = "suite: custom\ntests:\n  - name: t\n    tags: [\"${cluster-domain}\"]\n    steps:\n      - sleep: 1s\n";
    std::fs::write(dir.path().join("custom.yaml"), suite).expect("suite written");
    let suites = dir.path().display().to_string();
    let (code, _, stderr) = hybrid_e2e(&["run", "--sim", "--suites", &suites]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("custom.yaml:4: tests[0].tags[0]: ${cluster-domain} cannot be used here"),
        "{stderr}"
    );
}
