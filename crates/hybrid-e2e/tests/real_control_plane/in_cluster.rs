//! `hybrid-e2e` as `deploy/job.yaml` runs it: inside a pod, with no kubeconfig, using the
//! in-cluster config (`KUBERNETES_SERVICE_HOST`/`_PORT` and the service account's token, CA and
//! namespace under `/var/run/secrets/kubernetes.io/serviceaccount`) and exactly the rights of
//! `deploy/rbac.yaml`. The pod is faked: the objects of `deploy/rbac.yaml` are created in the real
//! API server, the TokenRequest API issues the account's token, and the binary runs in a private
//! mount namespace (`unshare --mount`) where a tmpfs over `/run` (`/var/run` is a link to it)
//! holds the service-account files, with `HOME` empty and `KUBECONFIG` unset.
//!
//! - with the account's token, a run of the lifecycle cells (they create namespaces, pods, exec
//!   and read logs) pre-pulls its images (a DaemonSet per OS, the default off `--sim`), passes,
//!   and leaves no namespace;
//! - with a token the API server does not know, it stops before any test: exit 3, one line
//!   naming the in-cluster server and `Unauthorized`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{ListParams, PostParams};
use kube::Api;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::support::{self, failures, junit_schema, results, text, with_outcome, Served, BIN};

/// The namespace and name of the account in `deploy/rbac.yaml` and `deploy/job.yaml`.
const ACCOUNT: &str = "hybrid-e2e";

/// Where a pod's service-account files are; `/var/run` links to `/run`.
const SERVICE_ACCOUNT_DIR: &str = "/run/secrets/kubernetes.io/serviceaccount";

fn deploy_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name)
}

/// Creates the Namespace of the account and every object of `deploy/rbac.yaml`.
async fn apply_deploy_rbac(admin: &kube::Client) {
    let namespace: Namespace =
        serde_json::from_value(json!({ "metadata": { "name": ACCOUNT } })).unwrap();
    Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let yaml = std::fs::read_to_string(deploy_file("rbac.yaml")).expect("deploy/rbac.yaml");
    let mut kinds = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(&yaml) {
        let object = Value::deserialize(document).expect("deploy/rbac.yaml parses");
        if object.is_null() {
            continue;
        }
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let created = match kind.as_str() {
            "ServiceAccount" => {
                let namespace = object["metadata"]["namespace"].as_str().unwrap_or(ACCOUNT);
                create(
                    Api::<ServiceAccount>::namespaced(admin.clone(), namespace),
                    &object,
                )
                .await
            }
            "ClusterRole" => create(Api::<ClusterRole>::all(admin.clone()), &object).await,
            "ClusterRoleBinding" => {
                create(Api::<ClusterRoleBinding>::all(admin.clone()), &object).await
            }
            other => panic!("deploy/rbac.yaml holds a {other}, which this test does not create"),
        };
        created.unwrap_or_else(|e| panic!("{kind} from deploy/rbac.yaml: {e}"));
        kinds.push(kind);
    }
    assert_eq!(
        kinds,
        ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"],
        "deploy/rbac.yaml"
    );
}

/// Creates `object` (a manifest's document) through `api`.
async fn create<K>(api: Api<K>, object: &Value) -> kube::Result<()>
where
    K: Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let typed: K = serde_json::from_value(object.clone()).expect("a valid object");
    api.create(&PostParams::default(), &typed).await.map(drop)
}

/// A token for the account from the TokenRequest API, as the kubelet projects one.
async fn account_token(admin: &kube::Client) -> String {
    let request: TokenRequest =
        serde_json::from_value(json!({ "spec": { "audiences": [], "expirationSeconds": 3600 } }))
            .unwrap();
    let issued: TokenRequest = Api::<ServiceAccount>::namespaced(admin.clone(), ACCOUNT)
        .create_subresource("token", ACCOUNT, &PostParams::default(), &request)
        .await
        .unwrap();
    issued.status.expect("a TokenRequest answers a token").token
}

