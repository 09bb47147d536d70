//! HTTP and UDP handlers of the modeled servers: agnhost `netexec` (`/hostname`, `/echo`,
//! `/clientip`, `/healthz`, `/exit`, `/shutdown`, `/shell`, `/dial`), `liveness`,
//! `serve-hostname`, and plain web servers.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::shell::{self, Sink};
use super::{Program, Signal};
use crate::runtime::{PodRt, ProxyResponse, Running, Runtime};

/// One simulated second of agnhost `liveness` (real: 10 s healthy) is 100 ms.
pub(crate) const LIVENESS_HEALTHY: std::time::Duration = std::time::Duration::from_secs(1);

fn text(status: u16, body: impl Into<String>) -> ProxyResponse {
    ProxyResponse {
        status,
        content_type: "text/plain; charset=utf-8".into(),
        body: body.into().into_bytes(),
    }
}

fn json_reply(value: Value) -> ProxyResponse {
    ProxyResponse {
        status: 200,
        content_type: "application/json".into(),
        body: value.to_string().into_bytes(),
    }
}

fn not_found() -> ProxyResponse {
    text(404, "404 page not found\n")
}

/// Writes a line to the log of the container `running` is an instance of, as Go's `log`
/// package does (upstream netexec logs each `/echo` request).
fn log_line(pod: &PodRt, running: &Running, line: &str) {
    let containers = pod.containers();
    let log = containers.values().find(|c| {
        c.running
            .as_ref()
            .is_some_and(|r| r.signals.same_channel(&running.signals))
    });
    if let Some(c) = log {
        let now = chrono::Utc::now().format("%Y/%m/%d %H:%M:%S");
        super::push_log(&c.log, &format!("{now} {line}\n"));
    }
}

/// Serves one HTTP request to a running instance.
pub(crate) async fn http(
    rt: &Runtime,
    pod: &Arc<PodRt>,
    running: &Running,
    path_and_query: &str,
    client: &str,
) -> ProxyResponse {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match &running.program {
        Program::Netexec { .. } => {}
        Program::Liveness => {
            return match path {
                "/healthz" => {
                    let up = running.started.elapsed();
                    if up < LIVENESS_HEALTHY {
                        text(200, "ok")
                    } else {
                        text(500, format!("error: {:.1}s", up.as_secs_f64() * 10.0))
                    }
                }
                _ => not_found(),
            }
        }
        Program::ServeHostname { .. } => return text(200, pod.name.clone()),
        Program::WebServer { body, .. } => {
            return if path == "/" || path == "/index.html" {
                ProxyResponse {
                    status: 200,
                    content_type: "text/html".into(),
                    body: body.clone().into_bytes(),
                }
            } else {
                not_found()
            }
        }
        _ => return not_found(),
    }
    match path {
        "/" => text(200, format!("NOW: {}", chrono::Utc::now().to_rfc3339())),
        "/hostname" => text(200, pod.name.clone()),
        "/echo" => {
            let msg = param("msg").unwrap_or_default();
            let code = param("code").unwrap_or_default();
            log_line(pod, running, &format!("GET /echo?msg={msg}&code={code}"));
            text(200, msg)
        }
        "/clientip" => text(200, client.to_string()),
        "/healthz" | "/readyz" => text(200, "ok"),
        "/exit" => {
            let code = param("code").and_then(|c| c.parse().ok()).unwrap_or(0);
            let _ = running.signals.send(Signal::Exit(code));
            text(200, "")
        }
        "/shutdown" => {
            let _ = running.signals.send(Signal::Exit(0));
            text(200, "")
        }
        "/shell" => {
            let Some(cmd) = param("cmd") else {
                return json_reply(json!({}));
            };
            let mut sink = Sink::default();
            let code = shell::run_script(&cmd, pod.dialect(), &running.sandbox, &mut sink).await;
            let mut out = Map::new();
            out.insert(
                "output".into(),
                json!(format!("{}{}", sink.stdout, sink.stderr)),
            );
            if code != 0 {
                out.insert("error".into(), json!(format!("exit status {code}")));
            }
            json_reply(Value::Object(out))
        }
        "/dial" => dial(rt, pod, &params).await,
        _ => not_found(),
    }
}

async fn dial(rt: &Runtime, pod: &PodRt, params: &[(String, String)]) -> ProxyResponse {
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let request = param("request").unwrap_or_else(|| "hostname".into());
    let protocol = param("protocol").unwrap_or_else(|| "http".into());
    let (Some(host), Some(port)) = (param("host"), param("port")) else {
        return text(400, "host and port are required\n");
    };
    let Ok(port) = port.parse::<u16>() else {
        return text(400, format!("invalid port {port}\n"));
    };
    let tries = param("tries")
        .and_then(|t| t.parse::<u32>().ok())
        .unwrap_or(1)
        .clamp(1, 100);
    let mut responses = Vec::new();
    let mut errors = Vec::new();
    for _ in 0..tries {
        let result = match protocol.as_str() {
            "http" => rt.dial_http(pod, &host, port, &request).await,
            "udp" => rt.dial_udp(pod, &host, port, &request).await,
            other => {
                return text(400, format!("unsupported protocol {other}\n"));
            }
        };
        match result {
            Ok(r) => responses.push(r),
            Err(e) => errors.push(e),
        }
    }
    let mut out = Map::new();
    if !responses.is_empty() {
        out.insert("responses".into(), json!(responses));
    }
    if !errors.is_empty() {
        out.insert("errors".into(), json!(errors));
    }
    json_reply(Value::Object(out))
}

/// Answers one UDP datagram (netexec: `hostname`, `echo x`, `clientip`).
pub(crate) fn udp(pod: &PodRt, running: &Running, message: &str, client: &str) -> String {
    let message = message.trim();
    match &running.program {
        Program::ServeHostname { .. } => pod.name.clone(),
        _ => match message.split_once(' ') {
            _ if message == "hostname" => pod.name.clone(),
            _ if message == "clientip" => client.to_string(),
            Some(("echo", rest)) => rest.to_string(),
            _ => String::new(),
        },
    }
}
