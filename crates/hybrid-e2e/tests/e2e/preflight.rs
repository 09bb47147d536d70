//! The preflight end to end: under `forbid-exec` a run that selects a cell with an exec step
//! stops with exit 3 before any namespace, naming `pods/exec`, with one JUnit error case; a
//! run that selects no such cell runs (the rights asked are derived from the selected steps).

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{AttachParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::Api;

use hybrid_sim::{Fault, SimConfig};

use crate::common::harness::{results, text, Cluster};
use crate::common::junit_schema::assert_valid_junit;

fn forbid_exec() -> SimConfig {
    SimConfig {
        faults: [Fault::ForbidExec].into(),
        ..SimConfig::default()
    }
}

/// Runs `hybrid-e2e run ARGS` and returns its output and the namespaces created while it ran:
/// a watch opened before the run sees every namespace added; a sentinel created after the run
/// marks where the run's events end.
async fn run_watching_namespaces(
    cluster: &Cluster,
    args: &[&str],
) -> (std::process::Output, Vec<String>) {
    let client = cluster.sim.client().await.unwrap();
    let namespaces = Api::<Namespace>::all(client);
    let before = namespaces.list(&ListParams::default()).await.unwrap();
    let version = before.metadata.resource_version.unwrap();
    let mut events = namespaces
        .watch(&WatchParams::default(), &version)
        .await
        .unwrap()
        .boxed();
    let out = cluster.run(args).await;
    let sentinel: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "preflight-sentinel"}}))
            .unwrap();
    namespaces
        .create(&PostParams::default(), &sentinel)
        .await
        .unwrap();
    let mut created = Vec::new();
    while let Some(event) = events.next().await {
        if let WatchEvent::Added(ns) = event.unwrap() {
            let name = ns.metadata.name.unwrap_or_default();
            if name == "preflight-sentinel" {
                break;
            }
            created.push(name);
        }
    }
    (out, created)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forbid_exec_stops_the_run_before_any_namespace_naming_pods_exec() {
    let cluster = Cluster::start(forbid_exec()).await;
    let (out, created) = run_watching_namespaces(&cluster, &[]).await;
    let stderr = text(&out.stderr);
    println!("forbid-exec stderr:\n{stderr}");
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].ends_with(
            "the credentials may not do what the selected tests need: \
             cannot create pods/exec cluster-wide; cannot get pods/exec cluster-wide"
        ),
        "{stderr}"
    );
    for debug in ["Some(", "Status {", "ErrorResponse {"] {
        assert!(!stderr.contains(debug), "{stderr}");
    }
    assert!(!text(&out.stdout).contains("running"), "no test started");
    assert!(created.is_empty(), "no namespace created: {created:?}");
    assert!(results(&cluster.reports()).is_empty(), "no test ran");
    let junit = cluster.reports().join("junit.xml");
    assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 1, "{xml}");
    assert_eq!(xml.matches("<error").count(), 1, "{xml}");
    assert!(
        xml.contains(r#"type="RunAborted""#) && xml.contains("cannot get pods/exec cluster-wide"),
        "{xml}"
    );
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forbid_exec_lets_cells_without_exec_run() {
    let cluster = Cluster::start(forbid_exec()).await;
    let out = cluster.run(&["exit-zero-succeeds", "job-completes"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let tests = results(&cluster.reports());
    assert_eq!(tests.len(), 4, "two tests, two OSes each");
    assert!(tests.iter().all(|t| t["outcome"] == "passed"), "{tests:?}");
    assert!(
        !stderr.contains("pods/exec") && !stderr.contains("cannot check permissions"),
        "{stderr}"
    );
    // The same cells with one that execs: the preflight stops the run.
    let out = cluster
        .run(&["exit-zero-succeeds", "exec-returns-stdout-and-exit-code"])
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot get pods/exec cluster-wide"));
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbid_exec_refuses_the_exec_endpoint_as_rbac_does() {
    let cluster = Cluster::start(forbid_exec()).await;
    let client = cluster.sim.client().await.unwrap();
    let pods = Api::<Pod>::namespaced(client, "default");
    let params = AttachParams::default().stdout(true).stderr(false);
    let Err(kube::Error::Api(status)) = pods.exec("target", ["true"], &params).await else {
        panic!("exec must be refused");
    };
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        status.message,
        r#"pods "target" is forbidden: User "system:serviceaccount:ci:hybrid-e2e" cannot create resource "pods/exec" in API group "" in the namespace "default""#
    );
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_each_missing_right() {
    let cluster = Cluster::start(forbid_exec()).await;
    let out = tokio::process::Command::new(crate::common::harness::BIN)
        .arg("doctor")
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .env_remove("KUBECONFIG")
        .output()
        .await
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rights: Vec<&str> = stdout.lines().filter(|l| l.starts_with("Rights")).collect();
    assert_eq!(
        rights,
        [
            "Rights    cannot create pods/exec cluster-wide (a run stops)",
            "Rights    cannot get pods/exec cluster-wide (a run stops)",
        ],
        "{stdout}"
    );
    cluster.sim.shutdown().await;
}
