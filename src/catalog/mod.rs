//! The suite language: YAML suites and fixtures → validated, expanded test cases; tag expressions.

pub mod model;

pub use model::*;
