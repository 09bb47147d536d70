//! Executing tests: trials, namespaces, steps, watch-based waits, cleanup, artifacts.
pub mod plan;
pub mod wait;
pub mod connect;
pub mod namespace;
