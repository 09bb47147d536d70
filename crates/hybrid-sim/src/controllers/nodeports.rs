//! Real TCP listeners on every node's ExternalIP (a loopback address), so the machine running
//! the harness reaches the simulated nodes as it would reach real ones:
//! - NodePorts, over plain HTTP/1.1 (none under the `nodeport-closed` fault, so they refuse);
//! - a NodePort a node drops (`network::node_port_dropped`: a virtual node, a Windows node
//!   under `nodeport-silent-windows`) is a *black hole*: a listener with an accept backlog of
//!   0 whose one queue slot holds a connection nobody accepts, so Linux drops every further
//!   SYN and a client's connect() times out, as behind a firewall that drops packets;
//! - the kubelet port 10250 on every node, which accepts and closes at once, so a client can
//!   tell whether it reaches a node at all apart from any NodePort.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use crate::egress::KUBELET_PORT;
use crate::faults::Fault;
use crate::network;
use crate::runtime::{ProxyResponse, Runtime};

/// Keeps the listeners in step with Services and nodes in a task of its own (so binding never
/// delays ClusterIP allocation or endpoints); the task and its listeners stop when dropped.
pub(crate) struct Guard(JoinHandle<()>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) fn spawn(rt: Arc<Runtime>) -> Guard {
    Guard(tokio::spawn(async move {
        let mut feed = rt.store.subscribe();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut listeners = Listeners::default();
        loop {
            tokio::select! {
                change = feed.recv() => match change {
                    Ok(c) if matches!(c.key.resource.as_str(), "services" | "nodes") => {}
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => {}
            }
            listeners.sync(&rt).await;
        }
    }))
}

/// The largest request head a listener reads.
const MAX_HEAD: usize = 16 * 1024;

/// What listens at one (ExternalIP, port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A NodePort that answers through its Service.
    NodePort,
    /// A NodePort whose packets the node drops: connections time out.
    Dropped,
    /// The kubelet port: accepts, then closes.
    Kubelet,
}

/// Listening tasks by (ExternalIP, port), with their role; aborted when dropped.
#[derive(Default)]
pub(crate) struct Listeners {
    tasks: HashMap<(String, u16), (Role, JoinHandle<()>)>,
}

impl Drop for Listeners {
    fn drop(&mut self) {
        for (_, task) in self.tasks.values() {
            task.abort();
        }
    }
}

