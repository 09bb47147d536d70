//! hybrid-e2e's engine: conformance and end-to-end tests for Kubernetes clusters with Windows and
//! Linux worker nodes, for any cluster a `kube::Client` reaches. The binary (`hybrid-e2e`) owns
//! the command line and the exit codes; this crate knows clusters only through the client.
//!
//! The flow of one run: `catalog` (suites → test cases) → `cluster` (what the cluster offers,
//! why a test skips) → `run` (trials, steps, waits, cleanup) → `report` (JUnit, JSON, summary).

pub mod catalog; // the suite language: YAML model, validation, tag expressions, OS matrix
pub mod cluster; // what the cluster offers; why a test must be skipped
pub mod fixture; // fixture templates → Kubernetes objects for one OS and namespace
pub mod image_list; // `list-images`: the images selected cells use, by OS, with the Windows builds
pub mod image_repo; // `--image-repo`: a registry, or a KUBE_TEST_REPO_LIST mapping file
pub mod kube_error; // errors as users read them: API messages, causes on one line
pub mod labels; // the labels that find what a run created
pub mod pod_security; // Pod Security levels: namespace labels, what a test's objects need
pub mod render; // `render`: the objects selected cells would create, as YAML
pub mod report; // results → JUnit, JSON, console summary
pub mod run; // executing tests: trials, namespaces, steps, waits, cleanup
pub mod toleration; // the tolerations of test pods (Windows ones, --tolerate) and taints
pub mod windows_build; // Windows builds the images serve; containerd's host/image rule
