//! The simulated cluster's Kubernetes REST API (axum): routing, discovery, CRUD, watch,
//! subresources (`status`, `scale`, `log`, `proxy`, `exec`), namespace termination, garbage
//! collection and API-level faults. Objects live as JSON in the shared `Store`.
//!
//! Modeled: discovery (`/version`, `/api`, `/apis`, group documents, `all` category), a minimal
//! OpenAPI v3 (enough for `kubectl apply` validation), list/get/create/update/patch/delete/
//! deletecollection/watch with label and field selectors, server-side Tables (`kubectl get`),
//! JSON bodies plus the protobuf kubectl's typed `create namespace|configmap|secret` send, JSON Patch,
//! merge and strategic merge patches (the latter approximated: named lists merge by `name`), `dryRun`
//! on create, graceful pod deletion, Terminating namespaces, finalizers, background garbage
//! collection by `ownerReferences`, watch bookmarks, 410 as an ERROR event, streaming-list
//! watches, `pods/log` (with `follow`), `pods/proxy` (GET), `pods/exec` (WebSocket v5/v4),
//! `deployments|replicasets/scale`, SelfSubjectAccessReviews (`authorization`: allowed unless
//! `forbid-namespaces` or `forbid-exec` denies), and the `api-errors` and `watch-drop` faults.
//!
//! Not modeled (clear Status errors): server-side apply (415), other protobuf
//! kinds and CBOR/YAML bodies (415), SPDY exec, port-forward, attach, eviction, RBAC, admission,
//! CRDs, `events.k8s.io`, pagination (`limit` is ignored: lists are complete).

pub(crate) mod authorization;
pub(crate) mod crud;
pub(crate) mod defaults;
pub(crate) mod delete;
pub(crate) mod discovery;
pub(crate) mod exec;
pub(crate) mod faults;
pub(crate) mod lifecycle;
pub(crate) mod logs;
pub(crate) mod openapi;
pub(crate) mod patch;
pub(crate) mod podsecurity;
pub(crate) mod policy;
pub(crate) mod protobuf;
pub(crate) mod query;
pub(crate) mod registry;
pub(crate) mod route;
pub(crate) mod scale;
pub(crate) mod selectors;
pub(crate) mod status;
pub(crate) mod subresources;
pub(crate) mod table;
pub(crate) mod validation;
pub(crate) mod watch;

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::config::SimConfig;
use super::runtime::Runtime;
use super::store::Store;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) store: Arc<Store>,
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) config: Arc<SimConfig>,
    /// Cancelled when the cluster shuts down (ends watches).
    pub(crate) shutdown: CancellationToken,
    /// Wakes the namespace-termination and garbage-collection task.
    pub(crate) lifecycle: Arc<Notify>,
}

impl ApiState {
    pub(crate) fn new(store: Arc<Store>, runtime: Arc<Runtime>, config: SimConfig) -> Self {
        Self {
            store,
            runtime,
            config: Arc::new(config),
            shutdown: CancellationToken::new(),
            lifecycle: Arc::new(Notify::new()),
        }
    }
}

/// The API server's router: every path goes through `route::dispatch`, behind request logging
/// and fault injection.
pub(crate) fn router(state: ApiState) -> Router {
    Router::new()
        .fallback(route::dispatch)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults::inject,
        ))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    tracing::debug!(%method, %uri, status = response.status().as_u16(), "sim api request");
    response
}
