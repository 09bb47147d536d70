//! Helpers shared by the end-to-end test modules. Each module uses a part of
//! them.
#![allow(dead_code)]

pub mod harness;
pub mod junit_schema;
