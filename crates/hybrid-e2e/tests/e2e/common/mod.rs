//! Helpers shared by the end-to-end test modules. Each module uses a part of
//! them.
#![allow(dead_code)]

pub(crate) mod harness;
pub(crate) mod junit_schema;
