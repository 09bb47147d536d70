//! Executing tests: connect, discover, one libtest-mimic trial per test cell over one tokio
//! runtime, Ctrl-C handling, the end-of-run namespace sweep, reports and the exit code.

pub mod connect;
pub mod namespace;
pub mod plan;
pub mod wait;
