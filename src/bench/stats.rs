//! What a run measured: a latency histogram per action (hdrhistogram, microseconds), an
//! interval histogram for the live p99, and counters for statements, checkouts, errors by
//! MySQL error code, stale reads and open-loop arrivals that were dropped or late.

use super::visit::Action;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Largest latency the histograms hold (60 s); longer ones are recorded as 60 s.
const MAX_LATENCY_US: u64 = 60_000_000;

/// Client-side error codes (as the MySQL client library numbers them) for failures that
/// carry no server error code.
pub mod client_codes {
    /// CR_UNKNOWN_ERROR: anything else the driver reported.
    pub const UNKNOWN: u16 = 2000;
    /// CR_CONN_HOST_ERROR: could not connect.
    pub const CONNECT: u16 = 2003;
    /// CR_SERVER_LOST: the connection broke during a query.
    pub const LOST: u16 = 2013;
    /// CR_MALFORMED_PACKET: the driver could not make sense of a reply.
    pub const MALFORMED: u16 = 2027;
}

/// The MySQL error code of a driver error: the server's own code, or a client code.
pub fn error_code(e: &mysql_async::Error, connecting: bool) -> u16 {
    match e {
        mysql_async::Error::Server(s) => s.code,
        mysql_async::Error::Io(_) if connecting => client_codes::CONNECT,
        mysql_async::Error::Io(_) => client_codes::LOST,
        mysql_async::Error::Driver(_) => client_codes::MALFORMED,
        _ => client_codes::UNKNOWN,
    }
}

/// What one successful action did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Statements sent.
    pub statements: u32,
    /// A checkout committed.
    pub committed: bool,
    /// A checkout found too little stock and rolled back.
    pub out_of_stock: bool,
    /// A read missed a write this connection had just committed.
    pub stale: bool,
}

fn histogram() -> Histogram<u64> {
    // Bounds and precision are constants known to be valid.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).unwrap_or_else(|_| unreachable!())
}

struct Inner {
    actions: Vec<(Histogram<u64>, u64)>,
    interval: Histogram<u64>,
    errors_by_code: BTreeMap<u16, u64>,
}

/// Shared by every worker of a run; cheap enough for tens of thousands of actions a second.
pub struct Stats {
    inner: Mutex<Inner>,
    /// Statements sent by successful actions.
    pub statements: AtomicU64,
    /// Committed checkouts.
    pub checkouts: AtomicU64,
    /// Checkouts rolled back for lack of stock.
    pub out_of_stock: AtomicU64,
    /// Reads that missed the connection's own committed write.
    pub stale_reads: AtomicU64,
    /// Failed actions and connection attempts.
    pub errors: AtomicU64,
    /// Open loop: arrivals not started because every in-flight slot was busy.
    pub dropped: AtomicU64,
    /// Open loop: arrivals started more than `LATE_AFTER` behind their schedule.
    pub late: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            inner: Mutex::new(Inner {
                actions: Action::ALL.iter().map(|_| (histogram(), 0)).collect(),
                interval: histogram(),
                errors_by_code: BTreeMap::new(),
            }),
            statements: AtomicU64::new(0),
            checkouts: AtomicU64::new(0),
            out_of_stock: AtomicU64::new(0),
            stale_reads: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            late: AtomicU64::new(0),
        }
    }
}

/// Per-action figures at the end of a run, latencies in milliseconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ActionSummary {
    /// Successful actions.
    pub count: u64,
    /// Failed actions.
    pub errors: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

fn ms(us: u64) -> f64 {
    (us as f64 / 10.0).round() / 100.0
}

fn summarize(h: &Histogram<u64>, errors: u64) -> ActionSummary {
    let empty = h.is_empty();
    let q = |p: f64| {
        if empty {
            0.0
        } else {
            ms(h.value_at_quantile(p))
        }
    };
    ActionSummary {
        count: h.len(),
        errors,
        p50_ms: q(0.50),
        p95_ms: q(0.95),
        p99_ms: q(0.99),
        max_ms: if empty { 0.0 } else { ms(h.max()) },
        mean_ms: if empty {
            0.0
        } else {
            (h.mean() / 10.0).round() / 100.0
        },
    }
}

