//! list, get, create, update (PUT) and patch of objects, and of their `status` subresource.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::patch::{self, PatchKind};
use super::query::Query;
use super::registry::ResourceDef;
use super::route::{content_type, Target};
use super::status::{json_response, ApiError, Cause};
use super::{defaults, protobuf, table, validation, ApiState};
use crate::meta;
use crate::store::metadata_mut;

/// `GET` on a collection: a `<Kind>List` with the store's `resourceVersion`.
pub(crate) fn list(
    state: &ApiState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let options = query.list_options()?;
    let (items, rv) = state
        .store
        .list(target.def.store_key(), target.namespace.as_deref());
    let items: Vec<Value> = items.into_iter().filter(|o| options.matches(o)).collect();
    if table::wanted(headers) {
        let body = table::table(target.def, &items, Some(rv));
        return Ok(json_response(StatusCode::OK, &body));
    }
    let body = json!({
        "kind": format!("{}List", target.def.kind),
        "apiVersion": target.def.api_version(),
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET` on an object (or its `status`).
pub(crate) fn get(
    state: &ApiState,
    target: &Target,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let object = current(state, target)?;
    if table::wanted(headers) && target.subresource.is_none() {
        let body = table::table(target.def, std::slice::from_ref(&object), None);
        return Ok(json_response(StatusCode::OK, &body));
    }
    Ok(json_response(StatusCode::OK, &object))
}

/// The stored object the target names, or 404.
pub(crate) fn current(state: &ApiState, target: &Target) -> Result<Value, ApiError> {
    let name = target.name.as_deref().unwrap_or_default();
    state
        .store
        .get(target.def.store_key(), target.ns(), name)
        .ok_or_else(|| ApiError::NotFound {
            resource: target.def.qualified(),
            name: name.to_string(),
        })
}

/// Reads an object body: JSON, or the protobuf kubectl's typed clients send for the few kinds
/// `protobuf.rs` knows. Other media types (YAML, CBOR, other protobuf kinds) answer 415.
pub(crate) fn read_object(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let media = content_type(headers)
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media.is_empty() || media == "application/json" || media == "*/*" {
        return parse_object(body);
    }
    if media == protobuf::MEDIA_TYPE {
        return protobuf::decode(body).map_err(|e| match e {
            protobuf::ProtobufError::UnsupportedKind(_) => {
                ApiError::UnsupportedMediaType(e.to_string())
            }
            other => ApiError::BadRequest(format!("the object provided is unrecognized: {other}")),
        });
    }
    Err(ApiError::UnsupportedMediaType(format!(
        "the body of the request was in an unknown format ({media}) - accepted media types \
         include: application/json (CBOR and YAML bodies are not modeled by the simulated cluster)"
    )))
}

/// Parses a JSON object body; 400 otherwise.
pub(crate) fn parse_object(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the object provided is unrecognized (json parse error: {e})"
        ))
    })?;
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "the object provided is unrecognized (not a JSON object)".to_string(),
        ));
    }
    Ok(value)
}

/// Checks `kind`, `apiVersion` and `metadata.namespace` of a body against the URL.
fn check_body(target: &Target, object: &Value) -> Result<(), ApiError> {
    if let Some(kind) = object["kind"].as_str() {
        if kind != target.def.kind {
            return Err(ApiError::BadRequest(format!(
                "the kind of the provided object ({kind}) does not match the resource ({})",
                target.def.qualified()
            )));
        }
    }
    if let Some(ns) = object["metadata"]["namespace"].as_str() {
        if target.def.namespaced && !ns.is_empty() && ns != target.ns() {
            return Err(ApiError::BadRequest(
                "the namespace of the provided object does not match the namespace sent on the \
                 request"
                    .to_string(),
            ));
        }
    }
    Ok(())
}

/// New objects need their namespace to exist and not be terminating.
fn check_namespace_open(state: &ApiState, target: &Target, name: &str) -> Result<(), ApiError> {
    if !target.def.namespaced {
        return Ok(());
    }
    let ns = target.ns();
    let Some(namespace) = state.store.get("namespaces", "", ns) else {
        return Err(ApiError::NotFound {
            resource: "namespaces".to_string(),
            name: ns.to_string(),
        });
    };
    if meta::is_terminating(&namespace) || namespace["status"]["phase"] == "Terminating" {
        return Err(ApiError::Forbidden {
            resource: target.def.qualified(),
            name: name.to_string(),
            why: format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ),
            cause: Some("NamespaceTerminating"),
        });
    }
    Ok(())
}

/// The ServiceAccount admission plugin: a pod's ServiceAccount must exist (a new namespace gets
/// its `default` one from a controller, moments after it is created).
fn admit_service_account(
    state: &ApiState,
    ns: &str,
    name: &str,
    pod: &serde_json::Value,
) -> Result<(), ApiError> {
    let account = pod["spec"]["serviceAccountName"]
        .as_str()
        .filter(|a| !a.is_empty())
        .unwrap_or("default");
    if state.store.get("serviceaccounts", ns, account).is_some() {
        return Ok(());
    }
    Err(ApiError::Forbidden {
        resource: "pods".to_string(),
        name: name.to_string(),
        why: format!(
            "error looking up service account {ns}/{account}: serviceaccount \"{account}\" not found"
        ),
        cause: None,
    })
}

/// `POST` on a collection.
pub(crate) fn create(
    state: &ApiState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    if target.def.namespaced && target.namespace.is_none() {
        return Err(ApiError::MethodNotAllowed(format!(
            "create {} needs a namespace in the URL",
            target.def.plural
        )));
    }
    let mut object = read_object(headers, body)?;
    check_body(target, &object)?;
    let name = meta::name(&object);
    let generate = object["metadata"]["generateName"]
        .as_str()
        .unwrap_or_default();
    let checked_name = match (name, generate) {
        ("", "") => {
            return Err(ApiError::Invalid {
                kind: target.def.kind.to_string(),
                name: String::new(),
                causes: vec![Cause {
                    reason: "FieldValueRequired",
                    message: "Required value: name or generateName is required".to_string(),
                    field: "metadata.name".to_string(),
                }],
            })
        }
        ("", prefix) => format!("{prefix}x"),
        (name, _) => name.to_string(),
    };
    validation::validate(target.def, &checked_name, &object)?;
    check_namespace_open(state, target, name)?;
    defaults::on_create(target.def, &mut object);
    if target.def.plural == "persistentvolumeclaims" {
        crate::controllers::storage::admit_claim(&state.store, &mut object);
    }
    if target.def.plural == "pods" {
        admit_service_account(state, target.ns(), &checked_name, &object)?;
        super::policy::admit_pod(
            &state.store,
            &state.config,
            target.ns(),
            &checked_name,
            &object,
        )?;
    }
    let meta = metadata_mut(&mut object);
    for field in [
        "resourceVersion",
        "uid",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        meta.remove(field);
    }
    if query.get("dryRun").is_some() {
        return Ok(json_response(StatusCode::CREATED, &object));
    }
    let created = state
        .store
        .create(target.def.store_key(), target.ns(), object)
        .map_err(|e| ApiError::from_store(&target.def.qualified(), e))?;
    let created = with_service_addresses(state, target.def, created);
    Ok(json_response(StatusCode::CREATED, &created))
}

/// A Service as the API server answers it: kube-apiserver allocates the ClusterIP and the
/// nodePorts in the request itself (its Service registry), so the object a client gets back
/// already carries them; only the other resources are returned unchanged.
fn with_service_addresses(state: &ApiState, def: &ResourceDef, object: Value) -> Value {
    if def.plural != "services" {
        return object;
    }
    crate::controllers::services::allocate(&state.store);
    state
        .store
        .get(
            def.store_key(),
            meta::namespace(&object),
            meta::name(&object),
        )
        .unwrap_or(object)
}

/// `PUT` on an object, or on its `status` (`status_only`).
pub(crate) fn update(
    state: &ApiState,
    target: &Target,
    headers: &HeaderMap,
    body: &[u8],
    status_only: bool,
) -> Result<Response, ApiError> {
    let object = read_object(headers, body)?;
    check_body(target, &object)?;
    let url_name = target.name.as_deref().unwrap_or_default();
    if let Some(name) = object["metadata"]["name"].as_str() {
        if name != url_name {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({name}) does not match the name on the URL ({url_name})"
            )));
        }
    }
    let current = current(state, target)?;
    store_update(state, target, &current, object, status_only, true)
}

/// `PATCH` on an object, or on its `status`.
pub(crate) fn patch(
    state: &ApiState,
    target: &Target,
    headers: &HeaderMap,
    body: &[u8],
    status_only: bool,
) -> Result<Response, ApiError> {
    let kind = PatchKind::from_content_type(content_type(headers))?;
    let current = current(state, target)?;
    let patched = patch::apply(kind, &current, body)?;
    if !patched.object.is_object() {
        return Err(ApiError::BadRequest(
            "the patch does not result in an object".to_string(),
        ));
    }
    store_update(
        state,
        target,
        &current,
        patched.object,
        status_only,
        patched.sets_version,
    )
}

/// Validates and stores the new state of an object (spec side or status side), checking the
/// `resourceVersion` when `check_version`.
fn store_update(
    state: &ApiState,
    target: &Target,
    current: &Value,
    mut object: Value,
    status_only: bool,
    check_version: bool,
) -> Result<Response, ApiError> {
    let def = target.def;
    let name = target.name.as_deref().unwrap_or_default();
    if status_only {
        let status = object.get("status").cloned().unwrap_or_else(|| json!({}));
        let version = object["metadata"].get("resourceVersion").cloned();
        object = current.clone();
        object["status"] = status;
        match version {
            Some(v) => {
                metadata_mut(&mut object).insert("resourceVersion".into(), v);
            }
            None => {
                metadata_mut(&mut object).remove("resourceVersion");
            }
        }
    } else if def.has_status() {
        match current.get("status") {
            Some(status) => object["status"] = status.clone(),
            None => {
                if let Value::Object(map) = &mut object {
                    map.remove("status");
                }
            }
        }
    }
    if !check_version {
        metadata_mut(&mut object).remove("resourceVersion");
    }
    defaults::set_type(def, &mut object);
    validation::validate(def, name, &object)?;
    let updated = state
        .store
        .update(def.store_key(), target.ns(), name, object)
        .map_err(|e| ApiError::from_store(&def.qualified(), e))?;
    super::delete::finish_if_finalized(state, def, &updated);
    let updated = with_service_addresses(state, def, updated);
    Ok(json_response(StatusCode::OK, &updated))
}
