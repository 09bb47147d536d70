//! PATCH bodies: JSON merge patch (RFC 7386), and strategic merge patch approximated as a merge
//! patch whose lists of named objects merge by `name` and whose `$`-directives are honoured where
//! cheap (`$patch: delete` in such lists) and otherwise dropped. JSON Patch and server-side apply
//! are not modeled (415).

use serde_json::{Map, Value};

use super::status::ApiError;

/// The patch formats the server understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    Merge,
    Strategic,
}

impl PatchKind {
    /// The patch kind for a request's `Content-Type`, or 415.
    pub(crate) fn from_content_type(content_type: &str) -> Result<Self, ApiError> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/merge-patch+json" => Ok(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
            _ => Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format ({}) - accepted media types \
                 include: application/merge-patch+json, application/strategic-merge-patch+json \
                 (JSON Patch and server-side apply are not modeled by the simulated cluster)",
                if media.is_empty() {
                    "no Content-Type"
                } else {
                    &media
                }
            ))),
        }
    }
}

/// Applies `patch` to `target`.
pub(crate) fn apply(kind: PatchKind, target: &Value, patch: &Value) -> Value {
    match kind {
        PatchKind::Merge => merge(target, patch),
        PatchKind::Strategic => strategic(target, patch),
    }
}

/// RFC 7386: objects merge recursively, `null` removes, anything else replaces.
pub(crate) fn merge(target: &Value, patch: &Value) -> Value {
    let Value::Object(patch_map) = patch else {
        return patch.clone();
    };
    let mut result = match target {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    for (key, value) in patch_map {
        if value.is_null() {
            result.remove(key);
        } else {
            let merged = merge(result.get(key).unwrap_or(&Value::Null), value);
            result.insert(key.clone(), merged);
        }
    }
    Value::Object(result)
}

fn strategic(target: &Value, patch: &Value) -> Value {
    let Value::Object(patch_map) = patch else {
        return patch.clone();
    };
    let mut result = match target {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    for (key, value) in patch_map {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            result.remove(key);
            continue;
        }
        let current = result.get(key).unwrap_or(&Value::Null);
        let merged = match (current, value) {
            (Value::Array(cur), Value::Array(new)) if named_list(cur) && named_list(new) => {
                merge_named_lists(cur, new)
            }
            (_, Value::Array(new)) => Value::Array(new.iter().map(strip_directives).collect()),
            _ => strategic(current, value),
        };
        result.insert(key.clone(), merged);
    }
    Value::Object(result)
}

fn named_list(items: &[Value]) -> bool {
    items
        .iter()
        .all(|i| i.get("name").is_some_and(Value::is_string))
}

/// Merges lists of objects keyed by `name`: patched entries merge, new ones append,
/// `$patch: delete` entries remove.
fn merge_named_lists(current: &[Value], patch: &[Value]) -> Value {
    let mut out: Vec<Value> = current.to_vec();
    for item in patch {
        let name = &item["name"];
        let position = out.iter().position(|c| &c["name"] == name);
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                out.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => out[i] = strategic(&out[i], item),
            (None, false) => out.push(strip_directives(item)),
        }
    }
    Value::Array(out)
}

fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7386_examples() {
        let target = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        let patch = json!({"a": "z", "c": {"f": null}, "l": [3]});
        assert_eq!(
            merge(&target, &patch),
            json!({"a": "z", "c": {"d": "e"}, "l": [3]})
        );
        assert_eq!(merge(&json!({"a": 1}), &json!("x")), json!("x"));
        assert_eq!(
            merge(&json!("x"), &json!({"a": {"b": null}})),
            json!({"a": {}})
        );
    }

    #[test]
    fn strategic_merges_named_lists_and_drops_directives() {
        let target = json!({"spec": {"containers": [
            {"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "y:2"}, {"name": "a", "$patch": "delete"},
                           {"name": "c", "image": "z"}]}});
        let out = apply(PatchKind::Strategic, &target, &patch);
        assert_eq!(
            out,
            json!({"spec": {"containers": [
                {"name": "b", "image": "y:2"}, {"name": "c", "image": "z"}]}})
        );
    }

    #[test]
    fn other_patch_types_are_415() {
        let err = PatchKind::from_content_type("application/json-patch+json").unwrap_err();
        assert_eq!(err.code().as_u16(), 415);
        let err = PatchKind::from_content_type("application/apply-patch+yaml").unwrap_err();
        assert_eq!(err.code().as_u16(), 415);
        assert_eq!(
            PatchKind::from_content_type("application/merge-patch+json; charset=utf-8").unwrap(),
            PatchKind::Merge
        );
    }
}
