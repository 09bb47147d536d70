//! Connecting to a cluster the way kubectl does: a kubeconfig (file, `$KUBECONFIG`,
//! `~/.kube/config`, optional context) or, inside a pod, the service account; proxies from the
//! kubeconfig's `proxy-url` or `HTTPS_PROXY` (minus `NO_PROXY`), and exec credential plugins, all
//! through kube's own client stack. The runner knows clusters only as a `kube::Client`.

mod checks;
mod locate;

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, KubeconfigError};
use kube::{Client, Config};

use locate::{Environment, Origin};

/// Which kubeconfig to use.
#[derive(Debug, Clone, Default)]
pub struct KubeconfigSource {
    /// An explicit file; None: `$KUBECONFIG`, then `~/.kube/config`, then in-cluster.
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
/// unreachable server, or one refusing the credentials, shows up later, at discovery.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A kubeconfig file given explicitly or listed in `$KUBECONFIG` does not exist.
    #[error("kubeconfig {0} does not exist")]
    MissingKubeconfig(PathBuf),
    /// No kubeconfig given, neither `$KUBECONFIG` nor `~/.kube/config` exists, and this is not
    /// a pod.
    #[error(
        "no kubeconfig found: neither KUBECONFIG nor ~/.kube/config exists, and KUBERNETES_SERVICE_HOST is not set"
    )]
    NoKubeconfig,
    /// The kubeconfig is not YAML kube can read (the problem says where).
    #[error("kubeconfig {path} cannot be parsed: {problem}")]
    Unparsable {
        /// The file.
        path: String,
        /// What is wrong, and where (line and column).
        problem: String,
    },
    /// The context asked for is not in the kubeconfig.
    #[error("{origin}: no context {context:?} (known: {})", list(.known))]
    UnknownContext {
        /// `kubeconfig PATH`.
        origin: String,
        /// The context asked for.
        context: String,
        /// The contexts the kubeconfig has.
        known: Vec<String>,
    },
    /// No context asked for, and the kubeconfig has no `current-context`.
    #[error("{origin} has no current-context (pass --context NAME; known: {})", list(.known))]
    NoCurrentContext {
        /// `kubeconfig PATH`.
        origin: String,
        /// The contexts the kubeconfig has.
        known: Vec<String>,
    },
    /// The proxy URL (kubeconfig field or environment variable) is not one kube can use.
    #[error("{field} {value:?} is not a proxy URL: {problem}")]
    BadProxyUrl {
        /// `kubeconfig PATH: clusters[NAME].cluster.proxy-url`, or `HTTPS_PROXY`.
        field: String,
        /// Its value.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// `NO_PROXY` does not parse.
    #[error("{variable} cannot be parsed: {problem}")]
    BadNoProxy {
        /// `NO_PROXY` or `no_proxy`.
        variable: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The user's credential plugin (`users[].user.exec`) could not give a credential.
    #[error("{origin}: user {user:?}: credential plugin {command:?} {problem}")]
    CredentialPlugin {
        /// `kubeconfig PATH`.
        origin: String,
        /// The user entry.
        user: String,
        /// The plugin's command.
        command: String,
        /// What went wrong.
        problem: PluginProblem,
    },
    /// Inside a pod, the service account configuration is incomplete.
    #[error("in-cluster config: {what} {problem}")]
    InCluster {
        /// The variable or file at fault.
        what: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The kubeconfig could not be read or used otherwise.
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

/// Why a credential plugin gave no credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginProblem {
    /// The command does not exist.
    #[error("{}", if *.on_path { "not found on PATH" } else { "not found" })]
    NotFound {
        /// Whether it was looked up on `PATH` (a bare name) rather than as a path.
        on_path: bool,
    },
    /// The command exists but could not be started.
    #[error("cannot be started: {0}")]
    CannotStart(String),
    /// The command ran and failed.
    #[error("{status}{}", if .stderr.is_empty() { String::new() } else { format!(": {:?}", .stderr) })]
    Exited {
        /// How it ended (`exited with status 1`).
        status: String,
        /// What it wrote to stderr, on one line ("" when nothing, or when it went to a terminal).
        stderr: String,
    },
    /// The command printed something other than an ExecCredential.
    #[error("printed no usable ExecCredential: {0}")]
    BadOutput(String),
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Makes a client from the kubeconfig `source` names (or the pod's service account).
pub async fn connect(source: &KubeconfigSource) -> Result<Connection, ConnectError> {
    connect_in(source, &Environment::from_process()).await
}

/// [`connect`] with the environment given.
async fn connect_in(
    source: &KubeconfigSource,
    env: &Environment,
) -> Result<Connection, ConnectError> {
    let prepared = config_in(source, env).await?;
    let server = prepared.config.cluster_url.to_string();
    let plugin = checks::PluginIdentity::of(
        &prepared.origin,
        &prepared.chosen,
        prepared.command.as_deref(),
    );
    let config = super::api_retry::without_kube_retry(prepared.config);
    let builder = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| checks::client_error(e, plugin.as_ref()))?;
    let builder = super::api_retry::retrying(builder, super::api_retry::api_retries().clone());
    let client = match plugin {
        // Outermost, so it sees what the auth layer's token refresh returns.
        Some(plugin) => builder
            .with_layer(&tower::util::MapErrLayer::new(move |e| {
                checks::request_error(e, &plugin)
            }))
            .build(),
        None => builder.build(),
    };
    Ok(Connection { client, server })
}

/// A kube `Config`, and what the errors of building its client name.
struct Prepared {
    config: Config,
    origin: Origin,
    chosen: checks::Chosen,
    command: Option<String>,
}

async fn config_in(source: &KubeconfigSource, env: &Environment) -> Result<Prepared, ConnectError> {
    let (mut kubeconfig, origin) = locate::find(source.path.as_deref(), env)?;
    let chosen = checks::choose(&kubeconfig, source.context.as_deref(), &origin)?;
    checks::check_proxy(&kubeconfig, &chosen, env, &origin)?;
    checks::prefer_non_interactive(&mut kubeconfig, &chosen);
    let command = checks::plugin_command(&kubeconfig, &chosen);
    let options = KubeConfigOptions {
        context: Some(chosen.context.clone()),
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| match e {
            KubeconfigError::ParseNoProxy(problem) => ConnectError::BadNoProxy {
                variable: env.no_proxy.unwrap_or("NO_PROXY").to_string(),
                problem: problem.to_string(),
            },
            source => ConnectError::Kubeconfig {
                path: match &origin {
                    Origin::File(path) => path.clone(),
                    Origin::InCluster => "(in-cluster)".into(),
                },
                source,
            },
        })?;
    Ok(Prepared {
        config,
        origin,
        chosen,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::client::AuthError;

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
        assert_eq!(
            error.to_string(),
            format!(
                "kubeconfig {}: no context \"nope\" (known: \"x\")",
                dir.path().join("kubeconfig").display()
            )
        );
    }

    fn without_proxy_or_pod(dir: &std::path::Path) -> Environment {
        Environment {
            home: Some(dir.to_path_buf()),
            service_account_dir: dir.join("serviceaccount"),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn an_unparsable_kubeconfig_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, "apiVersion: v1\nclusters: [\n  - {name: c\n").unwrap();
        let source = KubeconfigSource {
            path: Some(path.clone()),
            context: None,
        };
        let Err(error) = connect_in(&source, &without_proxy_or_pod(dir.path())).await else {
            panic!("connected")
        };
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("kubeconfig {} cannot be parsed: ", path.display())),
            "{text}"
        );
        assert!(text.contains("line"), "where: {text}");
        assert!(!text.contains('\n'), "one line: {text}");
    }

    #[tokio::test]
    async fn a_proxy_that_is_not_a_url_names_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let path = kubeconfig_file(dir.path(), "https://127.0.0.1:6443");
        let env = Environment {
            https_proxy: Some(("HTTPS_PROXY", "not a url".into())),
            ..without_proxy_or_pod(dir.path())
        };
        let source = KubeconfigSource {
            path: Some(path),
            context: None,
        };
        let Err(error) = connect_in(&source, &env).await else {
            panic!("connected")
        };
        let text = error.to_string();
        assert!(
            text.starts_with("HTTPS_PROXY \"not a url\" is not a proxy URL: not a URL"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_kubeconfig_proxy_url_wins_and_is_named_by_its_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:6443', proxy-url: 'ftp://proxy:21'}\n\
             users:\n- name: u\n  user: {token: abc}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
        )
        .unwrap();
        let env = Environment {
            https_proxy: Some(("HTTPS_PROXY", "http://fine:3128".into())),
            ..without_proxy_or_pod(dir.path())
        };
        let source = KubeconfigSource {
            path: Some(path.clone()),
            context: None,
        };
        let Err(error) = connect_in(&source, &env).await else {
            panic!("connected")
        };
        assert_eq!(
            error.to_string(),
            format!(
                "kubeconfig {}: clusters[c].cluster.proxy-url \"ftp://proxy:21\" is not a proxy URL: scheme \"ftp\" is not http, https or socks5",
                path.display()
            )
        );
    }

    #[tokio::test]
    async fn http_and_socks5_proxies_make_a_client() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        for proxy in [
            "http://127.0.0.1:3128",
            "socks5://127.0.0.1:1080",
            "https://proxy:443",
        ] {
            std::fs::write(
                &path,
                format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://10.1.2.3:6443', proxy-url: '{proxy}'}}\n\
                 users:\n- name: u\n  user: {{token: abc}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n"),
            )
            .unwrap();
            let source = KubeconfigSource {
                path: Some(path.clone()),
                context: None,
            };
            let prepared = config_in(&source, &without_proxy_or_pod(dir.path()))
                .await
                .unwrap();
            if std::env::var_os("NO_PROXY").is_none() && std::env::var_os("no_proxy").is_none() {
                assert_eq!(
                    prepared.config.proxy_url.as_ref().map(|u| u.to_string()),
                    Some(format!("{proxy}/"))
                );
            }
            // Without the kube features this fails: `requires the disabled feature "kube/socks5"`.
            Client::try_from(prepared.config).unwrap_or_else(|e| panic!("{proxy}: {e}"));
        }
    }

    fn plugin_kubeconfig(dir: &std::path::Path, command: &str) -> PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:6443'}}\n\
                 users:\n- name: eks\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {command}\n      args: [eks, get-token]\n\
                 contexts:\n- name: x\n  context: {{cluster: c, user: eks}}\ncurrent-context: x\n"
            ),
        )
        .unwrap();
        path
    }

    #[tokio::test]
    async fn a_missing_credential_plugin_names_kubeconfig_user_and_command() {
        let dir = tempfile::tempdir().unwrap();
        let path = plugin_kubeconfig(dir.path(), "hybrid-e2e-no-such-plugin");
        let source = KubeconfigSource {
            path: Some(path.clone()),
            context: None,
        };
        let Err(error) = connect_in(&source, &without_proxy_or_pod(dir.path())).await else {
            panic!("connected")
        };
        assert_eq!(
            error.to_string(),
            format!(
                "kubeconfig {}: user \"eks\": credential plugin \"hybrid-e2e-no-such-plugin\" not found on PATH",
                path.display()
            )
        );
    }

    #[tokio::test]
    async fn a_failing_credential_plugin_is_quoted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("aws");
        std::fs::write(
            &plugin,
            "#!/bin/sh\necho 'token expired, run aws sso login' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = plugin_kubeconfig(dir.path(), &plugin.display().to_string());
        let source = KubeconfigSource {
            path: Some(path),
            context: None,
        };
        let Err(error) = connect_in(&source, &without_proxy_or_pod(dir.path())).await else {
            panic!("connected")
        };
        let ConnectError::CredentialPlugin { user, problem, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(user, "eks");
        // `cargo test` may run with a terminal on stdin: then the plugin's stderr is the user's.
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            assert_eq!(
                problem.to_string(),
                "exited with status 1: \"token expired, run aws sso login\""
            );
        }
    }

    #[test]
    fn a_refresh_failure_deep_in_a_request_error_is_named_and_others_are_kept() {
        let plugin = checks::PluginIdentity {
            origin: "kubeconfig /x".into(),
            user: "eks".into(),
            command: "aws".into(),
        };
        let refresh: tower::BoxError = Box::new(kube::Error::Auth(AuthError::AuthExecStart(
            std::io::Error::from(std::io::ErrorKind::NotFound),
        )));
        assert_eq!(
            checks::request_error(refresh, &plugin).to_string(),
            "kubeconfig /x: user \"eks\": credential plugin \"aws\" not found on PATH"
        );
        let other: tower::BoxError = Box::new(std::io::Error::other("connection reset"));
        assert_eq!(
            checks::request_error(other, &plugin).to_string(),
            "connection reset"
        );
    }

    fn pod(dir: &std::path::Path) -> Environment {
        let accounts = dir.join("serviceaccount");
        std::fs::create_dir_all(&accounts).unwrap();
        std::fs::write(accounts.join("token"), "sa-token").unwrap();
        std::fs::write(
            accounts.join("ca.crt"),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        std::fs::write(accounts.join("namespace"), "e2e\n").unwrap();
        Environment {
            service_host: Some("10.96.0.1".into()),
            service_port: Some("443".into()),
            ..without_proxy_or_pod(dir)
        }
    }

    #[tokio::test]
    async fn without_a_kubeconfig_a_pod_uses_its_service_account() {
        let dir = tempfile::tempdir().unwrap();
        let prepared = config_in(&KubeconfigSource::default(), &pod(dir.path()))
            .await
            .unwrap();
        assert_eq!(prepared.origin, Origin::InCluster);
        assert_eq!(
            prepared.config.cluster_url.to_string(),
            "https://10.96.0.1/"
        );
        assert_eq!(prepared.config.default_namespace, "e2e");
        assert_eq!(
            prepared.config.auth_info.token_file.as_deref(),
            Some(dir.path().join("serviceaccount/token").to_str().unwrap())
        );
    }

    #[tokio::test]
    async fn a_kubeconfig_in_home_wins_over_the_service_account() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".kube")).unwrap();
        let written = kubeconfig_file(dir.path(), "https://127.0.0.1:6443");
        std::fs::rename(written, dir.path().join(".kube/config")).unwrap();
        let prepared = config_in(&KubeconfigSource::default(), &pod(dir.path()))
            .await
            .unwrap();
        assert!(matches!(prepared.origin, Origin::File(_)));
    }

    #[tokio::test]
    async fn in_cluster_errors_name_the_variable_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let env = pod(dir.path());
        std::fs::remove_file(dir.path().join("serviceaccount/token")).unwrap();
        let Err(error) = config_in(&KubeconfigSource::default(), &env).await else {
            panic!("configured")
        };
        let token = dir.path().join("serviceaccount/token");
        assert!(
            error.to_string().starts_with(&format!(
                "in-cluster config: {} cannot be read: ",
                token.display()
            )),
            "{error}"
        );
        let env = Environment {
            service_port: None,
            ..pod(dir.path())
        };
        let Err(error) = config_in(&KubeconfigSource::default(), &env).await else {
            panic!("configured")
        };
        assert_eq!(
            error.to_string(),
            "in-cluster config: KUBERNETES_SERVICE_PORT is not set (KUBERNETES_SERVICE_HOST is)"
        );
        assert_eq!(
            locate::SERVICE_ACCOUNT_DIR,
            "/var/run/secrets/kubernetes.io/serviceaccount"
        );
    }

    #[tokio::test]
    async fn nothing_to_connect_with_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let Err(error) = config_in(
            &KubeconfigSource::default(),
            &without_proxy_or_pod(dir.path()),
        )
        .await
        else {
            panic!("configured")
        };
        assert!(matches!(error, ConnectError::NoKubeconfig), "{error:?}");
    }
}
