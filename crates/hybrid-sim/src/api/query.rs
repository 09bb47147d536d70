//! Query parameters of API requests: repeated keys (`command`), flags (`watch=true|1`), and the
//! list/watch options parsed once.

use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;

/// A request's query string, decoded, keys in order (repeats kept).
#[derive(Debug, Clone, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// `true` for `key=true`, `key=1` (and a bare `key`).
    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | ""))
    }

    /// An integer parameter; 400 when present but not a number.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::BadRequest(format!("invalid {key} {v:?}: not an integer"))),
        }
    }

    /// The list/watch options.
    pub(crate) fn list_options(&self) -> Result<ListOptions, ApiError> {
        let bad = |e: super::selectors::SelectorError| ApiError::BadRequest(e.to_string());
        Ok(ListOptions {
            labels: LabelSelector::parse(self.get("labelSelector").unwrap_or_default())
                .map_err(bad)?,
            fields: FieldSelector::parse(self.get("fieldSelector").unwrap_or_default())
                .map_err(bad)?,
            resource_version: self
                .get("resourceVersion")
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            timeout_seconds: self.int("timeoutSeconds")?.filter(|t| *t > 0),
            bookmarks: self.flag("allowWatchBookmarks"),
        })
    }
}

/// Options of a list or watch.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListOptions {
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
    pub(crate) resource_version: Option<String>,
    pub(crate) timeout_seconds: Option<i64>,
    pub(crate) bookmarks: bool,
}

impl ListOptions {
    pub(crate) fn matches(&self, object: &serde_json::Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }

    pub(crate) fn has_selectors(&self) -> bool {
        !self.labels.is_empty() || !self.fields.is_empty()
    }
}
