//! Fuzz target: the tag-expression parser, its check against known tags, and matching.
#![no_main]

use hybrid_e2e_runner::catalog::readers;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    readers::read_tag_expr(&String::from_utf8_lossy(data));
});
