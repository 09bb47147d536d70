//! Where a failed in-pod check ran, for storage failure messages: the pod's node and the
//! volumes (with their source) mounted at the paths the command touched.

use k8s_openapi::api::core::v1::{Pod, Volume};
use kube::Api;

/// `linux; node N; volume ...` for the pod `name` as it is now; just the OS when it cannot be read.
pub(crate) async fn place(
    pods: &Api<Pod>,
    name: &str,
    os: &str,
    container: Option<&str>,
    command: &[String],
) -> String {
    match pods.get(name).await {
        Ok(pod) => format!("{os}; {}", describe(&pod, container, command)),
        Err(_) => os.to_string(),
    }
}

/// `node N; volume "v" (configMap "c") at /etc/config`, or just the node when the command names
/// no mounted path. Paths compare alike for Linux (`/data/x`) and Windows (`C:\data\x`).
pub(crate) fn describe(pod: &Pod, container: Option<&str>, command: &[String]) -> String {
    let spec = pod.spec.as_ref();
    let node = spec
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("(not scheduled)");
    let mut parts = vec![format!("node {node}")];
    let containers = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
    let chosen = match container {
        Some(name) => containers.iter().find(|c| c.name == name),
        None => containers.first(),
    };
    let tokens: Vec<String> = command
        .iter()
        .flat_map(|w| w.split_whitespace())
        .map(|t| normalize(t.trim_matches(['"', '\''])))
        .collect();
    for mount in chosen
        .and_then(|c| c.volume_mounts.as_ref())
        .into_iter()
        .flatten()
    {
        let at = normalize(&mount.mount_path);
        let touched = tokens
            .iter()
            .any(|t| *t == at || t.starts_with(&format!("{}/", at.trim_end_matches('/'))));
        if !touched {
            continue;
        }
        let volume = spec
            .and_then(|s| s.volumes.as_ref())
            .and_then(|vs| vs.iter().find(|v| v.name == mount.name));
        let sub_path = mount
            .sub_path
            .as_deref()
            .map(|s| format!(", subPath {s}"))
            .unwrap_or_default();
        parts.push(format!(
            "volume \"{}\" ({}{sub_path}) at {}",
            mount.name,
            volume
                .map(source)
                .unwrap_or_else(|| "undeclared".to_string()),
            mount.mount_path
        ));
    }
    parts.join("; ")
}

/// The kind and object behind a volume: `configMap "c"`, `claim "data"`, `emptyDir`, ...
pub(crate) fn source(v: &Volume) -> String {
    if let Some(c) = &v.persistent_volume_claim {
        format!("claim \"{}\"", c.claim_name)
    } else if let Some(c) = &v.config_map {
        format!("configMap \"{}\"", c.name)
    } else if let Some(s) = &v.secret {
        format!(
            "secret \"{}\"",
            s.secret_name.as_deref().unwrap_or_default()
        )
    } else if let Some(h) = &v.host_path {
        format!("hostPath {}", h.path)
    } else if let Some(e) = &v.empty_dir {
        match e.medium.as_deref() {
            Some(m) if !m.is_empty() => format!("emptyDir, medium {m}"),
            _ => "emptyDir".to_string(),
        }
    } else if v.projected.is_some() {
        "projected".to_string()
    } else if v.downward_api.is_some() {
        "downwardAPI".to_string()
    } else {
        "other".to_string()
    }
}

/// `C:\Data\x` → `/data/x` (Windows paths are case-insensitive); `/data/x/` → `/data/x`.
fn normalize(path: &str) -> String {
    let p = path.replace('\\', "/");
    let b = p.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return p[2..].trim_end_matches('/').to_ascii_lowercase();
    }
    p.trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "reader"},
            "spec": {
                "nodeName": "windows-node-1",
                "containers": [{"name": "main", "image": "x", "volumeMounts": [
                    {"name": "data", "mountPath": "C:\\data"},
                    {"name": "cfg", "mountPath": "C:\\config", "subPath": "sub"}]}],
                "volumes": [
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "cfg", "configMap": {"name": "cfg"}}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn names_the_node_and_the_volumes_the_command_touched() {
        let command = vec!["cmd".into(), "/c".into(), r"type C:\data\msg".into()];
        assert_eq!(
            describe(&pod(), None, &command),
            r#"node windows-node-1; volume "data" (claim "data") at C:\data"#
        );
        let command = vec!["cmd".into(), "/c".into(), r"type c:\CONFIG\greeting".into()];
        assert_eq!(
            describe(&pod(), Some("main"), &command),
            r#"node windows-node-1; volume "cfg" (configMap "cfg", subPath sub) at C:\config"#
        );
        let command = vec!["hostname".into()];
        assert_eq!(describe(&pod(), None, &command), "node windows-node-1");
    }

    #[test]
    fn linux_paths_match_whole_segments_only() {
        let pod: Pod = serde_json::from_value(json!({
            "spec": {"nodeName": "n", "containers": [{"name": "c", "volumeMounts": [
                {"name": "d", "mountPath": "/data"}]}],
                "volumes": [{"name": "d", "emptyDir": {"medium": "Memory"}}]}
        }))
        .unwrap();
        let touched = vec!["sh".into(), "-c".into(), "echo x > /data/msg".into()];
        assert_eq!(
            describe(&pod, None, &touched),
            r#"node n; volume "d" (emptyDir, medium Memory) at /data"#
        );
        let other = vec!["cat".into(), "/database".into()];
        assert_eq!(describe(&pod, None, &other), "node n");
    }
}
