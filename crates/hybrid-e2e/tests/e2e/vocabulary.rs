//! Each step of the vocabulary beyond the first catalog, passing when the cluster behaves and
//! failing (with its message) when it does not: waits on Deployments, Jobs and claims, negative
//! waits, expect checks with `eventually`, events, patches, delete timing, run-time placeholders.

use std::time::Duration;

use hybrid_sim::SimConfig;

const FIXTURES: &[(&str, &str)] = &[
    (
        "linux-only.yaml",
        r#"
fixture: linux-only
description: busybox from Docker Hub (no Windows image).
objects:
  - apiVersion: v1
    kind: Pod
    metadata: { name: "${name}" }
    spec:
      containers:
        - { name: main, image: "docker.io/library/busybox:1.36", command: [sleep, "3600"] }
"#,
    ),
    (
        "web-deployment.yaml",
        r#"
fixture: web-deployment
description: A Deployment of agnhost netexec.
params: { replicas: 1 }
objects:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: "${name}" }
    spec:
      replicas: ${replicas}
      selector: { matchLabels: { app: "${name}" } }
      template:
        metadata: { labels: { app: "${name}" } }
        spec:
          containers:
            - { name: web, image: "${image.agnhost}", args: [netexec] }
"#,
    ),
    (
        "one-shot-job.yaml",
        r#"
fixture: one-shot-job
description: A Job running one shell script.
required: [script]
os-params:
  linux: { shell: [sh, -c] }
  windows: { shell: [cmd, /c] }
objects:
  - apiVersion: batch/v1
    kind: Job
    metadata: { name: "${name}" }
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
            - { name: main, image: "${image.agnhost}", command: "${shell}", args: ["${script}"] }
"#,
    ),
    (
        "claim.yaml",
        r#"
fixture: claim
description: A 1Gi ReadWriteOnce claim of the default class.
objects:
  - apiVersion: v1
    kind: PersistentVolumeClaim
    metadata: { name: "${name}" }
    spec:
      accessModes: [ReadWriteOnce]
      resources: { requests: { storage: 1Gi } }
"#,
    ),
    (
        "ready-file.yaml",
        r#"
fixture: ready-file
description: netexec, ready while /probe/ready exists, liveness never fails; 2 s grace.
objects:
  - apiVersion: v1
    kind: Pod
    metadata: { name: "${name}" }
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: "${image.agnhost}"
          args: [netexec, --delay-shutdown=1]
          readinessProbe:
            exec: { command: [cat, /probe/ready] }
            periodSeconds: 1
          volumeMounts: [{ name: probe, mountPath: /probe }]
      volumes: [{ name: probe, emptyDir: {} }]
"#,
    ),
];

const PASSING: &str = r#"
suite: vocab
tests:
  - name: deployment-scales
    steps:
      - create: { fixture: web-deployment, name: web, os: linux }
      - wait: { deployment: web, until: available }
      - patch: { deployment: web, merge: { spec: { replicas: 3 } } }
      - wait: { deployment: web, until: available }
      - expect: { deployment: web, path: "$.status.availableReplicas", equals: 3 }
  - name: job-completes
    steps:
      - create: { fixture: one-shot-job, name: once, os: windows, vars: { script: "exit 0" } }
      - wait: { job: once, until: complete }
      - expect: { job: once, path: "$.status.succeeded", at-least: 1 }
  - name: claim-binds
    steps:
      - create: { fixture: claim, name: data, os: linux }
      - wait: { claim: data, until: bound }
      - expect: { claim: data, path: "$.spec.volumeName", exists: true }
  - name: readiness-follows-a-file
    steps:
      - create: { fixture: ready-file, name: web, os: linux }
      - wait: { pod: web, until: running }
      - exec: { pod: web, command: [sh, -c, "echo ok > /probe/ready"] }
      - wait: { pod: web, until: ready }
      - exec: { pod: web, command: [sh, -c, "rm /probe/ready"] }
      - wait: { pod: web, until: not-ready }
      - sleep: 300ms
      - expect: { pod: web, path: "$.status.containerStatuses[0].restartCount", at-most: 0 }
      - expect: { pod: web, path: "$.status.podIP", equals: "${ip.web}" }
      - expect: { node-of: web, path: "$.status.addresses[?@.type=='InternalIP'].address", equals: "${node-ip.web}" }
      - event: { pod: web, reason: Started }
      - delete: { pod: web, gone-after: 500ms, gone-within: 10s }
  - name: patch-reaches-the-object
    steps:
      - create: { fixture: shell-command, name: once, os: windows, vars: { script: "exit 0" } }
      - patch: { pod: once, merge: { metadata: { labels: { patched: "yes" } } } }
      - expect: { pod: once, path: "$.metadata.labels.patched", equals: "yes", eventually: true }
  - name: linux-image-fails-on-windows
    steps:
      - create: { fixture: linux-only, name: bad, os: windows }
      - wait: { pod: bad, until: ready, fails-with: ImagePull }
