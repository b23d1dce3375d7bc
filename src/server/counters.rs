//! Proxy-wide counters the admin port and `/metrics` report: client connections, and
//! routing decisions by reason. Everything here is bumped on the query path, so it is
//! relaxed atomics only — no lock, no map lookup.

use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// Client connection counters (the live count is the session registry's length).
#[derive(Debug, Default)]
pub struct ClientStats {
    /// TCP connections accepted.
    pub accepted: AtomicU64,
    /// Handshakes that ended in an access-denied error.
    pub auth_failures: AtomicU64,
    /// Handshakes that failed otherwise (bad packets, TLS, timeouts, refused logins).
    pub handshake_errors: AtomicU64,
    /// Connections refused with ERR 1040 (`[proxy] max_client_connections` reached).
    pub too_many: AtomicU64,
}

/// Distinct reason names the table can hold (there are a few dozen).
const SLOTS: usize = 128;

#[derive(Debug, Default)]
struct Slot {
    /// Address of the reason's `&'static str` bytes; null while free.
    name: AtomicPtr<u8>,
    /// Its length; 0 until the claiming thread has stored it.
    len: AtomicUsize,
    to_primary: AtomicU64,
    to_replica: AtomicU64,
}

/// Statements routed, by the decision's reason name and whether they ran on the primary.
///
/// Reasons are `&'static str`s, so a reason is identified by the address of its text:
/// a lock-free open-addressing table keyed by that address, claimed with one
/// compare-and-swap the first time a reason is seen. Two literals with the same text
/// may take two slots; [`ReasonCounters::snapshot`] adds them up by name.
#[derive(Debug)]
pub struct ReasonCounters {
    slots: Vec<Slot>,
    /// Counts that found the table full (never expected).
    overflow: AtomicU64,
}

impl Default for ReasonCounters {
    fn default() -> Self {
        ReasonCounters {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
            overflow: AtomicU64::new(0),
        }
    }
}

/// Routing counts of one reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonCount {
    /// The reason name.
    pub reason: String,
    /// Statements that ran on the primary (the writer).
    pub to_primary: u64,
    /// Statements that ran elsewhere.
    pub to_replica: u64,
}

impl ReasonCounters {
    /// Counts one statement routed for `reason`.
    #[inline]
    pub fn count(&self, reason: &'static str, to_primary: bool) {
        let ptr = reason.as_ptr() as *mut u8;
        let mut i = ((ptr as usize >> 2).wrapping_mul(0x9E37_79B9)) % SLOTS;
        for _ in 0..SLOTS {
            let slot = &self.slots[i];
            let cur = slot.name.load(Ordering::Acquire);
            let mine = if cur == ptr {
                true
            } else if cur.is_null() {
                match slot.name.compare_exchange(
                    std::ptr::null_mut(),
                    ptr,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        slot.len.store(reason.len(), Ordering::Release);
                        true
                    }
                    Err(other) => other == ptr,
                }
            } else {
                false
            };
            if mine {
                let c = if to_primary {
                    &slot.to_primary
                } else {
                    &slot.to_replica
                };
                c.fetch_add(1, Ordering::Relaxed);
                return;
            }
            i = (i + 1) % SLOTS;
        }
        self.overflow.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts by reason name, sorted by name.
    pub fn snapshot(&self) -> Vec<ReasonCount> {
        let mut by: std::collections::BTreeMap<String, ReasonCount> = Default::default();
        for s in &self.slots {
            let ptr = s.name.load(Ordering::Acquire);
            let len = s.len.load(Ordering::Acquire);
            if ptr.is_null() || len == 0 {
                continue;
            }
            // SAFETY: `ptr` and `len` were taken from a `&'static str` in `count` (the
            // length is stored only by the thread that claimed the slot with that
            // pointer), so they describe valid UTF-8 that lives forever.
            let name =
                unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr, len)) };
            let e = by.entry(name.to_string()).or_insert_with(|| ReasonCount {
                reason: name.to_string(),
                ..Default::default()
            });
            e.to_primary += s.to_primary.load(Ordering::Relaxed);
            e.to_replica += s.to_replica.load(Ordering::Relaxed);
        }
        by.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_reason_across_threads() {
        let c = std::sync::Arc::new(ReasonCounters::default());
        let reasons: [&'static str; 4] = ["select", "insert", "transaction", "hint"];
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        c.count(reasons[(i + t) % 4], i % 2 == 0);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let snap = c.snapshot();
        assert_eq!(snap.len(), 4);
        for r in &snap {
            assert_eq!((r.to_primary, r.to_replica), (500, 500), "{r:?}");
        }
        // The same text from another literal adds up under one name.
        let other = String::from("select").leak();
        c.count(other, true);
        let select = c.snapshot().into_iter().find(|r| r.reason == "select");
        assert_eq!(select.unwrap().to_primary, 501);
    }
}
