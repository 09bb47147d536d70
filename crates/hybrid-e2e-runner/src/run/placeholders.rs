//! Run-time placeholders in step strings, substituted just before a step runs:
//! `${namespace}`, `${ip.POD}`, `${node-ip.POD}` (InternalIP of the pod's node),
//! `${cluster-ip.SERVICE}`, `${node-port.SERVICE}` (the Service's first nodePort) and
//! `${node-name.POD}` (the node the pod runs on). Anything else is left as written.

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::{Api, Client};
use serde_json::Value;

/// Why a placeholder has no value (yet).
#[derive(Debug, thiserror::Error)]
pub enum PlaceholderError {
    #[error("${{{placeholder}}}: {what} has no {field} yet")]
    Missing {
        placeholder: String,
        what: String,
        field: &'static str,
    },
    #[error("${{{placeholder}}}: cannot read {what}: {}", super::kube_error::api_message(.source))]
    Api {
        placeholder: String,
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("unknown run-time placeholder ${{{0}}}")]
    Unknown(String),
}

/// Substitutes every run-time placeholder in `text`.
pub async fn expand(
    client: &Client,
    namespace: &str,
    text: &str,
) -> Result<String, PlaceholderError> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        let Some(len) = rest[at + 2..].find('}') else {
            break;
        };
        out.push_str(&rest[..at]);
        let name = &rest[at + 2..at + 2 + len];
        match value_of(client, namespace, name).await {
            Ok(value) => out.push_str(&value),
            // Not ours (e.g. a shell variable written as `$${HOME}` in a suite): keep it.
            Err(PlaceholderError::Unknown(_)) => out.push_str(&rest[at..at + 3 + len]),
            Err(e) => return Err(e),
        }
        rest = &rest[at + 3 + len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Substitutes placeholders in every string of a JSON tree.
pub async fn expand_value(
    client: &Client,
    namespace: &str,
    value: &Value,
) -> Result<Value, PlaceholderError> {
    Ok(match value {
        Value::String(s) if s.contains("${") => Value::String(expand(client, namespace, s).await?),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(Box::pin(expand_value(client, namespace, item)).await?);
            }
            Value::Array(out)
        }
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                out.insert(
                    k.clone(),
                    Box::pin(expand_value(client, namespace, v)).await?,
                );
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

async fn value_of(
    client: &Client,
    namespace: &str,
    placeholder: &str,
) -> Result<String, PlaceholderError> {
    if placeholder == "namespace" {
        return Ok(namespace.to_string());
    }
    let (kind, name) = placeholder
        .split_once('.')
        .ok_or_else(|| PlaceholderError::Unknown(placeholder.to_string()))?;
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
    match kind {
        "ip" => {
            let what = format!("pod \"{name}\"");
            let pod = pods.get(name).await.map_err(api(what.clone()))?;
            pod.status
                .and_then(|s| s.pod_ip)
                .ok_or_else(|| missing(what, "IP"))
        }
        "node-name" => {
            let what = format!("pod \"{name}\"");
            let pod = pods.get(name).await.map_err(api(what.clone()))?;
            pod.spec
                .and_then(|s| s.node_name)
                .ok_or_else(|| missing(what, "node"))
        }
        "node-ip" => {
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
        "cluster-ip" => {
            let what = format!("service \"{name}\"");
            let svc = services.get(name).await.map_err(api(what.clone()))?;
            svc.spec
                .and_then(|s| s.cluster_ip)
                .filter(|ip| !ip.is_empty() && ip != "None")
                .ok_or_else(|| missing(what, "ClusterIP"))
        }
        "node-port" => {
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
        _ => Err(PlaceholderError::Unknown(placeholder.to_string())),
    }
}
