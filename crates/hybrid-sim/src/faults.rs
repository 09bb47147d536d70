//! Faults the simulated cluster can inject, so that every check of the catalog can be made to
//! fail on purpose (`--fault NAME`, repeatable, or `SimConfig::faults` in tests).

use std::fmt;

use serde::Serialize;

/// One injectable fault. The doc comment of each variant is its `--help` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Traffic between Linux and Windows pods is dropped (same-OS traffic still flows).
    CrossOsNetwork,
    /// Cluster DNS stops answering: every name fails to resolve.
    Dns,
    /// A PersistentVolume's files vanish when the pod using it is deleted.
    VolumeDataLoss,
    /// The storage provisioner cannot provision: claims stay Pending, with a Warning
    /// ProvisioningFailed event at each retry.
    ProvisionerStuck,
    /// ConfigMap updates never reach the files of mounted configMap volumes.
    ConfigmapStale,
    /// Every image pull fails (ErrImagePull, then ImagePullBackOff).
    ImagePull,
    /// About one in five non-watch API requests answers 500 InternalError.
    ApiErrors,
    /// Watches end early, and some end with a 410 Gone ERROR event.
    WatchDrop,
    /// Every non-watch API request answers 500 InternalError: an API server that is down, not
    /// flaky.
    ApiDown,
    /// Every create goes through, but its answer is lost: the client reads 500 InternalError
    /// (a retried create then meets AlreadyExists).
    CreateAnswersLost,
    /// Every simulated latency (pull, start, probes, network) is ten times longer.
    Slow,
    /// Creating a namespace answers 403 Forbidden, like credentials without RBAC permission.
    ForbidNamespaces,
    /// Services never get endpoints: every ClusterIP and NodePort refuses connections.
    NoEndpoints,
    /// NodePorts refuse connections on every node (ClusterIPs still work).
    NodeportClosed,
    /// Windows nodes drop NodePort traffic (kube-proxy never programmed the port): connections
    /// to a NodePort at a Windows node's address time out, from pods and from outside.
    NodeportSilentWindows,
    /// Pod-to-pod traffic arrives from the source node's IP instead of the pod's IP (SNAT).
    Snat,
    /// UDP datagrams between pods are dropped (TCP still flows).
    UdpDrop,
    /// Containers are never restarted, whatever their restartPolicy (no CrashLoopBackOff either).
    NoRestarts,
    /// Liveness and readiness probe results have no effect: failing containers are neither
    /// restarted nor marked unready.
    ProbesIgnored,
    /// preStop hooks never run when a pod is deleted.
    PrestopSkipped,
    /// terminationGracePeriodSeconds is ignored: a deleted pod vanishes at once, its containers
    /// killed without waiting.
    GraceIgnored,
    /// A restarted container's previous logs are gone (`logs --previous` finds nothing).
    LogsLost,
    /// New namespaces never get their `default` ServiceAccount (the controller-manager's
    /// serviceaccount controller is down), so the ServiceAccount admission refuses their pods.
    ServiceAccountsMissing,
    /// `pods/exec` is denied (`get` and `create`), in SelfSubjectAccessReviews and at the exec
    /// endpoint (403 Forbidden), like credentials whose role lacks it.
    ForbidExec,
    /// The first namespace in which a pod named `p` starts has that pod's image pulls fail
    /// (ErrImagePull); pods named `p` in every later namespace pull fine. With a filter picking
    /// one cell that creates `p` (`scheduling/lands-on-requested-os[os=linux]`), that cell fails
    /// on its first attempt only and passes when retried in a fresh namespace (`--retries`).
    FlakyFirstAttempt,
    /// Pulls of the pause image (registry.k8s.io/pause) fail on Windows nodes (ErrImagePull,
    /// no match for platform), as from a mirror that lacks its Windows variants; Linux nodes
    /// and every other image pull fine.
    WindowsPausePull,
}

impl Fault {
    /// Whether the fault lives in the embedded API server or controller-manager, so that it
    /// cannot exist under a real control plane (the node-side faults work under both).
    pub fn needs_embedded_control_plane(self) -> bool {
        matches!(
            self,
            Fault::ApiErrors
                | Fault::WatchDrop
                | Fault::ApiDown
                | Fault::CreateAnswersLost
                | Fault::ForbidNamespaces
                | Fault::ServiceAccountsMissing
                | Fault::ForbidExec
        )
    }

    /// The name used on the command line (`cross-os-network`, ...).
    pub fn name(self) -> String {
        // The serde name is the kebab-case name clap derives too.
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => name,
            _ => format!("{self:?}"),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
