//! `run --retries` end to end: under the sim's `flaky-first-attempt` fault the one cell that
//! creates pod `p` first fails once; retried in a fresh namespace it passes and is flaky (exit 0,
//! one `<flakyFailure>`, `flaky: true`), unless `--fail-on-flaky`. A cell failing every attempt
//! (`dns`) carries its last `<failure>` and a `<rerunFailure>` per earlier attempt.

use crate::common::harness::run_sim;

const CELL: &str = "scheduling/lands-on-requested-os[os=linux]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cell_failing_only_its_first_attempt_fails_the_run_without_retries() {
    let run = run_sim(&["--fault", "flaky-first-attempt", "--exact", CELL]).await;
    assert_eq!(run.code, Some(1), "{}{}", run.stderr, run.stdout);
    let m = run.failure(CELL);
    assert!(m.contains("flaky-first-attempt"), "{m}");
    assert!(!run.junit.contains("flakyFailure"), "{}", run.junit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_once_it_passes_as_flaky_and_the_run_passes() {
    let run = run_sim(&[
        "--fault",
        "flaky-first-attempt",
        "--retries",
        "1",
        "--exact",
        CELL,
    ])
    .await;
    println!("retries 1 took {:?}", run.took);
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.stdout);
    let test = run.test(CELL);
    assert_eq!(test["outcome"], "passed", "{test}");
    assert_eq!(test["flaky"], true, "{test}");
    let attempts = test["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{test}");
    assert_eq!(attempts[0]["outcome"], "failed", "{test}");
    let m = attempts[0]["message"].as_str().unwrap_or_default();
    assert!(m.contains("flaky-first-attempt"), "{m}");
    assert_eq!(
        run.junit.matches("<flakyFailure ").count(),
        1,
        "{}",
        run.junit
    );
    assert!(!run.junit.contains("<failure"), "{}", run.junit);
    assert!(
        run.stdout.contains("ok (flaky: passed on attempt 2)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("1 passed; 1 flaky;"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_fail_on_flaky_a_flaky_cell_fails_the_run() {
    let run = run_sim(&[
        "--fault",
        "flaky-first-attempt",
        "--retries",
        "1",
        "--fail-on-flaky",
        "--exact",
        CELL,
    ])
    .await;
    assert_eq!(run.code, Some(1), "{}{}", run.stderr, run.stdout);
    assert_eq!(run.test(CELL)["flaky"], true);
    assert!(
        run.stderr
            .contains("error: 1 test(s) passed only after failing (--fail-on-flaky)"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cell_failing_every_attempt_has_its_failure_and_a_rerun_failure_per_retry() {
    let cell = "networking/dns[client=linux]";
    let run = run_sim(&[
        "--fault",
        "dns",
        "--retries",
        "2",
        "--timeout-scale",
        "0.1",
        "--exact",
        cell,
    ])
    .await;
    println!("retries 2 under dns took {:?}", run.took);
    assert_eq!(run.code, Some(1), "{}{}", run.stderr, run.stdout);
    let test = run.test(cell);
    assert_eq!(test["outcome"], "failed", "{test}");
    assert_eq!(test["flaky"], false, "{test}");
    assert_eq!(test["attempts"].as_array().map(Vec::len), Some(2), "{test}");
    assert_eq!(
        run.junit.matches("<rerunFailure ").count(),
        2,
        "{}",
        run.junit
    );
    assert_eq!(run.junit.matches("<failure ").count(), 1, "{}", run.junit);
    assert!(!run.junit.contains("flaky"), "{}", run.junit);
}

#[test]
fn a_negative_retries_count_exits_2_naming_the_flag_on_one_line() {
    let (code, _, stderr) = crate::common::harness::hybrid_e2e(&["run", "--retries", "-1"]);
    assert_eq!(code, Some(2), "{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert_eq!(
        first, "error: invalid value '-1' for '--retries <N>': -1 is not in 0..=4294967295",
        "{stderr}"
    );
}
