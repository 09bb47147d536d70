//! Tests of the whole catalog: the embedded suites, expansion, selection, and one
//! test per kind of validation error (file, line and field in the message).

use std::collections::BTreeSet;

use super::*;

fn embedded() -> Catalog {
    Catalog::load(None, None).unwrap_or_else(|e| panic!("embedded catalog: {e}"))
}

fn names(cases: &[TestCase]) -> Vec<String> {
    cases.iter().map(|c| c.name.clone()).collect()
}

#[test]
fn the_embedded_catalog_loads_with_the_expected_cells() {
    let catalog = embedded();
    let all: Vec<&str> = catalog.tests.iter().map(|t| t.name.as_str()).collect();
    // The suites grow; these cells of the first catalog stay.
    for name in [
        "lifecycle/exit-zero-succeeds[os=linux]",
        "lifecycle/exit-zero-succeeds[os=windows]",
        "lifecycle/exit-nonzero-fails[os=linux]",
        "lifecycle/exit-nonzero-fails[os=windows]",
        "networking/pod-to-pod[client=linux,server=linux]",
        "networking/pod-to-pod[client=linux,server=windows]",
        "networking/pod-to-pod[client=windows,server=linux]",
        "networking/pod-to-pod[client=windows,server=windows]",
        "scheduling/lands-on-requested-os[os=linux]",
        "scheduling/lands-on-requested-os[os=windows]",
        "storage/emptydir-shared-between-containers[os=linux]",
        "storage/emptydir-shared-between-containers[os=windows]",
    ] {
        assert!(all.contains(&name), "{name} in {all:?}");
    }
    for case in &catalog.tests {
        // hostPath needs privileges some clusters deny: never conformance.
        if case.tags.contains("hostpath") {
            assert!(!case.tags.contains("conformance"), "{}", case.name);
        }
        assert!(case.tags.contains(&case.suite), "{}", case.name);
    }
}

