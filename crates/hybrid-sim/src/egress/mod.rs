//! The nodes' side of a real kube-apiserver's egress selector: an HTTP `CONNECT` server on a Unix
//! socket (`proxyProtocol: HTTPConnect`, `transport.uds.udsName`). Each `CONNECT ip:port` is
//! routed into the simulated cluster and answered `200` before the tunnel carries:
//!
//! - to a node's InternalIP on port 10250: TLS, then the kubelet API (`kubelet.rs`);
//! - to a pod IP, a Service ClusterIP or a node's NodePort with a TCP listener behind it: plain
//!   HTTP/1.1, each request answered by the listening program (`Runtime::http_to`), from the
//!   control plane's address.
//!
//! A target with nothing behind it is answered at once with `503` and Go's dial error as the
//! reason phrase and body (`dial tcp 10.244.1.5:8080: connect: connection refused`, or
//! `i/o timeout` for an address nobody has), which the API server reports in its own error.

mod kubelet;
mod tls;

use std::convert::Infallible;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{header, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::network::{self, DialFailure, CONTROL_PLANE_IP};
use crate::runtime::{PodRt, ProxyResponse, Runtime};

/// The port every kubelet serves its API on (`daemonEndpoints.kubeletEndpoint.Port`).
pub(crate) const KUBELET_PORT: u16 = 10250;

/// How long to wait before accepting again after `accept` failed (e.g. out of descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Starts the CONNECT server on `socket` (a stale socket file there is replaced) and serves until
/// `shutdown`; the socket file is removed when it stops. Must be called inside a tokio runtime.
/// Errors: the socket cannot be bound (or the path is taken by something that is not a socket),
/// or no serving certificate could be made.
pub(crate) fn spawn(
    socket: &Path,
    runtime: Arc<Runtime>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, std::io::Error> {
    remove_stale_socket(socket)?;
    let tls = TlsAcceptor::from(tls::kubelet_server_config(&runtime.config)?);
    let listener = UnixListener::bind(socket)?;
    let egress = Arc::new(Egress {
        runtime,
        tls,
        shutdown,
    });
    let path = socket.to_path_buf();
    tracing::info!(socket = %path.display(), "egress CONNECT server listening");
    Ok(tokio::spawn(egress.accept_until_shutdown(listener, path)))
}

/// Removes a socket file left by an earlier run; refuses to remove anything else.
fn remove_stale_socket(socket: &Path) -> Result<(), std::io::Error> {
    match std::fs::symlink_metadata(socket) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(socket),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket: not replacing it",
                socket.display()
            ),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Where a CONNECT leads.
enum Destination {
    /// The kubelet API of the node with this InternalIP.
    Kubelet { node_ip: String },
    /// A TCP listener of a pod.
    Pod { pod: Arc<PodRt>, port: u16 },
}

/// A CONNECT target nothing answers on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Unreachable {
    host: String,
    port: u16,
    failure: DialFailure,
}

impl Unreachable {
    /// Go's dial error for it.
    fn message(&self) -> String {
        let (host, port) = (&self.host, self.port);
        match self.failure {
            DialFailure::Refused => format!("dial tcp {host}:{port}: connect: connection refused"),
            DialFailure::Timeout => format!("dial tcp {host}:{port}: i/o timeout"),
            DialFailure::NoSuchHost => format!("dial tcp: lookup {host}: no such host"),
        }
    }
}

/// What every connection of the socket shares.
struct Egress {
    runtime: Arc<Runtime>,
    tls: TlsAcceptor,
    shutdown: CancellationToken,
}

impl Egress {
    async fn accept_until_shutdown(self: Arc<Self>, listener: UnixListener, path: PathBuf) {
        loop {
            let accepted = tokio::select! {
                () = self.shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(self.clone().serve_connection(stream));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "egress socket: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
        drop(listener);
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(socket = %path.display(), error = %e, "cannot remove the egress socket");
            }
        }
    }

    /// One connection of the socket: one CONNECT (hyper parses it), then the tunnel.
    async fn serve_connection(self: Arc<Self>, stream: UnixStream) {
        let egress = self.clone();
        let service = service_fn(move |req| {
            let egress = egress.clone();
            async move { Ok::<_, Infallible>(egress.connect(req)) }
        });
        let conn = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::select! {
            () = self.shutdown.cancelled() => {}
            served = conn => if let Err(e) = served {
                tracing::debug!(error = %e, "egress connection ended with an error");
            }
        }
    }

    /// Answers a CONNECT: 200 and a tunnel task, or why not.
    fn connect(self: &Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        if req.method() != Method::CONNECT {
            return text(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                "the egress socket serves CONNECT only",
            );
        }
        let Some((host, port)) = req
            .uri()
            .authority()
            .and_then(|a| Some((a.host().to_string(), a.port_u16()?)))
        else {
            return text(
                StatusCode::BAD_REQUEST,
                None,
                &format!("CONNECT needs host:port, not {:?}", req.uri().to_string()),
            );
        };
        let destination = match self.route(&host, port) {
            Ok(destination) => destination,
            Err(unreachable) => {
                let message = unreachable.message();
                tracing::debug!(%message, "egress CONNECT refused");
                return text(StatusCode::SERVICE_UNAVAILABLE, Some(&message), &message);
            }
        };
        let egress = self.clone();
        tokio::spawn(async move {
            let tunnel = match hyper::upgrade::on(req).await {
                Ok(upgraded) => upgraded,
                Err(e) => {
                    tracing::debug!(error = %e, "egress CONNECT: no tunnel after 200");
                    return;
                }
            };
            tokio::select! {
                () = egress.shutdown.cancelled() => {}
                () = egress.serve_tunnel(destination, tunnel) => {}
            }
        });
        Response::new(Body::empty())
    }

    /// Where `host:port` leads from the control plane.
    fn route(&self, host: &str, port: u16) -> Result<Destination, Unreachable> {
        let unreachable = |failure| Unreachable {
            host: host.to_string(),
            port,
            failure,
        };
        // The API server dials InternalIPs and pod/Service IPs: never names.
        let ip = network::ip_literal(host).ok_or_else(|| unreachable(DialFailure::NoSuchHost))?;
        let rt = &self.runtime;
        let nodes = rt.config.linux_nodes + rt.config.windows_nodes;
        let is_node = (0..nodes).any(|i| network::node_ip(i) == ip);
        if is_node && port == KUBELET_PORT {
            return Ok(Destination::Kubelet { node_ip: ip });
        }
        let (pod, port) = match rt.pod_by_ip(&ip) {
            Some(pod) => (pod, port),
            None => {
                let backend = {
                    let mut net = rt.net();
                    network::service_backend(&rt.store, &rt.config, &mut net, &ip, port, false)
                };
                match backend {
                    Some(Ok(b)) => (
                        rt.pod(&b.namespace, &b.pod)
                            .ok_or_else(|| unreachable(DialFailure::Refused))?,
                        b.port,
                    ),
                    Some(Err(failure)) => return Err(unreachable(failure)),
                    // A node answers on every port; an address nobody has does not.
                    None if is_node => return Err(unreachable(DialFailure::Refused)),
                    None => return Err(unreachable(DialFailure::Timeout)),
                }
            }
        };
        if pod.listener(port, false).is_none() {
            return Err(unreachable(DialFailure::Refused));
        }
        Ok(Destination::Pod { pod, port })
    }

    async fn serve_tunnel(&self, destination: Destination, tunnel: Upgraded) {
        match destination {
            Destination::Kubelet { node_ip } => {
                let state = kubelet::KubeletState {
                    runtime: self.runtime.clone(),
                    node_ip,
                    shutdown: self.shutdown.clone(),
                };
                kubelet::serve(state, &self.tls, TokioIo::new(tunnel)).await;
            }
            Destination::Pod { pod, port } => {
                serve_pod(self.runtime.clone(), pod, port, tunnel).await;
            }
        }
    }
}

/// Plain HTTP/1.1 to a pod's listener: each request is answered by the program listening there,
/// as coming from the control plane (one source port per tunnel, as one TCP connection has).
async fn serve_pod(runtime: Arc<Runtime>, pod: Arc<PodRt>, port: u16, tunnel: Upgraded) {
    let client = format!("{CONTROL_PLANE_IP}:{}", runtime.net().source_port());
    let service = service_fn(move |req: Request<Incoming>| {
        let (runtime, pod, client) = (runtime.clone(), pod.clone(), client.clone());
        async move {
            let path = req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string();
            match runtime.http_to(&pod, port, &path, &client).await {
                Ok(answer) => Ok(proxy_response(answer)),
                // The listener went away: the connection breaks, as a reset would.
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset by peer",
                )),
            }
        }
    });
    if let Err(e) = http1::Builder::new()
        .serve_connection(tunnel, service)
        .await
    {
        tracing::debug!(error = %e, "egress tunnel to a pod ended with an error");
    }
}

