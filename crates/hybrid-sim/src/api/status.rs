//! API errors and the Kubernetes `Status` bodies they become (`kind: Status`, with `code`).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::runtime::RuntimeError;
use crate::store::StoreError;

/// One invalid field, as `details.causes[]` of a 422 Invalid Status reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueDuplicate`, ...
    pub(crate) reason: &'static str,
    /// The message after the field path, e.g. `Required value`.
    pub(crate) message: String,
    /// The field path, e.g. `spec.containers[0].image`.
    pub(crate) field: String,
}

impl Cause {
    pub(crate) fn required(field: impl Into<String>) -> Self {
        Self {
            reason: "FieldValueRequired",
            message: "Required value".to_string(),
            field: field.into(),
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, value: &str, why: &str) -> Self {
        Self {
            reason: "FieldValueInvalid",
            message: format!("Invalid value: {value:?}: {why}"),
            field: field.into(),
        }
    }

    pub(crate) fn duplicate(field: impl Into<String>, value: &str) -> Self {
        Self {
            reason: "FieldValueDuplicate",
            message: format!("Duplicate value: {value:?}"),
            field: field.into(),
        }
    }
}

/// Why an API request failed. Every variant answers with a `Status` body.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{resource} \"{name}\" not found")]
    NotFound { resource: String, name: String },
    #[error("the server could not find the requested resource")]
    UnknownPath,
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists { resource: String, name: String },
    #[error("Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again")]
    Conflict { resource: String, name: String },
    #[error("{kind} \"{name}\" is invalid: {}", join_causes(.causes))]
    Invalid {
        kind: String,
        name: String,
        causes: Vec<Cause>,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("{resource} \"{name}\" is forbidden: {why}")]
    Forbidden {
        resource: String,
        name: String,
        why: String,
        /// `details.causes[0].reason`, e.g. `NamespaceTerminating`.
        cause: Option<&'static str>,
    },
    /// 422 without field causes (a JSON Patch operation that cannot be applied).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too old resource version: {0}")]
    Gone(String),
    #[error("Internal error occurred: {0}")]
    Internal(String),
    #[error("{0}")]
    ServiceUnavailable(String),
}

fn join_causes(causes: &[Cause]) -> String {
    let parts: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    if parts.len() == 1 {
        parts.join("")
    } else {
        format!("[{}]", parts.join(", "))
    }
}

impl ApiError {
    pub(crate) fn code(&self) -> StatusCode {
        match self {
            ApiError::NotFound { .. } | ApiError::UnknownPath => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Invalid { .. } | ApiError::Unprocessable(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub(crate) fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::UnknownPath => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Invalid { .. } | ApiError::Unprocessable(_) => "Invalid",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::Gone(_) => "Expired",
            ApiError::Internal(_) => "InternalError",
            ApiError::ServiceUnavailable(_) => "ServiceUnavailable",
        }
    }

    /// The `Status` object (`kind: Status`, `status: Failure`) for this error.
    pub(crate) fn to_status(&self) -> Value {
        let details = match self {
            ApiError::NotFound { resource, name }
            | ApiError::AlreadyExists { resource, name }
            | ApiError::Conflict { resource, name } => Some(resource_details(resource, name)),
            ApiError::Forbidden {
                resource,
                name,
                cause,
                why,
            } => {
                let mut d = resource_details(resource, name);
                if let Some(reason) = cause {
                    d["causes"] = json!([{"reason": reason, "message": why}]);
                }
                Some(d)
            }
            ApiError::Invalid { kind, name, causes } => Some(json!({
                "name": name,
                "kind": kind,
                "causes": causes.iter().map(|c| json!({
                    "reason": c.reason,
                    "message": c.message,
                    "field": c.field,
                })).collect::<Vec<_>>(),
            })),
            _ => None,
        };
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code().as_u16(),
        });
        if let Some(details) = details {
            status["details"] = details;
        }
        status
    }
}

/// `details` naming an object: `{name, kind: <plural>}` plus `group` for named groups.
fn resource_details(resource: &str, name: &str) -> Value {
    match resource.split_once('.') {
        Some((plural, group)) => json!({"name": name, "group": group, "kind": plural}),
        None => json!({"name": name, "kind": resource}),
    }
}

/// A `Status` of success (`DELETE` of objects that are gone at once), as Kubernetes sends it.
pub(crate) fn success_status(resource: &str, name: &str, uid: Option<&str>) -> Value {
    let mut details = resource_details(resource, name);
    if let Some(uid) = uid {
        details["uid"] = json!(uid);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

/// A JSON response with `code`.
pub(crate) fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.code(), &self.to_status())
    }
}

impl ApiError {
    /// Maps a store refusal for `resource` (plural, group-qualified) to the API's answer.
    pub(crate) fn from_store(resource: &str, err: StoreError) -> Self {
        match err {
            StoreError::NotFound { name, .. } => ApiError::NotFound {
                resource: resource.to_string(),
                name,
            },
            StoreError::AlreadyExists { name, .. } => ApiError::AlreadyExists {
                resource: resource.to_string(),
                name,
            },
            StoreError::Conflict { name, .. } => ApiError::Conflict {
                resource: resource.to_string(),
                name,
            },
            StoreError::MissingName => {
                ApiError::BadRequest("name or generateName is required".to_string())
            }
            StoreError::Gone { requested, .. } => ApiError::Gone(requested.to_string()),
        }
    }
}

impl From<RuntimeError> for ApiError {
    fn from(err: RuntimeError) -> Self {
        match &err {
            RuntimeError::PodNotFound(name) => ApiError::NotFound {
                resource: "pods".to_string(),
                name: name.clone(),
            },
            RuntimeError::Refused { .. } => ApiError::ServiceUnavailable(err.to_string()),
            RuntimeError::NoSuchContainer { .. }
            | RuntimeError::ContainerRequired { .. }
            | RuntimeError::NotRunning { .. }
            | RuntimeError::NoPrevious { .. } => ApiError::BadRequest(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_status_lists_field_paths() {
        let err = ApiError::Invalid {
            kind: "Pod".into(),
            name: "p".into(),
            causes: vec![Cause::required("spec.containers[0].image")],
        };
        let s = err.to_status();
        assert_eq!(s["code"], 422);
        assert_eq!(s["reason"], "Invalid");
        assert_eq!(
            s["message"],
            "Pod \"p\" is invalid: spec.containers[0].image: Required value"
        );
        assert_eq!(
            s["details"]["causes"][0]["field"],
            "spec.containers[0].image"
        );
    }

    #[test]
    fn grouped_resources_name_their_group() {
        let s = ApiError::NotFound {
            resource: "deployments.apps".into(),
            name: "web".into(),
        }
        .to_status();
        assert_eq!(s["details"]["group"], "apps");
        assert_eq!(s["details"]["kind"], "deployments");
        assert_eq!(s["message"], "deployments.apps \"web\" not found");
    }
}
