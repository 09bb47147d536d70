//! Quirks: behaviours in which legitimate real clusters differ from a plain kubeadm one, not
//! faults (`--quirk NAME`, repeatable, or `SimConfig::quirks` in tests). A harness that works
//! on real clusters passes the catalog under every quirk, perhaps with some tests skipped.

use std::fmt;

use serde::Serialize;

/// One behaviour of some real clusters. The doc comment of each variant is its `--help` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Quirk {
    /// PodSecurity admission enforces "baseline" in namespaces without a
    /// pod-security.kubernetes.io/enforce label (AdmissionConfiguration defaults, as on
    /// hardened, OpenShift-like and some managed clusters).
    PodSecurityBaseline,
    /// Every namespace has a ResourceQuota on limits.cpu and limits.memory (as platform teams
    /// add through namespace templates), so pods without limits are refused.
    QuotaRequiresLimits,
    /// Windows nodes run Windows Server 2025 (node.kubernetes.io/windows-build=10.0.26100,
    /// osImage "Windows Server 2025 Datacenter"), whose containerd runs only images with an
    /// ltsc2022 or ltsc2025 variant: pulling one without (agnhost 2.52, whose Windows variants
    /// are 1809 and ltsc2022, still runs; an 1809-only image does not) fails with "no match
    /// for platform in manifest: not found".
    Ltsc2025,
    /// A validating admission webhook ("policy.example.com") refuses pods with hostPath
    /// volumes.
    WebhookDeniesHostpath,
    /// Each node's first pull of each image fails with ErrImagePull (an i/o timeout reaching
    /// the registry, as behind a slow proxy or on a fresh node), then ImagePullBackOff, and
    /// succeeds after the (scaled) back-off.
    TransientPullErrors,
    /// The API server's pod proxy cannot reach pod ports (GKE private clusters, EKS security
    /// groups opening only 443/10250, Windows on Flannel VXLAN): `pods/NAME:PORT/proxy` answers
    /// 503 "error trying to reach service: dial tcp IP:PORT: i/o timeout". Exec still works.
    PodProxyBlocked,
    /// The Windows pool is full and autoscaled: each new Windows pod stays Unschedulable
    /// ("0/4 nodes are available: 2 Insufficient cpu, 2 node(s) didn't match Pod's node
    /// affinity/selector. ...") with a TriggeredScaleUp event from cluster-autoscaler, until its
    /// node joins a moment later (scaled like the other delays); Windows pods that would not
    /// fit even a new node get NotTriggerScaleUp.
    WindowsScaleUp,
    /// Windows pods treat every name with a dot as fully qualified (Kubernetes' documented
    /// Windows DNS limitation): `web.NS` and `kubernetes.default` do not resolve from Windows;
    /// the short name and the FQDN do.
    WindowsDnsPqdn,
    /// Node names are FQDNs (`NODE.ec2.internal`, as on AWS) while their
    /// kubernetes.io/hostname label is the short host name.
    HostnameLabelDiffers,
    /// Every Linux node but the first carries the taint CriticalAddonsOnly=true:NoSchedule (as
    /// AKS system pools do), so only pods that tolerate it land there; the first Linux node
    /// takes any Linux pod.
    TaintedLinuxPool,
    /// An extra Ready Linux node like AKS virtual nodes / virtual-kubelet (label
    /// type=virtual-kubelet, taint virtual-kubelet.io/provider=azure:NoSchedule) that serves
    /// no NodePorts.
    VirtualNode,
    /// Windows containers whose process registers no shutdown handler (everything but agnhost
    /// netexec with --delay-shutdown) exit at once when their pod is deleted, whatever the
    /// grace period: Windows sends CTRL_SHUTDOWN_EVENT, and cmd, ping or pause end on it.
    WindowsShutdownKills,
    /// Windows image pulls and container starts take realistic times, at a tenth of real time
    /// like the sim's probes: every Windows pull a minute, every Windows container start five
    /// seconds. Steps on Windows objects need --windows-timeout-scale (default 3).
    SlowWindows,
    /// A Windows pod cannot reach a NodePort at its own node's address (documented Windows
    /// limitation; other nodes and external clients work).
    WindowsNoLocalNodeport,
    /// The cluster DNS domain is cluster.example instead of cluster.local (the kubelet's
    /// clusterDomain).
    ClusterDomain,
    /// The default StorageClass's CSI driver (disk.csi.sim.hybrid-e2e.io) has no Windows node
    /// plugin: the Windows nodes' CSINodes lack it, and a Windows pod using such a claim never
    /// mounts (FailedMount: driver name ... not found in the list of registered CSI drivers).
    WindowsCsiMissing,
    /// Pod IPs are IPv6 (fd00:10:244:N::/64 per node, in spec.podCIDR(s), status.podIP(s)),
    /// so netexec's /clientip answers [IP]:PORT; dials to IPv6 pod IPs work. ClusterIPs and
    /// node IPs stay IPv4.
    Ipv6,
}

impl Quirk {
    /// The name used on the command line (`pod-security-baseline`, ...).
    pub fn name(self) -> String {
        // The serde name is the kebab-case name clap derives too.
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => name,
            _ => format!("{self:?}"),
        }
    }
}

impl fmt::Display for Quirk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_case() {
        assert_eq!(Quirk::PodSecurityBaseline.name(), "pod-security-baseline");
        assert_eq!(
            Quirk::QuotaRequiresLimits.to_string(),
            "quota-requires-limits"
        );
    }
}
