//! Results → reports: JUnit XML, results.json, a Markdown summary and an HTML page; the console
//! view of a run; the `doctor` text. Never talks to a cluster.
//!
//! [`write_all`] writes the four files of a run; the modules render each one on its own.

pub mod console;
pub mod doctor;
pub mod events;
pub mod grid;
pub mod html;
pub mod json;
pub mod junit;
pub mod model;
pub mod overview;
pub mod progress;
pub mod sanitize;
pub mod summary;

use std::fmt;
use std::path::{Path, PathBuf};

pub use console::{ConsoleFormat, ConsoleReporter};
pub use doctor::render_doctor;
pub use html::render_html;
pub use json::{render_results_json, write_results_json};
pub use junit::{render_junit, write_junit};
pub use model::*;
pub use summary::{counts, render_summary, Counts};

/// A report file that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A report's folder could not be created.
    #[error("cannot create folder {}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// A report file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The results could not be serialised as JSON.
    #[error("cannot serialise the results for {}", path.display())]
    Json {
        /// The file they were for.
        path: PathBuf,
        /// Why not.
        #[source]
        source: serde_json::Error,
    },
}

/// Where [`write_all`] wrote a run's reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPaths {
    /// The JUnit XML file.
    pub junit: PathBuf,
    /// `results.json`.
    pub json: PathBuf,
    /// `summary.md`.
    pub summary: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
}

impl fmt::Display for ReportPaths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {}, {}, {}",
            self.junit.display(),
            self.json.display(),
            self.summary.display(),
            self.html.display()
        )
    }
}

/// Writes `junit.xml` (or `junit_path`), `results.json`, `summary.md` and `report.html` into
/// `dir`, and each failed test's full details to `<artifacts>/details.txt` (where the truncated
/// JUnit body points). Tries every file even when one fails, JUnit first; returns the first error.
pub fn write_all(
    report: &RunReport,
    dir: &Path,
    junit_path: Option<&Path>,
) -> Result<ReportPaths, ReportError> {
    let paths = ReportPaths {
        junit: junit_path.map_or_else(|| dir.join("junit.xml"), Path::to_path_buf),
        json: dir.join("results.json"),
        summary: dir.join("summary.md"),
        html: dir.join("report.html"),
    };
    let mut results = vec![
        write_junit(report, &paths.junit),
        write_results_json(report, &paths.json),
        write_file(&paths.summary, render_summary(report).as_bytes()),
        write_file(&paths.html, render_html(report).as_bytes()),
    ];
    for r in &report.results {
        if let (true, Some(artifacts)) = (r.outcome.is_unsuccessful(), &r.artifacts) {
            if !r.details.is_empty() {
                let path = artifacts.join(sanitize::DETAILS_FILE);
                results.push(write_file(&path, r.details.as_bytes()));
            }
        }
    }
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(paths)
}

/// Writes `bytes` to `path`, creating its parent folders. Writes a sibling `.tmp` file first
/// and renames it, so an interrupted run never leaves half a report behind.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| ReportError::CreateDir {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        ReportError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An empty report of run `r1`, for the report modules' tests.
    pub(crate) fn report() -> RunReport {
        RunReport {
            info: RunInfo {
                run_id: "r1".into(),
                harness_version: "0.1.0".into(),
                started: chrono::Utc::now(),
                duration: Duration::from_secs(1),
                cluster_version: None,
                nodes: vec![],
                tag_expression: None,
                name_filter: vec![],
                api_retries: 0,
                timeout_scale: 1.0,
                windows_timeout_scale: 3.0,
                shard: None,
                cluster_domain: None,
            },
            results: vec![],
            aborted: None,
            prepull: None,
        }
    }

    /// A result of suite `s` named `name` that ended with `outcome`, nothing else set.
    pub(crate) fn result(name: &str, outcome: Outcome) -> TestResult {
        TestResult::new(name, "s", outcome)
    }

    #[test]
    fn writes_all_four_files_and_details() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("reports/r1");
        let mut r = report();
        r.results.push(TestResult {
            name: "s/t".into(),
            suite: "s".into(),
            tags: vec![],
            outcome: Outcome::Failed,
            duration: Duration::ZERO,
            message: Some("m".into()),
            skip_reason: None,
            details: "full details".into(),
            notes: vec![],
            artifacts: Some(dir.join("artifacts/s_t")),
            attempts: Vec::new(),
        });
        let paths = write_all(&r, &dir, None).expect("written");
        assert_eq!(paths.junit, dir.join("junit.xml"));
        for p in [&paths.junit, &paths.json, &paths.summary, &paths.html] {
            assert!(p.is_file(), "{}", p.display());
        }
        let details = std::fs::read_to_string(dir.join("artifacts/s_t/details.txt"));
        assert_eq!(details.ok().as_deref(), Some("full details"));
        assert!(paths.to_string().contains("junit.xml"));
    }

    #[test]
    fn honours_junit_path_and_names_the_failing_path() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let junit = tmp.path().join("elsewhere/out.xml");
        let paths = write_all(&report(), tmp.path(), Some(&junit)).expect("written");
        assert_eq!(paths.junit, junit);
        assert!(junit.is_file());

        let blocker = tmp.path().join("file");
        std::fs::write(&blocker, "x").expect("file");
        let err = write_all(&report(), &blocker.join("sub"), None).expect_err("cannot write");
        assert!(
            err.to_string().contains(&blocker.display().to_string()),
            "{err}"
        );
    }
}
