//! `--partition K/N`: which part of a selection of scenarios one CI job
//! runs. A scenario belongs to part `fnv1a64(id) % N + 1`, so the N parts
//! are disjoint, together cover the selection, and a scenario stays in
//! its part whatever else the library holds, on every platform and Rust
//! version (FNV-1a is fixed by its definition, unlike std's hasher). Owns
//! parsing and validating `K/N` and the split; it loads nothing and runs
//! nothing.

use std::str::FromStr;

use crate::load::scenario::Scenario;

/// Part `index` (1-based) of `count` parts.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub struct Partition {
    pub index: u64,
    pub count: u64,
}

/// A `K/N` that does not name a part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    #[error("partition `{0}`: expected K/N, e.g. 1/3")]
    Shape(String),
    #[error("partition `{0}`: K and N must be whole numbers, e.g. 1/3")]
    Number(String),
    #[error("partition `{text}`: K must be from 1 to N ({count})")]
    Range { text: String, count: u64 },
}

impl FromStr for Partition {
    type Err = PartitionError;

    fn from_str(s: &str) -> Result<Partition, PartitionError> {
        let text = s.trim();
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| PartitionError::Shape(text.to_string()))?;
        let number = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map_err(|_| PartitionError::Number(text.to_string()))
        };
        let (index, count) = (number(k)?, number(n)?);
        if count == 0 || index == 0 || index > count {
            return Err(PartitionError::Range {
                text: text.to_string(),
                count,
            });
        }
        Ok(Partition { index, count })
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Partition {
    /// Whether the scenario with this id belongs to this part.
    pub fn contains(&self, id: &str) -> bool {
        part_of(id, self.count) == self.index
    }

    /// Keeps the scenarios of this part, in their order.
    pub fn select(&self, mut scenarios: Vec<Scenario>) -> Vec<Scenario> {
        scenarios.retain(|s| self.contains(&s.id));
        scenarios
    }
}

/// Keeps the scenarios of `partition` when one is given.
pub fn select(scenarios: Vec<Scenario>, partition: Option<Partition>) -> Vec<Scenario> {
    match partition {
        Some(p) => p.select(scenarios),
        None => scenarios,
    }
}

/// The 1-based part of `count` that the id falls in.
pub fn part_of(id: &str, count: u64) -> u64 {
    fnv1a64(id.as_bytes()) % count.max(1) + 1
}

/// 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("1/3", 1, 3)]
    #[case("3/3", 3, 3)]
    #[case(" 2 / 5 ", 2, 5)]
    #[case("1/1", 1, 1)]
    fn parses_k_of_n(#[case] text: &str, #[case] index: u64, #[case] count: u64) {
        assert_eq!(text.parse(), Ok(Partition { index, count }));
    }

    #[rstest]
    #[case("0/3", "K must be from 1 to N (3)")]
    #[case("4/3", "K must be from 1 to N (3)")]
    #[case("1/0", "K must be from 1 to N (0)")]
    #[case("3", "expected K/N")]
    #[case("a/3", "whole numbers")]
    #[case("-1/3", "whole numbers")]
    #[case("1/3/4", "whole numbers")]
    fn rejects_what_names_no_part(#[case] text: &str, #[case] says: &str) {
        let err = text.parse::<Partition>().unwrap_err().to_string();
        assert!(err.contains(says), "{text}: {err}");
        assert!(err.contains(text.trim()), "names the value: {err}");
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn prints_as_written() {
        assert_eq!("2/4".parse::<Partition>().unwrap().to_string(), "2/4");
    }

    proptest! {
        #[test]
        fn parts_are_disjoint_and_cover_the_selection(
            ids in proptest::collection::btree_set("[a-z_]{1,8}(/[a-z0-9_]{1,12}){0,2}", 0..60),
            count in 1u64..9,
        ) {
            let parts: Vec<Partition> = (1..=count)
                .map(|index| Partition { index, count })
                .collect();
            for id in &ids {
                let holders = parts.iter().filter(|p| p.contains(id)).count();
                prop_assert_eq!(holders, 1, "{} is in {} parts of {}", id, holders, count);
            }
            let total: usize = parts
                .iter()
                .map(|p| ids.iter().filter(|id| p.contains(id)).count())
                .sum();
            prop_assert_eq!(total, ids.len());
        }
    }
}
