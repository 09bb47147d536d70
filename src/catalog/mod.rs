//! The suite language: YAML suites and fixtures → validated, expanded test cases; tag expressions.
//!
//! `Catalog::load` reads the embedded (or `--suites`/`--fixtures`) files, validates them with
//! `file:line: field: message` errors before anything touches a cluster, and expands each
//! test's OS matrix into [`TestCase`]s. [`Selection`] picks cells by [`TagExpr`] and name;
//! [`render`] shows the objects they would create.

pub mod duration;
pub mod error;
pub mod expand;
pub mod model;
pub mod parse;
pub mod render;
pub mod select;
pub mod source;
pub mod step;
pub mod suggest;
pub mod tags;
pub mod vars;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub use error::{CatalogError, Diagnostic};
pub use model::*;
pub use render::{render, RenderError};
pub use select::Selection;
pub use source::SourceFile;
pub use tags::{TagExpr, TagExprError};

use crate::fixture::FixtureSet;

/// Every test cell of every suite, and the fixtures they use.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// In file order, then test order, then matrix order.
    pub tests: Vec<TestCase>,
    pub fixtures: FixtureSet,
}

impl Catalog {
    /// Loads suites from `suites_dir` (instead of the embedded ones) and fixtures from the
    /// embedded set plus `fixtures_dir` (overriding by name), and validates everything.
    pub fn load(
        suites_dir: Option<&Path>,
        fixtures_dir: Option<&Path>,
    ) -> Result<Catalog, CatalogError> {
        let fixtures = FixtureSet::load(fixtures_dir)?;
        let suites = match suites_dir {
            Some(dir) => source::read_dir(dir)?,
            None => source::embedded_suites(),
        };
        Catalog::from_files(&suites, fixtures)
    }

    /// Parses, validates and expands suite files against `fixtures`.
    pub fn from_files(files: &[SourceFile], fixtures: FixtureSet) -> Result<Catalog, CatalogError> {
        let mut diagnostics = Vec::new();
        let mut tests = Vec::new();
        let mut suites: BTreeMap<String, String> = BTreeMap::new();
        for file in files {
            let (suite, mut problems) = parse::parse_suite(&file.name, &file.text);
            diagnostics.append(&mut problems);
            let Some(suite) = suite else { continue };
            if let Some(other) = suites.get(&suite.name) {
                diagnostics.push(Diagnostic::new(
                    &file.name,
                    suite.line,
                    "suite",
                    format!("duplicate suite \"{}\" (also in {other})", suite.name),
                ));
                continue;
            }
            suites.insert(suite.name.clone(), file.name.clone());
            tests.extend(expand::expand_suite(&suite, &fixtures, &mut diagnostics));
        }
        CatalogError::check(diagnostics)?;
        Ok(Catalog { tests, fixtures })
    }

    /// Every tag a test carries, plus the OS tags and `hybrid` (always valid in `--tags`).
    pub fn known_tags(&self) -> BTreeSet<String> {
        let mut tags: BTreeSet<String> = self
            .tests
            .iter()
            .flat_map(|t| t.tags.iter().cloned())
            .collect();
        tags.extend(Os::ALL.iter().map(|os| os.label().to_string()));
        tags.insert(expand::HYBRID.to_string());
        tags
    }

    /// The selected cells, in catalog order.
    pub fn select(&self, selection: &Selection) -> Vec<&TestCase> {
        self.tests.iter().filter(|t| selection.matches(t)).collect()
    }
}

#[cfg(test)]
mod tests;
