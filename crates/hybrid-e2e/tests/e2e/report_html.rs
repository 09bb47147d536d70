//! `report.html` and the OS matrix of `summary.md`, from real runs against the simulated
//! cluster: under `cross-os-network` the grids mark exactly the cross-OS cells failed; a headless
//! Chromium loads the page (no network, no scripts) and finds the grid in its DOM, and takes a
//! screenshot (`target/tmp/report-html/report.png`). Chromium must be installed (`.ci/run`
//! installs it): without it these tests fail, they do not skip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hybrid_e2e_runner::report::{self, Outcome, TestResult};
use hybrid_sim::{Fault, SimConfig};

use crate::common::harness::{results, Cluster};

/// The four cells of `networking/pod-to-pod` and the two `os=` cells of its same-node check.
const FILTERS: &[&str] = &["networking/pod-to-pod[", "networking/pod-to-pod-same-node["];

/// How long Chromium may take to load and render one page.
const CHROMIUM_LIMIT: Duration = Duration::from_secs(120);

/// Runs [`FILTERS`] under `cross-os-network` (fast timeouts) on a new cluster, which it returns
/// (its temp dir holds the reports: [`Cluster::reports`]).
async fn cross_os_run() -> Cluster {
    let cluster = Cluster::start(SimConfig {
        faults: [Fault::CrossOsNetwork].into(),
        ..SimConfig::default()
    })
    .await;
    let args = [FILTERS, &["--timeout-scale", "0.1"]].concat();
    let out = cluster.run_within(&args, Duration::from_secs(180)).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("summary.md, ")
            && String::from_utf8_lossy(&out.stderr).contains("report.html\n"),
        "the Reports line names report.html"
    );
    cluster
}

/// The `data-outcome` of every cell of the grid table `id` in `html`, by (client, server).
fn grid_outcomes(html: &str, id: &str) -> BTreeMap<(String, String), String> {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no grid {id} in {html}"));
    let table = &html[start..];
    let table = &table[..table.find("</table>").expect("the grid table ends")];
    let attr = |cell: &str, name: &str| -> String {
        let key = format!("{name}=\"");
        let at = cell.find(&key).map(|i| i + key.len()).unwrap_or_default();
        cell[at..].split('"').next().unwrap_or_default().to_string()
    };
    table
        .split("<td ")
        .skip(1)
        .map(|cell| {
            (
                (attr(cell, "data-client"), attr(cell, "data-server")),
                attr(cell, "data-outcome"),
            )
        })
        .collect()
}

