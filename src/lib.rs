//! hybrid-e2e: conformance and end-to-end tests for Kubernetes clusters with Windows and Linux
//! worker nodes. A thin binary (`src/main.rs`) over this library.
//!
//! The flow of one run: `cli` (flags → plan) → `catalog` (suites → test cases) → `cluster`
//! (what the cluster offers, why a test skips) → `run` (trials, steps, waits, cleanup) →
//! `report` (JUnit, JSON, summary) → exit code (`exit`).

pub mod catalog; // the suite language: YAML model, validation, tag expressions, OS matrix
pub mod cli; // clap definitions: raw flags → a validated plan
pub mod cluster; // what the cluster offers; why a test must be skipped
pub mod exit; // documented exit codes
pub mod fixture; // fixture templates → Kubernetes objects for one OS
pub mod report; // results → JUnit, JSON, console summary
pub mod run; // executing tests: trials, namespaces, steps, waits, cleanup
pub mod sim; // the simulated hybrid cluster: API server + controllers
