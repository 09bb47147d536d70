//! The cluster's fixed objects: Linux and Windows nodes as real ones look, the system
//! namespaces, the `kubernetes` and `kube-dns` Services, and the default StorageClass.
//! Under `Quirk::HostnameLabelDiffers` node names are FQDNs (`linux-node-1.ec2.internal`, as
//! on EKS) and their `kubernetes.io/hostname` label the short name; under `Quirk::VirtualNode`
//! one more node looks like AKS's virtual node (virtual-kubelet), which serves no NodePorts;
//! under `Quirk::TaintedLinuxPool` every Linux node but the first carries
//! [`CRITICAL_ADDONS_TAINT`], as the nodes of an AKS system pool do.
//! Each node has its `CSINode` (storage.k8s.io/v1), listing the simulated CSI driver as its
//! kubelet registered it, except on Windows nodes under `Quirk::WindowsCsiMissing` (no Windows
//! node plugin) and on the virtual node (no CSI at all).

use serde_json::{json, Value};

use crate::config::SimConfig;
use crate::network;
use crate::quirks::Quirk;
use crate::store::{now_rfc3339, Store};

/// Provisioner name of the simulated StorageClass.
pub(crate) const PROVISIONER: &str = "disk.csi.sim.hybrid-e2e.io";
pub(crate) const KUBELET_VERSION: &str = "v1.33.5";
/// The name of the virtual node under `Quirk::VirtualNode` (AKS's name for its ACI node).
pub(crate) const VIRTUAL_NODE_NAME: &str = "virtual-node-aci-linux";
/// The domain of node names under `Quirk::HostnameLabelDiffers` (EKS in us-east-1).
pub(crate) const NODE_NAME_DOMAIN: &str = "ec2.internal";
/// The taint (key, value; effect NoSchedule) of the Linux nodes but the first under
/// `Quirk::TaintedLinuxPool`: AKS's `--node-taints CriticalAddonsOnly=true:NoSchedule` for
/// system pools.
pub(crate) const CRITICAL_ADDONS_TAINT: (&str, &str) = ("CriticalAddonsOnly", "true");
/// The label that marks a virtual-kubelet node (AKS virtual nodes, virtual-kubelet providers).
pub(crate) const VIRTUAL_KUBELET_LABEL: (&str, &str) = ("type", "virtual-kubelet");

/// A simulated node: name, host name, OS and index (which gives its addresses and pod CIDR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeSpec {
    pub(crate) name: String,
    /// Its `kubernetes.io/hostname` label: the name, or the short name when names are FQDNs.
    pub(crate) hostname: String,
    pub(crate) windows: bool,
    pub(crate) index: usize,
    /// A virtual-kubelet node (`Quirk::VirtualNode`): no kube-proxy, no NodePorts.
    pub(crate) virtual_kubelet: bool,
}

/// The nodes of a configuration, Linux first: `linux-node-1`, ..., `windows-node-1`, ...,
/// then the virtual node (under `Quirk::VirtualNode`).
pub(crate) fn node_specs(config: &SimConfig) -> Vec<NodeSpec> {
    let linux = (1..=config.linux_nodes).map(|i| (format!("linux-node-{i}"), false));
    let windows = (1..=config.windows_nodes).map(|i| (format!("windows-node-{i}"), true));
    let fqdn = config.has_quirk(Quirk::HostnameLabelDiffers);
    let mut specs: Vec<NodeSpec> = linux
        .chain(windows)
        .enumerate()
        .map(|(index, (hostname, windows))| NodeSpec {
            name: if fqdn {
                format!("{hostname}.{NODE_NAME_DOMAIN}")
            } else {
                hostname.clone()
            },
            hostname,
            windows,
            index,
            virtual_kubelet: false,
        })
        .collect();
    if config.has_quirk(Quirk::VirtualNode) {
        specs.push(NodeSpec {
            name: VIRTUAL_NODE_NAME.to_string(),
            hostname: VIRTUAL_NODE_NAME.to_string(),
            windows: false,
            index: specs.len(),
            virtual_kubelet: true,
        });
    }
    specs
}

/// Whether the kubelet of `spec` has the simulated CSI driver's node plugin registered.
pub(crate) fn csi_driver_registered(spec: &NodeSpec, config: &SimConfig) -> bool {
    let windows_plugin_missing = spec.windows && config.has_quirk(Quirk::WindowsCsiMissing);
    !spec.virtual_kubelet && !windows_plugin_missing
}

