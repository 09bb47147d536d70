//! The cluster's fixed objects: Linux and Windows nodes as real ones look, the system
//! namespaces, the `kubernetes` and `kube-dns` Services, and the default StorageClass.

use serde_json::{json, Value};

use crate::config::SimConfig;
use crate::network;
use crate::store::{now_rfc3339, Store};

/// Provisioner name of the simulated StorageClass.
pub(crate) const PROVISIONER: &str = "disk.csi.sim.hybrid-e2e.io";
pub(crate) const KUBELET_VERSION: &str = "v1.33.5";

/// A simulated node: name, OS and index (which gives its addresses and pod CIDR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeSpec {
    pub(crate) name: String,
    pub(crate) windows: bool,
    pub(crate) index: usize,
}

/// The nodes of a configuration, Linux first: `linux-node-1`, ..., `windows-node-1`, ...
pub(crate) fn node_specs(config: &SimConfig) -> Vec<NodeSpec> {
    let linux = (1..=config.linux_nodes).map(|i| (format!("linux-node-{i}"), false));
    let windows = (1..=config.windows_nodes).map(|i| (format!("windows-node-{i}"), true));
    linux
        .chain(windows)
        .enumerate()
        .map(|(index, (name, windows))| NodeSpec {
            name,
            windows,
            index,
        })
        .collect()
}

pub(crate) fn node_object(spec: &NodeSpec, config: &SimConfig) -> Value {
    let os = if spec.windows { "windows" } else { "linux" };
    let now = now_rfc3339();
    let mut labels = json!({
        "kubernetes.io/os": os,
        "beta.kubernetes.io/os": os,
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": spec.name,
        "node.kubernetes.io/instance-type": "sim-standard-4",
        "topology.kubernetes.io/zone": "sim-zone-1",
    });
    let mut taints = Vec::new();
    let (os_image, kernel) = if spec.windows {
        labels["node.kubernetes.io/windows-build"] = json!(config.windows_build);
        if config.windows_taint {
            taints.push(json!({"key": "os", "value": "windows", "effect": "NoSchedule"}));
        }
        (
            "Windows Server 2022 Datacenter".to_string(),
            format!("{}.2700", config.windows_build),
        )
    } else {
        (
            "Ubuntu 22.04.5 LTS".to_string(),
            "5.15.0-1074-azure".to_string(),
        )
    };
    let condition = |t: &str, status: &str, reason: &str, message: &str| {
        json!({"type": t, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    let mut spec_obj = json!({
        "podCIDR": network::pod_cidr(config, spec.index),
        "podCIDRs": [network::pod_cidr(config, spec.index)],
        "providerID": format!("sim://{}", spec.name),
    });
    if !taints.is_empty() {
        spec_obj["taints"] = json!(taints);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": spec.name, "labels": labels,
                      "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
        "spec": spec_obj,
        "status": {
            "capacity": {"cpu": "4", "memory": "16393216Ki", "pods": "110",
                         "ephemeral-storage": "129886128Ki"},
            "allocatable": {"cpu": "3860m", "memory": "12880736Ki", "pods": "110",
                            "ephemeral-storage": "119703055367"},
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": network::node_ip(spec.index)},
                {"type": "ExternalIP", "address": network::node_external_ip(config.port, spec.index)},
                {"type": "Hostname", "address": spec.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": format!("{:032x}", spec.index + 1),
                "systemUUID": format!("00000000-0000-0000-0000-{:012x}", spec.index + 1),
                "bootID": format!("{:08x}-0000-0000-0000-000000000000", spec.index + 1),
                "kernelVersion": kernel,
                "osImage": os_image,
                "containerRuntimeVersion": "containerd://1.7.27",
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": KUBELET_VERSION,
                "operatingSystem": os,
                "architecture": "amd64",
            },
        },
    })
}

/// Creates nodes, namespaces, the `kubernetes`/`kube-dns` Services and the StorageClass.
/// Objects that already exist are left alone.
pub(crate) fn create_fixed(store: &Store, config: &SimConfig) {
    for spec in node_specs(config) {
        let _ = store.create("nodes", "", node_object(&spec, config));
    }
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let _ = store.create(
            "namespaces",
            "",
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                   "spec": {"finalizers": ["kubernetes"]},
                   "status": {"phase": "Active"}}),
        );
    }
    let _ = store.create(
        "services",
        "default",
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
               "spec": {"type": "ClusterIP", "clusterIP": network::KUBERNETES_SERVICE_IP,
                        "clusterIPs": [network::KUBERNETES_SERVICE_IP],
                        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                        "sessionAffinity": "None"},
               "status": {"loadBalancer": {}}}),
    );
    let _ = store.create(
        "endpoints",
        "default",
        json!({"apiVersion": "v1", "kind": "Endpoints",
               "metadata": {"name": "kubernetes"},
               "subsets": [{"addresses": [{"ip": network::CONTROL_PLANE_IP}],
                            "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]}),
    );
    let _ = store.create(
        "services",
        "kube-system",
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "kube-dns", "labels": {"k8s-app": "kube-dns"}},
               "spec": {"type": "ClusterIP", "clusterIP": network::DNS_SERVICE_IP,
                        "clusterIPs": [network::DNS_SERVICE_IP],
                        "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                                  {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]},
               "status": {"loadBalancer": {}}}),
    );
    if config.storage_class {
        let _ = store.create(
            "storageclasses",
            "",
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                   "metadata": {"name": "standard",
                                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                   "provisioner": PROVISIONER,
                   "reclaimPolicy": "Delete",
                   "volumeBindingMode": "Immediate",
                   "allowVolumeExpansion": true}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_nodes_carry_build_label_taint_and_node_info() {
        let config = SimConfig::default();
        let store = Store::new();
        create_fixed(&store, &config);
        let (nodes, _) = store.list("nodes", None);
        assert_eq!(nodes.len(), 4);
        let win = store.get("nodes", "", "windows-node-1").unwrap();
        assert_eq!(
            win["metadata"]["labels"]["node.kubernetes.io/windows-build"],
            "10.0.20348"
        );
        assert_eq!(win["spec"]["taints"][0]["key"], "os");
        assert_eq!(win["status"]["nodeInfo"]["operatingSystem"], "windows");
        assert_eq!(win["spec"]["podCIDR"], "10.244.2.0/24");
        let lin = store.get("nodes", "", "linux-node-1").unwrap();
        assert!(lin["spec"].get("taints").is_none());
        assert!(store.get("storageclasses", "", "standard").is_some());
        assert!(store.get("services", "default", "kubernetes").is_some());
    }
}
