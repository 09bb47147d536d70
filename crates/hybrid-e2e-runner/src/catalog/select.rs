//! Choosing tests: a tag expression, name filters (libtest semantics: substring, or whole
//! name with `exact`) and `--skip` patterns. Opt-in cells are selected like any other; the
//! ones whose tag the expression names are opted in (their `Requirement::OptIn` dropped), the
//! others keep it and skip with its reason.

use super::model::{Requirement, TestCase};
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

    /// Whether the user opted in to cells behind `tag`: the tag expression names it.
    pub fn opts_in(&self, tag: &str) -> bool {
        self.tags.as_ref().is_some_and(|e| e.names(tag))
    }

    /// `case` with the opt-ins this selection grants dropped from its requirements.
    pub fn grant_opt_ins(&self, mut case: TestCase) -> TestCase {
        case.requires
            .retain(|r| !matches!(r, Requirement::OptIn { tag, .. } if self.opts_in(tag)));
        case
    }
}
