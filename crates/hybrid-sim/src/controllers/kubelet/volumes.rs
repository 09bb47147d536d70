//! Volumes of a pod as the kubelet mounts them: emptyDir (per pod), configMap, secret,
//! downwardAPI and projected (keys as read-only files, refreshed while the pod runs),
//! persistentVolumeClaim (the PV's contents in the runtime, outliving pods) and hostPath
//! (per node). `/proc/mounts` lists the mounts (tmpfs for `medium: Memory`, secrets and
//! projected volumes). `defaultMode`/item modes set file permissions; `readOnlyRootFilesystem` makes
//! everything outside the volumes read-only; a Windows node makes `emptyDir.medium: Memory` a plain
//! folder (no tmpfs there, as mount-utils' mount_windows.go does).
//! A claim's CSI volume mounts only where the kubelet has the driver's node plugin (not on
//! Windows nodes under `Quirk::WindowsCsiMissing`): elsewhere the mount fails as the real
//! kubelet's does (`driver name ... not found in the list of registered CSI drivers`).
//! Anything else fails the mount with a clear message.

use std::collections::BTreeMap;

use base64::Engine;
use k8s_openapi::api::core::v1::{Container, Pod, Volume};
use serde_json::Value;

use crate::faults::Fault;
use crate::meta;
use crate::runtime::Runtime;
use crate::workload::fs::{self, ContainerFs, FileTree, Mount, SharedTree};

/// One mounted volume of the pod.
pub(crate) struct PodVolume {
    pub(crate) name: String,
    pub(crate) tree: SharedTree,
    /// Contents projected from API objects (re-read by `refresh`).
    pub(crate) projected: bool,
    pub(crate) read_only: bool,
    /// The PV behind a claim.
    pub(crate) pv: Option<String>,
    /// Device and file system type, as a Linux container's `/proc/mounts` shows them.
    pub(crate) device: (&'static str, &'static str),
}

/// Why a volume cannot be mounted yet (event `FailedMount`).
pub(crate) type MountError = String;

fn items_tree(
    data: &BTreeMap<String, String>,
    items: Option<&Vec<k8s_openapi::api::core::v1::KeyToPath>>,
    default_mode: Option<i32>,
    tree: &mut FileTree,
    prefix: &str,
) {
    let set = |tree: &mut FileTree, path: String, value: &String, mode: Option<i32>| {
        if let Some(mode) = mode.or(default_mode).and_then(|m| u32::try_from(m).ok()) {
            tree.modes.insert(path.clone(), mode & 0o7777);
        }
        tree.files.insert(path, value.clone());
    };
    let join = |p: &str| {
        if prefix.is_empty() {
            p.to_string()
        } else {
            format!("{prefix}/{p}")
        }
    };
    match items {
        Some(items) if !items.is_empty() => {
            for it in items {
                if let Some(v) = data.get(&it.key) {
                    set(tree, join(&it.path), v, it.mode);
                }
            }
        }
        _ => {
            for (k, v) in data {
                set(tree, join(k), v, None);
            }
        }
    }
    for path in tree.files.keys().cloned().collect::<Vec<_>>() {
        let mut p = path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            tree.dirs.insert(parent.to_string());
            p = parent;
        }
    }
}

fn string_map(obj: &Value, field: &str, base64: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in obj[field].as_object().into_iter().flatten() {
        let Some(s) = v.as_str() else { continue };
        let value = if base64 {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        } else {
            s.to_string()
        };
        out.insert(k.clone(), value);
    }
    out
}

fn secret_data(obj: &Value) -> BTreeMap<String, String> {
    let mut data = string_map(obj, "data", true);
    data.extend(string_map(obj, "stringData", false));
    data
}

