//! PATCH bodies: JSON Patch (RFC 6902) and JSON merge patch (RFC 7386), both by the
//! `json-patch` crate, and strategic merge patch approximated as a merge patch whose lists of
//! named objects merge by `name` and whose `$`-directives are honoured where cheap
//! (`$patch: delete` in such lists) and otherwise dropped. Server-side apply is not modeled (415).

use serde_json::{Map, Value};

use super::status::ApiError;

/// The patch formats the server understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    /// `application/json-patch+json`: a list of operations.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
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
            "application/json-patch+json" => Ok(PatchKind::Json),
            "application/merge-patch+json" => Ok(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
            _ => Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format ({}) - accepted media types \
                 include: application/json-patch+json, application/merge-patch+json, \
                 application/strategic-merge-patch+json (server-side apply is not modeled by the \
                 simulated cluster)",
                if media.is_empty() {
                    "no Content-Type"
                } else {
                    &media
                }
            ))),
        }
    }
}

/// The result of a patch.
#[derive(Debug, PartialEq)]
pub(crate) struct Patched {
    /// The object after the patch.
    pub(crate) object: Value,
    /// Whether the patch sets `metadata.resourceVersion` (then it is a precondition).
    pub(crate) sets_version: bool,
}

/// Applies the patch in `body` to `target`: 400 when the body is not a patch of its kind,
/// 422 when a JSON Patch operation cannot be applied (a `test` fails, a path is missing).
pub(crate) fn apply(kind: PatchKind, target: &Value, body: &[u8]) -> Result<Patched, ApiError> {
    if kind == PatchKind::Json {
        let operations: json_patch::Patch = serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("the patch is not a JSON Patch: {e}")))?;
        let sets_version = operations.0.iter().any(|op| {
            !matches!(op, json_patch::PatchOperation::Test(_))
                && op.path().as_str() == "/metadata/resourceVersion"
        });
        let mut object = target.clone();
        json_patch::patch(&mut object, &operations).map_err(|e| {
            ApiError::Unprocessable(format!(
                "the server rejected our request due to an error in our request: {e}"
            ))
        })?;
        return Ok(Patched {
            object,
            sets_version,
        });
    }
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the patch is not valid JSON: {e}")))?;
    let object = match kind {
        PatchKind::Strategic => strategic(target, &doc),
        _ => {
            let mut object = target.clone();
            json_patch::merge(&mut object, &doc);
            object
        }
    };
    Ok(Patched {
        object,
        sets_version: doc["metadata"].get("resourceVersion").is_some(),
    })
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

    fn patched(kind: PatchKind, target: &Value, patch: &Value) -> Patched {
        apply(kind, target, patch.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn rfc7386_examples() {
        let target = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        let patch = json!({"a": "z", "c": {"f": null}, "l": [3]});
        assert_eq!(
            patched(PatchKind::Merge, &target, &patch).object,
            json!({"a": "z", "c": {"d": "e"}, "l": [3]})
        );
        let replaced = patched(PatchKind::Merge, &json!({"a": 1}), &json!("x"));
        assert_eq!(replaced.object, json!("x"));
        let from_scalar = patched(PatchKind::Merge, &json!("x"), &json!({"a": {"b": null}}));
        assert_eq!(from_scalar.object, json!({"a": {}}));
    }

    #[test]
    fn a_patch_naming_the_resource_version_makes_it_a_precondition() {
        let target = json!({"metadata": {"name": "a", "resourceVersion": "7"}});
        let merge = json!({"metadata": {"resourceVersion": "6"}, "data": {"k": "v"}});
        assert!(patched(PatchKind::Merge, &target, &merge).sets_version);
        assert!(!patched(PatchKind::Merge, &target, &json!({"data": {}})).sets_version);
        let replace = json!([{"op": "replace", "path": "/metadata/resourceVersion", "value": "6"}]);
        assert!(patched(PatchKind::Json, &target, &replace).sets_version);
        let test = json!([{"op": "test", "path": "/metadata/resourceVersion", "value": "7"}]);
        assert!(!patched(PatchKind::Json, &target, &test).sets_version);
    }

    #[test]
    fn json_patch_applies_operations_in_order() {
        let target = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v"}});
        let ops = json!([
            {"op": "test", "path": "/data/k", "value": "v"},
            {"op": "add", "path": "/metadata/labels/y", "value": "2"},
            {"op": "remove", "path": "/metadata/labels/x"},
            {"op": "replace", "path": "/data/k", "value": "w"},
            {"op": "copy", "from": "/data/k", "path": "/data/c"},
        ]);
        assert_eq!(
            patched(PatchKind::Json, &target, &ops).object,
            json!({"metadata": {"name": "a", "labels": {"y": "2"}}, "data": {"k": "w", "c": "w"}})
        );
    }

    #[test]
    fn json_patch_failures_are_422_and_malformed_ones_400() {
        let target = json!({"data": {"k": "v"}});
        let failed_test = json!([{"op": "test", "path": "/data/k", "value": "other"}]);
        let err = apply(PatchKind::Json, &target, failed_test.to_string().as_bytes()).unwrap_err();
        assert_eq!((err.code().as_u16(), err.reason()), (422, "Invalid"));
        assert!(err.to_string().contains("value did not match"), "{err}");
        let missing = json!([{"op": "remove", "path": "/spec/nothing"}]);
        let err = apply(PatchKind::Json, &target, missing.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.code().as_u16(), 422);
        let not_ops = json!({"data": {"k": "w"}});
        let err = apply(PatchKind::Json, &target, not_ops.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.code().as_u16(), 400);
        let err = apply(PatchKind::Merge, &target, b"{not json").unwrap_err();
        assert_eq!(err.code().as_u16(), 400);
    }

    #[test]
    fn strategic_merges_named_lists_and_drops_directives() {
        let target = json!({"spec": {"containers": [
            {"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "y:2"}, {"name": "a", "$patch": "delete"},
                           {"name": "c", "image": "z"}]}});
        assert_eq!(
            patched(PatchKind::Strategic, &target, &patch).object,
            json!({"spec": {"containers": [
                {"name": "b", "image": "y:2"}, {"name": "c", "image": "z"}]}})
        );
    }

    #[test]
    fn content_types_pick_the_patch_kind_and_apply_is_415() {
        assert_eq!(
            PatchKind::from_content_type("application/json-patch+json").unwrap(),
            PatchKind::Json
        );
        assert_eq!(
            PatchKind::from_content_type("application/merge-patch+json; charset=utf-8").unwrap(),
            PatchKind::Merge
        );
        assert_eq!(
            PatchKind::from_content_type("application/strategic-merge-patch+json").unwrap(),
            PatchKind::Strategic
        );
        let err = PatchKind::from_content_type("application/apply-patch+yaml").unwrap_err();
        assert_eq!(err.code().as_u16(), 415);
        let err = PatchKind::from_content_type("").unwrap_err();
        assert!(err.to_string().contains("no Content-Type"), "{err}");
    }
}
