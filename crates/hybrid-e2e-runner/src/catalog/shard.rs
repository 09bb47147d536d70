//! `--shard K/N`: one of N stable, balanced parts of a selection, for CI jobs that split a run
//! across machines. After tags and name filters have picked cells (in catalog order), shard K
//! keeps the cells at positions i (from 0) with `i % N == K - 1`: round-robin, so the shards are
//! disjoint, together are the selection, and differ in size by at most one; and a cell's shard
//! depends only on the selection, never on the cluster or the clock.

use std::fmt;
use std::str::FromStr;

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

/// Why a `--shard` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not of the form `K/N`.
    #[error("want K/N (shard K of N, 1 <= K <= N), e.g. 2/3")]
    NotKOfN,
    /// K or N is not a whole number.
    #[error("{part} \"{text}\" is not a whole number (want K/N, e.g. 2/3)")]
    NotANumber {
        /// `K` or `N`.
        part: &'static str,
        /// What was written.
        text: String,
    },
    /// N is 0.
    #[error("N must be at least 1 (want K/N, e.g. 2/3)")]
    NoShards,
    /// K is 0 or above N.
    #[error("K must be 1 to {count}, not {index}")]
    OutOfRange {
        /// K as written.
        index: usize,
        /// N.
        count: usize,
    },
}

impl Shard {
    /// Shard `index` (1-based) of `count`.
    pub fn new(index: usize, count: usize) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards);
        }
        if index == 0 || index > count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// K: which shard, from 1.
    pub fn index(&self) -> usize {
        self.index
    }

    /// N: how many shards.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether the item at `position` (from 0) of the selection is in this shard.
    pub fn contains(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }

    /// This shard's part of `items`, in their order.
    pub fn take<T>(&self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.contains(*i))
            .map(|(_, item)| item)
            .collect()
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    /// Reads `K/N`, e.g. `2/3`.
    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let (index, count) = text.trim().split_once('/').ok_or(ShardError::NotKOfN)?;
        let number = |part: &'static str, text: &str| {
            let text = text.trim();
            let refused = || ShardError::NotANumber {
                part,
                text: text.to_string(),
            };
            // `+1` parses as a usize; only plain digits are a shard number.
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(refused());
            }
            text.parse::<usize>().map_err(|_| refused())
        };
        Shard::new(number("K", index)?, number("N", count)?)
    }
}

impl fmt::Display for Shard {
    /// `K/N`, as given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl serde::Serialize for Shard {
    /// As `"K/N"`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Shard, ShardError> {
        text.parse()
    }

    #[test]
    fn k_of_n_is_read_and_shown_as_given() {
        let shard = parse("2/3").expect("a shard");
        assert_eq!((shard.index(), shard.count()), (2, 3));
        assert_eq!(shard.to_string(), "2/3");
        assert_eq!(parse(" 1 / 1 ").expect("spaces"), Shard::new(1, 1).unwrap());
        assert_eq!(
            serde_json::to_string(&shard).expect("serialises"),
            "\"2/3\""
        );
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        let message = |text: &str| parse(text).expect_err(text).to_string();
        assert_eq!(message("0/3"), "K must be 1 to 3, not 0");
        assert_eq!(message("4/3"), "K must be 1 to 3, not 4");
        assert_eq!(
            message("3"),
            "want K/N (shard K of N, 1 <= K <= N), e.g. 2/3"
        );
        assert_eq!(
            message("a/b"),
            "K \"a\" is not a whole number (want K/N, e.g. 2/3)"
        );
        assert_eq!(message("1/0"), "N must be at least 1 (want K/N, e.g. 2/3)");
        assert_eq!(
            message("2/-1"),
            "N \"-1\" is not a whole number (want K/N, e.g. 2/3)"
        );
        assert_eq!(
            message("+1/2"),
            "K \"+1\" is not a whole number (want K/N, e.g. 2/3)"
        );
        assert!(parse("1/2/3").is_err());
        assert!(parse("1/99999999999999999999999").is_err());
    }

    #[test]
    fn shards_are_disjoint_cover_the_selection_and_are_balanced() {
        for len in 0..20usize {
            for count in 1..7usize {
                let items: Vec<usize> = (0..len).collect();
                let parts: Vec<Vec<usize>> = (1..=count)
                    .map(|k| Shard::new(k, count).unwrap().take(items.clone()))
                    .collect();
                let mut union: Vec<usize> = parts.iter().flatten().copied().collect();
                union.sort_unstable();
                assert_eq!(union, items, "{len} items, {count} shards: {parts:?}");
                let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
                let (min, max) = (sizes.iter().min(), sizes.iter().max());
                assert!(
                    max.zip(min).is_some_and(|(max, min)| max - min <= 1),
                    "{sizes:?}"
                );
            }
        }
    }

    #[test]
    fn shard_k_takes_every_nth_from_the_kth() {
        let items = ["a", "b", "c", "d", "e", "f", "g"];
        let take = |k| Shard::new(k, 3).unwrap().take(items.to_vec());
        assert_eq!(take(1), ["a", "d", "g"]);
        assert_eq!(take(2), ["b", "e"]);
        assert_eq!(take(3), ["c", "f"]);
    }
}
