//! API-level faults: `api-errors` answers about one in five non-watch requests with a 500
//! InternalError Status (kube does not retry 500), `api-down` every one of them;
//! `create-answers-lost` commits every create but answers it 500; `forbid-namespaces` answers
//! namespace creation with 403 Forbidden. `watch-drop` lives in `watch.rs`.

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
    let lose_the_answer = state.config.has(Fault::CreateAnswersLost) && is_stored_create(&request);
    let response = next.run(request).await;
    if lose_the_answer && response.status() == axum::http::StatusCode::CREATED {
        tracing::debug!("sim api: injected fault create-answers-lost");
        return ApiError::Internal(
            "the answer to this create was lost (injected by fault create-answers-lost)"
                .to_string(),
        )
        .into_response();
    }
    response
}

/// A POST to a collection of stored objects (`.../namespaces/NS/pods`, `/api/v1/namespaces`),
/// not to a subresource (eviction), a review or a dry run, which store nothing.
fn is_stored_create(request: &Request) -> bool {
    let dry_run = form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
        .any(|(k, _)| k == "dryRun");
    if request.method() != axum::http::Method::POST || dry_run {
        return false;
    }
    let segments: Vec<&str> = request
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let rest = match segments.as_slice() {
        ["api", _, rest @ ..] | ["apis", _, _, rest @ ..] => rest,
        _ => return false,
    };
    let resource = match rest {
        ["namespaces", _, resource] | [resource] => resource,
        _ => return false,
    };
    !resource.ends_with("reviews")
}

fn is_watch(request: &Request) -> bool {
    form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "watch" && matches!(v.as_ref(), "true" | "1" | ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str) -> Request {
        Request::builder()
            .method("POST")
            .uri(path)
            .body(axum::body::Body::empty())
            .unwrap()
    }

    #[test]
    fn only_creates_of_stored_objects_lose_their_answer() {
        for stored in [
            "/api/v1/namespaces",
            "/api/v1/namespaces/ns/pods",
            "/apis/apps/v1/namespaces/ns/deployments?fieldManager=x",
            "/apis/storage.k8s.io/v1/storageclasses",
        ] {
            assert!(is_stored_create(&post(stored)), "{stored}");
        }
        for other in [
            "/api/v1/namespaces/ns/pods/p/eviction",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            "/api/v1/namespaces/ns/pods/p",
            "/api/v1/namespaces?dryRun=All",
            "/version",
        ] {
            assert!(!is_stored_create(&post(other)), "{other}");
        }
        let get = Request::builder()
            .uri("/api/v1/namespaces")
            .body(axum::body::Body::empty())
            .unwrap();
        assert!(!is_stored_create(&get));
    }
}
