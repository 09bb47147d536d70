//! The reports of hostile, skipped, errored, aborted and empty runs: JUnit validates against
//! `tests/data/junit-10.xsd` and holds what CI needs; results.json and summary.md agree.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::TimeZone;
use quick_xml::events::Event;
use quick_xml::Reader;

use hybrid_e2e_runner::report::{
    self, ClusterDomain, DomainSource, Outcome, RunInfo, RunReport, TestResult,
};

const NASTY: &str = "\x1b[31mERROR\x1b[0m \x00 bell\x07 vt\x0b ]]> <script>alert('x')</script> & &amp; \"q\" \u{fffe} 🚀 日本\r\n";

/// The facts of a run on a mixed cluster, for reports built by hand.
pub(crate) fn info() -> RunInfo {
    RunInfo {
        run_id: "20260102-030405-ab12".into(),
        harness_version: "0.1.0".into(),
        started: chrono::Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("valid date"),
        duration: Duration::from_millis(83_456),
        cluster_version: Some("v1.33.2".into()),
        nodes: vec![
            "linux=2".into(),
            "windows/10.0.20348=1".into(),
            "windows/10.0.26100=1".into(),
        ],
        tag_expression: Some("networking && !slow".into()),
        name_filter: vec!["pod-to-pod".into()],
        api_retries: 0,
        timeout_scale: 1.0,
        windows_timeout_scale: 3.0,
        shard: None,
        cluster_domain: Some(ClusterDomain {
            name: "cluster.example".into(),
            source: DomainSource::Discovered,
        }),
    }
}

fn passed(name: &str) -> TestResult {
    TestResult {
        name: name.into(),
        suite: name.split('/').next().unwrap_or(name).into(),
        tags: vec!["conformance".into()],
        outcome: Outcome::Passed,
        duration: Duration::from_millis(2_345),
        message: None,
        skip_reason: None,
        details: "step 1 ok (0.1s): create netexec server\n".into(),
        notes: vec![],
        artifacts: None,
        attempts: Vec::new(),
    }
}

fn failed(name: &str, message: &str, details: String, artifacts: Option<PathBuf>) -> TestResult {
    TestResult {
        outcome: Outcome::Failed,
        message: Some(message.into()),
        details,
        artifacts,
        ..passed(name)
    }
}

fn skipped(name: &str, reason: &str) -> TestResult {
    TestResult {
        outcome: Outcome::Skipped,
        duration: Duration::ZERO,
        skip_reason: Some(reason.into()),
        details: String::new(),
        notes: vec![],
        ..passed(name)
    }
}

fn run(results: Vec<TestResult>, aborted: Option<&str>) -> RunReport {
    RunReport {
        info: info(),
        results,
        aborted: aborted.map(str::to_string),
        prepull: None,
    }
}

/// One parsed XML element.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn attr(&self, name: &str) -> &str {
        self.attrs
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("<{}> has no attribute {name}: {self:?}", self.name))
    }

    fn all(&self, name: &str) -> Vec<&Element> {
        self.children.iter().filter(|c| c.name == name).collect()
    }

    fn one(&self, name: &str) -> &Element {
        let found = self.all(name);
        assert_eq!(found.len(), 1, "one <{name}> in <{}>: {self:?}", self.name);
        found[0]
    }

    fn suite(&self, name: &str) -> &Element {
        self.all("testsuite")
            .into_iter()
            .find(|s| s.attr("name") == name)
            .unwrap_or_else(|| panic!("testsuite {name}"))
    }

    fn case(&self, name: &str) -> &Element {
        self.all("testcase")
            .into_iter()
            .find(|c| c.attr("name") == name)
            .unwrap_or_else(|| panic!("testcase {name}"))
    }

    fn property(&self, name: &str) -> &str {
        self.one("properties")
            .all("property")
            .into_iter()
            .find(|p| p.attr("name") == name)
            .unwrap_or_else(|| panic!("property {name}"))
            .attr("value")
    }
}

