//! Fuzz target: the fixture reader, one fixture file beside the embedded ones.
#![no_main]

use hybrid_e2e_runner::catalog::readers;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    readers::read_fixture(&String::from_utf8_lossy(data));
});
