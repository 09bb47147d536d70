//! Progress while a run runs, end to end against the simulated cluster: under the quirk
//! `slow-windows` a Windows pod pulls for seconds, so a run of the Windows and Linux cells of
//! `scheduling/lands-on-requested-os` lasts long enough for `--progress-interval 1s` to print
//! `progress: N/M done (...)` lines, for `--slow-after 2s` to name the Windows cell's step and
//! its pod's state, and for a SIGUSR1 sent mid-run to ask for a progress line without ending
//! the process. `--format json` streams started, step, progress and finished events, every line
//! JSON. Bad periods exit 2 naming the flag.

use std::time::Duration;

use hybrid_sim::{Quirk, SimConfig};
use serde_json::Value;

use crate::common::harness::{hybrid_e2e, run_against_sim, signal_and_wait, text, Cluster, Run};

/// The two cells; the Windows one pulls for about six seconds under `slow-windows`.
const CELLS: &str = "scheduling/lands-on-requested-os";
const WINDOWS_CELL: &str = "scheduling/lands-on-requested-os[os=windows]";

fn slow_windows() -> SimConfig {
    SimConfig {
        quirks: [Quirk::SlowWindows].into(),
        ..SimConfig::default()
    }
}

async fn run_slow(args: &[&str]) -> Run {
    let args: Vec<&str> = args.iter().copied().chain([CELLS]).collect();
    run_against_sim(slow_windows(), &args, Duration::from_secs(120)).await
}

/// Whether `line` is `progress: D/2 done (P passed, F failed, S skipped), R running, Ns elapsed`.
fn is_progress_line(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("progress: ") else {
        return false;
    };
    let Some((done, rest)) = rest.split_once("/2 done (") else {
        return false;
    };
    let Some((counts, rest)) = rest.split_once("), ") else {
        return false;
    };
    let counts_ok = counts
        .split(", ")
        .zip(["passed", "failed", "skipped"])
        .all(|(count, word)| {
            count
                .strip_suffix(word)
                .is_some_and(|n| n.trim().parse::<usize>().is_ok())
        });
    let Some((running, elapsed)) = rest.split_once(" running, ") else {
        return false;
    };
    done.parse::<usize>().is_ok()
        && counts_ok
        && running.parse::<usize>().is_ok()
        && elapsed.ends_with("s elapsed")
}

fn progress_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("progress:"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn progress_lines_come_every_interval_and_a_slow_test_names_its_step_and_pod() {
    let run = run_slow(&["--progress-interval", "1s", "--slow-after", "2s"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines = progress_lines(&run.stderr);
    assert!(lines.len() >= 2, "a line a second: {}", run.stderr);
    for line in &lines {
        assert!(is_progress_line(line), "{line}");
    }
    assert!(
        lines.iter().any(|l| l.contains("1 running")),
        "the Windows cell runs on: {}",
        run.stderr
    );
    let slow: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("slow: "))
        .collect();
    let expected = format!("slow: {WINDOWS_CELL} step 2 (");
    assert!(
        slow.iter().any(|l| l.starts_with(&expected)
            && l.contains(") wait for pod \"p\" to be ready: ContainerCreating on windows-node-")
            && l.ends_with('s')),
        "the slow line names the step and the pod's state and node: {slow:#?}\n{}",
        run.stderr
    );
    assert!(
        slow.iter().all(|l| l.contains("[os=windows]")),
        "the Linux cell is quick: {slow:#?}"
    );
}

/// `--progress-interval off` and `--slow-after off`: no line comes by itself, but SIGUSR1 asks
/// for one, and the run goes on to exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigusr1_mid_run_prints_a_progress_line_and_the_run_still_passes() {
    let cluster = Cluster::start(slow_windows()).await;
    let child = cluster
        .run_command(&["--progress-interval", "off", "--slow-after", "0", CELLS])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("binary runs");
    // Once a test has its namespace, the run is mid-way: the Windows cell pulls for seconds.
    assert!(
        cluster.until_a_test_namespace().await,
        "the run created test namespaces"
    );
    let out = signal_and_wait(child, "USR1").await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines = progress_lines(&stderr);
    assert_eq!(lines.len(), 1, "one line, from the signal: {stderr}");
    assert!(is_progress_line(lines[0]), "{}", lines[0]);
    assert!(!stderr.contains("slow: "), "--slow-after 0: {stderr}");
    assert!(
        text(&out.stdout).contains("test result: ok. 2 passed"),
        "{}",
        text(&out.stdout)
    );
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn json_streams_started_step_progress_and_finished_events_one_per_line() {
    let run = run_slow(&[
        "--format",
        "json",
        "--progress-interval",
        "1s",
        "--slow-after",
        "2s",
    ])
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        progress_lines(&run.stderr).is_empty() && !run.stderr.contains("slow: "),
        "with JSON they go to stdout: {}",
        run.stderr
    );
    let of_windows: Vec<(String, Value)> = events
        .iter()
        .filter(|e| e["name"] == WINDOWS_CELL)
        .map(|e| {
            let kind = format!("{} {}", e["type"], e["event"]).replace('"', "");
            (kind, e.clone())
        })
        .collect();
    let kinds: Vec<&str> = of_windows.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"test started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"test ok"), "{kinds:?}");
    let steps: Vec<&Value> = of_windows
        .iter()
        .filter(|(k, _)| k == "step started")
        .map(|(_, e)| e)
        .collect();
    let numbers: Vec<u64> = steps.iter().filter_map(|e| e["step"].as_u64()).collect();
    assert_eq!(numbers, [1, 2, 3, 4], "{steps:#?}");
    assert_eq!(steps[1]["what"], "wait for pod \"p\" to be ready");
    assert!(
        steps[1]["location"]
            .as_str()
            .is_some_and(|l| l.contains("scheduling")),
        "{}",
        steps[1]
    );
    let slow = of_windows
        .iter()
        .find(|(k, _)| k == "slow null")
        .map(|(_, e)| e)
        .unwrap_or_else(|| panic!("a slow event: {kinds:?}"));
    assert_eq!(slow["step"], 2, "{slow}");
    assert!(
        slow["seen"]
            .as_str()
            .is_some_and(|s| s.starts_with("ContainerCreating on windows-node-")),
        "{slow}"
    );
    let progress: Vec<&Value> = events.iter().filter(|e| e["type"] == "progress").collect();
    assert!(!progress.is_empty(), "{}", run.stdout);
    assert!(
        progress
            .iter()
            .all(|p| p["total"] == 2 && p["done"].is_u64()),
        "{progress:#?}"
    );
}

#[test]
fn bad_periods_exit_2_naming_the_flag() {
    for (flag, value) in [
        ("--progress-interval", "soon"),
        ("--progress-interval", "1.5s"),
        ("--progress-interval", "30"),
        ("--slow-after", "5d"),
    ] {
        let (code, _, stderr) = hybrid_e2e(&["run", "--sim", flag, value]);
        assert_eq!(code, Some(2), "{flag} {value}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '{flag} <DURATION>'")),
            "{stderr}"
        );
        assert!(
            stderr.contains("expected a duration such as 30s"),
            "{stderr}"
        );
    }
}
