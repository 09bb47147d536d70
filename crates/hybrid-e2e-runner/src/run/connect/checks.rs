//! What kube would reject late or vaguely, checked first and named: the context, the proxy URL
//! (`clusters[NAME].cluster.proxy-url` or `HTTPS_PROXY`), and a credential plugin that cannot
//! run (`users[NAME].user.exec`, which kube runs while building the client).

use std::io::IsTerminal;

use kube::client::AuthError;
use kube::config::{ExecInteractiveMode, Kubeconfig};

use super::locate::{one_line, Environment, Origin};
use super::{ConnectError, PluginProblem};

/// The context a run uses, and the cluster and user it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chosen {
    /// The context's name.
    pub(crate) context: String,
    /// Its cluster entry's name.
    pub(crate) cluster: String,
    /// Its user entry's name, when it has one.
    pub(crate) user: Option<String>,
}

/// The context `wanted` (or the current one), or why there is none.
pub(crate) fn choose(
    kubeconfig: &Kubeconfig,
    wanted: Option<&str>,
    origin: &Origin,
) -> Result<Chosen, ConnectError> {
    let known = || {
        kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    let name = match wanted.or(kubeconfig.current_context.as_deref()) {
        Some(name) if !name.is_empty() => name,
        _ => {
            return Err(ConnectError::NoCurrentContext {
                origin: origin.to_string(),
                known: known(),
            })
        }
    };
    let Some(context) = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.as_ref())
    else {
        return Err(ConnectError::UnknownContext {
            origin: origin.to_string(),
            context: name.to_string(),
            known: known(),
        });
    };
    Ok(Chosen {
        context: name.to_string(),
        cluster: context.cluster.clone(),
        user: context.user.clone().filter(|u| !u.is_empty()),
    })
}

/// The proxy kube will use must be a URL it can dial through: `http://`, `https://` or
/// `socks5://` with a host. kube takes the cluster's `proxy-url`, else `HTTPS_PROXY`.
pub(crate) fn check_proxy(
    kubeconfig: &Kubeconfig,
    chosen: &Chosen,
    env: &Environment,
    origin: &Origin,
) -> Result<(), ConnectError> {
    let from_kubeconfig = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == chosen.cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.proxy_url.clone())
        .filter(|p| !p.is_empty());
    let (field, value) = match (from_kubeconfig, &env.https_proxy) {
        (Some(value), _) => (
            format!("{origin}: clusters[{}].cluster.proxy-url", chosen.cluster),
            value,
        ),
        (None, Some((variable, value))) => (variable.to_string(), value.clone()),
        (None, None) => return Ok(()),
    };
    proxy_problem(&value).map_or(Ok(()), |problem| {
        Err(ConnectError::BadProxyUrl {
            field,
            value,
            problem,
        })
    })
}

/// Why `value` is not a proxy URL kube can use, if it is not.
fn proxy_problem(value: &str) -> Option<String> {
    let uri = match value.parse::<http::Uri>() {
        Ok(uri) => uri,
        Err(e) => return Some(format!("not a URL ({e})")),
    };
    match uri.scheme_str() {
        Some("http" | "https" | "socks5") => {}
        Some(other) => return Some(format!("scheme {other:?} is not http, https or socks5")),
        None => return Some("no scheme".into()),
    }
    match uri.host() {
        Some(host) if !host.is_empty() => None,
        _ => Some("no host".into()),
    }
}

/// client-go runs a plugin interactively (its stdin and stderr the terminal's) only when stdin
/// is a terminal; kube does whenever the mode is not `Never`. Without a terminal (CI), say
/// `Never`, so the plugin's stderr is captured and quoted in the error.
pub(crate) fn prefer_non_interactive(kubeconfig: &mut Kubeconfig, chosen: &Chosen) {
    if std::io::stdin().is_terminal() {
        return;
    }
    let Some(user) = &chosen.user else { return };
    let exec = kubeconfig
        .auth_infos
        .iter_mut()
        .filter(|a| &a.name == user)
        .filter_map(|a| a.auth_info.as_mut())
        .filter_map(|a| a.exec.as_mut());
    for exec in exec {
        if exec.interactive_mode != Some(ExecInteractiveMode::Always) {
            exec.interactive_mode = Some(ExecInteractiveMode::Never);
        }
    }
}

