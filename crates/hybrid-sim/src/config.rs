//! Settings of one simulated cluster: its nodes, its storage, its timings, its faults and its
//! quirks.

use std::collections::BTreeSet;
use std::time::Duration;

use super::faults::Fault;
use super::quirks::Quirk;

/// How a simulated cluster is shaped. `Default` is the cluster `hybrid-e2e sim` starts.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// How many Linux nodes (`linux-node-1`, ...).
    pub linux_nodes: usize,
    /// How many Windows nodes (`windows-node-1`, ...).
    pub windows_nodes: usize,
    /// `node.kubernetes.io/windows-build` of the Windows nodes (10.0.20348: Windows Server 2022).
    pub windows_build: String,
    /// Taint Windows nodes `os=windows:NoSchedule`, as most hybrid clusters do.
    pub windows_taint: bool,
    /// Create the default StorageClass `standard` and its provisioner.
    pub storage_class: bool,
    /// The faults to inject (none by default).
    pub faults: BTreeSet<Fault>,
    /// The quirks of real clusters to behave with (none by default).
    pub quirks: BTreeSet<Quirk>,
    /// Base latency of simulated work (image pull, container start). Scaled ×10 by `Fault::Slow`.
    pub latency: Duration,
    /// First CrashLoopBackOff delay (real kubelet: 10 s), doubled per restart up to `backoff_max`.
    pub backoff_initial: Duration,
    /// The longest CrashLoopBackOff delay (real kubelet: 5 min).
    pub backoff_max: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            port: 0,
            linux_nodes: 2,
            windows_nodes: 2,
            windows_build: "10.0.20348".to_string(),
            windows_taint: true,
            storage_class: true,
            faults: BTreeSet::new(),
            quirks: BTreeSet::new(),
            latency: Duration::from_millis(20),
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(2),
        }
    }
}

impl SimConfig {
    /// Whether `fault` is injected.
    pub fn has(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }

    /// Whether the cluster behaves with `quirk`.
    pub fn has_quirk(&self, quirk: Quirk) -> bool {
        self.quirks.contains(&quirk)
    }

    /// The `node.kubernetes.io/windows-build` of the Windows nodes: 10.0.26100 under
    /// `Quirk::Ltsc2025`, otherwise `windows_build`.
    pub fn node_windows_build(&self) -> &str {
        if self.has_quirk(Quirk::Ltsc2025) {
            "10.0.26100"
        } else {
            &self.windows_build
        }
    }

    /// A simulated delay: `base` × 10 under `Fault::Slow`.
    pub(crate) fn delay(&self, base: Duration) -> Duration {
        if self.has(Fault::Slow) {
            base * 10
        } else {
            base
        }
    }
}
