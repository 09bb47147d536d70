//! Helpers shared by the integration tests (`mod common;`). Each test target uses a part of
//! them, so unused ones are expected in any single target.
#![allow(dead_code)]

pub mod harness;
pub mod junit_schema;