fn element(e: &quick_xml::events::BytesStart<'_>) -> Element {
    let mut el = Element {
        name: String::from_utf8_lossy(e.name().as_ref()).to_string(),
        ..Element::default()
    };
    for a in e.attributes() {
        let a = a.expect("attribute");
        let key = String::from_utf8_lossy(a.key.as_ref()).to_string();
        let value = a.unescape_value().expect("attribute value").to_string();
        el.attrs.insert(key, value);
    }
    el
}

/// Parses `xml` into its root element, failing on anything that is not well-formed.
fn parse(xml: &str) -> Element {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack = vec![Element::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => stack.last_mut().expect("parent").children.push(element(&e)),
            Event::End(_) => {
                let done = stack.pop().expect("element");
                stack.last_mut().expect("parent").children.push(done);
            }
            Event::Text(t) => {
                let t = t.decode().expect("text");
                stack.last_mut().expect("element").text.push_str(&t);
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().expect("char ref") {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().expect("entity name");
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .unwrap_or_else(|| panic!("unknown entity {name}"))
                            .to_string()
                    }
                };
                stack.last_mut().expect("element").text.push_str(&resolved);
            }
            Event::CData(_) => panic!("no CDATA expected"),
            Event::Eof => break,
            _ => {}
        }
    }
    let mut document = stack.pop().expect("document");
    assert!(stack.is_empty(), "unclosed elements");
    assert_eq!(document.children.len(), 1, "one root element");
    document.children.remove(0)
}

/// Writes `report` as JUnit into a temp dir, validates it against the schema and parses it.
fn render_and_validate(report: &RunReport) -> (Element, String) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("nested/junit.xml");
    report::write_junit(report, &path).expect("JUnit written");
    crate::common::junit_schema::assert_valid_junit(&path);
    let xml = std::fs::read_to_string(&path).expect("JUnit readable");
    assert!(!xml.contains("CDATA"), "no CDATA");
    assert!(
        !xml.chars().any(|c| c.is_control() && c != '\n'),
        "no raw control characters"
    );
    (parse(&xml), xml)
}

fn counts_of(el: &Element) -> (usize, usize, usize) {
    let n = |a: &str| el.attr(a).parse::<usize>().expect("a count");
    (n("tests"), n("failures"), n("errors"))
}

fn assert_properties(suite: &Element) {
    assert_eq!(suite.property("harness.version"), "0.1.0");
    assert_eq!(suite.property("cluster.version"), "v1.33.2");
    assert_eq!(
        suite.property("cluster.domain"),
        "cluster.example (discovered)"
    );
    assert_eq!(
        suite.property("nodes"),
        "linux=2, windows/10.0.20348=1, windows/10.0.26100=1"
    );
    assert_eq!(suite.property("tags"), "networking && !slow");
    assert_eq!(suite.property("filter"), "pod-to-pod");
    assert_eq!(suite.property("run.id"), "20260102-030405-ab12");
    assert_eq!(suite.property("timeout.scale"), "1");
    assert_eq!(suite.property("timeout.scale.windows"), "3");
}

