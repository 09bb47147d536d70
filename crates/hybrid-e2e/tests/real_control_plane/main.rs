//! The binary end to end under a real control plane (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler v1.37 built from the Kubernetes sources) with the
//! simulated nodes as its kubelets: the catalog, the node-side faults, stop signals, RBAC and
//! kubectl. A test binary of its own, so its heavy control planes never run beside the embedded
//! tests. Without the control-plane binaries (`HYBRID_E2E_CONTROL_PLANE_BIN`, which `.ci/run`
//! sets) each test prints why and skips; with `CI=true` that is a failure.

mod support;

// The whole catalog, and the node-side faults against the embedded cluster's verdicts.
mod catalog;
// SIGTERM, Ctrl-C and bad input: one clear line, nothing left behind.
mod lifecycle;
// A second identity under real RBAC: what the harness shows when exec or namespaces are denied.
mod rbac;
// kubectl against a served cluster: get, apply, wait, logs, exec, delete.
mod kubectl;
// --pod-security baseline: what the real PodSecurity admission refuses is skipped, quoted.
mod podsec;
// deploy/job.yaml's run faked: in-cluster config with deploy/rbac.yaml's rights only.
mod in_cluster;