/// The command of the chosen user's credential plugin, when it has one.
pub(crate) fn plugin_command(kubeconfig: &Kubeconfig, chosen: &Chosen) -> Option<String> {
    let user = chosen.user.as_ref()?;
    kubeconfig
        .auth_infos
        .iter()
        .find(|a| &a.name == user)?
        .auth_info
        .as_ref()?
        .exec
        .as_ref()?
        .command
        .clone()
}

/// Who a credential plugin error is about: the kubeconfig, the user entry, the command.
#[derive(Debug, Clone)]
pub(crate) struct PluginIdentity {
    /// `kubeconfig PATH`.
    pub(crate) origin: String,
    /// The user entry.
    pub(crate) user: String,
    /// The plugin's command.
    pub(crate) command: String,
}

impl PluginIdentity {
    /// The identity of the chosen user's plugin, when it has one.
    pub(crate) fn of(origin: &Origin, chosen: &Chosen, command: Option<&str>) -> Option<Self> {
        Some(PluginIdentity {
            origin: origin.to_string(),
            user: chosen.user.clone().unwrap_or_default(),
            command: command?.to_string(),
        })
    }

    fn error(&self, problem: PluginProblem) -> ConnectError {
        ConnectError::CredentialPlugin {
            origin: self.origin.clone(),
            user: self.user.clone(),
            command: self.command.clone(),
            problem,
        }
    }
}

/// kube's error from building the client (which runs the plugin a first time), named by
/// kubeconfig, user and command when it is the credential plugin's.
pub(crate) fn client_error(error: kube::Error, plugin: Option<&PluginIdentity>) -> ConnectError {
    let named = match (plugin, &error) {
        (Some(plugin), kube::Error::Auth(auth)) => {
            plugin_problem(auth, &plugin.command).map(|problem| plugin.error(problem))
        }
        _ => None,
    };
    named.unwrap_or(ConnectError::Client(error))
}

/// A request's error (kube re-runs the plugin when its token expires): a plugin failure anywhere
/// in its causes becomes the same one line as at the start, the rest stays as it is.
pub(crate) fn request_error(error: tower::BoxError, plugin: &PluginIdentity) -> tower::BoxError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&*error);
    while let Some(current) = cause {
        let auth = current.downcast_ref::<AuthError>().or_else(|| {
            match current.downcast_ref::<kube::Error>() {
                Some(kube::Error::Auth(auth)) => Some(auth),
                _ => None,
            }
        });
        if let Some(problem) = auth.and_then(|a| plugin_problem(a, &plugin.command)) {
            return Box::new(plugin.error(problem));
        }
        cause = current.source();
    }
    error
}

fn plugin_problem(auth: &AuthError, command: &str) -> Option<PluginProblem> {
    Some(match auth {
        AuthError::AuthExecStart(e) if e.kind() == std::io::ErrorKind::NotFound => {
            PluginProblem::NotFound {
                on_path: !command.contains(std::path::MAIN_SEPARATOR),
            }
        }
        AuthError::AuthExecStart(e) => PluginProblem::CannotStart(e.to_string()),
        AuthError::AuthExecRun { out, .. } => PluginProblem::Exited {
            status: match (
                out.status.code(),
                std::os::unix::process::ExitStatusExt::signal(&out.status),
            ) {
                (Some(code), _) => format!("exited with status {code}"),
                (None, Some(signal)) => format!("was killed by signal {signal}"),
                (None, None) => format!("failed ({})", out.status),
            },
            stderr: one_line(&String::from_utf8_lossy(&out.stderr)),
        },
        AuthError::AuthExecParse(e) => PluginProblem::BadOutput(one_line(&e.to_string())),
        AuthError::ExecPluginFailed => {
            PluginProblem::BadOutput("the ExecCredential has no status".into())
        }
        AuthError::MalformedTokenExpirationDate(e) => {
            PluginProblem::BadOutput(format!("status.expirationTimestamp: {e}"))
        }
        AuthError::UnrefreshableTokenResponse => {
            PluginProblem::BadOutput("a refresh gave a token without expirationTimestamp".into())
        }
        _ => return None,
    })
}
