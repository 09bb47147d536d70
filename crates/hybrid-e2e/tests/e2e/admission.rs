//! Namespaces that real admission accepts: test namespaces carry the Pod Security level of
//! `--pod-security`, tests needing more skip before they start, and what a cluster's policies
//! refuse at run time (PodSecurity, ResourceQuota, admission webhooks; directly or through a
//! controller's FailedCreate event) skips the test quoting the denial, never fails it.

use std::collections::BTreeSet;
use std::time::Duration;

use hybrid_sim::{Quirk, SimConfig};

use crate::common::harness::{
    assert_passed_but_opt_in, custom_catalog, opt_in_cells, run_against_sim, Run,
};

const LIMIT: Duration = Duration::from_secs(300);

fn with_quirks(quirks: &[Quirk]) -> SimConfig {
    SimConfig {
        quirks: quirks.iter().copied().collect(),
        ..SimConfig::default()
    }
}

/// No message a user reads is a Debug dump.
fn assert_no_debug_dumps(run: &Run) {
    for test in &run.tests {
        for field in ["message", "skip_reason", "details"] {
            let text = test[field].as_str().unwrap_or_default();
            for dump in ["Some(", "Status {", "ErrorResponse {"] {
                assert!(!text.contains(dump), "{} {field}: {text}", test["name"]);
            }
        }
    }
    for dump in ["Some(", "Status {", "ErrorResponse {"] {
        assert!(!run.stderr.contains(dump), "stderr: {}", run.stderr);
    }
}