#[test]
fn cells_get_os_tags_hybrid_and_node_requirements() {
    let catalog = embedded();
    let case = catalog
        .tests
        .iter()
        .find(|t| t.name == "networking/pod-to-pod[client=windows,server=linux]")
        .expect("cell");
    let tags: Vec<&str> = case.tags.iter().map(String::as_str).collect();
    assert_eq!(
        tags,
        [
            "conformance",
            "hybrid",
            "linux",
            "networking",
            "pod-network",
            "windows"
        ]
    );
    assert_eq!(case.oses, [Os::Linux, Os::Windows].into_iter().collect());
    assert_eq!(
        case.requires,
        [
            Requirement::Nodes(Os::Linux),
            Requirement::Nodes(Os::Windows)
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(case.cell.get("client").map(String::as_str), Some("windows"));
    assert_eq!(case.location.to_string(), "suites/networking.yaml:4");
    assert_eq!(case.steps[4].location.line, 13);
    let Action::Create { os, name, .. } = &case.steps[0].action else {
        panic!("create first")
    };
    assert_eq!((*os, name.as_str()), (Os::Linux, "server"));

    let same = catalog
        .tests
        .iter()
        .find(|t| t.name == "networking/pod-to-pod[client=linux,server=linux]")
        .expect("cell");
    assert!(!same.tags.contains("hybrid") && !same.tags.contains("windows"));
}

#[test]
fn per_os_commands_follow_the_pod_os() {
    let catalog = embedded();
    let command = |name: &str| {
        let case = catalog.tests.iter().find(|t| t.name == name).expect("cell");
        case.steps
            .iter()
            .find_map(|s| match &s.action {
                Action::Exec { command, .. } => Some(command.clone()),
                _ => None,
            })
            .expect("exec step")
    };
    assert_eq!(
        command("storage/emptydir-shared-between-containers[os=linux]"),
        ["sh", "-c", "echo hello > /data/msg"]
    );
    assert_eq!(
        command("storage/emptydir-shared-between-containers[os=windows]"),
        ["cmd", "/c", "echo hello > C:\\data\\msg"]
    );
}

#[test]
fn expect_values_keep_their_yaml_types() {
    let catalog = embedded();
    let case = catalog
        .tests
        .iter()
        .find(|t| t.name == "lifecycle/exit-nonzero-fails[os=windows]")
        .expect("cell");
    let equals: Vec<serde_json::Value> = case
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Expect {
                check: crate::catalog::Check::Equals(v),
                ..
            } => Some(v.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(equals, [serde_json::json!("Failed"), serde_json::json!(3)]);
    let Action::Create { vars, .. } = &case.steps[0].action else {
        panic!()
    };
    assert_eq!(vars.get("script"), Some(&serde_json::json!("exit 3")));
}

#[test]
fn selection_by_tags_names_and_skip() {
    let catalog = embedded();
    let known = catalog.known_tags();
    let sel = |tags: Option<&str>, filters: &[&str], exact: bool, skip: &[&str]| Selection {
        tags: tags.map(|t| {
            TagExpr::parse(t)
                .and_then(|e| e.check(&known))
                .expect("tag expr")
        }),
        filters: filters.iter().map(|s| s.to_string()).collect(),
        exact,
        skip: skip.iter().map(|s| s.to_string()).collect(),
    };
    assert_eq!(
        names(&catalog.select(&sel(Some("hybrid && conformance"), &[], false, &[]))),
        [
            "networking/pod-to-pod[client=linux,server=windows]",
            "networking/pod-to-pod[client=windows,server=linux]"
        ]
    );
    let windows_no_storage = catalog.select(&sel(Some("windows && !storage"), &[], false, &[]));
    assert_eq!(windows_no_storage.len(), 50);
    assert!(windows_no_storage
        .iter()
        .all(|c| c.tags.contains("windows") && !c.tags.contains("storage")));
    assert_eq!(
        catalog
            .select(&sel(None, &["pod-to-pod["], false, &["windows"]))
            .len(),
        1
    );
    assert_eq!(
        names(&catalog.select(&sel(
            None,
            &["scheduling/lands-on-requested-os[os=linux]"],
            true,
            &[]
        ))),
        ["scheduling/lands-on-requested-os[os=linux]"]
    );
    assert!(catalog
        .select(&sel(None, &["scheduling"], true, &[]))
        .is_empty());
    assert_eq!(
        catalog.select(&sel(None, &[], false, &[])).len(),
        catalog.tests.len()
    );
    for tag in [
        "linux",
        "windows",
        "hybrid",
        "conformance",
        "networking",
        "storage",
        "lifecycle",
        "scheduling",
    ] {
        assert!(known.contains(tag), "{tag}");
    }
}

// ---- validation errors: one per kind, each naming file, line and field ----

const HEADER: &str = "suite: s\ntests:\n  - name: t\n";

fn load_err(suite: &str) -> String {
    let fixtures = FixtureSet::load(None).expect("fixtures");
    let files = [SourceFile {
        name: "suites/s.yaml".into(),
        text: suite.into(),
    }];
    match Catalog::from_files(&files, fixtures) {
        Ok(c) => panic!("expected an error, loaded {} tests", c.tests.len()),
        Err(e) => e.to_string(),
    }
}

/// A test with a matrix over `os` and the given steps (indented for `steps:`).
fn with_steps(steps: &str) -> String {
    format!("{HEADER}    matrix: {{ os: [linux, windows] }}\n    steps:\n{steps}")
}

const CREATE: &str = "      - create: { fixture: netexec, name: a, os: \"${os}\" }\n";

#[test]
fn error_yaml_syntax() {
    assert_eq!(
        load_err("suite: s\ntests: [\n  - name: t\n"),
        "suites/s.yaml:3: invalid YAML: \"-\" is only valid inside a block"
    );
}

#[test]
fn error_unknown_key() {
    assert_eq!(
        load_err(&format!("{HEADER}    tag: [x]\n    steps: []\n")),
        "suites/s.yaml:4: tests[0].tag: unknown key, expected one of: name, description, tags, matrix, requires, linux-only, opt-in, steps (did you mean \"tags\"?)"
    );
    assert_eq!(
        load_err(&with_steps(&format!("{CREATE}      - wait: {{ pod: a, untl: ready }}\n"))),
        "suites/s.yaml:7: tests[0].steps[1].wait.untl: unknown key, expected one of: pod, deployment, job, claim, until, fails-with, timeout (did you mean \"until\"?)"
    );
}

#[test]
fn error_unknown_step_kind() {
    assert_eq!(
        load_err(&with_steps(&format!("{CREATE}      - wiat: {{ pod: a, until: ready }}\n"))),
        "suites/s.yaml:7: tests[0].steps[1].wiat: unknown step kind, expected one of: create, wait, http, dns, exec, logs, expect, event, patch, sleep, delete (and an optional timeout) (did you mean \"wait\"?)"
    );
}

#[test]
fn error_unknown_value() {
    assert_eq!(
        load_err(&with_steps(&format!("{CREATE}      - wait: {{ pod: a, until: redy }}\n"))),
        "suites/s.yaml:7: tests[0].steps[1].wait.until: unknown value \"redy\", expected one of: scheduled, running, ready, succeeded, failed, completed, not-ready, available, complete, bound (did you mean \"ready\"?)"
    );
}

#[test]
fn error_unknown_fixture() {
    let e = load_err(&with_steps(
        "      - create: { fixture: netexc, name: a, os: linux }\n",
    ));
    assert!(
        e.starts_with("suites/s.yaml:6: tests[0].steps[0].create.fixture: unknown fixture \"netexc\", known fixtures: "),
        "{e}"
    );
    assert!(e.contains(" netexec, "), "{e}");
    assert!(e.ends_with("(did you mean \"netexec\"?)"), "{e}");
}

#[test]
fn error_undefined_variable() {
    assert_eq!(
        load_err(&with_steps("      - create: { fixture: netexec, name: a, os: \"${oss}\" }\n")),
        "suites/s.yaml:6: tests[0].steps[0].create.os: undefined variable ${oss}; defined here: os, namespace"
    );
}

#[test]
fn error_unknown_fixture_parameter() {
    assert_eq!(
        load_err(&with_steps("      - create: { fixture: shell-command, name: a, os: linux, vars: { scrpt: x } }\n")),
        "suites/s.yaml:6: tests[0].steps[0].create.vars.scrpt: fixture \"shell-command\" has no parameter \"scrpt\" (parameters: restart, script, shell)"
    );
    assert_eq!(
        load_err(&with_steps("      - create: { fixture: shell-command, name: a, os: linux }\n")),
        "suites/s.yaml:6: tests[0].steps[0].create.vars: fixture \"shell-command\" needs the parameter \"script\""
    );
}

#[test]
fn error_pod_not_created_earlier() {
    assert_eq!(
        load_err(&with_steps(&format!("      - wait: {{ pod: a, until: ready }}\n{CREATE}"))),
        "suites/s.yaml:6: tests[0].steps[0].wait.pod: no earlier create step made \"a\" (created so far: none)"
    );
    assert_eq!(
        load_err(&with_steps(&format!(
            "{CREATE}      - http: {{ from: a, to: {{ pod: b, port: 8080 }} }}\n"
        ))),
        "suites/s.yaml:7: tests[0].steps[1].http.to.pod: no earlier create step made \"b\" (created so far: a)"
    );
    assert_eq!(
        load_err(&with_steps(&format!("{CREATE}      - delete: {{ service: a }}\n"))),
        "suites/s.yaml:7: tests[0].steps[1].delete.service: \"a\" was created from fixture \"netexec\", which makes no Service"
    );
}

#[test]
fn error_duplicate_test_name() {
    let suite = format!("{HEADER}    steps:\n{CREATE}  - name: t\n    steps:\n{CREATE}")
        .replace("\"${os}\"", "linux");
    assert_eq!(
        load_err(&suite),
        "suites/s.yaml:6: tests[1].name: duplicate test name \"t\" (first at line 3)"
    );
}

#[test]
fn error_duplicate_yaml_key() {
    assert_eq!(
        load_err("suite: s\nsuite: t\ntests: []\n"),
        "suites/s.yaml:2: duplicate key \"suite\" (first at line 1)"
    );
}

#[test]
fn error_empty_matrix_and_empty_values() {
    assert_eq!(
        load_err(&format!("{HEADER}    matrix: {{}}\n    steps:\n{CREATE}")),
        "suites/s.yaml:4: tests[0].matrix: empty matrix: give at least one key with values, or leave the matrix out"
    );
    assert_eq!(
        load_err(&format!(
            "{HEADER}    matrix: {{ os: [] }}\n    steps:\n{CREATE}"
        )),
        "suites/s.yaml:4: tests[0].matrix.os: empty value list: give at least one value"
    );
}

#[test]
fn error_bad_os_after_substitution() {
    assert_eq!(
        load_err(&format!("{HEADER}    matrix: {{ os: [linux, macos] }}\n    steps:\n{CREATE}")),
        "suites/s.yaml:6: tests[0].steps[0].create.os: unknown value \"macos\", expected one of: linux, windows"
    );
}

#[test]
fn error_bad_timeout() {
    assert_eq!(
        load_err(&with_steps(&format!("{CREATE}      - wait: {{ pod: a, until: ready }}\n        timeout: 90\n"))),
        "suites/s.yaml:8: tests[0].steps[1].timeout: invalid duration \"90\", expected e.g. 90s, 2m, 1m30s or 500ms"
    );
    assert_eq!(
        load_err(&with_steps(&format!("{CREATE}      - wait: {{ pod: a, until: ready, timeout: soon }}\n"))),
        "suites/s.yaml:7: tests[0].steps[1].wait.timeout: invalid duration \"soon\", expected e.g. 90s, 2m, 1m30s or 500ms"
    );
}

#[test]
fn error_missing_field_and_bad_shapes() {
    assert_eq!(
        load_err(&with_steps(&format!(
            "{CREATE}      - wait: {{ pod: a }}\n"
        ))),
        "suites/s.yaml:7: tests[0].steps[1].wait.until: missing required field"
    );
    assert_eq!(
        load_err("suite: s\ntests: {}\n"),
        "suites/s.yaml:2: tests: expected a list of tests, found a mapping"
    );
    assert_eq!(
        load_err(&with_steps(&format!("{CREATE}      - expect: {{ pod: a, path: status, equals: x }}\n"))),
        "suites/s.yaml:7: tests[0].steps[1].expect.path: invalid JSONPath \"status\" (at position 0, parser error), expected e.g. \"$.status.phase\""
    );
}

#[test]
fn several_problems_are_all_collected() {
    let fixtures = FixtureSet::load(None).expect("fixtures");
    let files = [SourceFile {
        name: "suites/s.yaml".into(),
        text: with_steps(&format!(
            "{CREATE}      - wait: {{ pod: a, until: redy }}\n      - wiat: {{}}\n"
        )),
    }];
    let e = Catalog::from_files(&files, fixtures).expect_err("invalid");
    let lines: Vec<usize> = e.diagnostics().iter().map(|d| d.line).collect();
    assert_eq!(lines, [7, 8], "each once, though both cells fail: {e}");
    assert!(e.to_string().ends_with("(and 1 more problem(s))"), "{e}");
}

#[test]
fn suites_from_a_directory_replace_the_embedded_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("mine.yaml"),
        "suite: mine\ntests:\n  - name: solo\n    tags: [smoke]\n    steps:\n      - create: { fixture: pause, name: p, os: windows }\n      - wait: { pod: p, until: running, timeout: 2m }\n",
    )
    .expect("write");
    let catalog = Catalog::load(Some(dir.path()), None).expect("loads");
    assert_eq!(catalog.tests.len(), 1);
    let case = &catalog.tests[0];
    assert_eq!(case.name, "mine/solo");
    let tags: BTreeSet<&str> = case.tags.iter().map(String::as_str).collect();
    assert_eq!(tags, ["mine", "smoke", "windows"].into_iter().collect());
    assert_eq!(
        case.steps[1].timeout,
        Some(std::time::Duration::from_secs(120))
    );
    assert!(case.location.file.ends_with("mine.yaml"));
}

#[test]
fn linux_only_records_its_reason_and_forbids_windows_cells() {
    let fixtures = FixtureSet::load(None).expect("fixtures");
    let text = format!(
        "{HEADER}    linux-only: no tmpfs on Windows\n    matrix: {{ os: [linux] }}\n    steps:\n{CREATE}"
    );
    let files = [SourceFile {
        name: "suites/s.yaml".into(),
        text,
    }];
    let catalog = Catalog::from_files(&files, fixtures).expect("loads");
    assert_eq!(
        catalog.tests[0].linux_only.as_deref(),
        Some("no tmpfs on Windows")
    );
    let e = load_err(&format!(
        "{HEADER}    linux-only: no tmpfs\n    matrix: {{ os: [linux, windows] }}\n    steps:\n{CREATE}"
    ));
    assert_eq!(
        e,
        "suites/s.yaml:3: tests[0].linux-only: the test is linux-only but a cell creates objects for windows"
    );
    let e = load_err(&format!(
        "{HEADER}    linux-only: \"\"\n    steps:\n{CREATE}"
    ));
    assert!(e.contains("tests[0].linux-only: give the reason"), "{e}");
}

#[test]
fn network_steps_dns_node_port_harness_and_bodies() {
    let fixtures = FixtureSet::load(None).expect("fixtures");
    let steps = format!(
        "{CREATE}      - create: {{ fixture: netexec-service, name: web, os: linux, vars: {{ type: NodePort }} }}
      - dns: {{ from: a, name: kubernetes.default, expect: nxdomain }}
      - http: {{ from: a, to: {{ node-port: web, path: /hostname }}, expect: {{ bodies: [x, y] }} }}
      - http: {{ from: harness, to: {{ node-port: web }} }}
"
    );
    let files = [SourceFile {
        name: "suites/s.yaml".into(),
        text: with_steps(&steps),
    }];
    let catalog = Catalog::from_files(&files, fixtures).expect("loads");
    let steps = &catalog.tests[0].steps;
    assert!(matches!(
        &steps[2].action,
        Action::Dns { from, name, expect: DnsExpect::Nxdomain } if from == "a" && name == "kubernetes.default"
    ));
    let Action::Http { to, expect, .. } = &steps[3].action else {
        panic!("http")
    };
    assert!(matches!(&to.kind, TargetKind::NodePort(s) if s == "web"));
    assert_eq!(
        (to.port, expect.bodies.clone()),
        (0, vec!["x".to_string(), "y".to_string()])
    );
    assert!(matches!(&steps[4].action, Action::HttpFromHarness { .. }));
}

#[test]
fn error_network_steps() {
    let e = load_err(&with_steps(&format!(
        "{CREATE}      - dns: {{ from: a, name: x, expect: resolved }}\n"
    )));
    assert_eq!(
        e,
        "suites/s.yaml:7: tests[0].steps[1].dns.expect: unknown value \"resolved\", expected one of: resolves, nxdomain (did you mean \"resolves\"?)"
    );
    let e = load_err(&with_steps(&format!(
        "{CREATE}      - http: {{ from: harness, to: {{ pod: a, port: 8080 }} }}\n"
    )));
    assert!(
        e.contains("from the harness, only node-port and host targets are reachable"),
        "{e}"
    );
    let e = load_err(&with_steps(&format!(
        "{CREATE}      - http: {{ from: a, to: {{ node-port: a }} }}\n"
    )));
    assert!(e.contains("makes no Service"), "{e}");
    let e = load_err(&with_steps(&format!(
        "{CREATE}      - http: {{ from: a, to: {{ pod: a, port: 8080 }}, expect: {{ body: x, bodies: [y] }} }}\n"
    )));
    assert!(e.contains("give body or bodies, not both"), "{e}");
    let e = load_err(&with_steps(&format!(
        "{CREATE}      - http: {{ from: a, to: {{ pod: a, port: 8080 }}, expect: {{ client-ip: a, body: x }} }}\n"
    )));
    assert!(
        e.contains("expect.client-ip: client-ip judges the whole answer"),
        "{e}"
    );
    let e = load_err(&with_steps(&format!(
        "{CREATE}      - http: {{ from: a, to: {{ pod: a, port: 8080 }}, expect: {{ client-ip: b }} }}\n"
    )));
    assert!(
        e.starts_with("suites/s.yaml:7: ") && e.contains("no earlier create step made \"b\""),
        "{e}"
    );
}

#[test]
fn error_until_that_does_not_fit_the_kind() {
    assert_eq!(
        load_err(&with_steps(&format!("{CREATE}      - wait: {{ pod: a, until: bound }}\n"))),
        "suites/s.yaml:7: tests[0].steps[1].wait.until: a Pod cannot be waited for until \"bound\"; expected one of: scheduled, running, ready, succeeded, failed, completed, not-ready"
    );
}

// ---- opt-in cells ----

/// A test over `client: [linux, windows]` with this `opt-in` block (indented for it) and one step.
fn with_opt_in(block: &str) -> String {
    format!(
        "{HEADER}    tags: [dns]\n    matrix: {{ client: [linux, windows] }}\n    opt-in:\n{block}    steps:\n{}",
        CREATE.replace("${os}", "${client}")
    )
}

fn load(text: String) -> Catalog {
    let fixtures = FixtureSet::load(None).expect("fixtures");
    let files = [SourceFile {
        name: "suites/s.yaml".into(),
        text,
    }];
    Catalog::from_files(&files, fixtures).unwrap_or_else(|e| panic!("loads: {e}"))
}

fn opt_ins(case: &TestCase) -> Vec<(String, String)> {
    case.requires
        .iter()
        .filter_map(|r| match r {
            Requirement::OptIn { tag, reason } => Some((tag.clone(), reason.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn opt_in_cells_get_the_tag_and_the_requirement_others_neither() {
    let catalog = load(with_opt_in(
        "      tag: windows-pqdn\n      when: { client: windows }\n      reason: \" not on Windows \"\n",
    ));
    let [linux, windows] = &catalog.tests[..] else {
        panic!("two cells: {:?}", catalog.tests)
    };
    assert_eq!(linux.name, "s/t[client=linux]");
    assert!(!linux.tags.contains("windows-pqdn"), "{:?}", linux.tags);
    assert!(opt_ins(linux).is_empty(), "{:?}", linux.requires);
    assert!(windows.tags.contains("windows-pqdn"), "{:?}", windows.tags);
    assert_eq!(
        opt_ins(windows),
        [("windows-pqdn".to_string(), "not on Windows".to_string())]
    );
    assert!(catalog.known_tags().contains("windows-pqdn"));

    // Without `when`, every cell is opt-in.
    let catalog = load(with_opt_in("      tag: later\n      reason: r\n"));
    assert!(catalog
        .tests
        .iter()
        .all(|c| c.tags.contains("later") && opt_ins(c).len() == 1));
}

#[test]
fn the_embedded_partial_name_cells_are_opt_in_from_windows_clients() {
    let catalog = embedded();
    let case = |name: &str| {
        catalog
            .tests
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    for name in [
        "networking/dns-partial-names[client=windows]",
        "networking/service-by-partial-name[client=windows,server=linux]",
        "networking/service-by-partial-name[client=windows,server=windows]",
    ] {
        let opt_in = opt_ins(case(name));
        assert_eq!(opt_in.len(), 1, "{name}");
        assert_eq!(opt_in[0].0, "windows-pqdn");
        assert!(
            opt_in[0].1.contains(
                "https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#dns-windows"
            ),
            "{name}: {}",
            opt_in[0].1
        );
    }
    for name in [
        "networking/dns-partial-names[client=linux]",
        "networking/service-by-partial-name[client=linux,server=windows]",
        "networking/dns[client=windows]",
        "networking/service-by-name[client=windows,server=linux]",
    ] {
        assert!(opt_ins(case(name)).is_empty(), "{name}");
        assert!(!case(name).tags.contains("windows-pqdn"), "{name}");
    }
}

#[test]
fn selection_grants_an_opt_in_only_when_the_tag_expression_names_it() {
    let catalog = embedded();
    let known = catalog.known_tags();
    let select = |tags: Option<&str>| {
        catalog.select(&Selection {
            tags: tags.map(|t| {
                TagExpr::parse(t)
                    .and_then(|e| e.check(&known))
                    .expect("tags")
            }),
            ..Selection::default()
        })
    };
    let pending = |cases: &[TestCase]| -> Vec<String> {
        cases
            .iter()
            .filter(|c| !opt_ins(c).is_empty())
            .map(|c| c.name.clone())
            .collect()
    };
    let opt_in_cells = [
        "networking/service-by-partial-name[client=windows,server=linux]",
        "networking/service-by-partial-name[client=windows,server=windows]",
        "networking/dns-partial-names[client=windows]",
    ];
    // Selected, but still opt-in: they will skip.
    assert_eq!(pending(&select(None)), opt_in_cells);
    assert_eq!(pending(&select(Some("dns"))), opt_in_cells);
    assert_eq!(pending(&select(Some("dns && windows"))), opt_in_cells);
    // Named: opted in.
    let chosen = select(Some("windows-pqdn"));
    assert_eq!(names(&chosen), opt_in_cells);
    assert!(pending(&chosen).is_empty());
    let chosen = select(Some("dns && windows-pqdn"));
    assert_eq!(names(&chosen), opt_in_cells);
    assert!(pending(&chosen).is_empty());
    let chosen = select(Some("networking || windows-pqdn"));
    assert!(chosen.len() > opt_in_cells.len());
    assert!(pending(&chosen).is_empty());
    // Negated: not selected at all.
    let chosen = select(Some("dns && !windows-pqdn"));
    assert!(chosen.iter().all(|c| !c.tags.contains("windows-pqdn")));
    assert!(!chosen.is_empty());
}

#[test]
fn error_opt_in() {
    let cases = [
        (
            "      tag: windows-pqdn\n      when: { client: windows }\n      reasn: x\n",
            "suites/s.yaml:9: tests[0].opt-in.reasn: unknown key, expected one of: tag, when, reason (did you mean \"reason\"?)",
        ),
        (
            "      tag: windows-pqdn\n      when: { clinet: windows }\n      reason: x\n",
            "suites/s.yaml:8: tests[0].opt-in.when.clinet: the test has no matrix variable \"clinet\" (matrix: client) (did you mean \"client\"?)",
        ),
        (
            "      tag: windows-pqdn\n      when: { client: macos }\n      reason: x\n",
            "suites/s.yaml:8: tests[0].opt-in.when.client: \"macos\" is not a value of the matrix variable \"client\" (values: linux, windows)",
        ),
        (
            "      tag: windows-pqdn\n      when: {}\n      reason: x\n",
            "suites/s.yaml:8: tests[0].opt-in.when: no matrix bindings: leave `when` out to make every cell opt-in",
        ),
        (
            "      tag: windows-pqdn\n      when: { client: windows }\n",
            "suites/s.yaml:7: tests[0].opt-in.reason: missing required field",
        ),
        (
            "      tag: windows-pqdn\n      reason: \"  \"\n",
            "suites/s.yaml:8: tests[0].opt-in.reason: give the reason the cells do not run by default",
        ),
        (
            "      when: { client: windows }\n      reason: x\n",
            "suites/s.yaml:7: tests[0].opt-in.tag: missing required field",
        ),
        (
            "      tag: Windows_PQDN\n      reason: x\n",
            "suites/s.yaml:7: tests[0].opt-in.tag: invalid tag \"Windows_PQDN\": use lowercase letters, digits, '.', '_' and '-'",
        ),
        (
            "      tag: windows\n      reason: x\n",
            "suites/s.yaml:7: tests[0].opt-in.tag: \"windows\" already selects cells of this test; an opt-in needs a tag of its own",
        ),
        (
            "      tag: dns\n      reason: x\n",
            "suites/s.yaml:7: tests[0].opt-in.tag: \"dns\" already selects cells of this test; an opt-in needs a tag of its own",
        ),
        (
            "      tag: s\n      reason: x\n",
            "suites/s.yaml:7: tests[0].opt-in.tag: \"s\" already selects cells of this test; an opt-in needs a tag of its own",
        ),
    ];
    for (block, expected) in cases {
        assert_eq!(load_err(&with_opt_in(block)), expected, "{block}");
    }
    assert_eq!(
        load_err(&format!(
            "{HEADER}    opt-in: windows-pqdn\n    steps:\n{CREATE}"
        )),
        "suites/s.yaml:4: tests[0].opt-in: expected a mapping, found a scalar"
    );
}

#[test]
fn cluster_domain_fits_substituted_step_strings_and_marks_the_cell() {
    let fixtures = FixtureSet::load(None).expect("fixtures");
    let steps = format!(
        "{CREATE}      - dns: {{ from: a, name: \"x.${{namespace}}.svc.${{cluster-domain}}\", expect: nxdomain }}
      - exec: {{ pod: a, command: [echo, \"${{cluster-domain}}\"], expect: {{ stdout: \"${{cluster-domain}}\" }} }}
"
    );
    let files = [SourceFile {
        name: "suites/s.yaml".into(),
        text: with_steps(&steps),
    }];
    let catalog = Catalog::from_files(&files, fixtures).expect("loads");
    let case = &catalog.tests[0];
    assert!(matches!(
        &case.steps[1].action,
        Action::Dns { name, .. } if name == "x.${namespace}.svc.${cluster-domain}"
    ));
    assert!(case.uses_cluster_domain());
    let plain = embedded();
    let pod_to_pod = plain
        .tests
        .iter()
        .find(|t| t.name == "networking/pod-to-pod[client=linux,server=linux]")
        .expect("cell");
    assert!(!pod_to_pod.uses_cluster_domain());
    let by_name = plain
        .tests
        .iter()
        .find(|t| t.name == "networking/service-by-name[client=linux,server=linux]")
        .expect("cell");
    assert!(by_name.uses_cluster_domain());
}

#[test]
fn error_cluster_domain_where_nothing_substitutes_it() {
    const WHY: &str = "${cluster-domain} cannot be used here (it is substituted only in step strings: http to.host, to.path and expect, dns name, exec command and expect.stdout, logs contains, expect equals, not-equals and contains, patch merge, create vars)";
    let cases = [
        (
            with_steps("      - create: { fixture: netexec, name: \"${cluster-domain}\", os: linux }\n"),
            "suites/s.yaml:6: tests[0].steps[0].create.name",
        ),
        (
            with_steps("      - create: { fixture: netexec, name: a, os: \"${cluster-domain}\" }\n"),
            "suites/s.yaml:6: tests[0].steps[0].create.os",
        ),
        (
            with_steps(&format!("{CREATE}      - wait: {{ pod: a, until: ready }}\n        timeout: \"${{cluster-domain}}\"\n")),
            "suites/s.yaml:8: tests[0].steps[1].timeout",
        ),
        (
            format!("{HEADER}    tags: [x, \"${{cluster-domain}}\"]\n    steps:\n{CREATE}"),
            "suites/s.yaml:4: tests[0].tags[1]",
        ),
        (
            format!("{HEADER}    matrix: {{ os: [linux, \"${{cluster-domain}}\"] }}\n    steps:\n{CREATE}"),
            "suites/s.yaml:4: tests[0].matrix.os[1]",
        ),
        (
            "suite: s\ntests:\n  - name: \"t-${cluster-domain}\"\n    steps: [sleep: 1s]\n".to_string(),
            "suites/s.yaml:3: tests[0].name",
        ),
    ];
    for (suite, at) in cases {
        assert_eq!(load_err(&suite), format!("{at}: {WHY}"), "{suite}");
    }
    // Escaped, it is a literal and no placeholder at all.
    let fixtures = FixtureSet::load(None).expect("fixtures");
    let files = [SourceFile {
        name: "suites/s.yaml".into(),
        text: format!(
            "{HEADER}    description: \"$${{cluster-domain}}\"\n    steps:\n      - sleep: 1s\n"
        ),
    }];
    assert!(Catalog::from_files(&files, fixtures).is_ok());
}
