//! Real RBAC for identities other than admin: ServiceAccounts with a ClusterRole each and a
//! token from the TokenRequest API, in kubeconfigs of their own. The harness's preflight asks
//! the real API server (SelfSubjectAccessReviews, cluster-wide) for what the selected cells need
//! and stops before any namespace when a right is missing, word for word:
//!
//! - without `pods/exec` (account `limited`), a run selecting exec cells exits 3, no test runs,
//!   one line (also the JUnit error case): `error: cluster at https://127.0.0.1:PORT/: the
//!   credentials may not do what the selected tests need: cannot create pods/exec cluster-wide;
//!   cannot get pods/exec cluster-wide`; selecting only the other cells, every one passes;
//! - with `get` but not `create` on `pods/exec` (a WebSocket exec needs both from 1.35; before
//!   the preflight the exec cells failed with `pods "target" is forbidden: (Forbidden, 403)`),
//!   the run stops naming only `cannot create pods/exec cluster-wide`; with both, they pass;
//! - without `create` on namespaces (account `no-namespaces`), exit 3, one line naming each
//!   missing right, `cannot create namespaces cluster-wide` among them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use k8s_openapi::api::core::v1::{Namespace, Node, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{ListParams, PostParams};
use kube::Api;
use serde_json::{json, Value};

use crate::support::{
    self, failures, hybrid_e2e, junit_schema, results, text, with_outcome, Served,
};

/// Where the accounts live.
const NAMESPACE: &str = "default";

/// The lifecycle tests with an exec step: the ones `pods/exec` rights decide.
const EXEC_TESTS: &[&str] = &[
    "exec-returns-stdout-and-exit-code",
    "startup-probe-delays-liveness",
    // Its `http` step probes by exec (curl in the source pod, `--probe-via exec`).
    "prestop-hook-runs-before-stop",
];

/// What the whole catalog needs, except `pods/exec`: with these rules every cell without an
/// exec step passes (checked against the whole catalog by hand; the test runs `lifecycle`).
fn harness_rules_without_exec() -> Value {
    json!([
        { "apiGroups": [""], "resources": ["namespaces"],
          "verbs": ["create", "get", "list", "watch", "delete"] },
        { "apiGroups": [""],
          "resources": ["pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "events"],
          "verbs": ["*"] },
        { "apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"] },
        { "apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["get", "create"] },
        { "apiGroups": [""], "resources": ["nodes", "serviceaccounts"],
          "verbs": ["get", "list", "watch"] },
        { "apiGroups": ["storage.k8s.io"], "resources": ["storageclasses", "csinodes"],
          "verbs": ["get", "list", "watch"] },
        { "apiGroups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": ["*"] },
        // The pre-pull's DaemonSets (--prepull is on by default against real clusters).
        { "apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["create", "list"] },
        { "apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["*"] },
    ])
}

/// Enough to look at the cluster, not to create a namespace.
fn read_only_rules() -> Value {
    json!([
        { "apiGroups": [""], "resources": ["nodes", "namespaces"],
          "verbs": ["get", "list", "watch"] },
        { "apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"],
          "verbs": ["get", "list", "watch"] },
    ])
}

/// Grants `rules` to the subjects of ClusterRoleBinding `name` (made with a ClusterRole of the
/// same name), here ServiceAccount `account`.
async fn grant(admin: &kube::Client, name: &str, account: &str, rules: Value) {
    let role: ClusterRole = serde_json::from_value(json!({
        "metadata": { "name": name },
        "rules": rules,
    }))
    .unwrap();
    Api::<ClusterRole>::all(admin.clone())
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": { "name": name },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name },
        "subjects": [{ "kind": "ServiceAccount", "name": account, "namespace": NAMESPACE }],
    }))
    .unwrap();
    Api::<ClusterRoleBinding>::all(admin.clone())
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
}

