//! Per-fingerprint statement statistics (`SHOW DIGESTS`): count, errors, time (total,
//! mean, p99), rows, and where the statements ran. A `DashMap` keyed by the
//! fingerprint's hash holds shared entries of atomics, so recording a text statement
//! takes a shard read lock and a few relaxed adds; a fingerprint's text is copied once,
//! when first seen. A prepared statement keeps its entry ([`DigestRef`]) and records with
//! no map read at all. The map is capped: once full, new fingerprints count under one
//! `(other)` entry.

use super::fingerprint::{fingerprint, hash};
use crate::replication::latency::{LatencyHistogram, LatencySnapshot};
use dashmap::DashMap;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Key of the entry that collects fingerprints beyond the cap.
const OTHER: u64 = 0;

/// Statistics of one fingerprint.
#[derive(Debug, Default)]
pub struct DigestStats {
    /// The fingerprint.
    pub text: String,
    /// Executions.
    pub count: AtomicU64,
    /// Executions that ended in an ERR packet.
    pub errors: AtomicU64,
    /// Rows returned or affected.
    pub rows: AtomicU64,
    /// Executions on the primary (the writer).
    pub on_primary: AtomicU64,
    /// Executions on other backends.
    pub on_replica: AtomicU64,
    /// Response times.
    pub latency: LatencyHistogram,
}

impl DigestStats {
    fn add(&self, e: Execution) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(e.rows, Ordering::Relaxed);
        if e.error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let place = if e.on_primary {
            &self.on_primary
        } else {
            &self.on_replica
        };
        place.fetch_add(1, Ordering::Relaxed);
        self.latency.record(e.us);
    }
}

/// One execution, as recorded.
#[derive(Debug, Clone, Copy)]
pub struct Execution {
    /// Response time, µs.
    pub us: u64,
    /// Rows returned or affected.
    pub rows: u64,
    /// Ran on the primary.
    pub on_primary: bool,
    /// Ended in an ERR packet.
    pub error: bool,
}

/// A row of `SHOW DIGESTS`.
#[derive(Debug, Clone)]
pub struct DigestRow {
    /// Fingerprint hash.
    pub digest: u64,
    /// Fingerprint text.
    pub text: String,
    /// Executions.
    pub count: u64,
    /// Failed executions.
    pub errors: u64,
    /// Rows.
    pub rows: u64,
    /// On the primary.
    pub on_primary: u64,
    /// Elsewhere.
    pub on_replica: u64,
    /// Response times.
    pub latency: LatencySnapshot,
}

/// A digest entry kept by its user (a prepared statement), so each execution records
/// without a map read. It holds while the table is the one it came from: `TRUNCATE
/// DIGESTS` starts a new generation, and a kept entry of an older one is looked up again.
#[derive(Debug, Clone)]
pub struct DigestRef {
    generation: u64,
    stats: Arc<DigestStats>,
}

/// Keys are fingerprint hashes already: the map uses them as they are.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type KeyHash = std::hash::BuildHasherDefault<KeyHasher>;

/// The digest table.
#[derive(Debug)]
pub struct Digests {
    map: DashMap<u64, Arc<DigestStats>, KeyHash>,
    /// Bumped after each `clear`: kept entries ([`DigestRef`]) of an older one are stale.
    generation: AtomicU64,
    /// Recording on (`[admin] digests`).
    pub enabled: AtomicBool,
    /// Most fingerprints kept (`[admin] max_digests`).
    pub max: AtomicUsize,
}

impl Default for Digests {
    fn default() -> Self {
        Digests {
            map: DashMap::with_hasher(KeyHash::default()),
            generation: AtomicU64::new(0),
            enabled: AtomicBool::new(true),
            max: AtomicUsize::new(2000),
        }
    }
}

thread_local! {
    static BUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(256));
}

