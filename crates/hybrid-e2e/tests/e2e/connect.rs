//! Connecting the way users connect: through an HTTP CONNECT proxy (`HTTPS_PROXY`, `NO_PROXY`,
//! the kubeconfig's `proxy-url`), with an exec credential plugin, and each kind of bad input
//! (one line, exit 2, the JUnit error case, nothing created).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use hybrid_sim::SimConfig;

use crate::common::harness::{text, Cluster, BIN};

/// A small, fast selection that still execs (a WebSocket upgrade through the proxy too).
const SELECTION: &str = "scheduling || (exec && linux)";

/// An HTTP CONNECT proxy on loopback that counts the tunnels it opened.
struct ConnectProxy {
    url: String,
    tunnels: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl ConnectProxy {
    async fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let tunnels = Arc::new(AtomicUsize::new(0));
        let counted = tunnels.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(tunnel(client, counted.clone()));
            }
        });
        ConnectProxy { url, tunnels, task }
    }

    fn tunnels(&self) -> usize {
        self.tunnels.load(Ordering::SeqCst)
    }
}

impl ConnectProxy {
    /// The same, speaking SOCKS5 (no authentication, CONNECT to an IPv4 address or a name).
    async fn start_socks5() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("socks5://{}", listener.local_addr().unwrap());
        let tunnels = Arc::new(AtomicUsize::new(0));
        let counted = tunnels.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(socks5_tunnel(client, counted.clone()));
            }
        });
        ConnectProxy { url, tunnels, task }
    }
}

async fn socks5_tunnel(mut client: TcpStream, tunnels: Arc<AtomicUsize>) {
    let mut greeting = [0u8; 2];
    if client.read_exact(&mut greeting).await.is_err() || greeting[0] != 5 {
        return;
    }
    let mut methods = vec![0u8; usize::from(greeting[1])];
    if client.read_exact(&mut methods).await.is_err() || client.write_all(&[5, 0]).await.is_err() {
        return;
    }
    let mut request = [0u8; 4];
    if client.read_exact(&mut request).await.is_err() || request[..2] != [5, 1] {
        return;
    }
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            if client.read_exact(&mut ip).await.is_err() {
                return;
            }
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            if client.read_exact(&mut len).await.is_err() {
                return;
            }
            let mut name = vec![0u8; usize::from(len[0])];
            if client.read_exact(&mut name).await.is_err() {
                return;
            }
            String::from_utf8_lossy(&name).to_string()
        }
        _ => return,
    };
    let mut port = [0u8; 2];
    if client.read_exact(&mut port).await.is_err() {
        return;
    }
    let Ok(mut server) = TcpStream::connect((host.as_str(), u16::from_be_bytes(port))).await else {
        let _ = client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await;
        return;
    };
    tunnels.fetch_add(1, Ordering::SeqCst);
    if client
        .write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])
        .await
        .is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One proxied connection: `CONNECT host:port HTTP/1.1`, then bytes both ways.
async fn tunnel(mut client: TcpStream, tunnels: Arc<AtomicUsize>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let mut words = head.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
        let _ = client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let Ok(mut server) = TcpStream::connect(target).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    tunnels.fetch_add(1, Ordering::SeqCst);
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

/// `hybrid-e2e run` with only the proxy variables given here set.
fn run_command(
    kubeconfig: &Path,
    reports: &Path,
    proxy: &[(&str, &str)],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BIN);
    command
        .arg("run")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--report-dir")
        .arg(reports)
        .args(["--tags", SELECTION])
        .env_remove("KUBECONFIG");
    for name in [
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ] {
        command.env_remove(name);
    }
    for (name, value) in proxy {
        command.env(name, value);
    }
    command
}

/// A kubeconfig for `server` with extra cluster fields and a user entry, as YAML.
fn kubeconfig(dir: &Path, server: &str, cluster_extra: &str, user: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: '{server}'\n{cluster_extra}\
             users:\n- name: eks\n  user:\n{user}\
             contexts:\n- name: sim\n  context: {{cluster: sim, user: eks}}\ncurrent-context: sim\n"
        ),
    )
    .unwrap();
    path
}

