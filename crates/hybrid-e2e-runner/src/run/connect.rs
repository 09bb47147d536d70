//! Connecting to a cluster through a kubeconfig (file, `$KUBECONFIG`, `~/.kube/config`, optional
//! context). The runner knows clusters only as a `kube::Client`.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};

/// Which kubeconfig to use.
#[derive(Debug, Clone, Default)]
pub struct KubeconfigSource {
    /// An explicit file; None: `$KUBECONFIG`, then `~/.kube/config`.
    pub path: Option<PathBuf>,
    /// A context other than the current one.
    pub context: Option<String>,
}

/// A client, and where it points.
#[derive(Clone)]
pub struct Connection {
    /// The client every API call of the run goes through.
    pub client: Client,
    /// Where the client points (for the console and the report).
    pub server: String,
}

/// Why no client could be made. All of these are configuration problems (exit code 2); an
/// unreachable server shows up later, at discovery.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A kubeconfig file given explicitly or listed in `$KUBECONFIG` does not exist.
    #[error("kubeconfig {0} does not exist")]
    MissingKubeconfig(PathBuf),
    /// No kubeconfig given, and neither `$KUBECONFIG` nor `~/.kube/config` exists.
    #[error("no kubeconfig found: neither KUBECONFIG nor ~/.kube/config exists")]
    NoKubeconfig,
    /// The kubeconfig could not be read or used (bad file, unknown context, ...).
    #[error("cannot use kubeconfig {path}")]
    Kubeconfig {
        /// The kubeconfig's path (or the value of `$KUBECONFIG`).
        path: String,
        /// Why kube could not use it.
        #[source]
        source: KubeconfigError,
    },
    /// The configuration was read, but kube could not make a client from it.
    #[error("cannot create a Kubernetes client")]
    Client(#[source] kube::Error),
}

/// Makes a client from the kubeconfig `source` names.
pub async fn connect(source: &KubeconfigSource) -> Result<Connection, ConnectError> {
    let (kubeconfig, name) = read_kubeconfig(source.path.as_ref())?;
    let options = KubeConfigOptions {
        context: source.context.clone(),
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| ConnectError::Kubeconfig {
            path: name,
            source: e,
        })?;
    let server = config.cluster_url.to_string();
    let client = super::api_retry::client_with_retries(config).map_err(ConnectError::Client)?;
    Ok(Connection { client, server })
}

fn read_kubeconfig(path: Option<&PathBuf>) -> Result<(Kubeconfig, String), ConnectError> {
    if let Some(path) = path {
        if !path.exists() {
            return Err(ConnectError::MissingKubeconfig(path.clone()));
        }
        let name = path.display().to_string();
        return Kubeconfig::read_from(path)
            .map(|k| (k, name.clone()))
            .map_err(|e| ConnectError::Kubeconfig {
                path: name,
                source: e,
            });
    }
    if let Some(value) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let name = value.to_string_lossy().to_string();
        for p in std::env::split_paths(&value).filter(|p| !p.as_os_str().is_empty()) {
            if !p.exists() {
                return Err(ConnectError::MissingKubeconfig(p));
            }
        }
        return match Kubeconfig::from_env() {
            Ok(Some(k)) => Ok((k, name)),
            Ok(None) => Err(ConnectError::NoKubeconfig),
            Err(e) => Err(ConnectError::Kubeconfig {
                path: name,
                source: e,
            }),
        };
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .ok_or(ConnectError::NoKubeconfig)?;
    let default = home.join(".kube").join("config");
    if !default.exists() {
        return Err(ConnectError::NoKubeconfig);
    }
    let name = default.display().to_string();
    Kubeconfig::read_from(&default)
        .map(|k| (k, name.clone()))
        .map_err(|e| ConnectError::Kubeconfig {
            path: name,
            source: e,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig_file(dir: &std::path::Path, server: &str) -> PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: '{server}', insecure-skip-tls-verify: true}}\n\
                 users:\n- name: u\n  user: {{token: abc}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n"
            ),
        )
        .unwrap();
        path
    }

    /// kube with rustls needs exactly one crypto provider; two make the first https client panic.
    #[tokio::test]
    async fn an_https_client_can_be_built() {
        let dir = tempfile::tempdir().unwrap();
        let path = kubeconfig_file(dir.path(), "https://127.0.0.1:6443");
        let target = KubeconfigSource {
            path: Some(path),
            context: None,
        };
        let connection = connect(&target).await.expect("client for an https server");
        assert!(connection.server.starts_with("https://127.0.0.1:6443"));
    }

    #[tokio::test]
    async fn a_missing_kubeconfig_says_what_to_do() {
        let target = KubeconfigSource {
            path: Some(PathBuf::from("/nonexistent/kubeconfig")),
            context: None,
        };
        let Err(error) = connect(&target).await else {
            panic!("connected")
        };
        assert_eq!(
            error.to_string(),
            "kubeconfig /nonexistent/kubeconfig does not exist"
        );
    }

    #[tokio::test]
    async fn an_unknown_context_is_a_configuration_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = kubeconfig_file(dir.path(), "https://127.0.0.1:6443");
        let target = KubeconfigSource {
            path: Some(path),
            context: Some("nope".into()),
        };
        let Err(error) = connect(&target).await else {
            panic!("connected")
        };
        assert!(
            matches!(error, ConnectError::Kubeconfig { .. }),
            "{error:?}"
        );
    }
}
