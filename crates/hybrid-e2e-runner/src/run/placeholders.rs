//! Run-time placeholders in step strings, substituted just before a step runs: the ones
//! `catalog::vars::RUNTIME` lists: `${namespace}` and `${cluster-domain}` (known to the run),
//! `${ip.POD}`, `${node-ip.POD}`, `${node-name.POD}`, `${cluster-ip.SERVICE}`,
//! `${node-port.SERVICE}` (read from the cluster).
//! Step strings come substituted by the catalog, so they are read as
//! `vars::Reading::Substituted`: anything that is no run-time placeholder (a shell's
//! `${HOME}`, written `$${HOME}` in a suite) is left as written.

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::{Api, Client};
use serde_json::Value;

use crate::catalog::vars::{self, Piece, Runtime, RuntimeVar};

/// Why a placeholder has no value (yet).
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlaceholderError {
    /// The object exists but lacks the value (a pod not yet scheduled has no node).
    #[error("${{{placeholder}}}: {what} has no {field} yet")]
    Missing {
        /// The placeholder as written.
        placeholder: String,
        /// The object (`pod "server"`).
        what: String,
        /// What it lacks (`IP`).
        field: &'static str,
    },
    /// The object could not be read.
    #[error("${{{placeholder}}}: cannot read {what}: {}", crate::kube_error::api_message(.source))]
    Api {
        /// The placeholder as written.
        placeholder: String,
        /// The object (`pod "server"`).
        what: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// A piece of a step string: text to keep, or a run-time placeholder to fill in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part<'a> {
    /// Kept as written (a `${...}` that is no run-time placeholder is text too).
    Text(Piece<'a>),
    /// A run-time placeholder and its name as written.
    Placeholder(RuntimeVar<'a>, &'a str),
}

/// Splits a step string into text and run-time placeholders.
fn parse(text: &str) -> Vec<Part<'_>> {
    vars::substituted_pieces(text)
        .into_iter()
        .map(|piece| match piece {
            Piece::Var(name) => match vars::runtime(name) {
                Some(var) => Part::Placeholder(var, name),
                None => Part::Text(piece),
            },
            Piece::Text(_) => Part::Text(piece),
        })
        .collect()
}

/// Where placeholders are substituted: the cluster, the test's namespace and the run's
/// cluster domain.
#[derive(Clone, Copy)]
pub(crate) struct Context<'a> {
    /// The cluster's API (pods, services and nodes are read from it).
    pub(crate) client: &'a Client,
    /// The test's namespace: `${namespace}`, and where named objects are looked up.
    pub(crate) namespace: &'a str,
    /// `${cluster-domain}`.
    pub(crate) cluster_domain: &'a str,
}

/// Substitutes every run-time placeholder in `text`.
pub(crate) async fn expand(at: Context<'_>, text: &str) -> Result<String, PlaceholderError> {
    let mut out = String::new();
    for part in parse(text) {
        match part {
            Part::Text(piece) => piece.push_as_written(&mut out),
            Part::Placeholder(var, written) => out.push_str(&value_of(at, var, written).await?),
        }
    }
    Ok(out)
}

