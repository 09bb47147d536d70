//! `exec` steps whose command writes far more to stderr than kube-client's 1 KiB stream pipes
//! hold, before it writes stdout: both streams are read at once, so the step ends as soon as
//! the command does (reading stdout to its end first stalled it until the step timed out), and
//! its expectations hold or fail with what the command printed.

use std::time::Duration;

use hybrid_sim::SimConfig;

const FIXTURES: &[(&str, &str)] = &[(
    "shell-pod.yaml",
    r#"
fixture: shell-pod
description: A Linux pod that sleeps, to exec into.
objects:
  - apiVersion: v1
    kind: Pod
    metadata: { name: "${name}" }
    spec:
      containers:
        - { name: main, image: "docker.io/library/busybox:1.36", command: [sleep, "3600"] }
"#,
)];

/// `seq 1 20000` is 108,894 bytes: stderr first, then a short stdout. The timeouts are far
/// above what a non-stalling exec needs and far below the 60 s a stalled one would take.
const SUITE: &str = r#"
suite: streams
description: exec with a lot of stderr.
tests:
  - name: loud-stderr-then-stdout
    steps:
      - create: { fixture: shell-pod, name: loud, os: linux }
      - wait: { pod: loud, until: ready }
      - exec:
          pod: loud
          command: [sh, -c, "seq 1 20000 >&2; echo finished"]
          expect: { exit-code: 0, stdout: finished }
        timeout: 20s
  - name: loud-stderr-then-a-failing-exit
    steps:
      - create: { fixture: shell-pod, name: loud, os: linux }
      - wait: { pod: loud, until: ready }
      - exec:
          pod: loud
          command: [sh, -c, "seq 1 20000 >&2; echo finished; exit 3"]
          expect: { exit-code: 0, stdout: finished }
        timeout: 20s
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn big_stderr_neither_stalls_nor_hides_the_verdict() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = crate::common::harness::custom_catalog(dir.path(), SUITE, FIXTURES);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = crate::common::harness::run_against_sim(
        SimConfig::default(),
        &args,
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.named("passed"),
        ["streams/loud-stderr-then-stdout"],
        "{}",
        run.failures()
    );
    let m = run.failure("streams/loud-stderr-then-a-failing-exit");
    assert!(m.contains("exit code 3, expected 0"), "{m}");
    assert!(!m.contains("timed out"), "{m}");
    assert!(
        m.contains("stderr: \"1\\n2\\n3\\n") && m.contains("more bytes]"),
        "quotes the start of stderr: {m}"
    );
    assert!(
        run.took < Duration::from_secs(40),
        "no exec stalled until its timeout: {:?}",
        run.took
    );
}