#[test]
fn passing_run_validates_with_suites_properties_and_bare_cases() {
    let mut noted = passed("networking/pod-to-pod[client=linux,server=windows]");
    noted.notes = vec![
        "step 6: dialled nodePort 30004 on node l1".into(),
        "step 6: left out node vk (virtual-kubelet node: serves no NodePorts)".into(),
    ];
    let report = run(
        vec![
            passed("scheduling/lands-on-os[os=linux]"),
            noted,
            passed("scheduling/lands-on-os[os=windows]"),
        ],
        None,
    );
    let (root, _) = render_and_validate(&report);
    assert_eq!(root.name, "testsuites");
    assert_eq!(root.attr("name"), "hybrid-e2e");
    assert_eq!(counts_of(&root), (3, 0, 0));
    assert_eq!(root.attr("time"), "83.456");
    let names: Vec<_> = root
        .all("testsuite")
        .into_iter()
        .map(|s| s.attr("name"))
        .collect();
    assert_eq!(names, ["scheduling", "networking"], "first-seen order");
    let scheduling = root.suite("scheduling");
    assert_eq!(counts_of(scheduling), (2, 0, 0));
    assert_eq!(scheduling.attr("skipped"), "0");
    assert_eq!(scheduling.attr("time"), "4.690");
    assert_eq!(scheduling.attr("timestamp"), "2026-01-02T03:04:05");
    assert!(!scheduling.attr("hostname").is_empty());
    assert_properties(scheduling);
    assert_properties(root.suite("networking"));
    let case = scheduling.case("scheduling/lands-on-os[os=windows]");
    assert_eq!(case.attr("classname"), "scheduling");
    assert_eq!(case.attr("time"), "2.345");
    assert!(case.children.is_empty() && case.text.is_empty(), "no body");
    let noted = root
        .suite("networking")
        .case("networking/pod-to-pod[client=linux,server=windows]");
    let out = noted.all("system-out");
    assert_eq!(out.len(), 1, "a passed case's notes go in <system-out>");
    assert_eq!(
        out[0].text,
        "step 6: dialled nodePort 30004 on node l1\n\
         step 6: left out node vk (virtual-kubelet node: serves no NodePorts)"
    );
}

#[test]
fn hostile_failures_validate_and_keep_their_meaning() {
    let artifacts = PathBuf::from("reports/r/artifacts/networking_pod-to-pod");
    let mut huge = String::from("HEAD OF LOG\n");
    while huge.len() < 2 * 1024 * 1024 {
        huge.push_str(NASTY);
        huge.push_str("\x1b[2K\x1b]0;title\x07 ü🚀 padding line\n");
    }
    huge.push_str("TAIL OF LOG\n");
    let mut weird_name = passed("odd/\x1b[1mname\x1b[0m <&> \u{7}");
    weird_name.suite = "odd\x00".into();
    let report = run(
        vec![
            failed(
                "networking/pod-to-pod[client=linux,server=windows]",
                &format!("step 5 (networking.yaml:14) http client → server: {NASTY}"),
                format!("Step log:\n{NASTY}{NASTY}"),
                Some(artifacts.clone()),
            ),
            failed(
                "networking/huge",
                "timed out",
                huge.clone(),
                Some(artifacts.clone()),
            ),
            failed("networking/no-artifacts", "m", huge, None),
            failed(
                "lifecycle/long-message",
                &"x".repeat(100_000),
                String::new(),
                None,
            ),
            passed("networking/fine"),
            weird_name,
        ],
        None,
    );
    let (root, xml) = render_and_validate(&report);
    assert_eq!(counts_of(&root), (6, 4, 0));
    assert!(xml.len() < 400 * 1024, "bounded: {} bytes", xml.len());

    let networking = root.suite("networking");
    assert_eq!(counts_of(networking), (4, 3, 0));
    let case = networking.case("networking/pod-to-pod[client=linux,server=windows]");
    let failure = case.one("failure");
    assert_eq!(failure.attr("type"), "StepFailed");
    let cleaned = "ERROR  bell vt ]]> <script>alert('x')</script> & &amp; \"q\"  🚀 日本\r\n";
    assert_eq!(
        failure.attr("message"),
        format!("step 5 (networking.yaml:14) http client → server: {cleaned}")
    );
    assert_eq!(failure.text, format!("Step log:\n{cleaned}{cleaned}"));

    let huge_failure = networking.case("networking/huge").one("failure");
    assert_eq!(huge_failure.attr("message"), "timed out");
    let body = &huge_failure.text;
    assert!(
        body.len() <= 64 * 1024 + 512,
        "body bounded: {}",
        body.len()
    );
    assert!(body.starts_with("HEAD OF LOG\n"));
    assert!(body.ends_with("TAIL OF LOG\n"));
    let pointer = format!(
        "bytes truncated; full output in {}] ...",
        artifacts.join("details.txt").display()
    );
    assert!(body.contains(&pointer), "pointer to artifacts");
    let plain = networking.case("networking/no-artifacts").one("failure");
    assert!(plain.text.contains("bytes truncated] ..."));

    let long = root
        .suite("lifecycle")
        .case("lifecycle/long-message")
        .one("failure");
    assert!(long.attr("message").len() <= 4 * 1024 + 64);
    assert!(long.attr("message").contains("bytes truncated"));

    let passed_case = networking.case("networking/fine");
    assert!(passed_case.children.is_empty() && passed_case.text.is_empty());
    let odd = root.suite("odd");
    odd.case("odd/name <&> ");
}

