//! The catalog's output: expanded, validated test cases, ready for filtering and running.
//!
//! These are plain data. The runner executes them without ever looking at YAML again; the
//! parser in `catalog::parse` is the only producer.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An operating system a node runs and a pod targets (`kubernetes.io/os`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    /// Linux (`kubernetes.io/os=linux`).
    Linux,
    /// Windows (`kubernetes.io/os=windows`).
    Windows,
}

impl Os {
    /// Every OS: Linux, then Windows.
    pub const ALL: [Os; 2] = [Os::Linux, Os::Windows];

    /// The value of the `kubernetes.io/os` label.
    pub fn label(self) -> &'static str {
        match self {
            Os::Linux => "linux",
            Os::Windows => "windows",
        }
    }

    /// The OS a label value or a suite's `os:` names (`linux`, `windows`), if it is one.
    pub fn parse(s: &str) -> Option<Os> {
        match s {
            "linux" => Some(Os::Linux),
            "windows" => Some(Os::Windows),
            _ => None,
        }
    }
}

impl fmt::Display for Os {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Where something was written: suite file and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file's name as errors show it (`suites/networking.yaml`, or the path under `--suites`).
    pub file: String,
    /// The 1-based line in that file.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A declared requirement a cluster must meet for a test to run; unmet means skip with reason.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Requirement {
    /// At least one Ready, schedulable node with `kubernetes.io/os=<os>` (derived from the cell).
    Nodes(Os),
    /// Two schedulable nodes with `kubernetes.io/os=<os>`: derived from an `expect` that two
    /// pods of that OS run on different nodes (`node-of: a` ... `not-equals: ${node-name.b}`).
    TwoNodes(Os),
    /// A default StorageClass (declared `default-storage-class`, or derived from a PVC fixture).
    DefaultStorageClass,
    /// A LoadBalancer implementation (declared `load-balancer`).
    LoadBalancer,
    /// The user's choice, not the cluster's: an `opt-in` cell runs only when the `--tags`
    /// expression names `tag` (`Selection` drops the requirement then); otherwise it skips
    /// with `reason`.
    OptIn {
        /// The tag that selects the cell (`windows-pqdn`); the cell carries it.
        tag: String,
        /// Why the cell does not run by default (from the suite's `opt-in.reason`).
        reason: String,
    },
}

impl Requirement {
    /// The skip reason of an opt-in cell the user did not select: its reason and how to select it.
    pub fn opt_in_skip_reason(tag: &str, reason: &str) -> String {
        format!("{reason}; opt-in: select it with --tags {tag}")
    }
}

/// One runnable cell of a test: a test with its matrix values bound.
#[derive(Debug, Clone, Serialize)]
pub struct TestCase {
    /// `suite/test[k=v,...]` (no brackets without a matrix).
    pub name: String,
    /// The suite the test belongs to (its `suite:` name).
    pub suite: String,
    /// The test's `name:` within its suite, without the matrix values.
    pub test: String,
    /// The test's `description:` from the suite; empty when it has none.
    pub description: String,
    /// Test tags + suite name + each OS of the cell + `hybrid` when the cell mixes OSes.
    pub tags: BTreeSet<String>,
    /// The matrix values of this cell (`client=linux`, ...).
    pub cell: BTreeMap<String, String>,
    /// The operating systems this cell schedules pods on.
    pub oses: BTreeSet<Os>,
    /// What the cluster must offer for this cell to run: declared, plus derived from its OSes and fixtures.
    pub requires: BTreeSet<Requirement>,
    /// Why the test has no Windows cell (`linux-only: reason` in the suite).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linux_only: Option<String>,
    /// The cell's steps, in the order they run.
    pub steps: Vec<Step>,
    /// Where the test is written: its suite file and the line of its `name:`.
    pub location: Location,
}