fn field_value(pod: &Value, path: &str) -> String {
    let meta = &pod["metadata"];
    let kv = |m: &Value| {
        let mut lines: Vec<String> = m
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or_default()))
            .collect();
        lines.sort();
        lines.join("\n")
    };
    match path {
        "metadata.name" => meta["name"].as_str().unwrap_or_default().into(),
        "metadata.namespace" => meta["namespace"].as_str().unwrap_or_default().into(),
        "metadata.uid" => meta["uid"].as_str().unwrap_or_default().into(),
        "metadata.labels" => kv(&meta["labels"]),
        "metadata.annotations" => kv(&meta["annotations"]),
        "spec.nodeName" => pod["spec"]["nodeName"].as_str().unwrap_or_default().into(),
        "spec.serviceAccountName" => pod["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or("default")
            .into(),
        "status.podIP" => pod["status"]["podIP"].as_str().unwrap_or_default().into(),
        "status.hostIP" => pod["status"]["hostIP"].as_str().unwrap_or_default().into(),
        _ => String::new(),
    }
}

/// The contents of an API-projected volume (configMap, secret, downwardAPI, projected).
fn projected_tree(
    rt: &Runtime,
    ns: &str,
    pod_raw: &Value,
    v: &Volume,
) -> Result<Option<FileTree>, MountError> {
    let mut tree = FileTree::default();
    let configmap =
        |name: &str, optional: bool| -> Result<Option<BTreeMap<String, String>>, MountError> {
            match rt.store.get("configmaps", ns, name) {
                Some(cm) => Ok(Some(string_map(&cm, "data", false))),
                None if optional => Ok(None),
                None => Err(format!("configmap \"{name}\" not found")),
            }
        };
    let secret =
        |name: &str, optional: bool| -> Result<Option<BTreeMap<String, String>>, MountError> {
            match rt.store.get("secrets", ns, name) {
                Some(s) => Ok(Some(secret_data(&s))),
                None if optional => Ok(None),
                None => Err(format!("secret \"{name}\" not found")),
            }
        };
    let downward = |items: &[k8s_openapi::api::core::v1::DownwardAPIVolumeFile],
                    tree: &mut FileTree| {
        for it in items {
            if let Some(f) = &it.field_ref {
                tree.files
                    .insert(it.path.clone(), field_value(pod_raw, &f.field_path));
            }
        }
    };
    if let Some(cm) = &v.config_map {
        if let Some(data) = configmap(&cm.name, cm.optional == Some(true))? {
            items_tree(&data, cm.items.as_ref(), cm.default_mode, &mut tree, "");
        }
    } else if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        if let Some(data) = secret(&name, s.optional == Some(true))? {
            items_tree(&data, s.items.as_ref(), s.default_mode, &mut tree, "");
        }
    } else if let Some(d) = &v.downward_api {
        downward(d.items.as_deref().unwrap_or(&[]), &mut tree);
    } else if let Some(p) = &v.projected {
        for src in p.sources.iter().flatten() {
            if let Some(cm) = &src.config_map {
                if let Some(data) = configmap(&cm.name, cm.optional == Some(true))? {
                    items_tree(&data, cm.items.as_ref(), p.default_mode, &mut tree, "");
                }
            }
            if let Some(s) = &src.secret {
                if let Some(data) = secret(&s.name, s.optional == Some(true))? {
                    items_tree(&data, s.items.as_ref(), p.default_mode, &mut tree, "");
                }
            }
            if let Some(d) = &src.downward_api {
                downward(d.items.as_deref().unwrap_or(&[]), &mut tree);
            }
        }
    } else {
        return Ok(None);
    }
    Ok(Some(tree))
}

