//! API-level faults: `api-errors` answers about one in five non-watch requests with a 500
//! InternalError Status (kube does not retry 500), `api-down` every one of them;
//! `forbid-namespaces` answers namespace creation with 403 Forbidden. `watch-drop` lives in
//! `watch.rs`.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::status::ApiError;
use super::ApiState;
use crate::faults::Fault;

/// Share of non-watch requests that fail under `api-errors`.
const ERROR_RATE: f64 = 0.2;

/// Middleware: injects the configured API faults before the request reaches its handler, so a
/// failed request changes nothing.
pub(crate) async fn inject(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    if state.config.has(Fault::ApiErrors) && !is_watch(&request) && rand::random_bool(ERROR_RATE) {
        tracing::debug!(uri = %request.uri(), "sim api: injected fault api-errors");
        return ApiError::Internal("injected by fault api-errors".to_string()).into_response();
    }
    if state.config.has(Fault::ApiDown) && !is_watch(&request) {
        tracing::debug!(uri = %request.uri(), "sim api: injected fault api-down");
        return ApiError::Internal("injected by fault api-down".to_string()).into_response();
    }
    if state.config.has(Fault::ForbidNamespaces)
        && request.method() == axum::http::Method::POST
        && request.uri().path().trim_end_matches('/') == "/api/v1/namespaces"
    {
        tracing::debug!("sim api: injected fault forbid-namespaces");
        return ApiError::Forbidden {
            resource: "namespaces".to_string(),
            name: String::new(),
            why: "User \"system:serviceaccount:ci:hybrid-e2e\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope (injected by fault forbid-namespaces)".to_string(),
            cause: None,
        }
        .into_response();
    }
    next.run(request).await
}

fn is_watch(request: &Request) -> bool {
    form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "watch" && matches!(v.as_ref(), "true" | "1" | ""))
}
