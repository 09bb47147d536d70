//! The launcher's errors, with fake binaries: each names the component (and its log), and
//! nothing is left running or on disk afterwards.

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hybrid_control_plane::{Component, ControlPlane, ControlPlaneConfig, ControlPlaneError};

use crate::support::{fake_bin_dir, file_in, process_exists};

fn config_with_bin_dir(bin_dir: PathBuf) -> ControlPlaneConfig {
    ControlPlaneConfig {
        bin_dir: Some(bin_dir),
        ..ControlPlaneConfig::default()
    }
}

#[tokio::test]
async fn a_missing_binary_folder_says_how_to_build_the_binaries() {
    let error = ControlPlane::start(config_with_bin_dir(PathBuf::from(
        "/nonexistent/control-plane",
    )))
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "control-plane binaries not found in /nonexistent/control-plane: etcd is missing; \
         build them with tools/control-plane/build.sh"
    );
}

/// Starts with fake binaries and a taken port that `use_port` puts into the config.
async fn start_with_a_taken_port(
    use_port: impl FnOnce(&mut ControlPlaneConfig, u16),
) -> (u16, ControlPlaneError) {
    let bin = fake_bin_dir(&[]);
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut config = config_with_bin_dir(bin.path().to_path_buf());
    use_port(&mut config, port);
    (port, ControlPlane::start(config).await.unwrap_err())
}

#[tokio::test]
async fn a_port_in_use_for_etcd_names_etcd() {
    let (port, error) = start_with_a_taken_port(|config, port| config.etcd_port = Some(port)).await;
    assert!(
        matches!(
            error,
            ControlPlaneError::PortInUse {
                component: Component::Etcd,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        format!("port {port} for etcd is already in use on 127.0.0.1")
    );
}

#[tokio::test]
async fn a_port_in_use_for_the_apiserver_names_kube_apiserver() {
    let (port, error) =
        start_with_a_taken_port(|config, port| config.apiserver_port = Some(port)).await;
    assert_eq!(
        error.to_string(),
        format!("port {port} for kube-apiserver is already in use on 127.0.0.1")
    );
}

#[tokio::test]
async fn a_component_that_exits_during_start_is_named_with_its_log_and_the_folder_is_removed() {
    let bin = fake_bin_dir(&[(
        Component::Etcd,
        "echo 'etcd: starting'; echo 'etcd: fatal: listen tcp: address already in use' >&2; exit 3",
    )]);
    let error = ControlPlane::start(config_with_bin_dir(bin.path().to_path_buf()))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("etcd exited during start (exit status: 3); its log: "),
        "{message}"
    );
    assert!(
        message.ends_with("etcd: starting\netcd: fatal: listen tcp: address already in use"),
        "{message}"
    );
    let ControlPlaneError::Exited { log, .. } = error else {
        panic!("{message}")
    };
    assert!(log.ends_with("etcd.log"), "{}", log.display());
    assert!(
        !log.parent().unwrap().exists(),
        "the temporary folder must be removed"
    );
}

#[tokio::test]
async fn a_component_that_never_gets_ready_times_out_and_is_killed() {
    let pid_dir = tempfile::tempdir().unwrap();
    let pid_file = file_in(&pid_dir, "etcd.pid");
    let script = format!(
        "echo $$ > {}; echo 'waiting forever'; exec sleep 30",
        pid_file.display()
    );
    let bin = fake_bin_dir(&[(Component::Etcd, &script)]);
    let config = ControlPlaneConfig {
        ready_timeout: Duration::from_secs(2),
        ..config_with_bin_dir(bin.path().to_path_buf())
    };
    let started = Instant::now();
    let error = ControlPlane::start(config).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded: {:?}",
        started.elapsed()
    );
    let message = error.to_string();
    assert!(
        message.starts_with("etcd did not become ready within 2s (last probe: GET /health"),
        "{message}"
    );
    assert!(
        message.ends_with("--- last lines ---\nwaiting forever"),
        "{message}"
    );
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!process_exists(pid), "etcd (pid {pid}) must be killed");
}
