//! The three readers that take text from users, each as one call that must never panic,
//! whatever the input: the suite reader, the fixture reader and the tag-expression parser. The
//! no-panic tests (`no_panic.rs`) and the cargo-fuzz targets in `fuzz/` feed them.

use std::collections::BTreeSet;

use super::{source, Catalog, FixtureSet, SourceFile, TagExpr};

/// The suite reader: parse, validate and expand `text` as one suite file against `fixtures`.
pub fn read_suite(text: &str, fixtures: &FixtureSet) {
    let file = SourceFile {
        name: "fuzz.yaml".into(),
        text: text.into(),
    };
    let _ = Catalog::from_files(&[file], fixtures.clone());
}

/// The fixture reader: `text` as one fixture file beside the embedded ones.
pub fn read_fixture(text: &str) {
    let mut files = source::embedded_fixtures();
    files.push(SourceFile {
        name: "extra/fuzz.yaml".into(),
        text: text.into(),
    });
    let _ = FixtureSet::from_files(&files);
}

/// The tag-expression parser, its check against known tags, and matching.
pub fn read_tag_expr(text: &str) {
    let known: BTreeSet<String> = ["windows", "linux", "networking", "slow"]
        .map(String::from)
        .into();
    if let Ok(expr) = TagExpr::parse(text) {
        let _ = expr.matches(&known);
        let _ = expr.names("windows");
        let _ = expr.check(&known);
    }
}
