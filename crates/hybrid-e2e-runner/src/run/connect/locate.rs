//! Where the cluster configuration comes from: an explicit kubeconfig, `$KUBECONFIG`,
//! `~/.kube/config`, or, inside a pod, the service account (`KUBERNETES_SERVICE_HOST`), in that
//! order, as client-go looks. The process environment is captured once in [`Environment`] so
//! tests can pass their own.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use kube::config::Kubeconfig;

use super::ConnectError;

/// The service account files a pod gets (`/var/run/secrets/kubernetes.io/serviceaccount`).
pub(crate) const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// What connecting reads from the process environment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Environment {
    /// `$KUBECONFIG`.
    pub(crate) kubeconfig: Option<OsString>,
    /// `$HOME`.
    pub(crate) home: Option<PathBuf>,
    /// `$KUBERNETES_SERVICE_HOST` (set in every pod).
    pub(crate) service_host: Option<String>,
    /// `$KUBERNETES_SERVICE_PORT`.
    pub(crate) service_port: Option<String>,
    /// Where the service account's token, CA and namespace are.
    pub(crate) service_account_dir: PathBuf,
    /// The proxy kube takes when the kubeconfig names none: (variable, value).
    pub(crate) https_proxy: Option<(&'static str, String)>,
    /// The variable kube reads `NO_PROXY` from, when set.
    pub(crate) no_proxy: Option<&'static str>,
}

impl Environment {
    /// The environment of this process.
    pub(crate) fn from_process() -> Environment {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let first_set = |names: [&'static str; 2]| {
            names
                .into_iter()
                .find_map(|name| var(name).map(|value| (name, value)))
        };
        Environment {
            kubeconfig: std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()),
            home: std::env::var_os("HOME").map(PathBuf::from),
            service_host: var("KUBERNETES_SERVICE_HOST"),
            service_port: var("KUBERNETES_SERVICE_PORT"),
            service_account_dir: PathBuf::from(SERVICE_ACCOUNT_DIR),
            https_proxy: first_set(["HTTPS_PROXY", "https_proxy"]),
            no_proxy: first_set(["NO_PROXY", "no_proxy"]).map(|(name, _)| name),
        }
    }
}

/// Where the configuration came from, as the errors name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A kubeconfig file (or the value of `$KUBECONFIG`, a list of files).
    File(String),
    /// The pod's service account.
    InCluster,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(path) => write!(f, "kubeconfig {path}"),
            Origin::InCluster => write!(f, "in-cluster config"),
        }
    }
}

/// The kubeconfig to use (for in-cluster: one made from the service account files), and
/// where it came from.
pub(crate) fn find(
    explicit: Option<&Path>,
    env: &Environment,
) -> Result<(Kubeconfig, Origin), ConnectError> {
    if let Some(path) = explicit {
        return read_file(path);
    }
    if let Some(value) = &env.kubeconfig {
        let name = value.to_string_lossy().to_string();
        let paths: Vec<PathBuf> = std::env::split_paths(value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if let [only] = paths.as_slice() {
            return read_file(only);
        }
        let mut merged: Option<Kubeconfig> = None;
        for path in &paths {
            let (next, _) = read_file(path)?;
            merged = Some(match merged {
                None => next,
                Some(so_far) => so_far
                    .merge(next)
                    .map_err(|source| ConnectError::Kubeconfig {
                        path: name.clone(),
                        source,
                    })?,
            });
        }
        return merged
            .map(|k| (k, Origin::File(name)))
            .ok_or(ConnectError::NoKubeconfig);
    }
    if let Some(home) = &env.home {
        let default = home.join(".kube").join("config");
        if default.exists() {
            return read_file(&default);
        }
    }
    if let Some(host) = &env.service_host {
        return in_cluster(host, env).map(|k| (k, Origin::InCluster));
    }
    Err(ConnectError::NoKubeconfig)
}

fn read_file(path: &Path) -> Result<(Kubeconfig, Origin), ConnectError> {
    if !path.exists() {
        return Err(ConnectError::MissingKubeconfig(path.to_path_buf()));
    }
    let name = path.display().to_string();
    match Kubeconfig::read_from(path) {
        Ok(kubeconfig) => Ok((kubeconfig, Origin::File(name))),
        Err(kube::config::KubeconfigError::Parse(error)) => Err(ConnectError::Unparsable {
            path: name,
            problem: first_line(&error.to_string()),
        }),
        Err(source) => Err(ConnectError::Kubeconfig { path: name, source }),
    }
}

/// serde-saphyr's message without its source snippet: `line 4 column 12: unclosed bracket '{'`.
fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(text);
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// A multi-line message (serde-saphyr's, with its snippet) on one line.
pub(crate) fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The kubeconfig client-go's in-cluster config amounts to: the API server at
/// `KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT`, trusting the service account's CA, with
/// its token (a file kube re-reads, as projected tokens rotate).
fn in_cluster(host: &str, env: &Environment) -> Result<Kubeconfig, ConnectError> {
    let in_cluster = |what: String, problem: String| ConnectError::InCluster { what, problem };
    let port = env.service_port.as_deref().ok_or_else(|| {
        in_cluster(
            "KUBERNETES_SERVICE_PORT".into(),
            "is not set (KUBERNETES_SERVICE_HOST is)".into(),
        )
    })?;
    let port: u16 = port.parse().map_err(|_| {
        in_cluster(
            "KUBERNETES_SERVICE_PORT".into(),
            format!("{port:?} is not a port number"),
        )
    })?;
    let host = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => host.to_string(),
    };
    let server = if port == 443 {
        format!("https://{host}")
    } else {
        format!("https://{host}:{port}")
    };
    let token = env.service_account_dir.join("token");
    let ca = env.service_account_dir.join("ca.crt");
    for file in [&token, &ca] {
        std::fs::read(file)
            .map_err(|e| in_cluster(file.display().to_string(), format!("cannot be read: {e}")))?;
    }
    let namespace = std::fs::read_to_string(env.service_account_dir.join("namespace"))
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|_| "default".into());
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "in-cluster", "cluster": {
            "server": server, "certificate-authority": ca.display().to_string()}}],
        "users": [{"name": "service-account", "user": {"tokenFile": token.display().to_string()}}],
        "contexts": [{"name": "in-cluster", "context": {
            "cluster": "in-cluster", "user": "service-account", "namespace": namespace}}],
        "current-context": "in-cluster",
    });
    Kubeconfig::from_yaml(&doc.to_string()).map_err(|e| {
        in_cluster(
            "KUBERNETES_SERVICE_HOST".into(),
            format!("{host:?} does not make a server URL: {e}"),
        )
    })
}