impl Listeners {
    /// Listens on every (node ExternalIP, port) pair that exists, stops the others.
    pub(crate) async fn sync(&mut self, rt: &Arc<Runtime>) {
        let wanted = wanted(rt);
        self.tasks.retain(|key, (role, task)| {
            let keep = wanted.get(key) == Some(role) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for ((ip, port), role) in wanted {
            if self.tasks.contains_key(&(ip.clone(), port)) {
                continue;
            }
            // A bind failure (address not on this machine, port taken) leaves this node
            // unreachable from outside, as a firewalled node would be; retried next sync.
            let Ok(addr) = ip.parse::<std::net::Ipv4Addr>() else {
                continue;
            };
            let task = match role {
                Role::NodePort => {
                    let Ok(listener) = TcpListener::bind((addr, port)).await else {
                        continue;
                    };
                    let internal = internal_ip_for(rt, &ip);
                    tokio::spawn(serve(rt.clone(), listener, internal, port))
                }
                Role::Kubelet => {
                    let Ok(listener) = TcpListener::bind((addr, port)).await else {
                        continue;
                    };
                    tokio::spawn(accept_and_close(listener))
                }
                Role::Dropped => match black_hole((addr, port).into()).await {
                    Ok(held) => tokio::spawn(async move {
                        let _held = held;
                        std::future::pending::<()>().await
                    }),
                    Err(_) => continue,
                },
            };
            self.tasks.insert((ip, port), (role, task));
        }
    }
}

/// What listens at each node ExternalIP: the kubelet port, and every TCP nodePort of every
/// Service (none under `nodeport-closed`; dropped ones as black holes).
fn wanted(rt: &Runtime) -> BTreeMap<(String, u16), Role> {
    let (nodes, _) = rt.store.list("nodes", None);
    let (services, _) = rt.store.list("services", None);
    let ports: Vec<u16> = if rt.config.has(Fault::NodeportClosed) {
        Vec::new()
    } else {
        services
            .iter()
            .flat_map(|s| s["spec"]["ports"].as_array().cloned().unwrap_or_default())
            .filter(|p| p["protocol"].as_str().unwrap_or("TCP") == "TCP")
            .filter_map(|p| p["nodePort"].as_u64().and_then(|n| u16::try_from(n).ok()))
            .collect()
    };
    let mut out = BTreeMap::new();
    for node in &nodes {
        for addr in node["status"]["addresses"].as_array().into_iter().flatten() {
            if addr["type"] != "ExternalIP" {
                continue;
            }
            let Some(ip) = addr["address"].as_str() else {
                continue;
            };
            out.insert((ip.to_string(), KUBELET_PORT), Role::Kubelet);
            for port in &ports {
                let role = if network::node_port_dropped(&rt.config, node, *port, None) {
                    Role::Dropped
                } else {
                    Role::NodePort
                };
                out.insert((ip.to_string(), *port), role);
            }
        }
    }
    out
}

/// A listener nobody accepts from, with its one accept-queue slot taken (backlog 0 holds one
/// connection on Linux): the kernel drops further SYNs, so connecting times out. Returns what
/// must stay open for that.
async fn black_hole(addr: std::net::SocketAddr) -> std::io::Result<(TcpListener, TcpStream)> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(0)?;
    let filler = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    Ok((listener, filler))
}

/// The kubelet port as seen from outside: it accepts, then closes (no TLS spoken here).
async fn accept_and_close(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => drop(stream),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The InternalIP of the node whose ExternalIP is `external` (what Service routing knows).
fn internal_ip_for(rt: &Runtime, external: &str) -> String {
    let (nodes, _) = rt.store.list("nodes", None);
    nodes
        .iter()
        .find(|n| {
            n["status"]["addresses"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["type"] == "ExternalIP" && a["address"] == external)
        })
        .and_then(network::node_internal_ip)
        .unwrap_or_default()
}

async fn serve(rt: Arc<Runtime>, listener: TcpListener, internal_ip: String, port: u16) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let rt = rt.clone();
        let internal_ip = internal_ip.clone();
        tokio::spawn(async move {
            let _ = answer(&rt, stream, &internal_ip, port, &peer.to_string()).await;
        });
    }
}

/// Reads one request, sends it to a backend of the Service, writes the answer, closes.
/// No backend: the connection is closed without an answer (like a kube-proxy reject).
async fn answer(
    rt: &Runtime,
    mut stream: TcpStream,
    internal_ip: &str,
    port: u16,
    client: &str,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or("/"));
    let response = if method != "GET" {
        plain(405, "method not allowed\n")
    } else {
        let backend = {
            let mut net = rt.net();
            network::service_backend(&rt.store, &rt.config, &mut net, internal_ip, port, false)
        };
        let Some(Ok(backend)) = backend else {
            return stream.shutdown().await;
        };
        let Some(pod) = rt.pod(&backend.namespace, &backend.pod) else {
            return stream.shutdown().await;
        };
        match rt.http_to(&pod, backend.port, path, client).await {
            Ok(r) => r,
            Err(_) => return stream.shutdown().await,
        }
    };
    let reason = match response.status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Status",
    };
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    )
    .into_bytes();
    out.extend_from_slice(&response.body);
    stream.write_all(&out).await?;
    stream.shutdown().await
}

fn plain(status: u16, body: &str) -> ProxyResponse {
    ProxyResponse {
        status,
        content_type: "text/plain; charset=utf-8".into(),
        body: body.as_bytes().to_vec(),
    }
}