/// A program's HTTP answer as a response.
fn proxy_response(answer: ProxyResponse) -> Response<Body> {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = status;
    if let Ok(value) = header::HeaderValue::from_str(&answer.content_type) {
        if !answer.content_type.is_empty() {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
    }
    response
}

/// A plain-text answer, with `reason` as the status line's reason phrase when given (Go's CONNECT
/// client reports the status line, not the body).
fn text(status: StatusCode, reason: Option<&str>, body: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(format!("{body}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some(phrase) =
        reason.and_then(|r| hyper::ext::ReasonPhrase::try_from(r.to_string()).ok())
    {
        response.extensions_mut().insert(phrase);
    }
    response
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use futures::StreamExt;
    use hyper_util::rt::TokioIo;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, PostParams};
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use serde_json::{json, Value};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixStream;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_util::sync::CancellationToken;

    use crate::{SimCluster, SimConfig};

    /// Every await of these tests is bounded by this.
    const BOUND: Duration = Duration::from_secs(10);

    async fn bounded<F: std::future::Future>(what: &str, future: F) -> F::Output {
        match tokio::time::timeout(BOUND, future).await {
            Ok(output) => output,
            Err(_) => panic!("{what}: not done within {BOUND:?}"),
        }
    }

    /// A simulated cluster with the pod `web` running on a Linux node (netexec on 8080, and a
    /// `logger` container that printed three lines), and the egress socket in front of it.
    struct Fixture {
        sim: SimCluster,
        _dir: tempfile::TempDir,
        socket: PathBuf,
        shutdown: CancellationToken,
        server: tokio::task::JoinHandle<()>,
        pod_ip: String,
        node_ip: String,
    }

    async fn fixture() -> Fixture {
        let sim = SimCluster::start(SimConfig::default()).await.unwrap();
        let pods: Api<Pod> = Api::namespaced(sim.client().await.unwrap(), "default");
        let pod = json!({
            "metadata": {"name": "web"},
            "spec": {
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "containers": [
                    {"name": "netexec", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                     "args": ["netexec", "--http-port=8080"],
                     "ports": [{"containerPort": 8080}]},
                    {"name": "logger", "image": "registry.k8s.io/e2e-test-images/busybox:1.36.1-1",
                     "command": ["sh", "-c", "echo one; echo two; echo three; sleep 3600"]},
                ],
            },
        });
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(pod).unwrap(),
        )
        .await
        .unwrap();
        let runtime = sim.runtime.clone();
        let running = bounded("the pod runs", async {
            loop {
                let ready = runtime.pod("default", "web").filter(|p| {
                    p.listener(8080, false).is_some()
                        && runtime
                            .logs("default", "web", Some("logger"), false)
                            .is_ok_and(|log| log.contains("three"))
                });
                if let Some(pod) = ready {
                    return pod;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("egress.sock");
        let shutdown = CancellationToken::new();
        let server = super::spawn(&socket, runtime, shutdown.clone()).unwrap();
        Fixture {
            sim,
            _dir: dir,
            socket,
            shutdown,
            server,
            pod_ip: running.ip.clone(),
            node_ip: running.host_ip.clone(),
        }
    }

    /// The answer to a CONNECT: status code, reason phrase, body (empty for a 200), and the
    /// stream, which is the tunnel after a 200.
    struct Connected {
        code: u16,
        reason: String,
        body: String,
        stream: UnixStream,
    }

    /// Sends a CONNECT as kube-apiserver's egress dialer does and reads the answer without
    /// reading past it.
    async fn connect(socket: &Path, target: &str) -> Connected {
        bounded("CONNECT", async {
            let mut stream = UnixStream::connect(socket).await.unwrap();
            let request = format!("CONNECT {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                head.push(stream.read_u8().await.unwrap());
            }
            let head = String::from_utf8(head).unwrap();
            let status_line = head.lines().next().unwrap();
            let mut parts = status_line.splitn(3, ' ');
            assert_eq!(parts.next(), Some("HTTP/1.1"), "{head}");
            let code = parts.next().unwrap().parse().unwrap();
            let reason = parts.next().unwrap_or_default().to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_string)
                })
                .map_or(0, |n| n.trim().parse().unwrap());
            let mut body = vec![0; length];
            stream.read_exact(&mut body).await.unwrap();
            Connected {
                code,
                reason,
                body: String::from_utf8(body).unwrap(),
                stream,
            }
        })
        .await
    }

    /// `GET path` over an established tunnel: status and body.
    async fn get<S>(stream: S, path: &str) -> (u16, String)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        bounded("GET through the tunnel", async {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(conn);
            let request = http::Request::get(path)
                .header(http::header::HOST, "tunnel")
                .body(Body::empty())
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            let code = response.status().as_u16();
            let body = axum::body::to_bytes(Body::new(response.into_body()), 1 << 20)
                .await
                .unwrap();
            (code, String::from_utf8(body.to_vec()).unwrap())
        })
        .await
    }

    /// Accepts any server certificate, as kube-apiserver without
    /// `--kubelet-certificate-authority` does (signatures are still checked).
    #[derive(Debug)]
    struct AnyCertificate(Arc<CryptoProvider>);

    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// TLS to the kubelet over a tunnel, offering h2 and http/1.1 as Go's client does.
    async fn kubelet_tls(
        tunnel: UnixStream,
        node_ip: &str,
    ) -> tokio_rustls::client::TlsStream<UnixStream> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = ServerName::try_from(node_ip.to_string()).unwrap();
        let tls = bounded("TLS handshake", connector.connect(name, tunnel))
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        tls
    }

    async fn kubelet_get(f: &Fixture, node_ip: &str, path: &str) -> (u16, String) {
        let connected = connect(&f.socket, &format!("{node_ip}:10250")).await;
        assert_eq!(connected.code, 200, "{}", connected.reason);
        let tls = kubelet_tls(connected.stream, node_ip).await;
        get(tls, path).await
    }

    #[tokio::test]
    async fn a_pod_port_is_plain_http_from_the_control_plane() {
        let f = fixture().await;
        let connected = connect(&f.socket, &format!("{}:8080", f.pod_ip)).await;
        assert_eq!(connected.code, 200, "{}", connected.reason);
        assert_eq!(
            get(connected.stream, "/hostname").await,
            (200, "web".to_string())
        );
        let connected = connect(&f.socket, &format!("{}:8080", f.pod_ip)).await;
        let (code, client) = get(connected.stream, "/clientip").await;
        assert_eq!(code, 200);
        assert!(client.starts_with("10.240.0.2:"), "{client}");
    }

    #[tokio::test]
    async fn a_service_cluster_ip_reaches_its_backend() {
        let f = fixture().await;
        let services: Api<k8s_openapi::api::core::v1::Service> =
            Api::namespaced(f.sim.client().await.unwrap(), "default");
        let labels = json!({"metadata": {"labels": {"app": "web"}}});
        let pods: Api<Pod> = Api::namespaced(f.sim.client().await.unwrap(), "default");
        pods.patch(
            "web",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(labels),
        )
        .await
        .unwrap();
        let service = json!({
            "metadata": {"name": "front"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        });
        services
            .create(
                &PostParams::default(),
                &serde_json::from_value(service).unwrap(),
            )
            .await
            .unwrap();
        let store = f.sim.runtime.store.clone();
        let cluster_ip = bounded("the Service has an IP and an endpoint", async {
            loop {
                let ip = store
                    .get("services", "default", "front")
                    .and_then(|s| s["spec"]["clusterIP"].as_str().map(str::to_string));
                let endpoint = store
                    .get("endpoints", "default", "front")
                    .is_some_and(|ep| ep["subsets"][0]["addresses"][0]["ip"].is_string());
                match ip {
                    Some(ip) if endpoint && !ip.is_empty() => return ip,
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        })
        .await;
        let connected = connect(&f.socket, &format!("{cluster_ip}:80")).await;
        assert_eq!(connected.code, 200, "{}", connected.reason);
        assert_eq!(
            get(connected.stream, "/hostname").await,
            (200, "web".to_string())
        );
        // A port the Service does not have is not there at all.
        let connected = connect(&f.socket, &format!("{cluster_ip}:81")).await;
        assert_eq!(connected.code, 503);
        assert!(connected.body.contains("i/o timeout"), "{}", connected.body);
    }

    #[tokio::test]
    async fn nothing_listening_is_refused_at_once() {
        let f = fixture().await;
        let target = format!("{}:9999", f.pod_ip);
        let connected = connect(&f.socket, &target).await;
        assert_eq!(connected.code, 503);
        let expected = format!("dial tcp {target}: connect: connection refused");
        assert_eq!(connected.reason, expected);
        assert_eq!(connected.body.trim_end(), expected);
        // An address nobody has would time out; it is answered too.
        let connected = connect(&f.socket, "10.244.77.77:80").await;
        assert_eq!(connected.code, 503);
        assert!(
            connected.reason.ends_with("i/o timeout"),
            "{}",
            connected.reason
        );
        // The API server dials addresses, never names.
        let connected = connect(&f.socket, "web.default:8080").await;
        assert_eq!(connected.code, 503);
        assert_eq!(
            connected.reason,
            "dial tcp: lookup web.default: no such host"
        );
    }

    #[tokio::test]
    async fn the_kubelet_serves_health_and_logs_of_its_own_pods() {
        let f = fixture().await;
        assert_eq!(
            kubelet_get(&f, &f.node_ip, "/healthz").await,
            (200, "ok".to_string())
        );
        let logs = "/containerLogs/default/web/logger";
        assert_eq!(
            kubelet_get(&f, &f.node_ip, logs).await,
            (200, "one\ntwo\nthree\n".to_string())
        );
        let shaped = format!("{logs}?tailLines=2&limitBytes=5&timestamps=true");
        assert_eq!(
            kubelet_get(&f, &f.node_ip, &shaped).await,
            (200, "two\nt".to_string())
        );
        // follow on a running container streams: the first chunk is what there is.
        let connected = connect(&f.socket, &format!("{}:10250", f.node_ip)).await;
        let tls = kubelet_tls(connected.stream, &f.node_ip).await;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        let request = http::Request::get(format!("{logs}?follow=true"))
            .header(http::header::HOST, "kubelet")
            .body(Body::empty())
            .unwrap();
        let response = bounded("follow", sender.send_request(request))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut body = Body::new(response.into_body()).into_data_stream();
        let first = bounded("first chunk", body.next()).await.unwrap().unwrap();
        assert_eq!(&first[..], b"one\ntwo\nthree\n");

        let (code, message) = kubelet_get(&f, &f.node_ip, "/containerLogs/default/web/nope").await;
        assert_eq!(code, 404);
        assert_eq!(message, "container \"nope\" not found in pod \"web\"");
        let (code, message) = kubelet_get(&f, &f.node_ip, "/containerLogs/default/gone/c").await;
        assert_eq!(
            (code, message.as_str()),
            (404, "pod \"gone\" does not exist")
        );
        let (code, _) = kubelet_get(&f, &f.node_ip, &format!("{logs}?tailLines=x")).await;
        assert_eq!(code, 400);
        // Another node does not run the pod.
        let other = if f.node_ip == "10.240.0.10" {
            "10.240.0.11"
        } else {
            "10.240.0.10"
        };
        let (code, _) = kubelet_get(&f, other, logs).await;
        assert_eq!(code, 404);
        let (code, pods) = kubelet_get(&f, &f.node_ip, "/pods").await;
        assert_eq!(code, 200);
        let pods: Value = serde_json::from_str(&pods).unwrap();
        assert_eq!(pods["items"][0]["metadata"]["name"], "web");
    }

    /// An exec through the kubelet: the binary frames by channel, until the close.
    async fn kubelet_exec(f: &Fixture, query: &str, protocol: &str) -> Vec<(u8, Vec<u8>)> {
        let connected = connect(&f.socket, &format!("{}:10250", f.node_ip)).await;
        let tls = kubelet_tls(connected.stream, &f.node_ip).await;
        let url = format!("wss://{}:10250/exec/default/web/netexec?{query}", f.node_ip);
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
        let (mut socket, response) = bounded(
            "WebSocket handshake",
            tokio_tungstenite::client_async(request, tls),
        )
        .await
        .unwrap();
        let chosen = response.headers().get("Sec-WebSocket-Protocol").unwrap();
        assert_eq!(chosen, protocol.split(',').next().unwrap().trim());
        bounded("the exec frames", async {
            let mut frames = Vec::new();
            while let Some(message) = socket.next().await {
                match message.unwrap() {
                    Message::Binary(data) => frames.push((data[0], data[1..].to_vec())),
                    Message::Close(frame) => {
                        assert_eq!(u16::from(frame.unwrap().code), 1000);
                        let _ = socket.close(None).await;
                        break;
                    }
                    _ => {}
                }
            }
            frames
        })
        .await
    }

    #[tokio::test]
    async fn the_kubelet_runs_exec_over_websocket() {
        let f = fixture().await;
        let script = "command=sh&command=-c&command=echo+hello%3B+frobnicate";
        let frames = kubelet_exec(
            &f,
            &format!("{script}&output=1&error=1"),
            "v5.channel.k8s.io, v4.channel.k8s.io",
        )
        .await;
        let channel = |n: u8| {
            frames
                .iter()
                .filter(|(c, _)| *c == n)
                .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
                .collect::<String>()
        };
        assert_eq!(channel(1), "hello\n");
        assert!(channel(2).contains("not modeled"), "{frames:?}");
        let status: Value = serde_json::from_str(&channel(3)).unwrap();
        assert_eq!(status["reason"], "NonZeroExitCode");
        assert_eq!(status["details"]["causes"][0]["message"], "127");

        // kubectl's spellings, v4, stdout only: no stderr frame.
        let frames = kubelet_exec(
            &f,
            "command=echo&command=hi&stdout=true",
            "v4.channel.k8s.io",
        )
        .await;
        assert_eq!(frames.iter().filter(|(c, _)| *c == 2).count(), 0);
        assert_eq!(frames[0], (1, vec![]), "the empty ready frame comes first");
        assert_eq!(frames[1], (1, b"hi\n".to_vec()));
        let status: Value = serde_json::from_slice(&frames[2].1).unwrap();
        assert_eq!(status["status"], "Success");
    }

    #[tokio::test]
    async fn a_plain_exec_request_is_told_to_upgrade() {
        let f = fixture().await;
        let (code, message) = kubelet_get(
            &f,
            &f.node_ip,
            "/exec/default/web/netexec?command=ls&output=1",
        )
        .await;
        assert_eq!(code, 400);
        assert!(message.contains("WebSocket only"), "{message}");
    }

    #[tokio::test]
    async fn shutdown_removes_the_socket() {
        let f = fixture().await;
        assert!(f.socket.exists());
        f.shutdown.cancel();
        bounded("the server stops", f.server).await.unwrap();
        assert!(!f.socket.exists());
        // A stale socket file is replaced on the next start; other files are left alone.
        let listener = std::os::unix::net::UnixListener::bind(&f.socket).unwrap();
        drop(listener);
        let again = super::spawn(&f.socket, f.sim.runtime.clone(), CancellationToken::new());
        assert!(again.is_ok());
        let file = f.socket.with_file_name("not-a-socket");
        std::fs::write(&file, "keep me").unwrap();
        let refused = super::spawn(&file, f.sim.runtime.clone(), CancellationToken::new());
        assert_eq!(
            refused.unwrap_err().kind(),
            std::io::ErrorKind::AlreadyExists
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    }
}
