//! `--pod-security baseline` under a real kube-apiserver: its PodSecurity admission accepts the
//! harness's namespace labels, a hostPath test is skipped before it starts, and what only the
//! real admission sees (a pod or a Deployment's pods setting seccomp `Unconfined`, which the
//! harness's pre-start check does not model) skips the test quoting the real PodSecurity
//! message, directly or through the ReplicaSet controller's FailedCreate event.

use std::time::Duration;

use crate::support::{self, failures, hybrid_e2e, results, text};

const SUITE: &str = r#"
suite: podsec
tests:
  - name: host-path
    steps:
      - create: { fixture: hostpath-pod, name: host, os: linux }
      - wait: { pod: host, until: running }
  - name: unconfined-pod
    steps:
      - create: { fixture: unconfined-pod, name: loose, os: linux }
      - wait: { pod: loose, until: running }
  - name: unconfined-deployment
    steps:
      - create: { fixture: unconfined-deployment, name: web, os: linux }
      - wait: { deployment: web, until: available }
  - name: plain-pod
    steps:
      - create: { fixture: pause, name: plain, os: linux }
      - wait: { pod: plain, until: running }
"#;

const UNCONFINED_POD: &str = r#"
fixture: unconfined-pod
description: pause with seccomp Unconfined (baseline refuses it).
objects:
  - apiVersion: v1
    kind: Pod
    metadata: { name: "${name}" }
    spec:
      securityContext: { seccompProfile: { type: Unconfined } }
      containers:
        - { name: main, image: "${image.pause}" }
"#;

const UNCONFINED_DEPLOYMENT: &str = r#"
fixture: unconfined-deployment
description: A Deployment of pause with seccomp Unconfined (baseline refuses its pods).
objects:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: "${name}" }
    spec:
      replicas: 1
      selector: { matchLabels: { app: "${name}" } }
      template:
        metadata: { labels: { app: "${name}" } }
        spec:
          securityContext: { seccompProfile: { type: Unconfined } }
          containers:
            - { name: main, image: "${image.pause}" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_namespaces_skip_what_the_real_pod_security_admission_refuses() {
    let Some(_one_at_a_time) = support::real_control_plane().await else {
        return;
    };
    let catalog = tempfile::tempdir().unwrap();
    let suites = catalog.path().join("suites");
    let fixtures = catalog.path().join("fixtures");
    std::fs::create_dir_all(&suites).unwrap();
    std::fs::create_dir_all(&fixtures).unwrap();
    std::fs::write(suites.join("podsec.yaml"), SUITE).unwrap();
    std::fs::write(fixtures.join("unconfined-pod.yaml"), UNCONFINED_POD).unwrap();
    std::fs::write(
        fixtures.join("unconfined-deployment.yaml"),
        UNCONFINED_DEPLOYMENT,
    )
    .unwrap();
    let reports = tempfile::tempdir().unwrap();
    let out = hybrid_e2e(
        &[
            "run",
            "--sim",
            "--control-plane",
            "real",
            "--pod-security",
            "baseline",
            "--suites",
            suites.to_str().unwrap(),
            "--fixtures",
            fixtures.to_str().unwrap(),
            "--report-dir",
            reports.path().to_str().unwrap(),
        ],
        Duration::from_secs(600),
    )
    .await;
    let tests = results(reports.path());
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr:\n{stderr}\nfailed:\n{}",
        failures(&tests)
    );
    let reason = |name: &str| -> String {
        let test = tests
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} ran: {tests:#?}"));
        test["skip_reason"].as_str().unwrap_or_default().to_string()
    };
    let passed = tests.iter().find(|t| t["name"] == "podsec/plain-pod");
    assert_eq!(
        passed.map(|t| t["outcome"].clone()),
        Some("passed".into()),
        "{tests:#?}"
    );
    assert_eq!(
        reason("podsec/host-path"),
        "needs Pod Security \"privileged\": hostPath volume \"host\" (namespaces of this run \
         enforce \"baseline\", --pod-security)"
    );
    assert_eq!(
        reason("podsec/unconfined-pod"),
        "the cluster's admission refused Pod \"loose\": pods \"loose\" is forbidden: violates \
         PodSecurity \"baseline:latest\": seccompProfile (pod must not set \
         securityContext.seccompProfile.type to \"Unconfined\")"
    );
    let deployment = reason("podsec/unconfined-deployment");
    assert!(
        deployment.starts_with("the cluster's admission refused the pods of ReplicaSet \"web-")
            && deployment.contains("(FailedCreate): Error creating: pods \"web-")
            && deployment.ends_with(
                "is forbidden: violates PodSecurity \"baseline:latest\": seccompProfile (pod \
                 must not set securityContext.seccompProfile.type to \"Unconfined\")"
            ),
        "{deployment}"
    );
    for test in &tests {
        for field in ["message", "skip_reason"] {
            let text = test[field].as_str().unwrap_or_default();
            for dump in ["Some(", "Status {", "ErrorResponse {"] {
                assert!(!text.contains(dump), "{} {field}: {text}", test["name"]);
            }
        }
    }
}