impl Stats {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A worker that panicked while holding the lock left consistent counters behind.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a successful action that took `latency`.
    pub fn success(&self, action: Action, latency: Duration, o: &Outcome) {
        let us = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        {
            let mut inner = self.lock();
            inner.actions[action.index()].0.saturating_record(us);
            inner.interval.saturating_record(us);
        }
        self.statements
            .fetch_add(u64::from(o.statements), Ordering::Relaxed);
        self.checkouts
            .fetch_add(u64::from(o.committed), Ordering::Relaxed);
        self.out_of_stock
            .fetch_add(u64::from(o.out_of_stock), Ordering::Relaxed);
        self.stale_reads
            .fetch_add(u64::from(o.stale), Ordering::Relaxed);
    }

    /// Records a failure with MySQL error `code`, under `action` if it was one.
    pub fn failure(&self, action: Option<Action>, code: u16) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.lock();
        *inner.errors_by_code.entry(code).or_default() += 1;
        if let Some(a) = action {
            inner.actions[a.index()].1 += 1;
        }
    }

    /// The p99 (ms) of the actions recorded since the previous call, and their count.
    pub fn take_interval(&self) -> (f64, u64) {
        let mut inner = self.lock();
        let n = inner.interval.len();
        let p99 = if n == 0 {
            0.0
        } else {
            ms(inner.interval.value_at_quantile(0.99))
        };
        inner.interval.reset();
        (p99, n)
    }

    /// Per-action summaries (every action, in table order) and one over all actions.
    pub fn summaries(&self) -> (Vec<(Action, ActionSummary)>, ActionSummary) {
        let inner = self.lock();
        let mut all = histogram();
        let mut all_errors = 0;
        let per = Action::ALL
            .iter()
            .map(|&a| {
                let (h, e) = &inner.actions[a.index()];
                let _ = all.add(h);
                all_errors += e;
                (a, summarize(h, *e))
            })
            .collect();
        (per, summarize(&all, all_errors))
    }

    /// Errors by MySQL error code.
    pub fn errors_by_code(&self) -> BTreeMap<u16, u64> {
        self.lock().errors_by_code.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_recorded_latencies() {
        let s = Stats::default();
        let o = Outcome {
            statements: 2,
            ..Outcome::default()
        };
        for ms in 1..=100u64 {
            s.success(Action::Product, Duration::from_millis(ms), &o);
        }
        s.success(
            Action::Checkout,
            Duration::from_millis(5),
            &Outcome {
                statements: 9,
                committed: true,
                ..o
            },
        );
        let (per, all) = s.summaries();
        let product = &per[Action::Product.index()].1;
        assert_eq!(product.count, 100);
        assert!((49.9..=50.1).contains(&product.p50_ms), "{product:?}");
        assert!((94.9..=95.1).contains(&product.p95_ms), "{product:?}");
        assert!((98.9..=99.1).contains(&product.p99_ms), "{product:?}");
        assert!((99.9..=100.1).contains(&product.max_ms), "{product:?}");
        assert_eq!(all.count, 101);
        assert_eq!(s.statements.load(Ordering::Relaxed), 209);
        assert_eq!(s.checkouts.load(Ordering::Relaxed), 1);
        assert_eq!(per[Action::Home.index()].1.count, 0);
    }

    #[test]
    fn errors_are_counted_by_code_and_action() {
        let s = Stats::default();
        s.failure(Some(Action::Checkout), 1213);
        s.failure(Some(Action::Checkout), 1213);
        s.failure(None, client_codes::CONNECT);
        assert_eq!(s.errors.load(Ordering::Relaxed), 3);
        let by_code = s.errors_by_code();
        assert_eq!(by_code.get(&1213), Some(&2));
        assert_eq!(by_code.get(&2003), Some(&1));
        let (per, all) = s.summaries();
        assert_eq!(per[Action::Checkout.index()].1.errors, 2);
        assert_eq!(all.errors, 2);
    }

    #[test]
    fn the_interval_resets_each_take() {
        let s = Stats::default();
        s.success(Action::Home, Duration::from_millis(40), &Outcome::default());
        let (p99, n) = s.take_interval();
        assert_eq!(n, 1);
        assert!((39.9..=40.1).contains(&p99));
        assert_eq!(s.take_interval(), (0.0, 0));
        // Over-long latencies are clamped, never lost.
        s.success(Action::Home, Duration::from_secs(3600), &Outcome::default());
        assert_eq!(s.take_interval().1, 1);
    }

    #[test]
    fn server_codes_pass_through() {
        let e = mysql_async::Error::Server(mysql_async::ServerError {
            code: 1146,
            message: "no table".into(),
            state: "42S02".into(),
        });
        assert_eq!(error_code(&e, false), 1146);
    }
}