/// Sets up every volume of the pod, or says which one cannot be mounted yet.
pub(crate) fn setup(
    rt: &Runtime,
    pod: &Pod,
    pod_raw: &Value,
    node: &str,
) -> Result<Vec<PodVolume>, MountError> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let mut out = Vec::new();
    for v in pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
    {
        let fail =
            |why: String| format!("MountVolume.SetUp failed for volume \"{}\" : {why}", v.name);
        let mut vol = PodVolume {
            name: v.name.clone(),
            tree: SharedTree::default(),
            projected: false,
            read_only: false,
            pv: None,
            device: ("/dev/sda1", "ext4"),
        };
        if let Some(dir) = &v.empty_dir {
            let windows = rt
                .store
                .get("nodes", "", node)
                .is_some_and(|n| n["metadata"]["labels"]["kubernetes.io/os"] == "windows");
            // The Windows kubelet has no tmpfs: mount-utils' mount_windows.go makes a Memory
            // emptyDir a plain folder on the node's disk, without an error.
            if !windows && dir.medium.as_deref() == Some("Memory") {
                vol.device = ("tmpfs", "tmpfs");
            }
        } else if let Some(claim) = &v.persistent_volume_claim {
            let pvc = rt
                .store
                .get("persistentvolumeclaims", &ns, &claim.claim_name)
                .ok_or_else(|| {
                    fail(format!(
                        "persistentvolumeclaim \"{}\" not found",
                        claim.claim_name
                    ))
                })?;
            let pv = pvc["spec"]["volumeName"].as_str().unwrap_or_default();
            if pv.is_empty() || pvc["status"]["phase"] != "Bound" {
                return Err(fail(format!(
                    "persistentvolumeclaim \"{}\" is not bound",
                    claim.claim_name
                )));
            }
            let driver = rt
                .store
                .get("persistentvolumes", "", pv)
                .and_then(|p| p["spec"]["csi"]["driver"].as_str().map(str::to_string));
            if let Some(driver) = driver {
                if crate::controllers::nodes::csi_plugin_missing(&rt.config, node, &driver) {
                    return Err(unregistered_driver(pv, &driver));
                }
            }
            vol.tree = rt.volume(pv);
            vol.device = ("/dev/sdb", "ext4");
            vol.pv = Some(pv.to_string());
            vol.read_only = claim.read_only == Some(true);
        } else if let Some(hp) = &v.host_path {
            vol.tree = rt.volume(&format!("hostpath:{node}:{}", fs::normalize(&hp.path)));
        } else {
            match projected_tree(rt, &ns, pod_raw, v).map_err(fail)? {
                Some(tree) => {
                    vol.tree = SharedTree::new(std::sync::Mutex::new(tree));
                    vol.projected = true;
                    vol.read_only = true;
                    if v.config_map.is_none() {
                        // Secrets, downward API and projected volumes live in memory.
                        vol.device = ("tmpfs", "tmpfs");
                    }
                }
                None => {
                    return Err(fail(
                        "this volume type is not modeled by the simulated cluster".into(),
                    ))
                }
            }
        }
        out.push(vol);
    }
    Ok(out)
}

/// The kubelet's message when a CSI volume's driver has no node plugin registered with it
/// (`kubernetes/pkg/volume/csi`: csi_attacher.go's MountDevice, csi_plugin.go's driver lookup).
fn unregistered_driver(pv: &str, driver: &str) -> MountError {
    format!(
        "MountVolume.MountDevice failed for volume \"{pv}\" : kubernetes.io/csi: attacher.MountDevice failed to create newCsiDriverClient: driver name {driver} not found in the list of registered CSI drivers"
    )
}

/// Re-reads configMap/secret/downwardAPI contents into their mounted trees (configMap ones
/// never under fault `configmap-stale`).
pub(crate) fn refresh(rt: &Runtime, pod: &Pod, pod_raw: &Value, volumes: &[PodVolume]) {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let specs = pod.spec.as_ref().and_then(|s| s.volumes.as_ref());
    for vol in volumes.iter().filter(|v| v.projected) {
        let Some(spec) = specs.into_iter().flatten().find(|s| s.name == vol.name) else {
            continue;
        };
        let has_configmap = spec.config_map.is_some()
            || spec
                .projected
                .as_ref()
                .is_some_and(|p| p.sources.iter().flatten().any(|s| s.config_map.is_some()));
        if has_configmap && rt.config.has(Fault::ConfigmapStale) {
            continue;
        }
        if let Ok(Some(tree)) = projected_tree(rt, &ns, pod_raw, spec) {
            let mut cur = fs::lock(&vol.tree);
            if *cur != tree {
                *cur = tree;
            }
        }
    }
}

