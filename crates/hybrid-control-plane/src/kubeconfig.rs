//! The admin kubeconfig (client certificate in O=system:masters) that KCM, the scheduler, kubectl
//! and kube-rs use.

use std::path::Path;

use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};

use crate::error::ControlPlaneError;
use crate::pki::Pki;

const NAME: &str = "hybrid-control-plane";

/// Writes the kubeconfig for `server` to `path`.
pub(crate) fn write(path: &Path, server: &str, pki: &Pki) -> Result<(), ControlPlaneError> {
    let display = |path: &Path| path.display().to_string();
    let kubeconfig = Kubeconfig {
        api_version: Some("v1".to_string()),
        kind: Some("Config".to_string()),
        clusters: vec![NamedCluster {
            name: NAME.to_string(),
            cluster: Some(Cluster {
                server: Some(server.to_string()),
                certificate_authority: Some(display(&pki.ca_cert())),
                ..Cluster::default()
            }),
            ..NamedCluster::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: "admin".to_string(),
            auth_info: Some(AuthInfo {
                client_certificate: Some(display(&pki.admin_cert())),
                client_key: Some(display(&pki.admin_key())),
                ..AuthInfo::default()
            }),
            ..NamedAuthInfo::default()
        }],
        contexts: vec![NamedContext {
            name: NAME.to_string(),
            context: Some(Context {
                cluster: NAME.to_string(),
                user: Some("admin".to_string()),
                ..Context::default()
            }),
            ..NamedContext::default()
        }],
        current_context: Some(NAME.to_string()),
        ..Kubeconfig::default()
    };
    let yaml =
        serde_yaml_ng::to_string(&kubeconfig).map_err(|error| kubeconfig_error(path, error))?;
    std::fs::write(path, yaml).map_err(|error| kubeconfig_error(path, error))
}

/// A kube client authenticated by the kubeconfig at `path`.
pub(crate) async fn client(path: &Path) -> Result<kube::Client, ControlPlaneError> {
    build_client(config(path).await?)
}

/// A kube client for `config`.
pub(crate) fn build_client(config: kube::Config) -> Result<kube::Client, ControlPlaneError> {
    let url = config.cluster_url.to_string();
    kube::Client::try_from(config).map_err(|error| ControlPlaneError::Client {
        url,
        source: error.into(),
    })
}

/// The kube-rs configuration read from the kubeconfig at `path`.
pub(crate) async fn config(path: &Path) -> Result<kube::Config, ControlPlaneError> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(|error| kubeconfig_error(path, error))?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|error| kubeconfig_error(path, error))
}

/// Wraps any error about the kubeconfig at `path`.
fn kubeconfig_error(
    path: &Path,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> ControlPlaneError {
    ControlPlaneError::Kubeconfig {
        path: path.to_path_buf(),
        source: source.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_written_kubeconfig_reads_back_with_the_server_and_the_admin_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let pki =
            crate::pki::generate(&dir.path().join("pki"), "10.240.0.2".parse().unwrap()).unwrap();
        let path = dir.path().join("admin.kubeconfig");
        write(&path, "https://127.0.0.1:6443", &pki).unwrap();
        let config = config(&path).await.unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
        let identity = config.auth_info.client_certificate.unwrap();
        assert_eq!(Path::new(&identity), pki.admin_cert());
    }
}
