//! The binary's behaviour without a cluster: listing, rendering, and bad input (exit code 2,
//! one clear line naming file, line and field).

use crate::common::harness::hybrid_e2e as run;

#[test]
fn list_windows_without_storage_prints_exactly_the_matching_tests() {
    let (code, stdout, stderr) = run(&["list", "--tags", "windows && !storage"]);
    assert_eq!(code, Some(0), "{stderr}");
    let names: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert!(!names.is_empty());
    for line in stdout.lines() {
        assert!(line.contains("windows"), "{line}");
        assert!(!line.contains("storage"), "{line}");
    }
    assert!(
        names.contains(&"networking/pod-to-pod[client=linux,server=windows]"),
        "{stdout}"
    );
    assert!(
        names.contains(&"scheduling/lands-on-requested-os[os=windows]")
            || stdout.contains("scheduling/"),
        "{stdout}"
    );
    assert!(!stdout.contains("client=linux,server=linux"), "{stdout}");
}

#[test]
fn list_hybrid_is_exactly_the_cross_os_cells() {
    // The networking suite's own hybrid cells are checked in tests/networking.rs.
    let (code, stdout, _) = run(&["list", "--tags", "hybrid && conformance"]);
    assert_eq!(code, Some(0));
    let mut names: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "networking/pod-to-pod[client=linux,server=windows]",
            "networking/pod-to-pod[client=windows,server=linux]"
        ]
    );
}

#[test]
fn an_unknown_tag_exits_2_and_lists_the_known_tags() {
    let (code, _, stderr) = run(&["list", "--tags", "windows && netwrking"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("netwrking"), "{stderr}");
    assert!(
        stderr.contains("networking") && stderr.contains("linux"),
        "lists known tags: {stderr}"
    );
    let (code, _, stderr) = run(&["run", "--sim", "--tags", "(windows"]);
    assert_eq!(code, Some(2), "{stderr}");
}

#[test]
fn an_unknown_quirk_exits_2_naming_the_flag_and_the_known_quirks() {
    let (code, _, stderr) = run(&["run", "--sim", "--quirk", "no-such-quirk"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid value 'no-such-quirk' for '--quirk <NAME>'"),
        "{stderr}"
    );
    for known in ["all", "windows-scale-up", "ltsc2025", "pod-proxy-blocked"] {
        assert!(stderr.contains(known), "{known} listed: {stderr}");
    }
}

#[test]
fn a_malformed_suite_exits_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.yaml"),
        "suite: broken\ntests:\n  - name: t\n    steps:\n      - wait: { pod: p, until: redy }\n",
    )
    .unwrap();
    let suites = dir.path().to_str().unwrap();
    let (code, _, stderr) = run(&["list", "--suites", suites]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("broken.yaml:5"), "file and line: {stderr}");
    assert!(
        stderr.contains("until") || stderr.contains("pod"),
        "field: {stderr}"
    );
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{stderr}"
    );
    let (code, _, stderr) = run(&["run", "--sim", "--suites", suites]);
    assert_eq!(
        code,
        Some(2),
        "run rejects it before touching a cluster: {stderr}"
    );
}

#[test]
fn a_missing_kubeconfig_exits_2_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let (code, _, stderr) = run(&[
        "run",
        "--kubeconfig",
        missing.to_str().unwrap(),
        "--report-dir",
        dir.path().join("r").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("does not exist") && stderr.contains("--sim"),
        "{stderr}"
    );
}

#[test]
fn render_prints_objects_with_the_namespace_placeholder() {
    let (code, stdout, stderr) = run(&[
        "render",
        "networking/pod-to-pod[client=linux,server=windows]",
        "--exact",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("kind: Pod"), "{stdout}");
    assert!(stdout.contains("${namespace}"), "{stdout}");
    assert!(stdout.contains("kubernetes.io/os: windows"), "{stdout}");
    assert!(stdout.contains("kubernetes.io/os: linux"), "{stdout}");
}

#[test]
fn help_explains_tags_reports_and_exit_codes() {
    let (code, stdout, _) = run(&["run", "--help"]);
    assert_eq!(code, Some(0));
    for needle in [
        "Tag expressions",
        "junit.xml",
        "Exit codes",
        "130",
        "--fault",
    ] {
        assert!(stdout.contains(needle), "{needle} in help");
    }
}

/// `render | head -1` and `list | head -1`: a closed stdout ends the command with exit 0 and
/// no panic message, as ripgrep does.
#[test]
fn a_closed_stdout_is_not_an_error() {
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::process::{Command, Stdio};
    for command in ["render", "list"] {
        let mut child = Command::new(crate::common::harness::BIN)
            .arg(command)
            .env_remove("KUBECONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary runs");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("one line");
        // The reader is dropped here: the pipe is closed with most of the output unread.
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("stderr read");
        let status = child.wait().expect("binary ends");
        assert!(!first.is_empty(), "{command} printed a first line");
        assert_eq!(status.code(), Some(0), "{command}: {stderr}");
        assert!(!stderr.contains("panicked"), "{command}: {stderr}");
    }
}