/// ServiceAccount `account` with `rules`, and a kubeconfig for it in the served cluster's
/// folder: the admin kubeconfig's server and CA, a token from the TokenRequest API.
async fn identity(served: &Served, account: &str, rules: Value) -> PathBuf {
    let admin = served.client().await;
    let accounts = Api::<ServiceAccount>::namespaced(admin.clone(), NAMESPACE);
    let sa: ServiceAccount =
        serde_json::from_value(json!({ "metadata": { "name": account } })).unwrap();
    accounts.create(&PostParams::default(), &sa).await.unwrap();
    grant(&admin, account, account, rules).await;
    let request: TokenRequest =
        serde_json::from_value(json!({ "spec": { "audiences": [], "expirationSeconds": 3600 } }))
            .unwrap();
    let issued: TokenRequest = accounts
        .create_subresource("token", account, &PostParams::default(), &request)
        .await
        .unwrap();
    let token = issued.status.expect("a TokenRequest answers a token").token;

    let yaml = std::fs::read_to_string(served.kubeconfig()).unwrap();
    let admin_config = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
    let cluster = admin_config.clusters[0].cluster.clone().unwrap();
    let mut cluster_fields = json!({ "server": cluster.server.unwrap() });
    if let Some(path) = cluster.certificate_authority {
        cluster_fields["certificate-authority"] = json!(path);
    }
    if let Some(data) = cluster.certificate_authority_data {
        cluster_fields["certificate-authority-data"] = json!(data);
    }
    // JSON is YAML: kubectl and kube-rs read it as a kubeconfig.
    let kubeconfig = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "served", "cluster": cluster_fields }],
        "users": [{ "name": account, "user": { "token": token } }],
        "contexts": [{ "name": account, "context": { "cluster": "served", "user": account } }],
        "current-context": account,
    });
    let path = served.dir().join(format!("{account}.kubeconfig"));
    std::fs::write(&path, serde_json::to_vec_pretty(&kubeconfig).unwrap()).unwrap();
    path
}

