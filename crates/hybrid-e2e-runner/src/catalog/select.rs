//! Choosing tests: a tag expression, name filters (libtest semantics: substring, or whole
//! name with `exact`) and `--skip` patterns.

use super::model::TestCase;
use super::tags::TagExpr;

/// What the command line selects.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only tests whose tags match (`--tags`); `None` selects every test.
    pub tags: Option<TagExpr>,
    /// A test is selected if its name contains any filter (equals one, with `exact`); no
    /// filters select every test.
    pub filters: Vec<String>,
    /// Filters and skips match whole names (`--exact`).
    pub exact: bool,
    /// A test whose name contains any of these (equals one, with `exact`) is left out.
    pub skip: Vec<String>,
}

impl Selection {
    /// Whether `case` is selected.
    pub fn matches(&self, case: &TestCase) -> bool {
        let hit = |pattern: &String| {
            if self.exact {
                case.name == *pattern
            } else {
                case.name.contains(pattern.as_str())
            }
        };
        let by_tags = self.tags.as_ref().is_none_or(|e| e.matches(&case.tags));
        let by_name = self.filters.is_empty() || self.filters.iter().any(hit);
        let skipped = self.skip.iter().any(hit);
        by_tags && by_name && !skipped
    }
}
