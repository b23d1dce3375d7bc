//! [`ClassifyCache`]: a small per-session cache of the slow path's verdicts.
//!
//! The fast path costs about what a hash-and-compare lookup would, and statements with
//! literal values are all different, so caching every classification would mostly
//! thrash and allocate. What is worth caching is the sqlparser verdict for the
//! statements the fast path hands over (CTEs and other odd shapes, microseconds each),
//! keyed by that statement's text. The cache is direct-mapped, owned by one session
//! (`&mut self`, no locks), and never grows past its capacity.

use super::deep::{analyze, DeepVerdict};
use super::{classify_with, Classification};

/// Statements longer than this are parsed every time rather than copied into the cache.
const MAX_KEY: usize = 4096;

/// One cached verdict.
#[derive(Debug)]
struct Slot {
    hash: u64,
    text: Box<str>,
    verdict: DeepVerdict,
}

/// A bounded cache of classifications keyed by statement text.
#[derive(Debug)]
pub struct ClassifyCache {
    slots: Vec<Option<Slot>>,
    hits: u64,
    misses: u64,
}

impl Default for ClassifyCache {
    fn default() -> Self {
        Self::new()
    }
}

impl ClassifyCache {
    /// Slots in a cache made by [`ClassifyCache::new`].
    pub const DEFAULT_CAPACITY: usize = 64;

    /// A cache with [`ClassifyCache::DEFAULT_CAPACITY`] slots.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A cache with `capacity` slots, rounded up to a power of two (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        let n = capacity.max(1).next_power_of_two();
        ClassifyCache {
            slots: (0..n).map(|_| None).collect(),
            hits: 0,
            misses: 0,
        }
    }

    /// Classifies `sql` like [`super::classify`], answering the slow path from the
    /// cache when it can.
    pub fn get_or_classify(&mut self, sql: &[u8]) -> Classification {
        classify_with(sql, &mut |text| self.deep(text))
    }

    /// Slow-path lookups answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Slow-path lookups that had to parse.
    pub fn misses(&self) -> u64 {
        self.misses
    }

    /// Occupied slots.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn deep(&mut self, text: &str) -> DeepVerdict {
        let hash = hash(text.as_bytes());
        // The slot count is a power of two, so the mask keeps the index in bounds.
        let index = (hash as usize) & (self.slots.len() - 1);
        if let Some(slot) = self.slots.get(index).and_then(Option::as_ref) {
            if slot.hash == hash && *slot.text == *text {
                self.hits += 1;
                return slot.verdict;
            }
        }
        self.misses += 1;
        let verdict = analyze(text);
        if text.len() <= MAX_KEY {
            if let Some(entry) = self.slots.get_mut(index) {
                *entry = Some(Slot {
                    hash,
                    text: text.into(),
                    verdict,
                });
            }
        }
        verdict
    }
}

/// A fast non-cryptographic hash of the statement text (the slot index and a quick
/// reject before comparing texts).
fn hash(bytes: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(bytes);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::classify::{classify, Target};

    #[test]
    fn caches_slow_path_verdicts() {
        let mut cache = ClassifyCache::with_capacity(4);
        let cte = b"WITH a AS (SELECT 1) SELECT * FROM a";
        let first = cache.get_or_classify(cte);
        assert_eq!(first, classify(cte));
        assert_eq!(first.target, Target::Replica);
        assert_eq!((cache.hits(), cache.misses()), (0, 1));
        assert_eq!(cache.get_or_classify(cte), first);
        assert_eq!((cache.hits(), cache.misses()), (1, 1));
        // Fast-path statements never touch the cache.
        cache.get_or_classify(b"SELECT 1");
        assert_eq!(cache.len(), 1);
        for i in 0..100 {
            let sql = format!("WITH a AS (SELECT {i}) SELECT * FROM a");
            assert_eq!(
                cache.get_or_classify(sql.as_bytes()).target,
                Target::Replica
            );
        }
        assert!(cache.len() <= 4);
    }
}
