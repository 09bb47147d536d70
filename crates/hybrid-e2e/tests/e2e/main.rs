//! The binary's end-to-end tests: the real `hybrid-e2e` against the simulated cluster, over
//! loopback, one test binary with a module per theme (ripgrep's `tests/tests.rs` shape).

mod common;

// Transient API errors survived; an API server that is down, reported in one line.
mod api_errors;
// Namespaces that real admission accepts: Pod Security labels, policy denials as skips.
mod admission;

// Command line without a cluster: list, render, bad input, help.
mod cli;
// The cluster's DNS domain: discovered, --cluster-domain, assumed; bad input.
mod cluster_domain;
// The CI recipes (docs/ci) and in-cluster manifests (deploy/, Dockerfile), checked.
mod deploy_recipes;
// Proxies, credential plugins and bad kubeconfigs, as users connect.
mod connect;
// exec steps whose commands write a lot to stderr: both streams read at once.
mod exec_streams;
// Image pulls: transient errors waited through, permanent ones failing every wait at once.
mod image_pulls;
// list-images and --image-repo (a registry or a KUBE_TEST_REPO_LIST file) against render.
mod list_images;
// The lifecycle suite and the kubelet faults.
mod lifecycle;
// The networking suite and the network faults.
mod networking;
// --probe-via: exec and the pod proxy, under a blocked pod proxy.
mod probe_transport;
// The preflight: permissions asked before any test (SelfSubjectAccessReviews).
mod preflight;
// report.html and the OS matrix: a cross-OS fault's failed cells, in a headless Chromium too.
mod report_html;
// Progress while running: --progress-interval, SIGUSR1, --slow-after, JSON events.
mod progress;
// --prepull: images pulled on every node first (a DaemonSet per OS); pull errors as one case.
mod prepull;
// Reports of hostile, skipped, aborted and empty runs against the JUnit schema.
mod report_schema;
// `--retries`: flaky tests (passed after failing) and tests failing every attempt.
mod retries;
// `run`, `doctor` and `cleanup` end to end: exit codes, interrupts, leftovers.
mod run_e2e;
// Every kind of check failing, with its message (no false passes).
mod run_failures;
// Unschedulable pods: a full autoscaled Windows pool waited for, static reasons failing at once.
mod scale_up;
// --shard K/N: disjoint, balanced shards of list and run; bad values.
mod shards;
// Snapshots of --help, list, doctor and summary.md.
mod snapshots;
// The storage suite and the storage faults.
mod storage;
// Images against Windows builds: --quirk ltsc2025, builds no image serves skip, doctor warns.
mod windows_builds;
// Tainted node pools and --tolerate: skips that name the taint, tolerations on every pod.
mod taints;
// The step vocabulary beyond the first catalog.
mod vocabulary;
// Windows DNS: partially qualified names as opt-in cells, under the windows-dns-pqdn quirk.
mod windows_dns;
// Windows timing and shutdown: --windows-timeout-scale under slow-windows, the grace-period
// cell under windows-shutdown-kills, bad scales.
mod windows_timing;