/// A client with the identity of `kubeconfig`.
async fn client_for(kubeconfig: &Path) -> kube::Client {
    let yaml = std::fs::read_to_string(kubeconfig).unwrap();
    let parsed = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
    let config = kube::Config::from_custom_kubeconfig(parsed, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Waits (at most 30 s) until the API server's authorizer, which learns of new bindings from a
/// watch, lets `kubeconfig`'s identity `verb` `resource` (`pods/exec`: resource/subresource).
async fn await_allowed(kubeconfig: &Path, verb: &str, resource: &str) {
    let client = client_for(kubeconfig).await;
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    let review: SelfSubjectAccessReview = serde_json::from_value(json!({
        "spec": { "resourceAttributes": {
            "verb": verb, "resource": resource, "subresource": subresource, "namespace": NAMESPACE,
        } }
    }))
    .unwrap();
    let reviews = Api::<SelfSubjectAccessReview>::all(client);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = reviews
            .create(&PostParams::default(), &review)
            .await
            .unwrap();
        if answer.status.is_some_and(|s| s.allowed) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} may {verb} {resource}/{subresource} within 30 s",
            kubeconfig.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A served cluster announces itself only once new nodes have lost the
/// `node.kubernetes.io/not-ready` taint that `TaintNodesByCondition` admission gives them (the
/// node lifecycle controller lifts it within 5 s of seeing them Ready): before, every pod is
/// Unschedulable, which the harness judges hopeless at once.
async fn assert_no_not_ready_taints(admin: &kube::Client) {
    let list = Api::<Node>::all(admin.clone())
        .list(&Default::default())
        .await
        .unwrap();
    let tainted: Vec<String> = list
        .items
        .iter()
        .filter(|node| {
            node.spec
                .iter()
                .flat_map(|spec| spec.taints.iter().flatten())
                .any(|taint| taint.key == "node.kubernetes.io/not-ready")
        })
        .filter_map(|node| node.metadata.name.clone())
        .collect();
    assert!(
        tainted.is_empty(),
        "{tainted:?} still not-ready-tainted when the cluster serves"
    );
}

/// `hybrid-e2e run --kubeconfig KUBECONFIG ARGS` with reports in a new folder under `served`.
async fn run_as(
    served: &Served,
    kubeconfig: &Path,
    report: &str,
    args: &[&str],
) -> (std::process::Output, PathBuf) {
    let report_dir = served.dir().join(report);
    let mut all = vec![
        "run",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--report-dir",
        report_dir.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    (hybrid_e2e(&all, Duration::from_secs(600)).await, report_dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_denials_of_the_real_api_server_reach_the_report_word_for_word() {
    let Some(_one_at_a_time) = support::real_control_plane().await else {
        return;
    };
    let served = Served::start(&[]).await;
    assert_no_not_ready_taints(&served.client().await).await;
    let limited = identity(&served, "limited", harness_rules_without_exec()).await;
    await_allowed(&limited, "create", "namespaces").await;
    without_exec_only_the_exec_cells_fail(&served, &limited).await;
    websocket_exec_needs_get_and_create(&served, &limited).await;
    let read_only = identity(&served, "no-namespaces", read_only_rules()).await;
    await_allowed(&read_only, "list", "nodes").await;
    without_namespaces_the_run_stops_with_exit_3(&served, &read_only).await;
    served.stop().await;
}

/// Asserts `out` is a run the preflight stopped: exit 3, one error line ending with `ending`,
/// no test run, the JUnit error case saying it, no test namespace left or made.
async fn assert_stopped_by_preflight(
    served: &Served,
    out: &std::process::Output,
    report_dir: &Path,
    ending: &str,
) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line:\n{stderr}");
    let error = errors[0].to_string();
    assert!(
        error.starts_with("error: cluster at https://127.0.0.1:"),
        "{error}"
    );
    assert!(error.ends_with(ending), "{error}");
    for debug in ["panicked", "Some(", "Status {", "ErrorResponse {"] {
        assert!(!stderr.contains(debug), "{stderr}");
    }
    assert!(results(report_dir).is_empty(), "no test ran");
    let junit = report_dir.join("junit.xml");
    junit_schema::assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"type="RunAborted""#) && xml.contains("cluster-wide"),
        "junit.xml holds the run's error:\n{xml}"
    );
    let namespaces = Api::<Namespace>::all(served.client().await)
        .list(&ListParams::default().labels("hybrid-e2e.io/run-id"))
        .await
        .unwrap();
    assert!(namespaces.items.is_empty(), "no test namespace");
    error
}

/// No pods/exec: a run with exec cells stops before any test; without them, all pass.
async fn without_exec_only_the_exec_cells_fail(served: &Served, limited: &Path) {
    let (out, report_dir) = run_as(served, limited, "limited", &["--tags", "lifecycle"]).await;
    let error = assert_stopped_by_preflight(
        served,
        &out,
        &report_dir,
        ": the credentials may not do what the selected tests need: cannot create pods/exec cluster-wide; cannot get pods/exec cluster-wide",
    )
    .await;
    println!("denied exec: {error}");
    // grace-period-is-honoured (a 2 s grace, gone within 8 s) is left out: its window is not
    // what this test is about, and with many namespaces going at once it has run out.
    let mut args = vec!["--tags", "lifecycle", "--skip", "grace-period-is-honoured"];
    for cell in EXEC_TESTS {
        args.extend(["--skip", cell]);
    }
    let (out, report_dir) = run_as(served, limited, "limited-no-exec", &args).await;
    let tests = results(&report_dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr:\n{}\nfailed:\n{}",
        text(&out.stderr),
        failures(&tests)
    );
    assert!(!tests.is_empty());
    assert_eq!(
        with_outcome(&tests, "passed").len(),
        tests.len(),
        "every cell without exec passes:\n{}",
        failures(&tests)
    );
}

/// `get` on pods/exec is not enough: a WebSocket exec needs `create` as well, and the preflight
/// asks for both.
async fn websocket_exec_needs_get_and_create(served: &Served, limited: &Path) {
    let admin = served.client().await;
    grant(
        &admin,
        "exec-get",
        "limited",
        json!([{ "apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"] }]),
    )
    .await;
    await_allowed(limited, "get", "pods/exec").await;
    let exec_cells = ["exec-returns-stdout-and-exit-code"];
    let (out, report_dir) = run_as(served, limited, "exec-get", &exec_cells).await;
    assert_stopped_by_preflight(
        served,
        &out,
        &report_dir,
        ": the credentials may not do what the selected tests need: cannot create pods/exec cluster-wide",
    )
    .await;
    grant(
        &admin,
        "exec-create",
        "limited",
        json!([{ "apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"] }]),
    )
    .await;
    await_allowed(limited, "create", "pods/exec").await;
    let (out, report_dir) = run_as(served, limited, "exec-get-create", &exec_cells).await;
    let tests = results(&report_dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "get and create on pods/exec: exec works:\n{}",
        failures(&tests)
    );
    assert_eq!(with_outcome(&tests, "passed").len(), 2);
}

/// No namespace creation: the preflight stops the run, exit 3, one line, JUnit still written.
async fn without_namespaces_the_run_stops_with_exit_3(served: &Served, read_only: &Path) {
    let (out, report_dir) = run_as(
        served,
        read_only,
        "no-namespaces",
        // Without the pre-pull, whose missing rights would end the line with its hint.
        &["--prepull", "off"],
    )
    .await;
    let error = assert_stopped_by_preflight(served, &out, &report_dir, " cluster-wide").await;
    println!("no namespaces: {error}");
    assert!(
        error.contains("cannot create namespaces cluster-wide")
            && error.contains("cannot create pods cluster-wide")
            && !error.contains("cannot list nodes"),
        "names each missing right, not the granted ones: {error}"
    );
}
