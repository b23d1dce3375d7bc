//! Routing counters: relaxed atomics, bumped on the query path without locks.

use super::session::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

/// Proxy-wide routing counters.
#[derive(Debug, Default)]
pub struct RouteStats {
    /// Reads meant for a replica that went to the primary because none was usable.
    pub fallbacks: AtomicU64,
    /// Reads retried on another backend after a failure before any reply.
    pub retries: AtomicU64,
    /// Reads that waited for a replica to apply the session's last write.
    pub causal_waits: AtomicU64,
    /// Of those, the ones the replica did not catch up in time (read went to the primary).
    pub causal_timeouts: AtomicU64,
    /// Reads whose replica the monitor had already seen past the session's last write.
    pub causal_skips: AtomicU64,
    /// Times a session had to ask the primary for its binlog position because its
    /// connection did not report the GTIDs of its commits (`last_gtid` tracking off).
    pub causal_asks: AtomicU64,
    /// Statements classified as unknown or unparseable (sent to the primary).
    pub unknown: AtomicU64,
    /// Sessions pinned to the primary, per [`Pin`].
    pub pins: [AtomicU64; Pin::ALL.len()],
}

impl RouteStats {
    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a new pin.
    pub fn pinned(&self, pin: Pin) {
        Self::bump(&self.pins[pin as usize]);
    }

    /// A snapshot as (name, value) pairs.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut v = vec![
            ("fallbacks".to_string(), get(&self.fallbacks)),
            ("retries".to_string(), get(&self.retries)),
            ("unknown".to_string(), get(&self.unknown)),
            ("causal_waits".to_string(), get(&self.causal_waits)),
            ("causal_timeouts".to_string(), get(&self.causal_timeouts)),
            ("causal_skips".to_string(), get(&self.causal_skips)),
            ("causal_asks".to_string(), get(&self.causal_asks)),
        ];
        for p in Pin::ALL {
            v.push((format!("pin_{}", p.as_str()), get(&self.pins[p as usize])));
        }
        v
    }
}