impl TestCase {
    /// Whether a step of this cell uses `${cluster-domain}` (so the run needs the domain).
    pub fn uses_cluster_domain(&self) -> bool {
        fn uses(value: &serde_json::Value) -> bool {
            match value {
                serde_json::Value::String(s) => super::vars::substituted_pieces(s)
                    .contains(&super::vars::Piece::Var(super::vars::CLUSTER_DOMAIN)),
                serde_json::Value::Array(items) => items.iter().any(uses),
                serde_json::Value::Object(map) => map.values().any(uses),
                _ => false,
            }
        }
        // Steps always serialise; were one not to, the domain is needed rather than missed.
        serde_json::to_value(&self.steps).map_or(true, |steps| uses(&steps))
    }
}

/// One step of a test, `${vars}` already substituted.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// What the step does, with its arguments.
    pub action: Action,
    /// Explicit per-step timeout; `None` means the action's default. Scaled by `--timeout-scale`.
    pub timeout: Option<Duration>,
    /// Where the step is written in its suite file.
    pub location: Location,
}

/// The closed vocabulary of steps. A new kind of step is a Rust change; a new test is YAML.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Instantiate a fixture for one OS under a name.
    Create {
        /// The name of the fixture to instantiate.
        fixture: String,
        /// The name of the fixture's main object, by which later steps refer to it.
        name: String,
        /// The OS the fixture's objects are made for (and its pods scheduled on).
        os: Os,
        /// Extra fixture parameters from the suite (strings, numbers, lists or maps).
        vars: BTreeMap<String, serde_json::Value>,
    },
    /// Wait, by watching, until an object (pod, deployment, job, claim) reaches a condition.
    Wait {
        /// The object waited for.
        object: ObjectRef,
        /// The condition the object must reach.
        until: WaitUntil,
        /// Negative wait: the wait must fail fast with a reason containing this text.
        fails_with: Option<String>,
    },
    /// From a pod's netexec, reach a target over HTTP (or UDP) and check the answer.
    Http {
        /// The pod whose netexec makes the request.
        from: String,
        /// What the request reaches.
        to: Target,
        /// What the answers must be.
        expect: HttpExpect,
    },
    /// From the machine running the harness (not a pod), reach a target over plain HTTP:
    /// `http: { from: harness, to: { node-port: svc } }`. Skips when no node address answers.
    HttpFromHarness {
        /// The `node-port` or `host` target reached.
        to: Target,
        /// What the answers must be.
        expect: HttpExpect,
    },
    /// From a pod, resolve a name with cluster DNS (`nslookup NAME` in the pod).
    Dns {
        /// The pod `nslookup` runs in.
        from: String,
        /// The DNS name looked up (e.g. `kubernetes.default`).
        name: String,
        /// Whether the name must resolve or not exist.
        expect: DnsExpect,
    },
    /// Run a command in a container and check exit code and output.
    Exec {
        /// The pod the command runs in.
        pod: String,
        /// The container the command runs in; `None`: the pod's default container.
        container: Option<String>,
        /// The command and its arguments, already picked for the pod's OS.
        command: Vec<String>,
        /// The exit code and output the command must give.
        expect: ExecExpect,
        /// Retry until the expectation holds or the step's deadline passes.
        eventually: bool,
    },
    /// Read a container's log and check it.
    Logs {
        /// The pod whose log is read.
        pod: String,
        /// The container whose log is read; `None`: the pod's default container.
        container: Option<String>,
        /// Read the log of the container's previous (terminated) instance, after a restart.
        previous: bool,
        /// Text the log must contain.
        contains: String,
    },
    /// Assert on a field of an object (JSONPath against the object as JSON).
    Expect {
        /// The object whose field is checked.
        object: ObjectRef,
        /// The JSONPath into the object as JSON (e.g. `$.status.phase`).
        path: String,
        /// What the values the path finds must satisfy.
        check: Check,
        /// Retry until the check holds or the step's deadline passes.
        eventually: bool,
    },
    /// Wait until an event about an object exists (e.g. `Unhealthy`, `ProvisioningFailed`).
    Event {
        /// The object the event must be about.
        object: ObjectRef,
        /// The event's reason (e.g. `Unhealthy`).
        reason: String,
        /// `Normal` or `Warning`; any when `None`.
        type_: Option<String>,
    },
    /// Change an object with a JSON merge patch (RFC 7386).
    Patch {
        /// The object patched.
        object: ObjectRef,
        /// The JSON merge patch (a map) applied to the object.
        merge: serde_json::Value,
    },
    /// Do nothing for a while (to observe that something does NOT happen).
    Sleep(Duration),
    /// Delete an object and (by default) wait until it is gone, optionally within a window.
    Delete {
        /// The object deleted.
        object: ObjectRef,
        /// Whether to wait until the object is gone (the default).
        wait: bool,
        /// The object must still exist this long after the delete (graceful termination).
        gone_after: Option<Duration>,
        /// The object must be gone this long after the delete.
        gone_within: Option<Duration>,
    },
}

