//! The simulated container runtime: running container instances of every pod (registered by the
//! kubelet, `controllers/kubelet.rs`), PV contents, the network state, and what `pods/proxy`,
//! `pods/exec` and `pods/log` reach. `proxy`, `exec` and `logs` are the contract with the API
//! layer; `dial_http`/`dial_udp` carry traffic between pods (`network.rs` decides the route).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use tokio::sync::mpsc;

use super::config::SimConfig;
use super::network::{self, DialFailure, NetState};
use super::store::Store;
use super::workload::fs::SharedTree;
use super::workload::shell::{self, Dialect, HttpReply, Net, NetFailure, NetFuture, Sandbox, Sink};
use super::workload::{self, netexec, Program, SharedLog, Signal};

/// The answer of an HTTP request proxied to a port of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyResponse {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: Vec<u8>,
}

/// The result of a command run in a container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ExecOutput {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) exit_code: i32,
}

/// Why a runtime request could not be served (mapped to a Status by the API layer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RuntimeError {
    #[error("pods \"{0}\" not found")]
    PodNotFound(String),
    #[error("container {container} is not valid for pod {pod}")]
    NoSuchContainer { pod: String, container: String },
    #[error("a container name must be specified for pod {pod}, choose one of: [{choices}]")]
    ContainerRequired { pod: String, choices: String },
    #[error("container \"{container}\" in pod \"{pod}\" is not running")]
    NotRunning { pod: String, container: String },
    #[error("previous terminated container \"{container}\" in pod \"{pod}\" not found")]
    NoPrevious { pod: String, container: String },
    #[error("error trying to reach service: dial tcp {addr}: connect: connection refused")]
    Refused { addr: String },
}

/// A running container instance, as requests reach it.
#[derive(Clone)]
pub(crate) struct Running {
    pub(crate) program: Program,
    pub(crate) sandbox: Sandbox,
    pub(crate) signals: mpsc::UnboundedSender<Signal>,
    pub(crate) started: Instant,
}

/// One container of a pod: its running instance (if any) and its logs.
#[derive(Default)]
pub(crate) struct ContainerRt {
    pub(crate) running: Option<Running>,
    pub(crate) log: SharedLog,
    /// The log of the previous instance (`previous=true`).
    pub(crate) previous_log: Option<String>,
}

/// A pod the kubelet runs: identity, addresses and containers (init and app, by name).
pub(crate) struct PodRt {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) uid: String,
    pub(crate) windows: bool,
    pub(crate) ip: String,
    pub(crate) host_ip: String,
    /// App container names in spec order (to pick the default container).
    pub(crate) app_containers: Vec<String>,
    pub(crate) containers: Mutex<BTreeMap<String, ContainerRt>>,
}

impl PodRt {
    pub(crate) fn containers(&self) -> MutexGuard<'_, BTreeMap<String, ContainerRt>> {
        self.containers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The running instance listening on `port`.
    pub(crate) fn listener(&self, port: u16, udp: bool) -> Option<Running> {
        self.containers()
            .values()
            .filter_map(|c| c.running.clone())
            .find(|r| r.program.ports().contains(&(port, udp)))
    }

    pub(crate) fn dialect(&self) -> Dialect {
        if self.windows {
            Dialect::Cmd
        } else {
            Dialect::Sh
        }
    }
}

/// Handle the API server holds to reach running containers; shared with the controllers.
pub(crate) struct Runtime {
    pub(crate) store: Arc<Store>,
    pub(crate) config: SimConfig,
    pods: Mutex<HashMap<(String, String), Arc<PodRt>>>,
    /// Contents of each PersistentVolume, by PV name; they outlive pods.
    volumes: Mutex<HashMap<String, SharedTree>>,
    net: Mutex<NetState>,
    /// `(node, image)` pairs whose first pull was tried (`Quirk::TransientPullErrors`).
    pulls_tried: Mutex<std::collections::HashSet<(String, String)>>,
    /// `flaky-first-attempt`: the namespace of the first pod named `p` a kubelet pulled for.
    flaky_namespace: Mutex<Option<String>>,
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Runtime {
    pub(crate) fn new(store: Arc<Store>, config: SimConfig) -> Self {
        Self {
            store,
            config,
            pods: Mutex::default(),
            volumes: Mutex::default(),
            net: Mutex::default(),
            pulls_tried: Mutex::default(),
            flaky_namespace: Mutex::default(),
        }
    }

    /// Whether this is the node's first pull of the image (later calls answer `false`).
    pub(crate) fn first_pull(&self, node: &str, image: &str) -> bool {
        lock(&self.pulls_tried).insert((node.to_string(), image.to_string()))
    }

    /// `flaky-first-attempt`: whether pulls for pod `pod` of `namespace` fail, that is whether
    /// it is named `p` and `namespace` is the first namespace such a pod was pulled in.
    pub(crate) fn flaky_first_attempt(&self, namespace: &str, pod: &str) -> bool {
        if pod != "p" {
            return false;
        }
        let mut first = lock(&self.flaky_namespace);
        first.get_or_insert_with(|| namespace.to_string()) == namespace
    }

    pub(crate) fn net(&self) -> MutexGuard<'_, NetState> {
        lock(&self.net)
    }