impl Digests {
    /// Calls `f` with the entry of `sql`'s fingerprint, created if needed (or
    /// `(other)` once the map is full), while the map holds it: no reference count is
    /// taken unless `f` takes one.
    fn with_entry<R>(&self, sql: &[u8], f: impl FnOnce(&Arc<DigestStats>) -> R) -> R {
        BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            fingerprint(sql, &mut buf);
            let mut key = hash(&buf);
            if key == OTHER {
                key = 1;
            }
            if let Some(d) = self.map.get(&key) {
                return f(&d);
            }
            let (key, text) = if self.map.len() >= self.max.load(Ordering::Relaxed) {
                (OTHER, "(other)".to_owned())
            } else {
                (key, String::from_utf8_lossy(&buf).into_owned())
            };
            let d = self.map.entry(key).or_insert_with(|| {
                Arc::new(DigestStats {
                    text,
                    ..Default::default()
                })
            });
            f(&d)
        })
    }

    /// Records one execution of `sql` (text protocol): a fingerprint pass and one map
    /// read.
    pub fn record_sql(&self, sql: &[u8], e: Execution) {
        if self.enabled.load(Ordering::Relaxed) {
            self.with_entry(sql, |d| d.add(e));
        }
    }

    /// Records one execution of the prepared statement `sql` whose entry `kept` holds:
    /// through it when it is of this table's generation, else after looking it up
    /// (and keeping it) again.
    pub fn record_kept(&self, kept: &mut Option<DigestRef>, sql: &[u8], e: Execution) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let generation = self.generation.load(Ordering::Acquire);
        match kept {
            Some(k) if k.generation == generation => k.stats.add(e),
            _ => {
                let stats = self.with_entry(sql, |d| {
                    d.add(e);
                    Arc::clone(d)
                });
                *kept = Some(DigestRef { generation, stats });
            }
        }
    }

    /// The `limit` fingerprints with the most total time, executed at least once.
    pub fn top(&self, limit: usize) -> Vec<DigestRow> {
        let mut rows: Vec<DigestRow> = self
            .map
            .iter()
            .filter(|e| e.count.load(Ordering::Relaxed) > 0)
            .map(|e| DigestRow {
                digest: *e.key(),
                text: e.text.clone(),
                count: e.count.load(Ordering::Relaxed),
                errors: e.errors.load(Ordering::Relaxed),
                rows: e.rows.load(Ordering::Relaxed),
                on_primary: e.on_primary.load(Ordering::Relaxed),
                on_replica: e.on_replica.load(Ordering::Relaxed),
                latency: e.latency.snapshot(),
            })
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.latency.sum_us));
        rows.truncate(limit);
        rows
    }

    /// Forgets every fingerprint; entries kept by prepared statements are looked up
    /// again at their next execution.
    pub fn clear(&self) {
        // Cleared first: whoever reads the new generation finds only new entries. An
        // entry kept under the old one may take a last execution meanwhile, like any
        // record that races the clear.
        self.map.clear();
        self.generation.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(us: u64, on_primary: bool) -> Execution {
        Execution {
            us,
            rows: 1,
            on_primary,
            error: false,
        }
    }

    #[test]
    fn groups_by_fingerprint_and_caps() {
        let d = Digests::default();
        for i in 0..10 {
            d.record_sql(
                format!("SELECT v FROM r WHERE id = {i}").as_bytes(),
                ex(100, false),
            );
        }
        d.record_sql(b"UPDATE r SET v = 1 WHERE id = 2", ex(5000, true));
        let top = d.top(10);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].text, "update r set v = ? where id = ?");
        assert_eq!((top[0].count, top[0].on_primary), (1, 1));
        assert_eq!(top[1].text, "select v from r where id = ?");
        assert_eq!((top[1].count, top[1].on_replica, top[1].rows), (10, 10, 10));
        d.max.store(2, Ordering::Relaxed);
        d.record_sql(b"DELETE FROM r", ex(1, true));
        assert!(d
            .top(10)
            .iter()
            .any(|r| r.text == "(other)" && r.count == 1));
        d.enabled.store(false, Ordering::Relaxed);
        d.record_sql(b"SELECT 1", ex(1, false));
        assert!(d.top(10).iter().all(|r| r.text != "select ?"));
    }

    #[test]
    fn a_kept_entry_records_until_the_table_is_cleared_then_is_renewed() {
        let d = Digests::default();
        let sql = b"SELECT v FROM r WHERE id = ?";
        let mut kept = None;
        d.record_kept(&mut kept, sql, ex(10, false));
        d.record_kept(&mut kept, sql, ex(10, false));
        assert_eq!(d.top(10)[0].count, 2);
        d.clear();
        d.record_kept(&mut kept, sql, ex(10, false));
        let top = d.top(10);
        assert_eq!(top.len(), 1);
        assert_eq!(
            (top[0].text.as_str(), top[0].count),
            ("select v from r where id = ?", 1)
        );
        d.enabled.store(false, Ordering::Relaxed);
        d.record_kept(&mut kept, sql, ex(10, false));
        assert_eq!(d.top(10)[0].count, 1);
    }
}