/// What an `expect` step checks about the values a JSONPath finds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// Exactly one value, equal (as JSON, or as text: `3` equals `"3"`).
    Equals(serde_json::Value),
    /// Exactly one value, not equal (in the sense of `Equals`).
    NotEquals(serde_json::Value),
    /// Exactly one number, at least this.
    AtLeast(f64),
    /// Exactly one number, at most this.
    AtMost(f64),
    /// Exactly one value whose text contains this.
    Contains(String),
    /// Whether the path finds anything.
    Exists(bool),
}

/// What a `wait` step waits for. Suites spell it in kebab case (`not-ready`): [`WaitUntil::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitUntil {
    /// Bound to a node (`PodScheduled=True`).
    Scheduled,
    /// Phase Running.
    Running,
    /// Condition Ready=True.
    Ready,
    /// Phase Succeeded.
    Succeeded,
    /// Phase Failed.
    Failed,
    /// Phase Succeeded or Failed.
    Completed,
    /// Condition Ready=False (a pod that was ready stops being ready).
    NotReady,
    /// A Deployment whose replicas are all updated and available.
    Available,
    /// A Job with condition Complete=True.
    Complete,
    /// A PersistentVolumeClaim in phase Bound.
    Bound,
}

impl WaitUntil {
    /// Every value, in the order the documentation lists them.
    pub const ALL: [WaitUntil; 10] = [
        WaitUntil::Scheduled,
        WaitUntil::Running,
        WaitUntil::Ready,
        WaitUntil::Succeeded,
        WaitUntil::Failed,
        WaitUntil::Completed,
        WaitUntil::NotReady,
        WaitUntil::Available,
        WaitUntil::Complete,
        WaitUntil::Bound,
    ];

    /// The value as a suite writes it: `ready`, `not-ready`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            WaitUntil::Scheduled => "scheduled",
            WaitUntil::Running => "running",
            WaitUntil::Ready => "ready",
            WaitUntil::Succeeded => "succeeded",
            WaitUntil::Failed => "failed",
            WaitUntil::Completed => "completed",
            WaitUntil::NotReady => "not-ready",
            WaitUntil::Available => "available",
            WaitUntil::Complete => "complete",
            WaitUntil::Bound => "bound",
        }
    }

    /// The value a suite wrote, if it is one.
    pub fn parse(text: &str) -> Option<WaitUntil> {
        WaitUntil::ALL.into_iter().find(|u| u.as_str() == text)
    }
}

/// As a sentence reads it: `ready`, `not ready`.
impl fmt::Display for WaitUntil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().replace('-', " "))
    }
}

/// The kind of object a step names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ObjectKind {
    /// A Pod.
    Pod,
    /// A Service.
    Service,
    /// A PersistentVolumeClaim (`claim:` in a suite).
    PersistentVolumeClaim,
    /// A Deployment.
    Deployment,
    /// A Job.
    Job,
    /// A ConfigMap.
    ConfigMap,
    /// A Secret.
    Secret,
    /// The Node the named pod runs on (`node-of:` in a suite); the name is the pod's.
    NodeOf,
}

