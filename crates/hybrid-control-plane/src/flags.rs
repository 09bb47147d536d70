//! The command line of each component (the flags smoke.sh proved), from the paths and ports of
//! one control plane.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::component::Component;
use crate::config::SERVICE_CLUSTER_IP_RANGE;
use crate::pki::{Pki, FRONT_PROXY_CLIENT_NAME};
use crate::ports::Ports;

/// Everything the command lines refer to.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The temporary folder: logs, `<component>-certs/`, etcd data, configs.
    pub(crate) root: PathBuf,
    pub(crate) pki: Pki,
    pub(crate) ports: Ports,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) advertise_address: IpAddr,
    /// The EgressSelectorConfiguration file, when there is an egress socket.
    pub(crate) egress_config: Option<PathBuf>,
}

impl Layout {
    pub(crate) fn etcd_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.etcd_client)
    }
    pub(crate) fn apiserver_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.ports.apiserver)
    }
    pub(crate) fn log(&self, component: Component) -> PathBuf {
        self.root.join(format!("{component}.log"))
    }
    pub(crate) fn etcd_data(&self) -> PathBuf {
        self.root.join("etcd-data")
    }
}

/// The arguments `component` is started with.
pub(crate) fn arguments(layout: &Layout, component: Component) -> Vec<String> {
    match component {
        Component::Etcd => etcd(layout),
        Component::KubeApiserver => apiserver(layout),
        Component::KubeControllerManager => controller_manager(layout),
        Component::KubeScheduler => scheduler(layout),
    }
}

fn flag(name: &str, value: impl std::fmt::Display) -> String {
    format!("--{name}={value}")
}

fn path_flag(name: &str, path: &Path) -> String {
    flag(name, path.display())
}

fn etcd(layout: &Layout) -> Vec<String> {
    let client = layout.etcd_url();
    let peer = format!("http://127.0.0.1:{}", layout.ports.etcd_peer);
    vec![
        flag("name", "hybrid-e2e"),
        path_flag("data-dir", &layout.etcd_data()),
        flag("listen-client-urls", &client),
        flag("advertise-client-urls", &client),
        flag("listen-peer-urls", &peer),
        flag("initial-advertise-peer-urls", &peer),
        flag("initial-cluster", format!("hybrid-e2e={peer}")),
        "--unsafe-no-fsync".to_string(),
        flag("auto-compaction-retention", 1),
        flag("quota-backend-bytes", 512 * 1024 * 1024),
        flag("log-level", "warn"),
    ]
}

fn apiserver(layout: &Layout) -> Vec<String> {
    let pki = &layout.pki;
    let mut args = vec![
        flag("etcd-servers", layout.etcd_url()),
        flag("bind-address", "127.0.0.1"),
        flag("secure-port", layout.ports.apiserver),
        flag("advertise-address", layout.advertise_address),
        path_flag("cert-dir", &layout.root.join("kube-apiserver-certs")),
        path_flag("tls-cert-file", &pki.apiserver_cert()),
        path_flag("tls-private-key-file", &pki.apiserver_key()),
        path_flag("client-ca-file", &pki.ca_cert()),
        flag("authorization-mode", "Node,RBAC"),
        // Added to the default plugins (PodSecurity is one of them already).
        flag("enable-admission-plugins", "NodeRestriction,PodSecurity"),
        flag(
            "service-account-issuer",
            "https://kubernetes.default.svc.cluster.local",
        ),
        path_flag("service-account-key-file", &pki.service_account_pub()),
        path_flag(
            "service-account-signing-key-file",
            &pki.service_account_key(),
        ),
        flag("service-cluster-ip-range", SERVICE_CLUSTER_IP_RANGE),
        flag("allow-privileged", true),
        flag("kubelet-preferred-address-types", "InternalIP"),
        path_flag("requestheader-client-ca-file", &pki.front_proxy_ca_cert()),
        flag("requestheader-allowed-names", FRONT_PROXY_CLIENT_NAME),
        flag("requestheader-username-headers", "X-Remote-User"),
        flag("requestheader-group-headers", "X-Remote-Group"),
        flag("requestheader-extra-headers-prefix", "X-Remote-Extra-"),
        path_flag("proxy-client-cert-file", &pki.front_proxy_client_cert()),
        path_flag("proxy-client-key-file", &pki.front_proxy_client_key()),
    ];
    if let Some(egress_config) = &layout.egress_config {
        args.push(path_flag("egress-selector-config-file", egress_config));
    }
    args
}

/// Flags KCM and the scheduler share: the admin kubeconfig, and a loopback-only secure port.
fn kube_client_and_serving(layout: &Layout, component: Component, port: u16) -> Vec<String> {
    vec![
        path_flag("kubeconfig", &layout.kubeconfig),
        path_flag("authentication-kubeconfig", &layout.kubeconfig),
        path_flag("authorization-kubeconfig", &layout.kubeconfig),
        flag("bind-address", "127.0.0.1"),
        flag("secure-port", port),
        path_flag("cert-dir", &layout.root.join(format!("{component}-certs"))),
        flag("leader-elect", false),
    ]
}