/// Whether a volume of the CSI driver `driver` cannot be mounted on the node named `node`
/// because its kubelet lacks the driver's node plugin: only the simulated driver is modeled,
/// and it is missing on the nodes [`csi_driver_registered`] says.
pub(crate) fn csi_plugin_missing(config: &SimConfig, node: &str, driver: &str) -> bool {
    driver == PROVISIONER
        && node_specs(config)
            .iter()
            .any(|spec| spec.name == node && !csi_driver_registered(spec, config))
}

/// The `CSINode` a kubelet writes for its node: the CSI drivers registered with it.
pub(crate) fn csi_node_object(spec: &NodeSpec, config: &SimConfig) -> Value {
    let drivers: Vec<Value> = if csi_driver_registered(spec, config) {
        vec![json!({"name": PROVISIONER, "nodeID": spec.name,
                    "topologyKeys": ["topology.kubernetes.io/zone"],
                    "allocatable": {"count": 16}})]
    } else {
        Vec::new()
    };
    json!({"apiVersion": "storage.k8s.io/v1", "kind": "CSINode",
           "metadata": {"name": spec.name},
           "spec": {"drivers": drivers}})
}

/// Whether a Node object is a virtual-kubelet node (label `type=virtual-kubelet`).
pub(crate) fn is_virtual_kubelet(node: &Value) -> bool {
    node["metadata"]["labels"][VIRTUAL_KUBELET_LABEL.0] == VIRTUAL_KUBELET_LABEL.1
}

pub(crate) fn node_object(spec: &NodeSpec, config: &SimConfig) -> Value {
    let os = if spec.windows { "windows" } else { "linux" };
    let now = now_rfc3339();
    let mut labels = json!({
        "kubernetes.io/os": os,
        "beta.kubernetes.io/os": os,
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": spec.hostname,
        "node.kubernetes.io/instance-type": "sim-standard-4",
        "topology.kubernetes.io/zone": "sim-zone-1",
    });
    let mut taints = Vec::new();
    let mut kubelet_version = KUBELET_VERSION.to_string();
    let (os_image, kernel) = if spec.virtual_kubelet {
        // As AKS's virtual node (virtual-kubelet's azure-aci provider) registers itself.
        labels[VIRTUAL_KUBELET_LABEL.0] = json!(VIRTUAL_KUBELET_LABEL.1);
        labels["kubernetes.io/role"] = json!("agent");
        labels["alpha.service-controller.kubernetes.io/exclude-balancer"] = json!("true");
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("true");
        taints.push(
            json!({"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"}),
        );
        kubelet_version = format!("{KUBELET_VERSION}-vk-azure-aci-1.6.2");
        (String::new(), String::new())
    } else if spec.windows {
        let build = config.node_windows_build();
        labels["node.kubernetes.io/windows-build"] = json!(build);
        if config.windows_taint {
            taints.push(json!({"key": "os", "value": "windows", "effect": "NoSchedule"}));
        }
        // As the kubelet reports them: osImage from the registry's ProductName, kernel
        // version with the update build revision.
        let (product, revision) = match build {
            "10.0.26100" => ("Windows Server 2025 Datacenter", 4061),
            "10.0.17763" => ("Windows Server 2019 Datacenter", 6893),
            _ => ("Windows Server 2022 Datacenter", 2700),
        };
        (product.to_string(), format!("{build}.{revision}"))
    } else {
        // Linux nodes come first: index 0 is the first Linux node.
        if spec.index > 0 && config.has_quirk(Quirk::TaintedLinuxPool) {
            let (key, value) = CRITICAL_ADDONS_TAINT;
            taints.push(json!({"key": key, "value": value, "effect": "NoSchedule"}));
        }
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
                "kubeletVersion": kubelet_version,
                "kubeProxyVersion": kubelet_version,
                "operatingSystem": os,
                "architecture": "amd64",
            },
        },
    })
}

