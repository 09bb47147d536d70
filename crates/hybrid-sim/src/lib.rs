//! The simulated hybrid cluster: a real Kubernetes API server on loopback (axum) with Linux and
//! Windows nodes, and controllers as tokio tasks (scheduler, kubelets, services, storage).
//! A test double with KWOK's fidelity, not a Kubernetes: it exists so every path of the harness,
//! including every failure path, runs end to end. Only the binary that starts it knows it exists.
//!
//! The public surface is [`SimCluster`] (start, connect, shut down), [`SimConfig`], [`Fault`] and
//! [`SimError`]. Features: `clap` derives `clap::ValueEnum` on `Fault`; `testing` adds
//! `SimCluster::store()`, a look beneath the API for this crate's own tests.

#![warn(missing_docs, unreachable_pub)]

mod api;
mod config;
mod controllers;
mod egress;
mod exec_stream;
mod faults;
mod meta;
mod network;
mod runtime;
mod store;
mod workload;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

pub use config::SimConfig;
pub use faults::Fault;

/// Why the simulated cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The API server's port could not be bound (in use, or not allowed).
    #[error("cannot listen on 127.0.0.1:{port}")]
    Bind {
        /// The port asked for (0: any free one).
        port: u16,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// The kubeconfig the cluster writes for itself could not be read back.
    #[error("cannot read the simulated cluster's own kubeconfig")]
    ClientConfig(#[source] kube::config::KubeconfigError),
    /// No `kube::Client` could be made from that kubeconfig.
    #[error("cannot create a client for the simulated cluster")]
    Client(#[source] kube::Error),
    /// The kubeconfig could not be written where asked.
    #[error("cannot write the kubeconfig to {path}")]
    Kubeconfig {
        /// Where the kubeconfig was to go.
        path: std::path::PathBuf,
        /// Why writing failed.
        #[source]
        source: std::io::Error,
    },
}

/// What the simulated cluster's own tests may do beneath the API: read the store's
/// `resourceVersion` and compact its watch history (feature `testing`).
#[cfg(feature = "testing")]
pub struct StoreAccess<'a>(&'a store::Store);

#[cfg(feature = "testing")]
impl StoreAccess<'_> {
    /// The newest `resourceVersion` the store handed out (what a list reports).
    pub fn resource_version(&self) -> u64 {
        self.0.resource_version()
    }

    /// Forgets the change history up to now, as etcd compaction does: a watch that resumes
    /// from an older `resourceVersion` then gets 410 Gone.
    pub fn compact(&self) {
        self.0.compact();
    }
}

/// The name of the cluster, user and context in the kubeconfig the simulated cluster writes.
const CONTEXT: &str = "hybrid-e2e-sim";

/// Namespaces every cluster has from the start.
const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// A running simulated cluster. Dropping it without `shutdown` aborts its tasks.
pub struct SimCluster {
    url: String,
    state: api::ApiState,
    server: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl SimCluster {
    /// Starts the API server and controllers; returns once the server accepts connections.
    pub async fn start(config: SimConfig) -> Result<SimCluster, SimError> {
        let port = config.port;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|source| SimError::Bind { port, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimError::Bind { port, source })?;
        // From here on, the port in use (node ExternalIPs are derived from it).
        let config = SimConfig {
            port: addr.port(),
            ..config
        };
        let store = Arc::new(store::Store::new());
        for ns in SYSTEM_NAMESPACES {
            let mut object = serde_json::json!({"metadata": {"name": ns}});
            if let Some(def) = api::registry::find("", "v1", "namespaces") {
                api::defaults::on_create(def, &mut object);
            }
            // Only fails if it exists already, which is what we want.
            let _ = store.create("namespaces", "", object);
        }
        let runtime = Arc::new(runtime::Runtime::new(store.clone(), config.clone()));
        let state = api::ApiState::new(store.clone(), runtime.clone(), config.clone());
        let mut tasks = controllers::start(store, runtime, &config);
        tasks.push(api::lifecycle::spawn(state.clone()));
        let app = api::router(state.clone());
        let token = state.shutdown.clone();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(token.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "simulated API server stopped");
            }
        });
        let url = format!("http://{addr}");
        tracing::info!(%url, "simulated cluster listening");
        Ok(SimCluster {
            url,
            state,
            server: Some(server),
            tasks,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The object store behind the API (for the simulated cluster's own tests, which look
    /// beneath the API, e.g. to compact the watch history).
    #[cfg(feature = "testing")]
    pub fn store(&self) -> StoreAccess<'_> {
        StoreAccess(&self.state.store)
    }

    /// A kubeconfig pointing at this cluster, context `hybrid-e2e-sim`, as JSON (which is YAML
    /// too: kubectl and kube-rs read it as a kubeconfig file).
    pub fn kubeconfig_yaml(&self) -> String {
        let doc = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": {"server": self.url}}],
            "users": [{"name": CONTEXT, "user": {}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT}}],
            "current-context": CONTEXT,
            "preferences": {},
        });
        format!("{doc:#}\n")
    }

    /// Writes `kubeconfig_yaml()` to `path`, creating parent folders.
    pub fn write_kubeconfig(&self, path: &std::path::Path) -> Result<(), SimError> {
        let err = |source| SimError::Kubeconfig {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        std::fs::write(path, self.kubeconfig_yaml()).map_err(err)
    }

    /// A `kube::Client` for this cluster (the same way a user's kubeconfig would make one).
    pub async fn client(&self) -> Result<kube::Client, SimError> {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_yaml())
            .map_err(SimError::ClientConfig)?;
        let options = kube::config::KubeConfigOptions {
            context: Some(CONTEXT.to_string()),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(SimError::ClientConfig)?;
        kube::Client::try_from(config).map_err(SimError::Client)
    }

    /// Stops the server and all controllers.
    pub async fn shutdown(mut self) {
        self.state.shutdown.cancel();
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(mut server) = self.server.take() {
            // Graceful first (open requests finish); then cut what is left.
            if tokio::time::timeout(Duration::from_secs(2), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
    }
}

impl Drop for SimCluster {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
        for task in &self.tasks {
            task.abort();
        }
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}