#[test]
fn skips_carry_their_reason() {
    let reason = "no Ready node with kubernetes.io/os=windows";
    let report = run(
        vec![
            skipped("storage/emptydir[os=windows]", reason),
            passed("storage/emptydir[os=linux]"),
            skipped(
                "storage/pvc[os=linux]",
                "no StorageClass for linux \x1b[33m<none>\x1b[0m",
            ),
        ],
        None,
    );
    let (root, _) = render_and_validate(&report);
    let storage = root.suite("storage");
    assert_eq!(counts_of(storage), (3, 0, 0));
    assert_eq!(storage.attr("skipped"), "2");
    let skip = storage.case("storage/emptydir[os=windows]").one("skipped");
    assert_eq!(skip.attr("message"), reason);
    let skip = storage.case("storage/pvc[os=linux]").one("skipped");
    assert_eq!(skip.attr("message"), "no StorageClass for linux <none>");
}

#[test]
fn aborted_run_without_results_has_one_error_case() {
    let why = "cannot reach the cluster at https://127.0.0.1:1: client error (Connect): \x1b[1mconnection refused\x1b[0m";
    let (root, _) = render_and_validate(&run(vec![], Some(why)));
    assert_eq!(counts_of(&root), (1, 0, 1));
    let suite = root.suite("hybrid-e2e");
    assert_eq!(counts_of(suite), (1, 0, 1));
    assert_properties(suite);
    let error = suite.case("hybrid-e2e/run").one("error");
    assert_eq!(error.attr("type"), "RunAborted");
    assert_eq!(
        error.attr("message"),
        "cannot reach the cluster at https://127.0.0.1:1: client error (Connect): connection refused"
    );
}

#[test]
fn aborted_run_keeps_the_results_it_has() {
    let report = run(
        vec![
            passed("lifecycle/exit-zero[os=linux]"),
            failed(
                "lifecycle/exit-three[os=linux]",
                "step 2 (lifecycle.yaml:9) expect pod p: exit code 3, expected 0",
                "log".into(),
                None,
            ),
        ],
        Some("interrupted by SIGTERM; tests not started were skipped"),
    );
    let (root, _) = render_and_validate(&report);
    assert_eq!(counts_of(&root), (3, 1, 1));
    assert_eq!(counts_of(root.suite("lifecycle")), (2, 1, 0));
    root.suite("hybrid-e2e").case("hybrid-e2e/run").one("error");
}

#[test]
fn empty_run_validates() {
    let mut report = run(vec![], None);
    report.info.cluster_version = None;
    report.info.nodes.clear();
    report.info.tag_expression = None;
    report.info.name_filter.clear();
    report.info.duration = Duration::ZERO;
    let (root, _) = render_and_validate(&report);
    assert_eq!(counts_of(&root), (0, 0, 0));
    assert_eq!(root.attr("time"), "0.000");
    assert!(root.children.is_empty());
}

