//! The `scale` subresource of Deployments and ReplicaSets (`autoscaling/v1` Scale), so that
//! `kubectl scale` works: GET, PUT and merge/strategic PATCH of `spec.replicas`.

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::crud::{current, read_object};
use super::patch::{self, PatchKind};
use super::route::{content_type, Target};
use super::status::{json_response, ApiError, Cause};
use super::ApiState;

/// The Scale view of a Deployment or ReplicaSet.
fn scale_of(object: &Value) -> Value {
    let meta = &object["metadata"];
    let selector: Vec<String> = object["spec"]["selector"]["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": object["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {
            "replicas": object["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": selector.join(","),
        },
    })
}

/// `GET .../scale`.
pub(crate) fn get(state: &ApiState, target: &Target) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &scale_of(&current(state, target)?),
    ))
}

/// `PUT` or `PATCH .../scale`: sets `spec.replicas` of the object.
pub(crate) fn update(
    state: &ApiState,
    target: &Target,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let object = current(state, target)?;
    let desired = if *method == Method::PATCH {
        let kind = PatchKind::from_content_type(content_type(headers))?;
        patch::apply(kind, &scale_of(&object), body)?.object
    } else {
        read_object(headers, body)?
    };
    let name = target.name.as_deref().unwrap_or_default();
    let replicas = desired["spec"]["replicas"]
        .as_i64()
        .filter(|r| *r >= 0)
        .ok_or_else(|| ApiError::Invalid {
            kind: "Scale".to_string(),
            name: name.to_string(),
            causes: vec![Cause::invalid(
                "spec.replicas",
                &desired["spec"]["replicas"].to_string(),
                "must be greater than or equal to 0",
            )],
        })?;
    if let Some(rv) = desired["metadata"]["resourceVersion"].as_str() {
        if !rv.is_empty() && Some(rv) != object["metadata"]["resourceVersion"].as_str() {
            return Err(ApiError::Conflict {
                resource: target.def.qualified(),
                name: name.to_string(),
            });
        }
    }
    let updated = state
        .store
        .modify(target.def.store_key(), target.ns(), name, |o| {
            if o["spec"]["replicas"].as_i64() == Some(replicas) {
                return false;
            }
            if let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("replicas".into(), json!(replicas));
                true
            } else {
                false
            }
        })
        .map_err(|e| ApiError::from_store(&target.def.qualified(), e))?;
    Ok(json_response(StatusCode::OK, &scale_of(&updated)))
}
