//! URL shapes of the Kubernetes API (`/api/v1/namespaces/{ns}/{resource}/{name}/{sub}`, ...)
//! parsed into a `Target`, and the dispatch of each method and shape to its handler.

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::query::Query;
use super::registry::{self, ResourceDef};
use super::status::{json_response, ApiError};
use super::{
    authorization, crud, delete, discovery, exec, logs, openapi, scale, subresources, watch,
    ApiState,
};

/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// What a path names.
#[derive(Debug)]
pub(crate) enum Route {
    Version,
    CoreVersions,
    Groups,
    Resources {
        group: String,
        version: String,
    },
    Health,
    OpenApiRoot,
    /// `/openapi/v3/<group-version path>`.
    OpenApi(String),
    Resource(Target),
    /// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`.
    AccessReview,
}

/// A resource path: the resource, its namespace, object name and subresource.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) def: &'static ResourceDef,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) subresource: Option<String>,
    /// For `pods/{name}:{port}/proxy`, the port.
    pub(crate) port: Option<String>,
    /// For `proxy`, the path after the subresource, starting with `/`.
    pub(crate) rest: String,
}

impl Target {
    /// The namespace for store access (`""` for cluster-scoped resources).
    pub(crate) fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or_default()
    }
}

/// Parses a request path.
pub(crate) fn parse(path: &str) -> Result<Route, ApiError> {
    let trimmed = path.trim_end_matches('/');
    match trimmed {
        "/version" => return Ok(Route::Version),
        "/api" => return Ok(Route::CoreVersions),
        "/apis" => return Ok(Route::Groups),
        "/healthz" | "/livez" | "/readyz" => return Ok(Route::Health),
        "/openapi/v3" => return Ok(Route::OpenApiRoot),
        authorization::PATH => return Ok(Route::AccessReview),
        _ => {}
    }
    if let Some(gv) = trimmed.strip_prefix("/openapi/v3/") {
        return Ok(Route::OpenApi(gv.to_string()));
    }
    let (group, version, rest) = if let Some(rest) = path.strip_prefix("/api/") {
        let (version, rest) = rest.split_once('/').unwrap_or((rest, ""));
        ("", version, rest)
    } else if let Some(rest) = path.strip_prefix("/apis/") {
        let mut parts = rest.splitn(3, '/');
        let group = parts.next().unwrap_or_default();
        let version = parts.next().unwrap_or_default();
        (group, version, parts.next().unwrap_or_default())
    } else {
        return Err(ApiError::UnknownPath);
    };
    if group.is_empty() && !path.starts_with("/api/") || version.is_empty() {
        return Err(ApiError::UnknownPath);
    }
    if rest.trim_matches('/').is_empty() {
        return Ok(Route::Resources {
            group: group.to_string(),
            version: version.to_string(),
        });
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let mut parts: &[&str] = &segments;
    let mut namespace = None;
    if parts[0] == "namespaces" && parts.len() > 2 && !matches!(parts[2], "status" | "finalize") {
        namespace = Some(parts[1].to_string());
        parts = &parts[2..];
    }
    let def = registry::find(group, version, parts[0]).ok_or(ApiError::UnknownPath)?;
    if namespace.is_some() && !def.namespaced {
        return Err(ApiError::UnknownPath);
    }
    let nonempty = |i: usize| {
        parts
            .get(i)
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
    };
    let mut name = nonempty(1);
    let subresource = nonempty(2);
    let mut port = None;
    if let Some(sub) = &subresource {
        if !def.subresources.contains(&sub.as_str()) {
            return Err(ApiError::UnknownPath);
        }
        if sub == "proxy" {
            if let Some((n, p)) = name.as_deref().and_then(|n| n.split_once(':')) {
                port = Some(p.to_string());
                name = Some(n.to_string());
            }
        }
    } else if parts.len() > 3 {
        return Err(ApiError::UnknownPath);
    }
    let rest = if parts.len() > 3 {
        format!("/{}", parts[3..].join("/"))
    } else {
        "/".to_string()
    };
    Ok(Route::Resource(Target {
        def,
        namespace,
        name,
        subresource,
        port,
        rest,
    }))
}

/// The one handler behind the router: parses the path and calls the verb's handler.
pub(crate) async fn dispatch(State(state): State<ApiState>, request: Request) -> Response {
    match handle(state, request).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn handle(state: ApiState, request: Request) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let query = Query::parse(parts.uri.query());
    let route = parse(parts.uri.path())?;
    let method = parts.method.clone();
    let ok = |v: serde_json::Value| Ok(json_response(StatusCode::OK, &v));
    let target = match route {
        Route::Version => return ok(discovery::version()),
        Route::CoreVersions => return ok(discovery::core_versions()),
        Route::Groups => return ok(discovery::group_list()),
        Route::Health => return Ok("ok".into_response()),
        Route::OpenApiRoot => return ok(openapi::root()),
        Route::OpenApi(gv) => {
            return openapi::document(&gv)
                .map(|v| json_response(StatusCode::OK, &v))
                .ok_or(ApiError::UnknownPath)
        }
        Route::Resources { group, version } => {
            return discovery::resource_list(&group, &version)
                .map(|v| json_response(StatusCode::OK, &v))
                .ok_or(ApiError::UnknownPath)
        }
        Route::AccessReview if method == Method::POST => {
            let body = read_body(body).await?;
            let review = authorization::review(|f| state.config.has(f), &body)?;
            return Ok(json_response(StatusCode::CREATED, &review));
        }
        Route::AccessReview => {
            return Err(ApiError::MethodNotAllowed(format!(
                "selfsubjectaccessreviews only allow create (POST), not {method}"
            )))
        }
        Route::Resource(target) => target,
    };
    if target.subresource.as_deref() == Some("exec") {
        let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &state).await;
        return exec::handle(&state, &target, &query, &method, upgrade.ok()).await;
    }
    let body = read_body(body).await?;
    let headers = &parts.headers;
    match (target.subresource.as_deref(), target.name.is_some(), method) {
        (None, false, Method::GET) if query.flag("watch") => {
            watch::watch(&state, &target, &query, headers)
        }
        (None, false, Method::GET) => crud::list(&state, &target, &query, headers),
        (None, false, Method::POST) => crud::create(&state, &target, &query, headers, &body),
        (None, false, Method::DELETE) => delete::delete_collection(&state, &target, &query),
        (None, true, Method::GET) => crud::get(&state, &target, headers),
        (None, true, Method::PUT) => crud::update(&state, &target, headers, &body, false),
        (None, true, Method::PATCH) => crud::patch(&state, &target, headers, &body, false),
        (None, true, Method::DELETE) => delete::delete(&state, &target, &query, &body),
        (Some("status"), true, Method::GET) => crud::get(&state, &target, headers),
        (Some("status"), true, Method::PUT) => crud::update(&state, &target, headers, &body, true),
        (Some("status"), true, Method::PATCH) => crud::patch(&state, &target, headers, &body, true),
        (Some("scale"), true, Method::GET) => scale::get(&state, &target),
        (Some("scale"), true, Method::PUT | Method::PATCH) => {
            scale::update(&state, &target, &parts.method, headers, &body)
        }
        (Some("log"), true, Method::GET) => logs::log(&state, &target, &query),
        (Some("proxy"), true, Method::GET) => {
            subresources::proxy(&state, &target, parts.uri.query()).await
        }
        (_, _, method) => Err(ApiError::MethodNotAllowed(format!(
            "the server does not allow this method on the requested resource ({method} {})",
            parts.uri.path()
        ))),
    }
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| ApiError::BadRequest(format!("cannot read the request body: {e}")))
}