/// Substitutes placeholders in every string of a JSON tree.
pub(crate) async fn expand_value(
    at: Context<'_>,
    value: &Value,
) -> Result<Value, PlaceholderError> {
    Ok(match value {
        Value::String(s) if s.contains("${") => Value::String(expand(at, s).await?),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(Box::pin(expand_value(at, item)).await?);
            }
            Value::Array(out)
        }
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                out.insert(k.clone(), Box::pin(expand_value(at, v)).await?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// The value of run-time placeholder `var` (written `${placeholder}`) in `at`.
async fn value_of(
    at: Context<'_>,
    var: RuntimeVar<'_>,
    placeholder: &str,
) -> Result<String, PlaceholderError> {
    let (client, namespace) = (at.client, at.namespace);
    let name = var.object;
    let api = |what: String| {
        let placeholder = placeholder.to_string();
        move |source| PlaceholderError::Api {
            placeholder,
            what,
            source,
        }
    };
    let missing = |what: String, field| PlaceholderError::Missing {
        placeholder: placeholder.to_string(),
        what,
        field,
    };
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    let services = Api::<Service>::namespaced(client.clone(), namespace);
    match var.what {
        Runtime::Namespace => Ok(namespace.to_string()),
        Runtime::ClusterDomain => Ok(at.cluster_domain.to_string()),
        Runtime::PodIp => {
            let what = format!("pod \"{name}\"");
            let pod = pods.get(name).await.map_err(api(what.clone()))?;
            pod.status
                .and_then(|s| s.pod_ip)
                .ok_or_else(|| missing(what, "IP"))
        }
        Runtime::NodeName => {
            let what = format!("pod \"{name}\"");
            let pod = pods.get(name).await.map_err(api(what.clone()))?;
            pod.spec
                .and_then(|s| s.node_name)
                .ok_or_else(|| missing(what, "node"))
        }
        Runtime::NodeIp => {
            let what = format!("pod \"{name}\"");
            let pod = pods.get(name).await.map_err(api(what.clone()))?;
            let node_name = pod
                .spec
                .and_then(|s| s.node_name)
                .ok_or_else(|| missing(what, "node"))?;
            let what = format!("node \"{node_name}\"");
            let node = Api::<Node>::all(client.clone())
                .get(&node_name)
                .await
                .map_err(api(what.clone()))?;
            node.status
                .and_then(|s| s.addresses)
                .into_iter()
                .flatten()
                .find(|a| a.type_ == "InternalIP")
                .map(|a| a.address)
                .ok_or_else(|| missing(what, "InternalIP"))
        }
        Runtime::ClusterIp => {
            let what = format!("service \"{name}\"");
            let svc = services.get(name).await.map_err(api(what.clone()))?;
            svc.spec
                .and_then(|s| s.cluster_ip)
                .filter(|ip| !ip.is_empty() && ip != "None")
                .ok_or_else(|| missing(what, "ClusterIP"))
        }
        Runtime::NodePort => {
            let what = format!("service \"{name}\"");
            let svc = services.get(name).await.map_err(api(what.clone()))?;
            svc.spec
                .and_then(|s| s.ports)
                .into_iter()
                .flatten()
                .find_map(|p| p.node_port)
                .map(|p| p.to_string())
                .ok_or_else(|| missing(what, "nodePort"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(what: Runtime, object: &str) -> RuntimeVar<'_> {
        RuntimeVar { what, object }
    }

    #[test]
    fn every_run_time_placeholder_is_found() {
        let text = "${namespace}/${ip.a} ${node-ip.a} ${node-name.b.c} \
                    ${cluster-ip.web}:${node-port.web} x.${cluster-domain}";
        let found: Vec<(RuntimeVar<'_>, &str)> = parse(text)
            .into_iter()
            .filter_map(|p| match p {
                Part::Placeholder(v, written) => Some((v, written)),
                Part::Text(_) => None,
            })
            .collect();
        assert_eq!(
            found,
            vec![
                (var(Runtime::Namespace, ""), "namespace"),
                (var(Runtime::PodIp, "a"), "ip.a"),
                (var(Runtime::NodeIp, "a"), "node-ip.a"),
                (var(Runtime::NodeName, "b.c"), "node-name.b.c"),
                (var(Runtime::ClusterIp, "web"), "cluster-ip.web"),
                (var(Runtime::NodePort, "web"), "node-port.web"),
                (var(Runtime::ClusterDomain, ""), "cluster-domain"),
            ]
        );
    }

    /// The string with every placeholder written `<name>`, the rest as written.
    fn shown(text: &str) -> String {
        let mut out = String::new();
        for part in parse(text) {
            match part {
                Part::Text(piece) => piece.push_as_written(&mut out),
                Part::Placeholder(_, written) => out.push_str(&format!("<{written}>")),
            }
        }
        out
    }

    #[test]
    fn anything_else_is_left_as_written() {
        let cases = [
            ("plain text", "plain text"),
            ("${HOME} ${os} ${ip.}", "${HOME} ${os} ${ip.}"),
            ("${HOME:-/root}", "${HOME:-/root}"),
            ("echo $${ip.a}", "echo $<ip.a>"),
            ("unterminated ${ip.a", "unterminated ${ip.a"),
            ("${a b ${namespace}", "${a b <namespace>"),
            ("${ipx.a}${node-ip.x}", "${ipx.a}<node-ip.x>"),
            ("$${}", "$${}"),
        ];
        for (text, want) in cases {
            assert_eq!(shown(text), want, "{text:?}");
        }
    }
}
