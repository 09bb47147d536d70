//! The simulated hybrid cluster: a real Kubernetes API server on loopback (axum) with Linux and
//! Windows nodes, and controllers as tokio tasks (scheduler, kubelets, services, storage).
//! A test double with KWOK's fidelity, not a Kubernetes: it exists so every path of the harness,
//! including every failure path, runs end to end. Only the binary that starts it knows it exists.
//!
//! Or, with [`SimCluster::join`], only the simulated nodes (kubelets, container runtime, pod
//! network, DNS, kube-proxy, NodePorts, provisioner) as kube-rs clients of a real API server
//! (`remote/`), which reaches them through its egress selector (`egress/`).
//!
//! The public surface is [`SimCluster`] (start or join, connect, shut down), [`SimConfig`],
//! [`ApiServer`], [`Fault`], [`Quirk`] and [`SimError`]. Features: `clap` derives
//! `clap::ValueEnum` on `Fault` and `Quirk`; `testing` adds `SimCluster::store()`, a look beneath
//! the API for this crate's own tests.

#![warn(missing_docs, unreachable_pub)]

mod api;
mod config;
mod controllers;
mod egress;
mod exec_stream;
mod faults;
mod meta;
mod network;
mod quirks;
mod remote;
mod runtime;
mod store;
mod workload;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::SimConfig;
pub use faults::Fault;
pub use quirks::Quirk;

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
    /// The simulated nodes could not join a real API server (registering the nodes, or the
    /// first list of what they watch, failed).
    #[error("the simulated nodes cannot join the API server")]
    Join(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The egress socket the real API server reaches the nodes through could not be served.
    #[error("cannot serve the egress socket {path}")]
    EgressSocket {
        /// Where the socket was to be.
        path: std::path::PathBuf,
        /// Why it could not be bound.
        #[source]
        source: std::io::Error,
    },
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

/// A real API server for the simulated nodes to join (a control plane of real components).
#[derive(Debug, Clone)]
pub struct ApiServer {
    /// A kubeconfig with an identity that may register nodes and write pod status (admin).
    pub kubeconfig_yaml: String,
    /// The Unix socket the API server's egress selector sends `cluster` traffic to (HTTP
    /// `CONNECT`): the nodes serve it, so pod proxy, logs and exec reach them. `None`: they
    /// cannot be reached from the API server.
    pub egress_socket: Option<std::path::PathBuf>,
}

/// A running simulated cluster, or simulated nodes under a real API server. Dropping it without
/// `shutdown` aborts its tasks.
pub struct SimCluster {
    url: String,
    kubeconfig_yaml: String,
    /// What this crate's own tests look at beneath the API.
    #[cfg(any(test, feature = "testing"))]
    runtime: Arc<runtime::Runtime>,
    shutdown: CancellationToken,
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
            kubeconfig_yaml: own_kubeconfig(&url),
            url,
            #[cfg(any(test, feature = "testing"))]
            runtime: state.runtime.clone(),
            shutdown: state.shutdown.clone(),
            server: Some(server),
            tasks,
        })
    }

    /// Starts only the simulated nodes, as clients of the real API server `api`: they register
    /// their Node objects, mirror what they watch, run the pods its scheduler binds to them and
    /// serve its egress socket. `config.port` is ignored (the nodes' addresses derive from the
    /// API server's port).
    pub async fn join(config: SimConfig, api: ApiServer) -> Result<SimCluster, SimError> {
        let client = client_from(&api.kubeconfig_yaml, None).await?;
        let url = client_url(&api.kubeconfig_yaml)?;
        let port = url
            .parse::<http::Uri>()
            .ok()
            .and_then(|uri| uri.port_u16())
            .unwrap_or(config.port);
        let config = SimConfig { port, ..config };
        let store = Arc::new(store::Store::new());
        let runtime = Arc::new(runtime::Runtime::new(store.clone(), config.clone()));
        let mut tasks = remote::attach(client, store.clone(), &config)
            .await
            .map_err(|e| SimError::Join(Box::new(e)))?;
        let shutdown = CancellationToken::new();
        if let Some(socket) = &api.egress_socket {
            let egress =
                egress::spawn(socket, runtime.clone(), shutdown.clone()).map_err(|source| {
                    for task in &tasks {
                        task.abort();
                    }
                    SimError::EgressSocket {
                        path: socket.clone(),
                        source,
                    }
                })?;
            tasks.push(egress);
        }
        tasks.extend(controllers::start_node_side(runtime.clone()));
        tracing::info!(%url, "simulated nodes joined the API server");
        Ok(SimCluster {
            url,
            kubeconfig_yaml: api.kubeconfig_yaml,
            #[cfg(any(test, feature = "testing"))]
            runtime: runtime.clone(),
            shutdown,
            server: None,
            tasks,
        })
    }

    /// The API server's URL: `http://127.0.0.1:<port>` for the embedded one.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The object store behind the API (for the simulated cluster's own tests, which look
    /// beneath the API, e.g. to compact the watch history).
    #[cfg(feature = "testing")]
    pub fn store(&self) -> StoreAccess<'_> {
        StoreAccess(&self.runtime.store)
    }

    /// A kubeconfig pointing at this cluster: for the embedded one, context `hybrid-e2e-sim`
    /// as JSON (which is YAML too: kubectl and kube-rs read it as a kubeconfig file); under a
    /// real API server, the kubeconfig it was joined with.
    pub fn kubeconfig_yaml(&self) -> String {
        self.kubeconfig_yaml.clone()
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
        let context = self.server.is_some().then_some(CONTEXT);
        client_from(&self.kubeconfig_yaml, context).await
    }

    /// Stops the server and all controllers.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
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

/// The kubeconfig of the embedded API server at `url` (no credentials: it trusts everyone).
fn own_kubeconfig(url: &str) -> String {
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        "users": [{"name": CONTEXT, "user": {}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT}}],
        "current-context": CONTEXT,
        "preferences": {},
    });
    format!("{doc:#}\n")
}

/// A client for `kubeconfig_yaml`, with `context` or its current context.
async fn client_from(
    kubeconfig_yaml: &str,
    context: Option<&str>,
) -> Result<kube::Client, SimError> {
    let kubeconfig =
        kube::config::Kubeconfig::from_yaml(kubeconfig_yaml).map_err(SimError::ClientConfig)?;
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(SimError::ClientConfig)?;
    kube::Client::try_from(config).map_err(SimError::Client)
}

/// The server URL of the current context of `kubeconfig_yaml`.
fn client_url(kubeconfig_yaml: &str) -> Result<String, SimError> {
    let kubeconfig =
        kube::config::Kubeconfig::from_yaml(kubeconfig_yaml).map_err(SimError::ClientConfig)?;
    let current = kubeconfig.current_context.clone().unwrap_or_default();
    let cluster = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == current)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .unwrap_or_default();
    Ok(kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .unwrap_or_default())
}

impl Drop for SimCluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
        for task in &self.tasks {
            task.abort();
        }
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}