/// The files the kubelet mounts for the account (`token`, `ca.crt`, `namespace`), in a new
/// folder under `served`'s; and the API server's host and port.
fn service_account_files(served: &Served, name: &str, token: &str) -> (PathBuf, String, String) {
    let yaml = std::fs::read_to_string(served.kubeconfig()).unwrap();
    let admin = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
    let cluster = admin.clusters[0].cluster.clone().unwrap();
    let server = cluster.server.expect("a server URL");
    let ca = cluster
        .certificate_authority
        .expect("the served kubeconfig names its CA file");
    let dir = served.dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), token).unwrap();
    std::fs::copy(ca, dir.join("ca.crt")).unwrap();
    std::fs::write(dir.join("namespace"), ACCOUNT).unwrap();
    let authority = server
        .strip_prefix("https://")
        .expect("the real API server serves https")
        .trim_end_matches('/');
    let (host, port) = authority.rsplit_once(':').expect("host:port");
    (dir, host.to_string(), port.to_string())
}

/// `hybrid-e2e run ARGS` as in a pod: no kubeconfig, `HOME` empty, the service account's files
/// from `files` at the path every pod has them, and the service variables.
async fn run_in_pod(
    served: &Served,
    files: &Path,
    host: &str,
    port: &str,
    args: &[&str],
) -> Output {
    let home = served.dir().join("empty-home");
    std::fs::create_dir_all(&home).unwrap();
    let script = format!(
        "mount -t tmpfs tmpfs /run && mkdir -p {SERVICE_ACCOUNT_DIR} && cp \"$1\"/* {SERVICE_ACCOUNT_DIR}/ && shift && exec \"$@\""
    );
    let command = tokio::process::Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            "sh",
        ])
        .arg(files)
        .arg(BIN)
        .arg("run")
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", &home)
        .env("KUBERNETES_SERVICE_HOST", host)
        .env("KUBERNETES_SERVICE_PORT", port)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(600), command)
        .await
        .expect("the run ends within 10 minutes")
        .expect("unshare runs (the test needs root or user namespaces for a private /run)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_pod_with_the_deploy_rbac_the_run_uses_in_cluster_config_and_passes() {
    let Some(_one_at_a_time) = support::real_control_plane().await else {
        return;
    };
    let served = Served::start(&[]).await;
    let admin = served.client().await;
    apply_deploy_rbac(&admin).await;
    let token = account_token(&admin).await;
    let (files, host, port) = service_account_files(&served, "serviceaccount", &token);

    // The authorizer learns of the binding from a watch: a run that starts before it does is
    // refused by the preflight, so try for up to 30 s.
    let reports = served.dir().join("in-cluster-reports");
    let reports_arg = reports.to_str().unwrap();
    let args = ["--tags", "lifecycle", "--report-dir", reports_arg];
    let mut out = run_in_pod(&served, &files, &host, &port, &args).await;
    for _ in 0..30 {
        if out.status.code() != Some(3) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        out = run_in_pod(&served, &files, &host, &port, &args).await;
    }
    let stderr = text(&out.stderr);
    let tests = results(&reports);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr:\n{stderr}\nfailures:\n{}",
        failures(&tests)
    );
    assert!(
        !with_outcome(&tests, "passed").is_empty(),
        "lifecycle cells ran: {stderr}"
    );
    // Not a --sim run: the pre-pull is on by default, through the real DaemonSet controller,
    // with the DaemonSet rights deploy/rbac.yaml grants.
    assert!(stderr.contains("Pre-pull done in "), "{stderr}");
    junit_schema::assert_valid_junit(&reports.join("junit.xml"));
    let left = Api::<Namespace>::all(admin.clone())
        .list(&ListParams::default().labels("hybrid-e2e.io/run-id"))
        .await
        .unwrap();
    assert!(left.items.is_empty(), "no run namespace is left");

    // A token the API server does not know: stopped before any test, one line.
    let (bad_files, _, _) = service_account_files(&served, "bad-serviceaccount", "not-a-token");
    let bad_reports = served.dir().join("bad-token-reports");
    let out = run_in_pod(
        &served,
        &bad_files,
        &host,
        &port,
        &[
            "--tags",
            "lifecycle",
            "--report-dir",
            bad_reports.to_str().unwrap(),
        ],
    )
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr:\n{stderr}");
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "one error line: {stderr}");
    assert!(
        error_lines[0].contains(&format!("https://{host}:{port}"))
            && error_lines[0].contains("Unauthorized"),
        "{}",
        error_lines[0]
    );
    assert!(results(&bad_reports).is_empty(), "no test ran");
    served.stop().await;
}