fn assert_passed(out: &std::process::Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn https_proxy_tunnels_every_request_unless_no_proxy_covers_the_server() {
    let cluster = Cluster::start(SimConfig::default()).await;
    let proxy = ConnectProxy::start().await;
    let out = run_command(
        &cluster.kubeconfig(),
        &cluster.reports(),
        &[("HTTPS_PROXY", &proxy.url), ("NO_PROXY", "")],
    )
    .output()
    .await
    .unwrap();
    assert_passed(&out, "through the proxy");
    let through = proxy.tunnels();
    assert!(through > 0, "requests went through the proxy");

    let out = run_command(
        &cluster.kubeconfig(),
        &cluster.reports(),
        &[("HTTPS_PROXY", &proxy.url), ("NO_PROXY", "127.0.0.1")],
    )
    .output()
    .await
    .unwrap();
    assert_passed(&out, "NO_PROXY covering the server");
    assert_eq!(
        proxy.tunnels(),
        through,
        "no request went through the proxy"
    );
    assert!(cluster.leftover_namespaces().await.is_empty());
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kubeconfig_proxy_url_is_used() {
    let cluster = Cluster::start(SimConfig::default()).await;
    let proxy = ConnectProxy::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = kubeconfig(
        dir.path(),
        cluster.sim.url(),
        &format!("    proxy-url: '{}'\n", proxy.url),
        "    token: abc\n",
    );
    let out = run_command(&path, &dir.path().join("reports"), &[])
        .output()
        .await
        .unwrap();
    assert_passed(&out, "proxy-url");
    assert!(proxy.tunnels() > 0, "requests went through the proxy");
    cluster.sim.shutdown().await;
}

/// An executable shell script `name` in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    // Written by a child shell: a write descriptor of this process, inherited by a child that
    // another test forks meanwhile, would make exec fail with ETXTBSY ("Text file busy").
    let written = std::process::Command::new("sh")
        .args([
            "-c",
            "printf '%s' \"$2\" > \"$1\" && chmod 755 \"$1\"",
            "sh",
        ])
        .arg(&path)
        .arg(format!("#!/bin/sh\n{body}"))
        .status()
        .unwrap();
    assert!(written.success(), "cannot write {}", path.display());
    path
}

fn exec_user(command: &Path) -> String {
    format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      \
         args: [eks, get-token, --cluster-name, sim]\n      interactiveMode: IfAvailable\n",
        command.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_exec_credential_plugin_gives_the_token() {
    let cluster = Cluster::start(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("plugin-ran");
    let plugin = script(
        dir.path(),
        "aws",
        &format!(
            "echo \"$KUBERNETES_EXEC_INFO\" > '{}'\n\
             echo '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"from-plugin\"}}}}'\n",
            marker.display()
        ),
    );
    let path = kubeconfig(dir.path(), cluster.sim.url(), "", &exec_user(&plugin));
    let out = run_command(&path, &dir.path().join("reports"), &[])
        .output()
        .await
        .unwrap();
    assert_passed(&out, "exec plugin");
    let info = std::fs::read_to_string(&marker).expect("the plugin ran");
    assert!(
        info.contains("ExecCredential"),
        "KUBERNETES_EXEC_INFO: {info}"
    );
    cluster.sim.shutdown().await;
}

/// A run that must stop before touching any cluster: its one `error:` line, after checking
/// exit 2, no Debug dump and a JUnit file with one error case.
async fn refused(kubeconfig: &Path, extra: &[&str], proxy: &[(&str, &str)]) -> String {
    stopped(kubeconfig, extra, proxy, 2).await
}

/// [`refused`] with exit code `code`.
async fn stopped(kubeconfig: &Path, extra: &[&str], proxy: &[(&str, &str)], code: i32) -> String {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let out = run_command(kubeconfig, &reports, proxy)
        .args(extra)
        .output()
        .await
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    for dump in ["Some(", "Status {", "ErrorResponse {", "panicked"] {
        assert!(!stderr.contains(dump), "{dump} in {stderr}");
    }
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let junit = reports.join("junit.xml");
    crate::common::junit_schema::assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<error").count(), 1, "{xml}");
    errors[0].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_credential_plugin_exits_2_quoting_its_stderr() {
    let cluster = Cluster::start(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let plugin = script(
        dir.path(),
        "aws",
        "echo 'Error loading SSO Token: Token for sim does not exist' >&2\nexit 1\n",
    );
    let path = kubeconfig(dir.path(), cluster.sim.url(), "", &exec_user(&plugin));
    let line = refused(&path, &[], &[]).await;
    assert_eq!(
        line,
        format!(
            "error: kubeconfig {}: user \"eks\": credential plugin \"{}\" exited with status 1: \
             \"Error loading SSO Token: Token for sim does not exist\" \
             (run it yourself to see why it gives no ExecCredential)",
            path.display(),
            plugin.display()
        )
    );
    assert!(cluster.leftover_namespaces().await.is_empty());

    let missing = dir.path().join("missing");
    std::fs::create_dir(&missing).unwrap();
    let path = kubeconfig(
        &missing,
        cluster.sim.url(),
        "",
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: hybrid-e2e-test-no-such-plugin\n",
    );
    let line = refused(&path, &[], &[]).await;
    assert_eq!(
        line,
        format!(
            "error: kubeconfig {}: user \"eks\": credential plugin \"hybrid-e2e-test-no-such-plugin\" \
             not found on PATH (run it yourself to see why it gives no ExecCredential)",
            path.display()
        )
    );
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_kubeconfigs_and_proxies_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let server = "http://127.0.0.1:1";

    let unparsable = dir.path().join("unparsable");
    std::fs::write(
        &unparsable,
        "apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: x\n",
    )
    .unwrap();
    let line = refused(&unparsable, &[], &[]).await;
    assert!(
        line.starts_with(&format!(
            "error: kubeconfig {} cannot be parsed: ",
            unparsable.display()
        )),
        "{line}"
    );
    assert!(
        line.ends_with("line 4 column 12: unclosed bracket '{'"),
        "where: {line}"
    );

    let path = kubeconfig(dir.path(), server, "", "    token: abc\n");
    let line = refused(&path, &["--context", "prod"], &[]).await;
    assert_eq!(
        line,
        format!(
            "error: kubeconfig {}: no context \"prod\" (known: \"sim\") (pass --context NAME with one of them)",
            path.display()
        )
    );

    let line = refused(&path, &[], &[("HTTPS_PROXY", "proxy.corp:3128")]).await;
    assert!(
        line.starts_with(
            "error: HTTPS_PROXY \"proxy.corp:3128\" is not a proxy URL: no scheme (want "
        ),
        "{line}"
    );

    let proxied = dir.path().join("proxied");
    std::fs::create_dir(&proxied).unwrap();
    let path = kubeconfig(
        &proxied,
        server,
        "    proxy-url: 'not a url'\n",
        "    token: abc\n",
    );
    let line = refused(&path, &[], &[]).await;
    assert!(
        line.starts_with(&format!(
            "error: kubeconfig {}: clusters[sim].cluster.proxy-url \"not a url\" is not a proxy URL: not a URL",
            path.display()
        )),
        "{line}"
    );
}

/// An API server that refuses every credential: 401 with the Status kube-apiserver sends.
async fn refusing_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;
                let answer = format!(
                    "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credentials_the_server_refuses_exit_3() {
    let (url, server) = refusing_server().await;
    let dir = tempfile::tempdir().unwrap();
    let plugin = script(
        dir.path(),
        "kubelogin",
        "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"stale\"}}'\n",
    );
    let path = kubeconfig(dir.path(), &url, "", &exec_user(&plugin));
    let line = stopped(&path, &[], &[], 3).await;
    assert!(line.contains(&url), "{line}");
    assert!(line.ends_with(": Unauthorized"), "{line}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plugin_failing_when_its_token_is_refreshed_exits_2_naming_it() {
    let cluster = Cluster::start(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    // The first token has already expired, so kube runs the plugin again at the first request.
    let plugin = script(
        dir.path(),
        "aws",
        &format!(
            "if [ -e '{ran}' ]; then echo 'SSO session expired' >&2; exit 1; fi\ntouch '{ran}'\n\
             echo '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\
             \"status\":{{\"token\":\"t\",\"expirationTimestamp\":\"2020-01-01T00:00:00Z\"}}}}'\n",
            ran = ran.display()
        ),
    );
    let path = kubeconfig(dir.path(), cluster.sim.url(), "", &exec_user(&plugin));
    let line = refused(&path, &[], &[]).await;
    assert!(ran.exists(), "the plugin ran once at the start");
    assert_eq!(
        line,
        format!(
            "error: kubeconfig {}: user \"eks\": credential plugin \"{}\" exited with status 1: \
             \"SSO session expired\" (run it yourself to see why it gives no ExecCredential)",
            path.display(),
            plugin.display()
        )
    );
    assert!(cluster.leftover_namespaces().await.is_empty());
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_socks5_proxy_carries_the_run() {
    let cluster = Cluster::start(SimConfig::default()).await;
    let proxy = ConnectProxy::start_socks5().await;
    let out = run_command(
        &cluster.kubeconfig(),
        &cluster.reports(),
        &[("HTTPS_PROXY", &proxy.url)],
    )
    .output()
    .await
    .unwrap();
    assert_passed(&out, "through socks5");
    assert!(proxy.tunnels() > 0, "requests went through the proxy");
    cluster.sim.shutdown().await;
}