#[test]
fn write_all_writes_three_agreeing_files() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("reports/run-1");
    let artifacts = dir.join("artifacts/storage_x");
    let report = run(
        vec![
            passed("storage/a"),
            failed(
                "storage/x",
                "step 2 wait: pod never ready",
                format!("full {NASTY}"),
                Some(artifacts.clone()),
            ),
            skipped("storage/y", "no default StorageClass"),
        ],
        None,
    );
    let paths = report::write_all(&report, &dir, None).expect("reports written");
    crate::common::junit_schema::assert_valid_junit(&paths.junit);

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&paths.json).expect("results.json"))
            .expect("JSON");
    assert_eq!(
        json["summary"],
        serde_json::json!({"passed": 1, "failed": 1, "skipped": 1, "errored": 0, "flaky": 0})
    );
    assert_eq!(json["tests"][1]["outcome"], "failed");
    assert_eq!(json["tests"][1]["message"], "step 2 wait: pod never ready");
    assert_eq!(json["tests"][2]["skip_reason"], "no default StorageClass");
    assert_eq!(json["run"]["run_id"], "20260102-030405-ab12");
    assert_eq!(json["run"]["timeout_scale"], 1.0);
    assert_eq!(json["run"]["windows_timeout_scale"], 3.0);
    assert_eq!(
        json["run"]["cluster_domain"],
        serde_json::json!({"name": "cluster.example", "source": "discovered"})
    );

    let md = std::fs::read_to_string(&paths.summary).expect("summary.md");
    assert!(md.contains("**1 passed, 1 failed, 1 skipped**"), "{md}");
    assert!(md.contains("step 2 wait: pod never ready"));
    assert!(md.contains("no default StorageClass (1)"));
    assert!(
        md.contains("cluster domain cluster.example (discovered)"),
        "{md}"
    );

    let details = std::fs::read_to_string(artifacts.join("details.txt")).expect("details.txt");
    assert_eq!(
        details,
        format!("full {NASTY}"),
        "full, raw details kept in artifacts"
    );
    assert_eq!(
        report::counts(&report),
        report::Counts {
            passed: 1,
            failed: 1,
            skipped: 1,
            errored: 0,
            flaky: 0,
        }
    );
}

#[test]
fn harness_errors_validate_as_error_cases_and_agree_across_reports() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("reports/run-1");
    let artifacts = dir.join("artifacts/net_e");
    let errored = TestResult {
        outcome: Outcome::Error,
        message: Some(format!("the harness panicked: {NASTY}")),
        details: format!("step log {NASTY}"),
        notes: vec![],
        artifacts: Some(artifacts.clone()),
        ..passed("net/e")
    };
    let report = run(
        vec![
            errored,
            failed("net/f", "step 1 http: refused", "log".into(), None),
            passed("net/p"),
        ],
        Some("interrupted by SIGTERM; tests not started were skipped"),
    );
    let (root, _) = render_and_validate(&report);
    assert_eq!(
        counts_of(&root),
        (4, 1, 2),
        "the abort and the harness error"
    );
    let net = root.suite("net");
    assert_eq!(counts_of(net), (3, 1, 1));
    let error = net.case("net/e").one("error");
    assert_eq!(error.attr("type"), "HarnessError");
    assert!(
        error
            .attr("message")
            .starts_with("the harness panicked: ERROR"),
        "{}",
        error.attr("message")
    );
    assert!(net.case("net/e").all("failure").is_empty());
    assert_eq!(net.case("net/f").one("failure").attr("type"), "StepFailed");

    let paths = report::write_all(&report, &dir, None).expect("reports written");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&paths.json).expect("results.json"))
            .expect("JSON");
    assert_eq!(json["tests"][0]["outcome"], "error");
    assert_eq!(
        json["summary"],
        serde_json::json!({"passed": 1, "failed": 1, "skipped": 0, "errored": 1, "flaky": 0})
    );
    let md = std::fs::read_to_string(&paths.summary).expect("summary.md");
    assert!(
        md.contains("**1 passed, 1 failed, 1 error, 0 skipped** of 3"),
        "{md}"
    );
    assert!(
        md.contains("### Errors (the harness could not check)"),
        "{md}"
    );
    assert!(
        artifacts.join("details.txt").is_file(),
        "an errored test's details are kept like a failure's"
    );
}

#[test]
#[should_panic(expected = "is not valid against")]
fn the_validator_rejects_what_the_schema_rejects() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("bad.xml");
    // `skipped` is not an attribute of <testsuites> and `1s` is not a SUREFIRE_TIME.
    std::fs::write(
        &path,
        "<testsuites skipped=\"1\"><testsuite name=\"a\" tests=\"0\" failures=\"0\" errors=\"0\" time=\"1s\"/></testsuites>",
    )
    .expect("written");
    crate::common::junit_schema::assert_valid_junit(&path);
}