impl ObjectKind {
    /// The Kubernetes kind (`Pod`, `PersistentVolumeClaim`, ...); `NodeOf` for the pseudo-kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Pod => "Pod",
            ObjectKind::Service => "Service",
            ObjectKind::PersistentVolumeClaim => "PersistentVolumeClaim",
            ObjectKind::Deployment => "Deployment",
            ObjectKind::Job => "Job",
            ObjectKind::ConfigMap => "ConfigMap",
            ObjectKind::Secret => "Secret",
            ObjectKind::NodeOf => "NodeOf",
        }
    }

    /// The Kubernetes kind of the object the step's name refers to: the pod, for `NodeOf`.
    pub fn named_kind(self) -> &'static str {
        match self {
            ObjectKind::NodeOf => "Pod",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An object a step names: its kind and the name given at `create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    /// What kind of object the name refers to.
    pub kind: ObjectKind,
    /// The name given at `create`.
    pub name: String,
}

/// What an `http` step reaches.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What is reached, by a name from this test or a host name.
    pub kind: TargetKind,
    /// The port dialed; for `node-port`, the Service port whose nodePort is used (0: the first of the protocol).
    pub port: u16,
    /// The HTTP path requested (default `/`); for UDP, the netexec command (e.g. `hostname`).
    pub path: String,
    /// HTTP or UDP (HTTP unless the suite says `protocol: udp`).
    pub protocol: Protocol,
}

/// The kind of target an `http` step reaches, with its name (or host).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// A pod created by this test, by its IP.
    Pod(String),
    /// A Service created by this test, by its ClusterIP.
    Service(String),
    /// A host name as given (DNS), `${namespace}` already substituted by the runner.
    Host(String),
    /// A Service created by this test, at its nodePort on the server's node and a node of each
    /// OS (`run::probe::nodes` chooses)
    /// (`port` picks the Service port whose nodePort is used; 0: the first of the protocol).
    NodePort(String),
}

/// What a `dns` step expects of a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsExpect {
    /// The name resolves to an address.
    Resolves,
    /// The name does not exist (NXDOMAIN).
    Nxdomain,
}

/// How an `http` step talks to its target (`protocol: http|udp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// An HTTP request for `path`.
    Http,
    /// A UDP message to netexec's UDP server: `path` is the command it runs.
    Udp,
}

/// Expected answer of an `http` step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HttpExpect {
    /// The answer must contain this (after trimming). For `/hostname`, the pod name.
    pub body: Option<String>,
    /// The target must NOT be reachable (negative checks).
    pub unreachable: bool,
    /// Each of these must be seen in some answer before the deadline (e.g. the host names of
    /// every backend of a Service); every answer must contain one of them.
    pub bodies: Vec<String>,
    /// The answer is netexec's `/clientip` (`IP:port`, `[IPv6]:port`) and its IP must be this
    /// pod's (no SNAT on the way). The catalog holds the pod's name; the runner its IP.
    pub client_ip: Option<String>,
}

/// Expected result of an `exec` step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExecExpect {
    /// The exit code the command must end with (0 unless the suite says otherwise).
    pub exit_code: i32,
    /// Text the command's stdout must contain; `None`: any output.
    pub stdout: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_is_spelled_once_for_suites_serde_and_sentences() {
        for until in WaitUntil::ALL {
            assert_eq!(WaitUntil::parse(until.as_str()), Some(until));
            assert_eq!(
                serde_json::to_value(until).unwrap(),
                serde_json::json!(until.as_str())
            );
        }
        assert_eq!(WaitUntil::NotReady.as_str(), "not-ready");
        assert_eq!(WaitUntil::NotReady.to_string(), "not ready");
        assert_eq!(WaitUntil::parse("notready"), None);
    }

    #[test]
    fn node_of_names_a_pod() {
        assert_eq!(ObjectKind::NodeOf.named_kind(), "Pod");
        assert_eq!(
            ObjectKind::PersistentVolumeClaim.named_kind(),
            "PersistentVolumeClaim"
        );
        assert_eq!(ObjectKind::NodeOf.to_string(), "NodeOf");
    }
}