fn skip_reason<'r>(run: &'r Run, name: &str) -> &'r str {
    run.field(name, "skip_reason")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_enforcing_baseline_by_default_runs_the_whole_catalog_in_privileged_namespaces() {
    // Without the enforce=privileged label, the hostpath cells are refused by PodSecurity.
    let run = run_against_sim(with_quirks(&[Quirk::PodSecurityBaseline]), &[], LIMIT).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert!(run.tests.len() >= 10);
    assert_passed_but_opt_in(&run.tests);
    assert_no_debug_dumps(&run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pod_security_baseline_skips_exactly_the_cells_needing_privileged() {
    let run = run_against_sim(
        with_quirks(&[Quirk::PodSecurityBaseline]),
        &["--pod-security", "baseline"],
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert_eq!(run.named("failed"), Vec::<String>::new());
    let skipped: BTreeSet<String> = run.with_outcome("skipped");
    let privileged = [
        "storage/hostpath-folder-of-the-node[os=linux]",
        "storage/hostpath-folder-of-the-node[os=windows]",
    ];
    let mut expected = opt_in_cells();
    expected.extend(privileged.map(str::to_string));
    assert_eq!(skipped, expected);
    for name in privileged {
        assert_eq!(
            skip_reason(&run, name),
            "needs Pod Security \"privileged\": hostPath volume \"host\" (namespaces of this run \
             enforce \"baseline\", --pod-security)"
        );
    }
    assert_no_debug_dumps(&run);
}

/// A pod with a hostPath volume and limits (the quota does not refuse it).
const HOST_PATH_FIXTURE: (&str, &str) = (
    "host-path-pod.yaml",
    r#"
fixture: host-path-pod
description: agnhost pause with a hostPath volume, with limits.
objects:
  - apiVersion: v1
    kind: Pod
    metadata: { name: "${name}" }
    spec:
      containers:
        - name: main
          image: "${image.agnhost}"
          args: [pause]
          resources: { limits: { cpu: 100m, memory: 128Mi } }
          volumeMounts: [{ name: data, mountPath: /data }]
      volumes:
        - { name: data, hostPath: { path: /tmp } }
"#,
);

const UNLIMITED_FIXTURES: &[(&str, &str)] = &[
    (
        "unlimited-pod.yaml",
        r#"
fixture: unlimited-pod
description: agnhost pause without requests or limits.
objects:
  - apiVersion: v1
    kind: Pod
    metadata: { name: "${name}" }
    spec:
      containers:
        - { name: main, image: "${image.agnhost}", args: [pause] }
"#,
    ),
    (
        "unlimited-deployment.yaml",
        r#"
fixture: unlimited-deployment
description: A Deployment of agnhost pause without requests or limits.
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
          containers:
            - { name: main, image: "${image.agnhost}", args: [pause] }
"#,
    ),
    HOST_PATH_FIXTURE,
];

const QUOTA_SUITE: &str = r#"
suite: quota
tests:
  - name: unlimited-pod
    steps:
      - create: { fixture: unlimited-pod, name: bare, os: linux }
      - wait: { pod: bare, until: running }
  - name: unlimited-deployment
    steps:
      - create: { fixture: unlimited-deployment, name: web, os: linux }
      - wait: { deployment: web, until: available }
  - name: limited-pod
    steps:
      - create: { fixture: pause, name: small, os: linux }
      - wait: { pod: small, until: running }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_quota_requiring_limits_passes_the_catalog_and_skips_pods_without_limits() {
    let run = run_against_sim(with_quirks(&[Quirk::QuotaRequiresLimits]), &[], LIMIT).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert_passed_but_opt_in(&run.tests);

    let dir = tempfile::tempdir().unwrap();
    let args = custom_catalog(dir.path(), QUOTA_SUITE, UNLIMITED_FIXTURES);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_against_sim(with_quirks(&[Quirk::QuotaRequiresLimits]), &args, LIMIT).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert_eq!(run.named("passed"), ["quota/limited-pod"]);
    assert_eq!(
        skip_reason(&run, "quota/unlimited-pod"),
        "the cluster's admission refused Pod \"bare\": pods \"bare\" is forbidden: failed quota: \
         compute-limits: must specify limits.cpu for: main; limits.memory for: main"
    );
    // Through the ReplicaSet's FailedCreate event, well before the wait's 180 s.
    let reason = skip_reason(&run, "quota/unlimited-deployment");
    assert!(
        reason.starts_with("the cluster's admission refused the pods of ReplicaSet \"web-")
            && reason.contains("(FailedCreate): Error creating: pods \"web-")
            && reason.ends_with(
                "is forbidden: failed quota: compute-limits: must specify limits.cpu for: main; \
                 limits.memory for: main"
            ),
        "{reason}"
    );
    assert!(run.took < Duration::from_secs(120), "took {:?}", run.took);
    assert_no_debug_dumps(&run);
}

const WEBHOOK_SUITE: &str = r#"
suite: webhook
tests:
  - name: host-path
    steps:
      - create: { fixture: host-path-pod, name: host, os: linux }
      - wait: { pod: host, until: running }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_denial_skips_the_test_quoting_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let args = custom_catalog(dir.path(), WEBHOOK_SUITE, &[HOST_PATH_FIXTURE]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_against_sim(with_quirks(&[Quirk::WebhookDeniesHostpath]), &args, LIMIT).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert_eq!(
        skip_reason(&run, "webhook/host-path"),
        "the cluster's admission refused Pod \"host\": admission webhook \"policy.example.com\" \
         denied the request: hostPath volumes are not allowed"
    );
    assert_no_debug_dumps(&run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pod_security_restricted_names_the_level_a_host_path_needs() {
    let dir = tempfile::tempdir().unwrap();
    let args = custom_catalog(dir.path(), WEBHOOK_SUITE, &[HOST_PATH_FIXTURE]);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(["--pod-security", "restricted"]);
    let run = run_against_sim(SimConfig::default(), &args, LIMIT).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert_eq!(
        skip_reason(&run, "webhook/host-path"),
        "needs Pod Security \"privileged\": hostPath volume \"data\" (namespaces of this run \
         enforce \"restricted\", --pod-security)"
    );
}

const UNCONFINED_FIXTURES: &[(&str, &str)] = &[
    (
        "unconfined-pod.yaml",
        r#"
fixture: unconfined-pod
description: pause with seccomp Unconfined (baseline refuses it; the pre-start check does not look).
objects:
  - apiVersion: v1
    kind: Pod
    metadata: { name: "${name}" }
    spec:
      securityContext: { seccompProfile: { type: Unconfined } }
      containers:
        - { name: main, image: "${image.pause}" }
"#,
    ),
    (
        "unconfined-deployment.yaml",
        r#"
fixture: unconfined-deployment
description: A Deployment of pause with seccomp Unconfined.
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
"#,
    ),
];

const UNCONFINED_SUITE: &str = r#"
suite: podsec
tests:
  - name: unconfined-pod
    steps:
      - create: { fixture: unconfined-pod, name: loose, os: linux }
      - wait: { pod: loose, until: running }
  - name: unconfined-deployment
    steps:
      - create: { fixture: unconfined-deployment, name: web, os: linux }
      - wait: { deployment: web, until: available }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_only_the_clusters_pod_security_refuses_skips_quoting_it() {
    // The same cells and messages as the real control plane's podsec test.
    let dir = tempfile::tempdir().unwrap();
    let args = custom_catalog(dir.path(), UNCONFINED_SUITE, UNCONFINED_FIXTURES);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(["--pod-security", "baseline"]);
    let run = run_against_sim(SimConfig::default(), &args, LIMIT).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    let denial = "is forbidden: violates PodSecurity \"baseline:latest\": seccompProfile (pod \
                  must not set securityContext.seccompProfile.type to \"Unconfined\")";
    assert_eq!(
        skip_reason(&run, "podsec/unconfined-pod"),
        format!("the cluster's admission refused Pod \"loose\": pods \"loose\" {denial}")
    );
    let reason = skip_reason(&run, "podsec/unconfined-deployment");
    assert!(
        reason.starts_with("the cluster's admission refused the pods of ReplicaSet \"web-")
            && reason.contains("(FailedCreate): Error creating: pods \"web-")
            && reason.ends_with(denial),
        "{reason}"
    );
    assert_no_debug_dumps(&run);
}
