//! Results → reports: JUnit XML, results.json, and the console summary. Never talks to a cluster.

pub mod model;

pub use model::*;
