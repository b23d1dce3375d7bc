//! A lock-free latency histogram: log-linear buckets (four per power of two, so a bucket
//! is at most 25% wide) of relaxed atomic counters. Recording costs two `fetch_add`s and a
//! few shifts, so every statement can be recorded on the query path; readers (SHOW
//! BACKENDS, `/metrics`) take a snapshot and derive percentiles from it.

use std::sync::atomic::{AtomicU64, Ordering};

/// Sub-buckets per power of two.
const SUB: usize = 4;
/// Highest power of two with buckets of its own (2^31 µs ≈ 36 min); longer samples
/// land in the last bucket.
const MAX_OCTAVE: usize = 31;
/// Number of buckets: values 0..4 µs one each, then four per octave 2..=31.
pub const BUCKETS: usize = SUB + (MAX_OCTAVE - 1) * SUB;

/// Bucket of a sample of `us` microseconds.
fn bucket(us: u64) -> usize {
    if us < SUB as u64 {
        return us as usize;
    }
    let octave = 63 - us.leading_zeros() as usize;
    if octave > MAX_OCTAVE {
        return BUCKETS - 1;
    }
    let sub = ((us >> (octave - 2)) & 3) as usize;
    SUB + (octave - 2) * SUB + sub
}

/// The half-open range `[low, high)` of microseconds bucket `i` holds.
fn bounds(i: usize) -> (u64, u64) {
    if i < SUB {
        return (i as u64, i as u64 + 1);
    }
    let octave = (i - SUB) / SUB + 2;
    let sub = ((i - SUB) % SUB) as u64;
    ((4 + sub) << (octave - 2), (5 + sub) << (octave - 2))
}

/// Response times in microseconds.
#[derive(Debug)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; BUCKETS],
    sum_us: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    /// Records one sample.
    #[inline]
    pub fn record(&self, us: u64) {
        self.buckets[bucket(us)].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// A consistent-enough copy for reporting (each counter read once, relaxed).
    pub fn snapshot(&self) -> LatencySnapshot {
        let buckets: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        LatencySnapshot {
            count: buckets.iter().sum(),
            buckets,
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

/// A copy of a [`LatencyHistogram`].
#[derive(Debug, Clone, Default)]
pub struct LatencySnapshot {
    /// Samples per bucket.
    pub buckets: Vec<u64>,
    /// Number of samples.
    pub count: u64,
    /// Sum of all samples, µs.
    pub sum_us: u64,
}

impl LatencySnapshot {
    /// The `q` quantile (0..=1) in milliseconds, interpolated inside its bucket; None
    /// without samples.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * self.count as f64).max(1.0);
        let mut seen = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            if n == 0 {
                continue;
            }
            if (seen + n) as f64 >= rank {
                let (low, high) = bounds(i);
                let within = (rank - seen as f64) / n as f64;
                let us = low as f64 + within * (high - low) as f64;
                return Some(us / 1000.0);
            }
            seen += n;
        }
        let (low, _) = bounds(BUCKETS - 1);
        Some(low as f64 / 1000.0)
    }

    /// Mean in milliseconds; None without samples.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_us as f64 / self.count as f64 / 1000.0)
    }

    /// Cumulative counts at power-of-two bounds from 32 µs to 2^25 µs (≈ 34 s), as
    /// (upper bound in seconds, samples at or below it) — Prometheus `le` buckets. The
    /// caller adds `+Inf` = `count`.
    pub fn prometheus_buckets(&self) -> Vec<(f64, u64)> {
        let mut out = Vec::with_capacity(21);
        let mut cumulative = 0u64;
        let mut next = 0usize;
        for octave in 5..=25usize {
            // Buckets wholly below 2^octave µs.
            let end = SUB + (octave - 2) * SUB;
            while next < end.min(BUCKETS) {
                cumulative += self.buckets.get(next).copied().unwrap_or(0);
                next += 1;
            }
            out.push(((1u64 << octave) as f64 / 1e6, cumulative));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut last = 0;
        for us in 0..100_000u64 {
            let b = bucket(us);
            assert!(b >= last, "monotonic at {us}");
            let (low, high) = bounds(b);
            assert!(
                low <= us && us < high,
                "{us} in bucket {b} = [{low}, {high})"
            );
            last = b;
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert_eq!(bounds(BUCKETS - 1).1, 1 << (MAX_OCTAVE + 1));
    }

    #[test]
    fn quantiles_are_within_a_bucket() {
        let h = LatencyHistogram::default();
        for us in 1..=1000u64 {
            h.record(us * 10);
        }
        let s = h.snapshot();
        assert_eq!(s.count, 1000);
        let p50 = s.quantile_ms(0.5).unwrap();
        let p99 = s.quantile_ms(0.99).unwrap();
        assert!((4.0..6.3).contains(&p50), "p50 {p50}");
        assert!((8.0..12.5).contains(&p99), "p99 {p99}");
        assert!((s.mean_ms().unwrap() - 5.005).abs() < 1e-9);
        let prom = s.prometheus_buckets();
        assert_eq!(prom.last().unwrap().1, 1000);
        assert!(prom.windows(2).all(|w| w[0].1 <= w[1].1 && w[0].0 < w[1].0));
        // 2^14 µs = 16.384 ms: every sample (≤ 10 ms) is at or below it.
        assert_eq!(prom[14 - 5].1, 1000);
        assert_eq!(LatencySnapshot::default().quantile_ms(0.5), None);
    }
}
