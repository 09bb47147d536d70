//! The real control plane: it serves v1.37.2 with etcd and the admission plugins, its
//! controller-manager creates ServiceAccounts, the egress selector sends node traffic to our
//! socket, and stopping (or dropping) it leaves no process and no folder behind.

use std::time::{Duration, Instant};

use hybrid_control_plane::{
    Component, ControlPlane, ControlPlaneConfig, DEFAULT_ADVERTISE_ADDRESS,
};
use k8s_openapi::api::core::v1::{Endpoints, Node, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{assert_nothing_left, component_pids, process_exists, real_control_plane};

#[tokio::test]
async fn serves_the_real_api_runs_the_controllers_and_stops_without_leftovers() {
    let Some(_lock) = real_control_plane().await else {
        return;
    };
    let launched = Instant::now();
    let control_plane = ControlPlane::start(ControlPlaneConfig::default())
        .await
        .unwrap();
    println!("start-up (launch -> all ready): {:?}", launched.elapsed());

    let output = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(control_plane.kubeconfig_path())
        .args(["version", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let version: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        version["serverVersion"]["gitVersion"], "v1.37.2",
        "{version}"
    );

    let client = control_plane.client().await.unwrap();
    let readyz = client
        .request_text(
            http::Request::get("/readyz?verbose")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    for check in [
        "[+]etcd ok",
        "[+]poststarthook/start-apiserver-admission-initializer ok",
        "[+]poststarthook/rbac/bootstrap-roles ok",
    ] {
        assert!(readyz.contains(check), "{check} missing from:\n{readyz}");
    }

    // Endpoints reject loopback: the `kubernetes` Service points at the advertised address.
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let kubernetes = endpoints.get("kubernetes").await.unwrap();
    let addresses = kubernetes.subsets.unwrap_or_default()[0]
        .addresses
        .clone()
        .unwrap_or_default();
    assert_eq!(addresses[0].ip, DEFAULT_ADVERTISE_ADDRESS.to_string());

    let service_accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(60);
    while service_accounts.get_opt("default").await.unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "no ServiceAccount default/default after 60 s; KCM log: {}",
            control_plane
                .log_path(Component::KubeControllerManager)
                .display()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let pids = component_pids(&control_plane);
    assert!(pids.iter().all(|pid| process_exists(*pid)));
    let temp_dir = control_plane.temp_dir().to_path_buf();
    assert!(temp_dir.join("kube-apiserver.log").is_file());
    let stopping = Instant::now();
    control_plane.stop().await.unwrap();
    println!("stop: {:?}", stopping.elapsed());
    assert_nothing_left(&pids, &temp_dir, "stop");
}

#[tokio::test]
async fn node_traffic_goes_through_the_egress_socket_and_drop_leaves_nothing() {
    let Some(_lock) = real_control_plane().await else {
        return;
    };
    let socket_dir = tempfile::tempdir().unwrap();
    let socket = socket_dir.path().join("egress.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let (connect_tx, mut connect_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    // A stub of the node agent's CONNECT server: record each request line, accept the tunnel,
    // then hang up (so the proxied request itself fails, which is fine here).
    let egress = tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let connect_tx = connect_tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(read) => head.extend_from_slice(&buffer[..read]),
                    }
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let _ = connect_tx.send(text.lines().next().unwrap_or_default().to_string());
                let _ = stream
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
            });
        }
    });

    let control_plane = ControlPlane::start(ControlPlaneConfig {
        egress_socket: Some(socket.clone()),
        ..ControlPlaneConfig::default()
    })
    .await
    .unwrap();
    let client = control_plane.client().await.unwrap();
    // The proxied request ends in a 503, which kube-rs would retry for minutes by default.
    let kubeconfig = Kubeconfig::read_from(control_plane.kubeconfig_path()).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
    config.default_retry = false;
    let no_retry_client = kube::Client::try_from(config).unwrap();
    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "egress-probe"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": "10.244.0.5"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        },
    }))
    .unwrap();
    Api::<Node>::all(client.clone())
        .create(&PostParams::default(), &node)
        .await
        .unwrap();
    let asked = Instant::now();
    let proxied = tokio::time::timeout(
        Duration::from_secs(30),
        no_retry_client.request_text(
            http::Request::get("/api/v1/nodes/egress-probe/proxy/healthz")
                .body(Vec::new())
                .unwrap(),
        ),
    )
    .await
    .expect("the proxied request must fail within 30 s once the tunnel hangs up");
    println!("nodes/proxy answered in {:?}: {proxied:?}", asked.elapsed());
    assert!(
        proxied.is_err(),
        "the stub hangs up, so the proxied request fails"
    );
    let request_line = tokio::time::timeout(Duration::from_secs(10), connect_rx.recv())
        .await
        .expect("no CONNECT on the egress socket within 10 s")
        .unwrap();
    assert_eq!(request_line, "CONNECT 10.244.0.5:10250 HTTP/1.1");
    egress.abort();

    let pids = component_pids(&control_plane);
    let temp_dir = control_plane.temp_dir().to_path_buf();
    drop(control_plane);
    assert_nothing_left(&pids, &temp_dir, "drop");
}