/// The request's `Content-Type`, or `""`.
pub(crate) fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Target {
        match parse(path).unwrap() {
            Route::Resource(t) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kubernetes_url_shapes() {
        let t = target("/api/v1/namespaces/ns/pods/p/status");
        assert_eq!(
            (t.def.plural, t.ns(), t.name.as_deref()),
            ("pods", "ns", Some("p"))
        );
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = target("/api/v1/namespaces/ns");
        assert_eq!(
            (t.def.plural, t.name.as_deref()),
            ("namespaces", Some("ns"))
        );
        let t = target("/api/v1/namespaces/ns/status");
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = target("/api/v1/pods");
        assert!(t.namespace.is_none() && t.name.is_none());
        let t = target("/apis/apps/v1/namespaces/ns/deployments");
        assert_eq!((t.def.plural, t.ns()), ("deployments", "ns"));
        let t = target("/api/v1/namespaces/ns/pods/web:8080/proxy/dial?x=1");
        assert_eq!(t.port.as_deref(), Some("8080"));
        assert_eq!(t.rest, "/dial?x=1");
        let t = target("/api/v1/namespaces/ns/pods/web/proxy");
        assert_eq!((t.rest.as_str(), t.port.as_deref()), ("/", None));
        assert!(matches!(parse("/api/v1"), Ok(Route::Resources { .. })));
        assert!(matches!(
            parse("/apis/apps/v1/"),
            Ok(Route::Resources { .. })
        ));
    }

    #[test]
    fn unknown_paths_are_404() {
        for path in [
            "/api/v1/widgets",
            "/apis/example.com/v1/things",
            "/api/v1/namespaces/ns/nodes",
            "/api/v1/namespaces/ns/configmaps/c/status",
            "/foo",
        ] {
            assert!(matches!(parse(path), Err(ApiError::UnknownPath)), "{path}");
        }
    }
}