    /// The contents of a PersistentVolume (created empty on first use).
    pub(crate) fn volume(&self, pv: &str) -> SharedTree {
        lock(&self.volumes)
            .entry(pv.to_string())
            .or_default()
            .clone()
    }

    /// Drops a PersistentVolume's contents (fault `volume-data-loss`, or the PV is deleted).
    pub(crate) fn wipe_volume(&self, pv: &str) {
        lock(&self.volumes).remove(pv);
    }

    pub(crate) fn register(&self, pod: Arc<PodRt>) {
        lock(&self.pods).insert((pod.namespace.clone(), pod.name.clone()), pod);
    }

    /// Forgets a pod (only the instance with this uid) and frees its IP.
    pub(crate) fn unregister(&self, namespace: &str, name: &str, uid: &str) {
        let mut pods = lock(&self.pods);
        let key = (namespace.to_string(), name.to_string());
        if pods.get(&key).is_some_and(|p| p.uid == uid) {
            if let Some(p) = pods.remove(&key) {
                self.net().release_pod_ip(&p.ip);
            }
        }
    }

    pub(crate) fn pod(&self, namespace: &str, name: &str) -> Option<Arc<PodRt>> {
        lock(&self.pods)
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    pub(crate) fn pod_by_ip(&self, ip: &str) -> Option<Arc<PodRt>> {
        lock(&self.pods).values().find(|p| p.ip == ip).cloned()
    }

    /// An HTTP request to `port` of a pod, from `client` (`ip:port`).
    pub(crate) fn http_to<'a>(
        &'a self,
        pod: &'a Arc<PodRt>,
        port: u16,
        path_and_query: &'a str,
        client: &'a str,
    ) -> BoxFut<'a, Result<ProxyResponse, DialFailure>> {
        Box::pin(async move {
            let running = pod.listener(port, false).ok_or(DialFailure::Refused)?;
            tokio::time::sleep(self.config.delay(self.config.latency / 10)).await;
            Ok(netexec::http(self, pod, &running, path_and_query, client).await)
        })
    }

    /// Where a dial from `src` to `host:port` lands: the pod and port.
    fn route(
        &self,
        src: &PodRt,
        host: &str,
        port: u16,
        udp: bool,
    ) -> Result<(Arc<PodRt>, u16), DialFailure> {
        // An IP literal (v4, or v6 with or without brackets) or a name for the pod's resolver.
        let ip = match network::ip_literal(host) {
            Some(ip) => ip,
            None => {
                let dns = network::ClusterDns::new(
                    self.store.clone(),
                    &self.config,
                    &src.namespace,
                    src.windows,
                );
                use shell::Dns;
                dns.lookup(host).ok_or(DialFailure::NoSuchHost)?.1
            }
        };
        let (pod, port) = if is_loopback(&ip) {
            (
                self.pod(&src.namespace, &src.name)
                    .ok_or(DialFailure::Refused)?,
                port,
            )
        } else if let Some(p) = self.pod_by_ip(&ip) {
            (p, port)
        } else {
            if let Some(node) = network::node_with_internal_ip(&self.store, &ip) {
                let client = network::NodePortClient {
                    windows: src.windows,
                    host_ip: &src.host_ip,
                };
                if network::node_port_dropped(&self.config, &node, port, Some(client)) {
                    return Err(DialFailure::Timeout);
                }
            }
            let backend = {
                let mut net = self.net();
                network::service_backend(&self.store, &self.config, &mut net, &ip, port, udp)
            };
            match backend {
                Some(Ok(b)) => (
                    self.pod(&b.namespace, &b.pod).ok_or(DialFailure::Refused)?,
                    b.port,
                ),
                Some(Err(e)) => return Err(e),
                None => return Err(DialFailure::Timeout),
            }
        };
        if network::drops(&self.config, src.windows, pod.windows) {
            return Err(DialFailure::Timeout);
        }
        Ok((pod, port))
    }

    fn client_addr(&self, src: &PodRt) -> String {
        // Go's RemoteAddr: `[v6]:port` for IPv6 pod addresses.
        let ip = network::source_ip(&self.config, &src.ip, &src.host_ip);
        network::join_host_port(ip, self.net().source_port())
    }

    /// An HTTP `GET` from pod `src` to `host:port` (netexec's dial, curl in a container):
    /// routed as any packet of the pod; loopback reaches the pod itself, from 127.0.0.1.
    pub(crate) async fn get_from(
        &self,
        src: &PodRt,
        host: &str,
        port: u16,
        path_and_query: &str,
    ) -> Result<ProxyResponse, DialFailure> {
        let (pod, port) = self.route(src, host, port, false)?;
        let client = if is_loopback(host) {
            format!("127.0.0.1:{}", self.net().source_port())
        } else {
            self.client_addr(src)
        };
        self.http_to(&pod, port, path_and_query, &client).await
    }

    /// netexec's HTTP dial from `src`: the body, or agnhost's error text.
    pub(crate) async fn dial_http(
        &self,
        src: &PodRt,
        host: &str,
        port: u16,
        request: &str,
    ) -> Result<String, String> {
        let path = format!("/{}", request.trim_start_matches('/'));
        let host_port = network::join_host_port(host, port);
        let url = format!("http://{host_port}{path}");
        let fail = |f: DialFailure| {
            match f {
            DialFailure::Timeout => format!(
                "Get \"{url}\": dial tcp {host_port}: i/o timeout (Client.Timeout exceeded while awaiting headers)"
            ),
            DialFailure::Refused => {
                format!("Get \"{url}\": dial tcp {host_port}: connect: connection refused")
            }
            DialFailure::NoSuchHost => format!(
                "Get \"{url}\": dial tcp: lookup {host} on {}:53: no such host",
                network::DNS_SERVICE_IP
            ),
        }
        };
        let resp = self.get_from(src, host, port, &path).await.map_err(fail)?;
        Ok(String::from_utf8_lossy(&resp.body).into_owned())
    }

    /// netexec's UDP dial from `src`: the answer, or agnhost's error text.
    pub(crate) async fn dial_udp(
        &self,
        src: &PodRt,
        host: &str,
        port: u16,
        request: &str,
    ) -> Result<String, String> {
        let addr = network::join_host_port(host, port);
        let fail = |f: DialFailure| match f {
            DialFailure::NoSuchHost => format!(
                "dial udp: lookup {host} on {}:53: no such host",
                network::DNS_SERVICE_IP
            ),
            DialFailure::Refused => {
                format!(
                    "reading from {addr}: read udp {}->{addr}: read: connection refused",
                    src.ip
                )
            }
            DialFailure::Timeout => {
                format!(
                    "reading from {addr}: read udp {}->{addr}: i/o timeout",
                    src.ip
                )
            }
        };
        let (pod, port) = self.route(src, host, port, true).map_err(fail)?;
        if network::drops_udp(&self.config) {
            return Err(fail(DialFailure::Timeout));
        }
        // Nothing listening on UDP: the datagram is lost and the read times out.
        let running = pod
            .listener(port, true)
            .ok_or_else(|| fail(DialFailure::Timeout))?;
        let client = self.client_addr(src);
        Ok(netexec::udp(&pod, &running, request, &client))
    }

    /// Sends `GET path_and_query` to `port` of the pod (`pods/{pod}:{port}/proxy/...`).
    pub(crate) async fn proxy(
        &self,
        namespace: &str,
        pod: &str,
        port: u16,
        path_and_query: &str,
    ) -> Result<ProxyResponse, RuntimeError> {
        let Some(p) = self.pod(namespace, pod) else {
            return match self.store.get("pods", namespace, pod) {
                Some(obj) => Err(RuntimeError::Refused {
                    addr: format!("{}:{port}", obj["status"]["podIP"].as_str().unwrap_or("")),
                }),
                None => Err(RuntimeError::PodNotFound(pod.to_string())),
            };
        };
        let client = format!("{}:{}", network::CONTROL_PLANE_IP, self.net().source_port());
        let path = if path_and_query.starts_with('/') {
            path_and_query.to_string()
        } else {
            format!("/{path_and_query}")
        };
        self.http_to(&p, port, &path, &client)
            .await
            .map_err(|_| RuntimeError::Refused {
                addr: format!("{}:{port}", p.ip),
            })
    }

    fn pick_container(&self, p: &PodRt, container: Option<&str>) -> Result<String, RuntimeError> {
        match container {
            Some(c) => {
                if p.containers().contains_key(c) || p.app_containers.iter().any(|n| n == c) {
                    Ok(c.to_string())
                } else {
                    Err(RuntimeError::NoSuchContainer {
                        pod: p.name.clone(),
                        container: c.to_string(),
                    })
                }
            }
            None if p.app_containers.len() == 1 => Ok(p.app_containers[0].clone()),
            None => Err(RuntimeError::ContainerRequired {
                pod: p.name.clone(),
                choices: p.app_containers.join(" "),
            }),
        }
    }

    fn pod_or_error(&self, namespace: &str, pod: &str) -> Result<Arc<PodRt>, RuntimeError> {
        self.pod(namespace, pod).ok_or_else(|| {
            if self.store.get("pods", namespace, pod).is_some() {
                RuntimeError::NotRunning {
                    pod: pod.to_string(),
                    container: String::new(),
                }
            } else {
                RuntimeError::PodNotFound(pod.to_string())
            }
        })
    }

    /// Runs `command` in a container of the pod (`pods/{pod}/exec`).
    pub(crate) async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[String],
    ) -> Result<ExecOutput, RuntimeError> {
        let p = self.pod_or_error(namespace, pod)?;
        let name = self.pick_container(&p, container)?;
        let running = p
            .containers()
            .get(&name)
            .and_then(|c| c.running.clone())
            .ok_or_else(|| RuntimeError::NotRunning {
                pod: pod.to_string(),
                container: name.clone(),
            })?;
        let mut sink = Sink::default();
        let exit_code = if command.is_empty() {
            sink = Sink {
                stderr: shell::not_modeled("an exec without a command"),
                ..Sink::default()
            };
            shell::NOT_MODELED_CODE
        } else {
            shell::run_argv(command, p.dialect(), &running.sandbox, &mut sink).await
        };
        Ok(ExecOutput {
            stdout: sink.stdout.into_bytes(),
            stderr: sink.stderr.into_bytes(),
            exit_code,
        })
    }

    /// The log of a container (`pods/{pod}/log`), of its previous instance with `previous`.
    pub(crate) fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> Result<String, RuntimeError> {
        let p = self.pod_or_error(namespace, pod)?;
        let name = self.pick_container(&p, container)?;
        let containers = p.containers();
        let Some(c) = containers.get(&name) else {
            return Err(RuntimeError::NotRunning {
                pod: pod.to_string(),
                container: name,
            });
        };
        if previous {
            c.previous_log.clone().ok_or(RuntimeError::NoPrevious {
                pod: pod.to_string(),
                container: name,
            })
        } else {
            Ok(workload::read_log(&c.log))
        }
    }
}

