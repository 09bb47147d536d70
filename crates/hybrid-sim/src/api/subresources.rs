//! `pods/{name}[:{port}]/proxy/{path}`: HTTP requests to a simulated container's port (through
//! `Runtime::proxy`). Under the quirk `pod-proxy-blocked` the API server cannot dial pod IPs
//! and answers what kube-apiserver's proxy transport answers then (k8s.io/apimachinery
//! `pkg/util/proxy/transport.go`: `errors.NewServiceUnavailable("error trying to reach
//! service: " + err)`, a 503 Status with reason ServiceUnavailable).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::crud::current;
use super::route::Target;
use super::status::ApiError;
use super::ApiState;
use crate::quirks::Quirk;

/// `GET pods/{name}[:{port}]/proxy/{path}`: forwards path and query to the pod's port.
pub(crate) async fn proxy(
    state: &ApiState,
    target: &Target,
    raw_query: Option<&str>,
) -> Result<Response, ApiError> {
    let pod = current(state, target)?;
    let port = resolve_port(&pod, target.port.as_deref())?;
    if state.config.has_quirk(Quirk::PodProxyBlocked) {
        if let Some(ip) = pod["status"]["podIP"].as_str().filter(|ip| !ip.is_empty()) {
            return Err(ApiError::ServiceUnavailable(blocked_message(ip, port)));
        }
    }
    let mut path = target.rest.clone();
    if let Some(q) = raw_query.filter(|q| !q.is_empty()) {
        path.push('?');
        path.push_str(q);
    }
    let name = target.name.as_deref().unwrap_or_default();
    let answer = state.runtime.proxy(target.ns(), name, port, &path).await?;
    let code = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    Ok((
        code,
        [(header::CONTENT_TYPE, answer.content_type)],
        answer.body,
    )
        .into_response())
}

/// What Go's dialer says when the SYN to `ip:port` is dropped, as the proxy transport wraps it.
fn blocked_message(ip: &str, port: u16) -> String {
    let address = if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    };
    format!("error trying to reach service: dial tcp {address}: i/o timeout")
}

/// A port number, a named container port, or (none given) the first declared port, else 80.
fn resolve_port(pod: &Value, port: Option<&str>) -> Result<u16, ApiError> {
    let declared = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().into_iter().flatten());
    match port {
        None | Some("") => Ok(declared
            .filter_map(|p| p["containerPort"].as_u64())
            .find_map(|p| u16::try_from(p).ok())
            .unwrap_or(80)),
        Some(p) => match p.parse::<u16>() {
            Ok(n) => Ok(n),
            Err(_) => declared
                .filter(|d| d["name"].as_str() == Some(p))
                .find_map(|d| {
                    d["containerPort"]
                        .as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                })
                .ok_or_else(|| {
                    ApiError::BadRequest(format!("no container port named {p:?} in the pod"))
                }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_by_number_name_or_default() {
        let pod = json!({"spec": {"containers": [
            {"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]}});
        assert_eq!(resolve_port(&pod, Some("9000")).unwrap(), 9000);
        assert_eq!(resolve_port(&pod, Some("http")).unwrap(), 8080);
        assert_eq!(resolve_port(&pod, None).unwrap(), 8080);
        assert!(resolve_port(&pod, Some("grpc")).is_err());
        assert_eq!(resolve_port(&json!({}), None).unwrap(), 80);
    }

    #[test]
    fn blocked_dials_read_as_go_writes_them() {
        assert_eq!(
            blocked_message("10.244.0.5", 8080),
            "error trying to reach service: dial tcp 10.244.0.5:8080: i/o timeout"
        );
        assert_eq!(
            blocked_message("fd00:10:244::5", 8080),
            "error trying to reach service: dial tcp [fd00:10:244::5]:8080: i/o timeout"
        );
    }
}
