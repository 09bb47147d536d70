//! The simulated cluster's Kubernetes REST API (axum): routing, discovery, CRUD, watch,
//! subresources (`status`, `log`, `proxy`, `exec`), namespace termination, garbage collection
//! and API-level faults. Objects live as JSON in the shared `Store`.

pub mod crud;
pub mod defaults;
pub mod delete;
pub mod discovery;
pub mod exec;
pub mod faults;
pub mod lifecycle;
pub mod logs;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod query;
pub mod registry;
pub mod route;
pub mod scale;
pub mod selectors;
pub mod status;
pub mod subresources;
pub mod table;
pub mod validation;
pub mod watch;

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
pub struct ApiState {
    pub store: Arc<Store>,
    pub runtime: Arc<Runtime>,
    pub config: Arc<SimConfig>,
    /// Cancelled when the cluster shuts down (ends watches).
    pub shutdown: CancellationToken,
    /// Wakes the namespace-termination and garbage-collection task.
    pub lifecycle: Arc<Notify>,
}

impl ApiState {
    pub fn new(store: Arc<Store>, runtime: Arc<Runtime>, config: SimConfig) -> Self {
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
pub fn router(state: ApiState) -> Router {
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