/// Whether an address is the pod's own loopback.
fn is_loopback(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The network handle of one pod's containers ([`Net`]): their `GET`s leave from that pod.
/// Weak references, so a container's sandbox keeps neither its pod nor the runtime alive.
pub(crate) struct PodNet {
    runtime: Weak<Runtime>,
    pod: Weak<PodRt>,
}

impl PodNet {
    pub(crate) fn new(runtime: &Arc<Runtime>, pod: &Arc<PodRt>) -> Self {
        Self {
            runtime: Arc::downgrade(runtime),
            pod: Arc::downgrade(pod),
        }
    }
}

impl Net for PodNet {
    fn http_get<'a>(&'a self, ip: &'a str, port: u16, path_and_query: &'a str) -> NetFuture<'a> {
        Box::pin(async move {
            // A pod (or simulated cluster) that is gone sends nothing anywhere.
            let (Some(runtime), Some(pod)) = (self.runtime.upgrade(), self.pod.upgrade()) else {
                return Err(NetFailure::Timeout);
            };
            match runtime.get_from(&pod, ip, port, path_and_query).await {
                Ok(answer) => Ok(HttpReply {
                    status: answer.status,
                    body: answer.body,
                }),
                Err(DialFailure::Refused) => Err(NetFailure::Refused),
                // The caller resolved the name already; an address nobody has times out.
                Err(DialFailure::Timeout | DialFailure::NoSuchHost) => Err(NetFailure::Timeout),
            }
        })
    }
}