/// Creates nodes and their CSINodes, namespaces, the `kubernetes`/`kube-dns` Services and the
/// StorageClass. Objects that already exist are left alone.
pub(crate) fn create_fixed(store: &Store, config: &SimConfig) {
    for spec in node_specs(config) {
        let _ = store.create("nodes", "", node_object(&spec, config));
        let _ = store.create("csinodes", "", csi_node_object(&spec, config));
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
        assert!(store.get("nodes", "", VIRTUAL_NODE_NAME).is_none());
    }

    #[test]
    fn every_node_has_a_csinode_and_windows_ones_lack_the_driver_under_the_quirk() {
        let drivers = |store: &Store, node: &str| -> Vec<String> {
            let csi_node = store.get("csinodes", "", node).unwrap();
            assert_eq!(csi_node["apiVersion"], "storage.k8s.io/v1");
            csi_node["spec"]["drivers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect()
        };
        let mut config = SimConfig::default();
        let store = Store::new();
        create_fixed(&store, &config);
        assert_eq!(store.list("csinodes", None).0.len(), 4);
        assert_eq!(drivers(&store, "linux-node-1"), [PROVISIONER]);
        assert_eq!(drivers(&store, "windows-node-2"), [PROVISIONER]);
        let csi_node = store.get("csinodes", "", "windows-node-1").unwrap();
        assert_eq!(csi_node["spec"]["drivers"][0]["nodeID"], "windows-node-1");
        assert!(!csi_plugin_missing(&config, "windows-node-1", PROVISIONER));

        config.quirks.insert(Quirk::WindowsCsiMissing);
        let store = Store::new();
        create_fixed(&store, &config);
        assert_eq!(drivers(&store, "linux-node-2"), [PROVISIONER]);
        assert!(drivers(&store, "windows-node-1").is_empty());
        assert!(drivers(&store, "windows-node-2").is_empty());
        assert!(csi_plugin_missing(&config, "windows-node-1", PROVISIONER));
        assert!(!csi_plugin_missing(&config, "linux-node-1", PROVISIONER));
        assert!(!csi_plugin_missing(
            &config,
            "windows-node-1",
            "ebs.csi.aws.com"
        ));
    }

    #[test]
    fn fqdn_node_names_keep_the_short_name_as_hostname_label() {
        let mut config = SimConfig::default();
        config.quirks.insert(Quirk::HostnameLabelDiffers);
        let store = Store::new();
        create_fixed(&store, &config);
        let node = store.get("nodes", "", "linux-node-1.ec2.internal").unwrap();
        assert_eq!(
            node["metadata"]["labels"]["kubernetes.io/hostname"],
            "linux-node-1"
        );
        assert!(store.get("nodes", "", "linux-node-1").is_none());
        assert!(store
            .get("nodes", "", "windows-node-2.ec2.internal")
            .is_some());
    }

    #[test]
    fn a_tainted_linux_pool_leaves_only_the_first_linux_node_untainted() {
        let mut config = SimConfig {
            linux_nodes: 3,
            ..SimConfig::default()
        };
        config.quirks.insert(Quirk::TaintedLinuxPool);
        let store = Store::new();
        create_fixed(&store, &config);
        let taints = |name: &str| store.get("nodes", "", name).unwrap()["spec"]["taints"].clone();
        assert!(taints("linux-node-1").is_null(), "the first Linux node");
        let critical =
            json!([{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}]);
        assert_eq!(taints("linux-node-2"), critical);
        assert_eq!(taints("linux-node-3"), critical);
        assert_eq!(
            taints("windows-node-1"),
            json!([{"key": "os", "value": "windows", "effect": "NoSchedule"}]),
            "Windows nodes keep only their own taint"
        );
    }

    #[test]
    fn the_virtual_node_is_a_ready_tainted_virtual_kubelet() {
        let mut config = SimConfig::default();
        config.quirks.insert(Quirk::VirtualNode);
        let store = Store::new();
        create_fixed(&store, &config);
        assert_eq!(store.list("nodes", None).0.len(), 5);
        let node = store.get("nodes", "", VIRTUAL_NODE_NAME).unwrap();
        assert!(is_virtual_kubelet(&node));
        let labels = &node["metadata"]["labels"];
        assert_eq!(labels["kubernetes.io/role"], "agent");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(
            node["spec"]["taints"],
            json!([{"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"}])
        );
        let types: Vec<&str> = node["status"]["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["type"].as_str())
            .collect();
        assert_eq!(types, ["InternalIP", "ExternalIP", "Hostname"]);
        assert_eq!(node["status"]["conditions"][3]["status"], "True");
        assert_eq!(
            network::node_internal_ip(&node).as_deref(),
            Some("10.240.0.14")
        );
    }
}
