//! The simulated cluster's own tests, one test binary with a module per theme: its API as
//! kube-rs sees it, its controllers and faults, and kubectl against it.

// Helpers every module uses.
mod common;
// The API server: CRUD, watch, selectors, errors, subresources.
mod api;
// Nodes, scheduler, kubelets, workloads, network, storage and the faults.
mod cluster;
// curl in simulated containers, and the pod proxy under the quirk pod-proxy-blocked.
mod curl;
// Cluster DNS and pod addresses under the quirks of real clusters.
mod dns;
// Nodes of some real clusters: FQDN names, virtual nodes, NodePort limits, the kubelet port.
mod nodes;
// kubectl 1.3x unchanged against the simulated cluster.
mod kubectl;