"#;

const FAILING: &str = r#"
suite: vocabfail
tests:
  - name: job-fails
    steps:
      - create: { fixture: one-shot-job, name: once, os: linux, vars: { script: "exit 2" } }
      - wait: { job: once, until: complete }
  - name: too-few-replicas
    steps:
      - create: { fixture: web-deployment, name: web, os: linux }
      - wait: { deployment: web, until: available }
      - expect: { deployment: web, path: "$.status.availableReplicas", at-least: 2, eventually: true, timeout: 10s }
  - name: no-such-event
    steps:
      - create: { fixture: pause, name: p, os: linux }
      - wait: { pod: p, until: ready }
      - event: { pod: p, reason: Unhealthy, type: Warning, timeout: 10s }
  - name: vanishes-too-fast
    steps:
      - create: { fixture: pause, name: p, os: linux }
      - wait: { pod: p, until: ready }
      - delete: { pod: p, gone-after: 5s }
  - name: negative-wait-that-succeeds
    steps:
      - create: { fixture: pause, name: p, os: windows }
      - wait: { pod: p, until: ready, fails-with: ImagePullBackOff }
"#;

async fn run(suite: &str, extra: &[&str]) -> crate::common::harness::Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = crate::common::harness::custom_catalog(dir.path(), suite, FIXTURES);
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    crate::common::harness::run_against_sim(SimConfig::default(), &args, Duration::from_secs(300))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_vocabulary_passes_when_the_cluster_behaves() {
    let run = run(PASSING, &[]).await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.tests.len(), 6);
    assert_eq!(run.named("passed").len(), 6, "{:#?}", run.tests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_vocabulary_fails_with_what_it_saw() {
    let run = run(FAILING, &["--timeout-scale", "0.2"]).await;
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let m = run.failure("vocabfail/job-fails");
    assert!(
        m.contains("job \"once\"") && m.contains("job failed"),
        "{m}"
    );
    let m = run.failure("vocabfail/too-few-replicas");
    assert!(
        m.contains(
            "expect deployment \"web\" $.status.availableReplicas >= 2: found 1, expected >= 2"
        ),
        "{m}"
    );
    assert!(m.contains("checked"), "says it retried: {m}");
    let m = run.failure("vocabfail/no-such-event");
    assert!(
        m.contains("no Warning Unhealthy event about pod \"p\"; its events:"),
        "{m}"
    );
    assert!(m.contains("Normal Scheduled"), "lists what it saw: {m}");
    let m = run.failure("vocabfail/vanishes-too-fast");
    assert!(
        m.contains("expected it to take at least 5.0s (graceful termination)"),
        "{m}"
    );
    let m = run.failure("vocabfail/negative-wait-that-succeeds");
    assert!(
        m.contains("expected pod \"p\" to fail with \"ImagePullBackOff\", but it became ready"),
        "{m}"
    );
}
