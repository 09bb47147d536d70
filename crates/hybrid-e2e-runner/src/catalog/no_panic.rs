//! No input panics the readers users feed: the suite reader, the fixture reader and the tag
//! expression parser. Their seeds are the checked-in corpus in `fuzz/corpus/<target>/` plus the
//! embedded suites and fixtures; each seed is mutated a bounded number of times by a seeded
//! generator (the same inputs on every run), so this runs as a normal test. `fuzz/` runs the
//! same three readers under cargo-fuzz for as long as one likes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::readers::{read_fixture, read_suite, read_tag_expr};
use super::{source, FixtureSet};

/// Mutations per seed.
const MUTATIONS: usize = 60;

/// What YAML, the suite language and tag expressions give meaning to: inserted at random.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "\n    - ",
    "&&",
    "||",
    "!",
    "(",
    ")",
    "${",
    "${os}",
    "${image.",
    "}",
    "*a",
    "&a ",
    "<<: *a",
    "!!binary ",
    "~",
    "'",
    "\"",
    "\t",
    "\u{feff}",
    "#",
    "99999999999999999999",
    "-1",
    "0s",
    "1e309",
    "2m",
    "nan",
    "é",
    "matrix:",
    "steps:",
    "os: [linux, windows]",
    "fixture: ",
    "expect:",
    "eventually: true",
    "opt-in:",
    "null",
];

/// The checked-in corpus of one target.
fn corpus(target: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", dir.display()))
        .map(|entry| entry.expect("a folder entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| String::from_utf8_lossy(&std::fs::read(f).expect("readable")).into_owned())
        .collect()
}

/// One mutation of `seed`: a byte flipped, a span cut, a line doubled or a token inserted.
fn mutate(seed: &str, rng: &mut StdRng) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..rng.random_range(1..4) {
        let at = rng.random_range(0..=bytes.len());
        match rng.random_range(0..4) {
            0 if at < bytes.len() => bytes[at] ^= 1 << rng.random_range(0..8),
            1 => {
                let end = (at + rng.random_range(0..40)).min(bytes.len());
                bytes.drain(at..end);
            }
            2 => {
                let start = bytes[..at]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                let end = bytes[at..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| at + p + 1);
                let line = bytes[start..end].to_vec();
                bytes.splice(start..start, line);
            }
            _ => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                bytes.splice(at..at, token.bytes());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Feeds every seed and its mutations to `read`; returns the inputs that panicked.
fn panicking_inputs(seeds: &[String], read: impl Fn(&str)) -> (usize, Vec<String>) {
    let mut rng = StdRng::seed_from_u64(0x6879_6272_6964);
    let mut tried = 0;
    let mut panicked = Vec::new();
    for seed in seeds {
        let inputs = std::iter::once(seed.clone())
            .chain((0..MUTATIONS).map(|_| mutate(seed, &mut rng)))
            .collect::<Vec<_>>();
        for input in inputs {
            tried += 1;
            if catch_unwind(AssertUnwindSafe(|| read(&input))).is_err() {
                panicked.push(input);
            }
        }
    }
    (tried, panicked)
}

fn assert_no_panic(target: &str, seeds: Vec<String>, read: impl Fn(&str)) {
    let (tried, panicked) = panicking_inputs(&seeds, read);
    assert!(
        tried > seeds.len() * MUTATIONS / 2,
        "{target}: only {tried} inputs"
    );
    assert!(
        panicked.is_empty(),
        "{target}: {} of {tried} inputs panicked; the first: {:?}",
        panicked.len(),
        panicked[0]
    );
}

#[test]
fn no_suite_panics_the_suite_reader() {
    let fixtures = FixtureSet::load(None).expect("the embedded fixtures load");
    let mut seeds = corpus("suite");
    seeds.extend(source::embedded_suites().into_iter().map(|f| f.text));
    assert_no_panic("suite", seeds, |text| read_suite(text, &fixtures));
}

#[test]
fn no_fixture_panics_the_fixture_reader() {
    let mut seeds = corpus("fixture");
    seeds.extend(source::embedded_fixtures().into_iter().map(|f| f.text));
    assert_no_panic("fixture", seeds, read_fixture);
}

#[test]
fn no_expression_panics_the_tag_parser() {
    assert_no_panic("tag_expr", corpus("tag_expr"), read_tag_expr);
}

#[test]
fn a_panicking_reader_is_caught_and_shown() {
    let (tried, panicked) = panicking_inputs(&["a&&b".to_string()], |text| {
        assert!(!text.contains('('), "a parenthesis");
    });
    assert_eq!(tried, MUTATIONS + 1);
    assert!(!panicked.is_empty(), "some mutation inserts a parenthesis");
    assert!(panicked.iter().all(|input| input.contains('(')));
}
