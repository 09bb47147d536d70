//! Tainted node pools and `--tolerate`, end to end with `run --sim --quirk tainted-linux-pool`
//! (every Linux node but the first carries `CriticalAddonsOnly=true:NoSchedule`, as AKS system
//! pools do): the catalog passes, the cells that need two Linux nodes skip naming the taint and
//! the `--tolerate` that would let them run; with that `--tolerate` they run and pass. `doctor`
//! shows the same, `render` shows the tolerations, and malformed values exit 2.

use hybrid_sim::{Quirk, SimConfig};

use crate::common::harness::{hybrid_e2e, opt_in_cells, run_sim, text, Cluster, Run, BIN};

const TAINT: &str = "CriticalAddonsOnly=true:NoSchedule";

/// `hybrid-e2e run --sim --quirk tainted-linux-pool ARGS`.
async fn run_tainted(args: &[&str]) -> Run {
    run_sim(&[&["--quirk", "tainted-linux-pool"], args].concat()).await
}
/// The one cell of the catalog that needs two Linux nodes.
const TWO_LINUX_NODES: &str = "networking/pod-to-pod-other-node[os=linux]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_tainted_linux_pool_the_catalog_passes_and_two_linux_node_cells_skip_naming_the_taint(
) {
    let run = run_tainted(&[]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert!(run.with_outcome("failed").is_empty(), "{}", run.failures());
    assert!(run.with_outcome("error").is_empty(), "{:#?}", run.tests);
    let mut expected_skips = opt_in_cells();
    expected_skips.insert(TWO_LINUX_NODES.to_string());
    assert_eq!(run.with_outcome("skipped"), expected_skips);
    assert_eq!(
        run.field(TWO_LINUX_NODES, "skip_reason"),
        "needs two schedulable nodes with kubernetes.io/os=linux (pods on different nodes), \
         found 1 (linux-node-1); not counted: linux-node-2: taint \
         CriticalAddonsOnly=true:NoSchedule; --tolerate CriticalAddonsOnly=true:NoSchedule \
         would let the tests use linux-node-2"
    );
    // The other Linux cells run on the untainted node.
    assert!(run
        .with_outcome("passed")
        .contains("networking/pod-to-pod-same-node[os=linux]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tolerate_the_tainted_nodes_count_and_the_two_linux_node_cells_pass() {
    let run = run_tainted(&["--tolerate", TAINT]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert_eq!(run.with_outcome("skipped"), opt_in_cells());
    // Its client is kept off the server's node: one of them landed on the tainted node.
    assert_eq!(run.test(TWO_LINUX_NODES)["outcome"], "passed");
    assert!(run.with_outcome("failed").is_empty(), "{}", run.failures());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_shows_the_taint_and_with_tolerate_the_cell_would_run() {
    let cluster = Cluster::start(SimConfig {
        quirks: [Quirk::TaintedLinuxPool].into(),
        ..SimConfig::default()
    })
    .await;
    let doctor = |extra: &'static [&'static str]| {
        let kubeconfig = cluster.kubeconfig();
        async move {
            let out = tokio::process::Command::new(BIN)
                .arg("doctor")
                .arg("--kubeconfig")
                .arg(kubeconfig)
                .args(extra)
                .env_remove("KUBECONFIG")
                .output()
                .await
                .expect("binary runs");
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            text(&out.stdout)
        }
    };
    let plain = doctor(&[]).await;
    assert!(
        plain.contains("linux-node-2                   linux             Ready, test pods do not tolerate CriticalAddonsOnly=true:NoSchedule\n"),
        "{plain}"
    );
    assert!(
        plain.contains(&format!(
            "--tolerate {TAINT} would let the tests use linux-node-2\n    {TWO_LINUX_NODES}\n"
        )),
        "{plain}"
    );
    let tolerating = doctor(&["--tolerate", TAINT]).await;
    assert!(!tolerating.contains("do not tolerate"), "{tolerating}");
    assert!(!tolerating.contains(TWO_LINUX_NODES), "{tolerating}");
    cluster.sim.shutdown().await;
}

#[test]
fn render_shows_the_tolerations_on_every_pod() {
    let (code, stdout, stderr) = hybrid_e2e(&[
        "render",
        "pod-to-pod-other-node",
        "--tolerate",
        TAINT,
        "--tolerate",
        "example.com/team:NoExecute",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let pods: Vec<&str> = stdout
        .split("---\n")
        .filter(|doc| doc.contains("\nkind: Pod\n"))
        .collect();
    assert_eq!(pods.len(), 4, "two pods per OS: {stdout}");
    // As `render` writes them: keys sorted, each toleration a list item.
    let critical =
        "  - effect: NoSchedule\n    key: CriticalAddonsOnly\n    operator: Equal\n    value: 'true'\n";
    let team = "  - effect: NoExecute\n    key: example.com/team\n    operator: Exists\n";
    let windows = "  - effect: NoSchedule\n    key: os\n    operator: Equal\n    value: windows\n";
    for pod in pods {
        assert!(pod.contains(critical) && pod.contains(team), "{pod}");
        let on_windows = pod.contains("  os:\n    name: windows\n");
        assert_eq!(pod.contains(windows), on_windows, "{pod}");
    }
}

#[test]
fn a_malformed_tolerate_exits_2_naming_the_flag_and_what_is_wrong() {
    for command in ["run", "doctor", "render"] {
        for (value, wrong) in [
            ("CriticalAddonsOnly=true", "no :EFFECT"),
            (
                "CriticalAddonsOnly=true:NoSchedul",
                "effect \"NoSchedul\" is none of",
            ),
            (":NoSchedule", "key \"\" is not a valid label key"),
            (
                "bad key=x:NoExecute",
                "key \"bad key\" is not a valid label key",
            ),
            (
                "k=not ok:NoSchedule",
                "value \"not ok\" is not a valid label value",
            ),
        ] {
            let (code, _, stderr) = hybrid_e2e(&[command, "--tolerate", value]);
            assert_eq!(code, Some(2), "{command} --tolerate {value}: {stderr}");
            assert!(stderr.contains("--tolerate"), "{stderr}");
            assert!(stderr.contains(wrong), "{command} {value}: {stderr}");
        }
    }
}
