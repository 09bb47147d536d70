//! DELETE: graceful deletion of bound pods (`deletionTimestamp` + `deletionGracePeriodSeconds`,
//! the kubelet removes them), namespaces that turn `Terminating`, finalizers, and immediate
//! removal of everything else. Also `deletecollection`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::query::Query;
use super::registry::ResourceDef;
use super::route::Target;
use super::status::{json_response, success_status, ApiError};
use super::ApiState;
use crate::meta;
use crate::store::metadata_mut;

/// Namespaces a real API server refuses to delete.
const PROTECTED_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// What a deletion did.
#[derive(Debug)]
pub(crate) enum Deleted {
    /// Removed from the store (the last state).
    Gone(Value),
    /// Marked for deletion; something else removes it later (kubelet, namespace controller,
    /// finalizer owner).
    Pending(Value),
}

/// `DELETE` on an object.
pub(crate) fn delete(
    state: &ApiState,
    target: &Target,
    query: &Query,
    body: &[u8],
) -> Result<Response, ApiError> {
    let grace = grace_period(query, body)?;
    let name = target.name.as_deref().unwrap_or_default();
    let def = target.def;
    if def.plural == "namespaces" && PROTECTED_NAMESPACES.contains(&name) {
        return Err(ApiError::Forbidden {
            resource: "namespaces".to_string(),
            name: name.to_string(),
            why: "this namespace may not be deleted".to_string(),
            cause: None,
        });
    }
    let deleted = delete_object(state, def, target.ns(), name, grace)?;
    state.lifecycle.notify_one();
    Ok(match deleted {
        Deleted::Pending(object) => json_response(StatusCode::OK, &object),
        Deleted::Gone(object) if def.plural == "pods" => json_response(StatusCode::OK, &object),
        Deleted::Gone(object) => json_response(
            StatusCode::OK,
            &success_status(&def.qualified(), name, object["metadata"]["uid"].as_str()),
        ),
    })
}

/// `DELETE` on a collection: deletes every object matching the selectors.
pub(crate) fn delete_collection(
    state: &ApiState,
    target: &Target,
    query: &Query,
) -> Result<Response, ApiError> {
    let options = query.list_options()?;
    let grace = query.int("gracePeriodSeconds")?;
    let (items, _) = state
        .store
        .list(target.def.store_key(), target.namespace.as_deref());
    let mut deleted = Vec::new();
    for item in items.into_iter().filter(|o| options.matches(o)) {
        let ns = meta::namespace(&item);
        let name = meta::name(&item);
        match delete_object(state, target.def, ns, name, grace) {
            Ok(Deleted::Gone(o) | Deleted::Pending(o)) => deleted.push(o),
            Err(ApiError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    state.lifecycle.notify_one();
    let body = json!({
        "kind": format!("{}List", target.def.kind),
        "apiVersion": target.def.api_version(),
        "metadata": {"resourceVersion": state.store.resource_version().to_string()},
        "items": deleted,
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// `gracePeriodSeconds` from the query or the DeleteOptions body (the query wins).
fn grace_period(query: &Query, body: &[u8]) -> Result<Option<i64>, ApiError> {
    if let Some(g) = query.int("gracePeriodSeconds")? {
        return Ok(Some(g));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let options: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid DeleteOptions: {e}")))?;
    Ok(options["gracePeriodSeconds"].as_i64())
}

/// Deletes one object with the semantics of its kind (also used by namespace termination and
/// the garbage collector).
pub(crate) fn delete_object(
    state: &ApiState,
    def: &ResourceDef,
    namespace: &str,
    name: &str,
    grace: Option<i64>,
) -> Result<Deleted, ApiError> {
    let store = &state.store;
    let key = def.store_key();
    let not_found = || ApiError::NotFound {
        resource: def.qualified(),
        name: name.to_string(),
    };
    let current = store.get(key, namespace, name).ok_or_else(not_found)?;
    let terminating = meta::is_terminating(&current);
    let remove = || {
        store
            .remove(key, namespace, name)
            .map(Deleted::Gone)
            .map_err(|e| ApiError::from_store(&def.qualified(), e))
    };
    match def.plural {
        "pods" => {
            let bound = current["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty());
            if !bound || grace == Some(0) {
                return remove();
            }
            if terminating {
                return Ok(Deleted::Pending(current));
            }
            let grace = grace
                .or_else(|| current["spec"]["terminationGracePeriodSeconds"].as_i64())
                .unwrap_or(30)
                .max(1);
            mark(state, def, namespace, name, grace, |_| {})
        }
        "namespaces" => {
            if terminating {
                return Ok(Deleted::Pending(current));
            }
            mark(state, def, namespace, name, 0, |o| {
                o["status"] = json!({"phase": "Terminating"});
            })
        }
        _ => {
            let has_finalizers = current["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| !f.is_empty());
            if !has_finalizers {
                remove()
            } else if terminating {
                Ok(Deleted::Pending(current))
            } else {
                mark(state, def, namespace, name, 0, |_| {})
            }
        }
    }
}

/// Sets `deletionTimestamp` (now + grace) and `deletionGracePeriodSeconds`.
fn mark(
    state: &ApiState,
    def: &ResourceDef,
    namespace: &str,
    name: &str,
    grace: i64,
    also: impl FnOnce(&mut Value),
) -> Result<Deleted, ApiError> {
    let when = chrono::Utc::now() + chrono::Duration::seconds(grace);
    let stamp = when.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    state
        .store
        .modify(def.store_key(), namespace, name, |o| {
            let meta = metadata_mut(o);
            meta.insert("deletionTimestamp".into(), json!(stamp));
            meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
            also(o);
            true
        })
        .map(Deleted::Pending)
        .map_err(|e| ApiError::from_store(&def.qualified(), e))
}

/// Removes an object whose deletion waited for finalizers once the last one is gone.
pub(crate) fn finish_if_finalized(state: &ApiState, def: &ResourceDef, object: &Value) {
    if matches!(def.plural, "pods" | "namespaces") {
        return;
    }
    let finalizers_left = object["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    if meta::is_terminating(object) && !finalizers_left {
        // Someone else may have removed it meanwhile; either way it is gone.
        let _ = state
            .store
            .remove(def.store_key(), meta::namespace(object), meta::name(object));
        state.lifecycle.notify_one();
    }
}