/// The file system of a new instance of `container`.
/// A container's file system: its volume mounts over its own layer, which holds `/proc/mounts`
/// and `image_files` (`(path without leading /, content)`, e.g. `/etc/resolv.conf`).
pub(crate) fn container_fs(
    container: &Container,
    volumes: &[PodVolume],
    image_files: &[(String, String)],
) -> ContainerFs {
    let mut mounts = Vec::new();
    let mut proc_mounts = String::from("overlay / overlay rw,relatime 0 0\n");
    for m in container.volume_mounts.iter().flatten() {
        let Some(vol) = volumes.iter().find(|v| v.name == m.name) else {
            continue;
        };
        let sub_path = m
            .sub_path
            .as_deref()
            .map(|s| fs::normalize(s).trim_start_matches('/').to_string())
            .unwrap_or_default();
        if !sub_path.is_empty() && !vol.read_only {
            fs::lock(&vol.tree).dirs.insert(sub_path.clone());
        }
        let read_only = vol.read_only || m.read_only == Some(true);
        let (device, fs_type) = vol.device;
        proc_mounts.push_str(&format!(
            "{device} {} {fs_type} {},relatime 0 0\n",
            m.mount_path,
            if read_only { "ro" } else { "rw" }
        ));
        mounts.push(Mount {
            path: fs::normalize(&m.mount_path),
            tree: vol.tree.clone(),
            read_only,
            sub_path,
        });
    }
    let read_only_root = container
        .security_context
        .as_ref()
        .and_then(|s| s.read_only_root_filesystem)
        == Some(true);
    let root = SharedTree::default();
    let mut image = root.clone();
    if read_only_root {
        // The image's own files, mounted read-only under every volume.
        proc_mounts = proc_mounts.replacen("overlay rw", "overlay ro", 1);
        image = SharedTree::default();
        mounts.push(Mount {
            path: "/".to_string(),
            tree: image.clone(),
            read_only: true,
            sub_path: String::new(),
        });
    }
    // What `cat /proc/mounts` shows (Linux containers; harmless elsewhere).
    {
        let mut image = fs::lock(&image);
        image.files.insert("proc/mounts".to_string(), proc_mounts);
        for (path, content) in image_files {
            image.files.insert(path.clone(), content.clone());
        }
    }
    ContainerFs { mounts, root }
}

