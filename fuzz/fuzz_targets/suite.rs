//! Fuzz target: the suite reader (parse, validate, expand) against the embedded fixtures.
#![no_main]

use std::sync::OnceLock;

use hybrid_e2e_runner::catalog::{readers, FixtureSet};
use libfuzzer_sys::fuzz_target;

fn fixtures() -> &'static FixtureSet {
    static FIXTURES: OnceLock<FixtureSet> = OnceLock::new();
    FIXTURES.get_or_init(|| FixtureSet::load(None).expect("the embedded fixtures load"))
}

fuzz_target!(|data: &[u8]| {
    readers::read_suite(&String::from_utf8_lossy(data), fixtures());
});
