//! Catalog errors: every problem in a suite or fixture file as `file:line: field: message`.

use std::fmt;

/// One problem found in a suite or fixture file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// The file as the user knows it (`suites/networking.yaml`, or the path under `--suites`).
    pub file: String,
    /// 1-based line; 0 when unknown.
    pub line: usize,
    /// Field path inside the file, e.g. `tests[0].steps[2].wait.until`; empty for the whole file.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    /// A problem at `file:line` in `field`.
    pub fn new(
        file: impl Into<String>,
        line: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            file: file.into(),
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if self.field.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.field, self.message)
        }
    }
}

/// Why the catalog could not be loaded. The Display text is the one line a user sees.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A suite or fixture file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A `--suites` or `--fixtures` directory has no YAML files.
    #[error("{path}: no *.yaml files found")]
    NoFiles {
        /// The directory.
        path: String,
    },
    /// One or more problems in the files; Display shows the first and counts the others.
    #[error("{}", summary(.0))]
    Invalid(Vec<Diagnostic>),
}

impl CatalogError {
    /// Every problem found, in file and line order (empty for I/O errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            CatalogError::Invalid(all) => all,
            _ => &[],
        }
    }

    /// Sorts and de-duplicates the diagnostics (the same step fails the same way in every
    /// matrix cell); `Ok` when there are none.
    pub(crate) fn check(mut diagnostics: Vec<Diagnostic>) -> Result<(), CatalogError> {
        if diagnostics.is_empty() {
            return Ok(());
        }
        diagnostics.sort();
        diagnostics.dedup();
        Err(CatalogError::Invalid(diagnostics))
    }
}

fn summary(all: &[Diagnostic]) -> String {
    match all {
        [] => "invalid catalog".to_string(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more problem(s))", rest.len()),
    }
}
