//! `--shard K/N` end to end: the shards `list` prints are disjoint, together are the
//! selection and differ in size by at most one; bad values exit 2 naming the flag; a sharded
//! run runs only its cells and records its shard in results.json, JUnit and summary.md.

use std::collections::BTreeSet;

use hybrid_sim::SimConfig;

use crate::common::harness::{hybrid_e2e, results, run_sim, Cluster};

/// The test names `hybrid-e2e list ARGS` prints, in order.
fn listed(args: &[&str]) -> Vec<String> {
    let mut command = vec!["list"];
    command.extend_from_slice(args);
    let (code, stdout, stderr) = hybrid_e2e(&command);
    assert_eq!(code, Some(0), "{stderr}");
    stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn three_shards_are_disjoint_balanced_and_together_the_list() {
    for selection in [&[][..], &["--tags", "windows"][..], &["pod-to-pod"][..]] {
        let whole = listed(selection);
        assert!(whole.len() >= 3, "{selection:?}: {whole:?}");
        let shards: Vec<Vec<String>> = (1..=3)
            .map(|k| {
                let shard = format!("{k}/3");
                let mut args = selection.to_vec();
                args.extend(["--shard", shard.as_str()]);
                listed(&args)
            })
            .collect();
        let mut union: Vec<String> = shards.iter().flatten().cloned().collect();
        let distinct: BTreeSet<&String> = union.iter().collect();
        assert_eq!(distinct.len(), union.len(), "shards overlap: {shards:?}");
        union.sort();
        let mut sorted = whole.clone();
        sorted.sort();
        assert_eq!(union, sorted, "{selection:?}: {shards:?}");
        let sizes: Vec<usize> = shards.iter().map(Vec::len).collect();
        let spread = sizes.iter().max().unwrap_or(&0) - sizes.iter().min().unwrap_or(&0);
        assert!(spread <= 1, "{selection:?}: sizes {sizes:?}");
        // Round-robin in catalog order: shard 1 starts with the first test.
        assert_eq!(shards[0].first(), whole.first());
    }
}

#[test]
fn list_says_which_shard_of_how_many() {
    let (code, _, stderr) = hybrid_e2e(&["list", "--tags", "scheduling", "--shard", "2/2"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr.trim(), "1 test(s): shard 2/2 of 2 selected");
}

#[test]
fn bad_shard_values_exit_2_naming_the_flag() {
    for (value, why) in [
        ("0/3", "K must be 1 to 3, not 0"),
        ("4/3", "K must be 1 to 3, not 4"),
        ("3", "want K/N (shard K of N, 1 <= K <= N), e.g. 2/3"),
        ("a/b", "K \"a\" is not a whole number"),
        ("1/0", "N must be at least 1"),
        ("2/-1", "N \"-1\" is not a whole number"),
    ] {
        for command in [&["list"][..], &["run", "--sim"][..]] {
            let mut args = command.to_vec();
            args.extend(["--shard", value]);
            let (code, stdout, stderr) = hybrid_e2e(&args);
            assert_eq!(code, Some(2), "{args:?}: {stdout}{stderr}");
            let first = stderr.lines().next().unwrap_or_default();
            let named = format!("error: invalid value '{value}' for '--shard <K/N>': ");
            assert!(first.starts_with(&named), "{first}");
            assert!(first.contains(why), "{first}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_run_runs_only_its_cells_and_records_its_shard() {
    let cluster = Cluster::start(SimConfig::default()).await;
    let out = cluster
        .run(&["--tags", "scheduling", "--shard", "1/2"])
        .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let reports = cluster.reports();
    let ran: Vec<String> = results(&reports)
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ran, listed(&["--tags", "scheduling", "--shard", "1/2"]));
    assert_eq!(ran, ["scheduling/lands-on-requested-os[os=linux]"]);

    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reports.join("results.json")).expect("results.json"),
    )
    .expect("JSON");
    assert_eq!(json["run"]["shard"], "1/2", "{json}");
    let junit = std::fs::read_to_string(reports.join("junit.xml")).expect("junit.xml");
    crate::common::junit_schema::assert_valid_junit(&reports.join("junit.xml"));
    assert!(
        junit.contains("<property name=\"shard\" value=\"1/2\"/>"),
        "{junit}"
    );
    let summary = std::fs::read_to_string(reports.join("summary.md")).expect("summary.md");
    assert!(summary.contains(" · shard 1/2 · "), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_shard_passes_and_says_why_it_is_empty() {
    let run = run_sim(&["--tags", "scheduling", "--shard", "3/3"]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.stdout);
    assert!(run.tests.is_empty(), "{:#?}", run.tests);
    assert!(
        run.stderr.contains(
            "warning: shard 3/3 of the 2 selected test(s) is empty (more shards than tests)"
        ),
        "{}",
        run.stderr
    );
}