/// Environment variables of a container (literal values, fieldRef, configMap/secret keys).
pub(crate) fn environment(
    rt: &Runtime,
    container: &Container,
    pod_raw: &Value,
) -> BTreeMap<String, String> {
    let ns = meta::namespace(pod_raw);
    let mut env = BTreeMap::new();
    let hostname = pod_raw["spec"]["hostname"]
        .as_str()
        .or(pod_raw["metadata"]["name"].as_str())
        .unwrap_or_default();
    env.insert("HOSTNAME".to_string(), hostname.to_string());
    for e in container.env.iter().flatten() {
        let value = if let Some(v) = &e.value {
            v.clone()
        } else if let Some(from) = &e.value_from {
            if let Some(f) = &from.field_ref {
                field_value(pod_raw, &f.field_path)
            } else if let Some(k) = &from.config_map_key_ref {
                rt.store
                    .get("configmaps", ns, &k.name)
                    .and_then(|cm| cm["data"][&k.key].as_str().map(str::to_string))
                    .unwrap_or_default()
            } else if let Some(k) = &from.secret_key_ref {
                rt.store
                    .get("secrets", ns, &k.name)
                    .and_then(|s| secret_data(&s).get(&k.key).cloned())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        env.insert(e.name.clone(), value);
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn volume(name: &str, device: (&'static str, &'static str)) -> PodVolume {
        PodVolume {
            name: name.into(),
            tree: SharedTree::default(),
            projected: false,
            read_only: false,
            pv: None,
            device,
        }
    }

    fn container(spec: Value) -> Container {
        serde_json::from_value(spec).unwrap()
    }

    #[test]
    fn proc_mounts_lists_memory_volumes_as_tmpfs() {
        let c = container(json!({"name": "c", "volumeMounts": [
            {"name": "mem", "mountPath": "/data"}, {"name": "disk", "mountPath": "/disk"}]}));
        let fs = container_fs(
            &c,
            &[
                volume("mem", ("tmpfs", "tmpfs")),
                volume("disk", ("/dev/sda1", "ext4")),
            ],
            &[],
        );
        let mounts = fs.read("/proc/mounts").unwrap();
        assert!(mounts.contains("tmpfs /data tmpfs rw,"), "{mounts}");
        assert!(mounts.contains("/dev/sda1 /disk ext4 rw,"), "{mounts}");
        assert!(mounts.starts_with("overlay / overlay rw,"), "{mounts}");
    }

    #[test]
    fn a_memory_emptydir_is_tmpfs_on_linux_and_a_plain_folder_on_windows() {
        let store = std::sync::Arc::new(crate::store::Store::new());
        for (name, os) in [("l1", "linux"), ("w1", "windows")] {
            store
                .create(
                    "nodes",
                    "",
                    json!({"metadata": {"name": name, "labels": {"kubernetes.io/os": os}}}),
                )
                .unwrap();
        }
        let rt = Runtime::new(store, crate::config::SimConfig::default());
        let raw = json!({"metadata": {"name": "p", "namespace": "t"}, "spec": {
            "containers": [{"name": "c", "image": "i"}],
            "volumes": [{"name": "mem", "emptyDir": {"medium": "Memory"}}]}});
        let pod: Pod = serde_json::from_value(raw.clone()).unwrap();
        let on = |node: &str| setup(&rt, &pod, &raw, node).map(|v| v[0].device);
        assert_eq!(on("l1"), Ok(("tmpfs", "tmpfs")));
        assert_eq!(
            on("w1"),
            Ok(("/dev/sda1", "ext4")),
            "no FailedMount on Windows"
        );
    }

    #[test]
    fn a_claim_of_a_driver_without_a_windows_node_plugin_mounts_only_on_linux() {
        let store = std::sync::Arc::new(crate::store::Store::new());
        let mut config = crate::config::SimConfig::default();
        config
            .quirks
            .insert(crate::quirks::Quirk::WindowsCsiMissing);
        crate::controllers::nodes::create_fixed(&store, &config);
        store
            .create(
                "persistentvolumes",
                "",
                json!({"metadata": {"name": "pvc-1"},
                       "spec": {"csi": {"driver": crate::controllers::nodes::PROVISIONER,
                                        "volumeHandle": "pvc-1"}}}),
            )
            .unwrap();
        store
            .create(
                "persistentvolumeclaims",
                "t",
                json!({"metadata": {"name": "data", "namespace": "t"},
                       "spec": {"volumeName": "pvc-1"}, "status": {"phase": "Bound"}}),
            )
            .unwrap();
        let rt = Runtime::new(store, config);
        let raw = json!({"metadata": {"name": "p", "namespace": "t"}, "spec": {
            "containers": [{"name": "c", "image": "i"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}});
        let pod: Pod = serde_json::from_value(raw.clone()).unwrap();
        let on = |node: &str| setup(&rt, &pod, &raw, node).map(|v| v[0].pv.clone());
        assert_eq!(on("linux-node-1"), Ok(Some("pvc-1".to_string())));
        assert_eq!(
            on("windows-node-1").err().as_deref(),
            Some(
                "MountVolume.MountDevice failed for volume \"pvc-1\" : kubernetes.io/csi: \
                 attacher.MountDevice failed to create newCsiDriverClient: driver name \
                 disk.csi.sim.hybrid-e2e.io not found in the list of registered CSI drivers"
            )
        );
    }

    #[test]
    fn a_read_only_root_filesystem_keeps_volumes_writable() {
        let c = container(json!({"name": "c",
            "securityContext": {"readOnlyRootFilesystem": true},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}));
        let fs = container_fs(&c, &[volume("data", ("/dev/sda1", "ext4"))], &[]);
        assert_eq!(fs.write("/probe", "x", false), Err(fs::FsError::ReadOnly));
        fs.write("/data/probe", "x", false).unwrap();
        assert!(fs
            .read("/proc/mounts")
            .unwrap()
            .starts_with("overlay / overlay ro,"));
    }

    #[test]
    fn default_mode_and_item_modes_set_file_permissions() {
        let data: BTreeMap<String, String> = [
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ]
        .into();
        let items = vec![
            serde_json::from_value(json!({"key": "a", "path": "x/a", "mode": 0o600})).unwrap(),
            serde_json::from_value(json!({"key": "b", "path": "b"})).unwrap(),
        ];
        let mut tree = FileTree::default();
        items_tree(&data, Some(&items), Some(0o400), &mut tree, "");
        assert_eq!(tree.modes["x/a"], 0o600);
        assert_eq!(tree.modes["b"], 0o400);
        assert!(tree.dirs.contains("x"));
    }
}