/// Client × server → outcome, from pairs of `("client,server", outcome)`.
fn expected(cells: &[(&str, &str)]) -> BTreeMap<(String, String), String> {
    cells
        .iter()
        .map(|(pair, outcome)| {
            let (client, server) = pair.split_once(',').unwrap_or_default();
            ((client.into(), server.into()), outcome.to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grid_marks_exactly_the_cross_os_cells_failed() {
    let cluster = cross_os_run().await;
    let dir = cluster.reports();
    let failed: Vec<String> = results(&dir)
        .iter()
        .filter(|t| t["outcome"] == "failed")
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        failed,
        [
            "networking/pod-to-pod[client=linux,server=windows]",
            "networking/pod-to-pod[client=windows,server=linux]"
        ]
    );

    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html written");
    assert_eq!(
        grid_outcomes(&html, "grid-networking-pod-to-pod"),
        expected(&[
            ("linux,linux", "passed"),
            ("linux,windows", "failed"),
            ("windows,linux", "failed"),
            ("windows,windows", "passed"),
        ])
    );
    let single = &html[html.find("id=\"grid-single\"").expect("single-OS table")..];
    let row = &single[single
        .find("data-check=\"networking/pod-to-pod-same-node\" data-key=\"os\"")
        .expect("the same-node row")..];
    let row = &row[..row.find("</tr>").expect("row ends")];
    assert!(
        row.contains("data-os=\"linux\" data-outcome=\"passed\"")
            && row.contains("data-os=\"windows\" data-outcome=\"passed\""),
        "{row}"
    );
    let failures = html
        .find("<section id=\"failed\">")
        .expect("failures listed");
    assert!(html.find("id=\"os-matrix\"") < Some(failures));
    assert!(
        html[failures..].contains("networking/pod-to-pod[client=linux,server=windows]"),
        "{html}"
    );

    let md = std::fs::read_to_string(dir.join("summary.md")).expect("summary.md written");
    assert!(
        md.contains(
            "| `networking/pod-to-pod` client ↓ server → | linux | windows |\n\
             | --- | :-: | :-: |\n\
             | **linux** | ✅ | ❌ |\n\
             | **windows** | ❌ | ✅ |\n"
        ),
        "{md}"
    );
    assert!(
        md.contains("| `networking/pod-to-pod-same-node` | os | ✅ | ✅ |\n"),
        "{md}"
    );
    assert!(md.find("### OS matrix") < md.find("### Failed"), "{md}");
    cluster.sim.shutdown().await;
}

/// `chromium ARGS file://PAGE` headless, without network or GPU, its profile in `profile`;
/// fails when Chromium is missing or takes longer than [`CHROMIUM_LIMIT`]. Returns stdout.
async fn chromium(page: &Path, profile: &Path, args: &[&str]) -> String {
    let program = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|p| {
            std::env::var_os("PATH")
                .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(p).is_file()))
        })
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed: report.html is checked in a headless Chromium; \
                 install it (`apt-get install -y chromium`, as .ci/run does)"
            )
        });
    let run = tokio::process::Command::new(program)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(CHROMIUM_LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("chromium did not finish within {CHROMIUM_LIMIT:?}"))
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_finds_the_grid_in_the_dom_and_draws_the_page() {
    let cluster = cross_os_run().await;
    let page = cluster.reports().join("report.html");
    let profile = tempfile::tempdir().expect("profile dir");
    let dom = chromium(&page, profile.path(), &["--dump-dom"]).await;
    assert!(
        dom.contains("<table class=\"os-grid\" id=\"grid-networking-pod-to-pod\""),
        "{dom}"
    );
    assert_eq!(
        grid_outcomes(&dom, "grid-networking-pod-to-pod"),
        expected(&[
            ("linux,linux", "passed"),
            ("linux,windows", "failed"),
            ("windows,linux", "failed"),
            ("windows,windows", "passed"),
        ]),
        "as the browser parsed it"
    );
    assert!(!dom.contains("<script"), "no scripts: {dom}");

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-html");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let png = shots.join("report.png");
    let _ = std::fs::remove_file(&png);
    chromium(
        &page,
        profile.path(),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,900",
        ],
    )
    .await;
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "a drawn page: {} bytes",
        bytes.len()
    );
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_reads_hostile_names_and_messages_as_text() {
    const NASTY: &str = "\x1b[31mERROR\x1b[0m <script>alert('x')</script> & &amp; \"q\" 🚀";
    let mut failed = TestResult::new(
        format!("odd/<img src=x>{NASTY}[client=linux,server=windows]"),
        "odd",
        Outcome::Failed,
    );
    failed.message = Some(format!("step 1: {NASTY}"));
    let mut skipped = TestResult::new("odd/skip", "odd", Outcome::Skipped);
    skipped.skip_reason = Some(NASTY.into());
    let report = report::RunReport {
        info: report::RunInfo {
            cluster_version: Some(NASTY.into()),
            ..crate::report_schema::info()
        },
        results: vec![failed, skipped],
        aborted: Some(NASTY.into()),
        prepull: None,
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let paths = report::write_all(&report, tmp.path(), None).expect("reports written");
    let dom = chromium(&paths.html, &tmp.path().join("profile"), &["--dump-dom"]).await;
    assert!(!dom.contains("<script"), "{dom}");
    assert!(!dom.contains("<img"), "{dom}");
    assert!(
        dom.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; &amp;amp; \"q\" 🚀"),
        "the text as written: {dom}"
    );
    assert!(dom.contains("class=\"os-grid\""), "{dom}");
}