fn controller_manager(layout: &Layout) -> Vec<String> {
    let pki = &layout.pki;
    let mut args = kube_client_and_serving(
        layout,
        Component::KubeControllerManager,
        layout.ports.controller_manager,
    );
    args.extend([
        path_flag(
            "service-account-private-key-file",
            &pki.service_account_key(),
        ),
        path_flag("root-ca-file", &pki.ca_cert()),
        flag("use-service-account-credentials", true),
        path_flag("cluster-signing-cert-file", &pki.ca_cert()),
        path_flag("cluster-signing-key-file", &pki.ca_key()),
        flag("service-cluster-ip-range", SERVICE_CLUSTER_IP_RANGE),
    ]);
    args
}

fn scheduler(layout: &Layout) -> Vec<String> {
    kube_client_and_serving(layout, Component::KubeScheduler, layout.ports.scheduler)
}

/// The EgressSelectorConfiguration that sends `cluster` traffic (kube-apiserver → nodes) as
/// HTTP `CONNECT` over the Unix socket `socket`.
pub(crate) fn egress_selector_configuration(socket: &Path) -> String {
    format!(
        "apiVersion: apiserver.k8s.io/v1beta1\n\
         kind: EgressSelectorConfiguration\n\
         egressSelections:\n\
         - name: cluster\n  \
           connection:\n    \
             proxyProtocol: HTTPConnect\n    \
             transport:\n      \
               uds:\n        \
                 udsName: {}\n",
        serde_yaml_ng::to_string(&socket.display().to_string())
            .unwrap_or_default()
            .trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(egress: bool) -> Layout {
        Layout {
            root: PathBuf::from("/dev/shm/cp"),
            pki: Pki::at(Path::new("/dev/shm/cp/pki")),
            ports: Ports {
                etcd_client: 2379,
                etcd_peer: 2380,
                apiserver: 6443,
                controller_manager: 10257,
                scheduler: 10259,
            },
            kubeconfig: PathBuf::from("/dev/shm/cp/admin.kubeconfig"),
            advertise_address: "10.240.0.2".parse().unwrap(),
            egress_config: egress.then(|| PathBuf::from("/dev/shm/cp/egress.yaml")),
        }
    }

    #[test]
    fn etcd_listens_on_loopback_only_and_skips_fsync() {
        let args = arguments(&layout(false), Component::Etcd);
        assert!(args.contains(&"--listen-client-urls=http://127.0.0.1:2379".to_string()));
        assert!(args.contains(&"--listen-peer-urls=http://127.0.0.1:2380".to_string()));
        assert!(args.contains(&"--unsafe-no-fsync".to_string()));
        assert!(args.contains(&"--data-dir=/dev/shm/cp/etcd-data".to_string()));
    }

    #[test]
    fn the_apiserver_gets_node_authorization_and_the_egress_config_only_when_asked() {
        let args = arguments(&layout(false), Component::KubeApiserver);
        assert!(args.contains(&"--authorization-mode=Node,RBAC".to_string()));
        assert!(args.contains(&"--etcd-servers=http://127.0.0.1:2379".to_string()));
        assert!(args.contains(&"--service-cluster-ip-range=10.96.0.0/12".to_string()));
        assert!(!args
            .iter()
            .any(|arg| arg.starts_with("--egress-selector-config-file")));
        let args = arguments(&layout(true), Component::KubeApiserver);
        assert!(args.contains(&"--egress-selector-config-file=/dev/shm/cp/egress.yaml".to_string()));
    }

    #[test]
    fn controllers_do_not_elect_leaders_and_bind_loopback() {
        for (component, port) in [
            (Component::KubeControllerManager, "10257"),
            (Component::KubeScheduler, "10259"),
        ] {
            let args = arguments(&layout(false), component);
            assert!(
                args.contains(&"--leader-elect=false".to_string()),
                "{component}"
            );
            assert!(
                args.contains(&"--bind-address=127.0.0.1".to_string()),
                "{component}"
            );
            assert!(
                args.contains(&format!("--secure-port={port}")),
                "{component}"
            );
        }
        let args = arguments(&layout(false), Component::KubeControllerManager);
        assert!(
            args.contains(&"--service-account-private-key-file=/dev/shm/cp/pki/sa.key".to_string())
        );
        assert!(args.contains(&"--root-ca-file=/dev/shm/cp/pki/ca.crt".to_string()));
    }

    #[test]
    fn egress_sends_cluster_traffic_as_connect_over_the_socket() {
        let config = egress_selector_configuration(Path::new("/run/sim/egress.sock"));
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&config).unwrap();
        let selection = &value["egressSelections"][0];
        assert_eq!(selection["name"], "cluster");
        assert_eq!(selection["connection"]["proxyProtocol"], "HTTPConnect");
        assert_eq!(
            selection["connection"]["transport"]["uds"]["udsName"],
            "/run/sim/egress.sock"
        );
    }
}
