//! The open-loop arrival schedule: request `i` is due at `start + i / rate`, whatever
//! happened to the requests before it. Latency is measured from that due time, so a
//! server (or proxy) that queues requests cannot hide the wait, as it can from a
//! closed-loop client that only sends when the previous answer came back.

use std::time::{Duration, Instant};

/// An arrival that starts this much after its due time is counted as late.
pub const LATE_AFTER: Duration = Duration::from_millis(10);

/// Constant-rate arrivals.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: Instant,
    rate: f64,
}

impl Schedule {
    /// `rate` arrivals a second from `start` (`rate > 0`).
    pub fn new(start: Instant, rate: f64) -> Schedule {
        Schedule { start, rate }
    }

    /// When arrival `i` (0-based) is due. Computed from `i`, not by adding intervals, so
    /// rounding never drifts over a long run.
    pub fn due(&self, i: u64) -> Instant {
        self.start + Duration::from_secs_f64(i as f64 / self.rate)
    }

    /// Number of arrivals due before `start + duration`.
    pub fn count_within(&self, duration: Duration) -> u64 {
        (duration.as_secs_f64() * self.rate).ceil() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_evenly_spaced_without_drift() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 8000.0);
        assert_eq!(s.due(0), t0);
        assert_eq!(s.due(8000) - t0, Duration::from_secs(1));
        assert_eq!(s.due(8_000 * 3600) - t0, Duration::from_secs(3600));
        let gap = s.due(11) - s.due(10);
        assert!(gap >= Duration::from_micros(124) && gap <= Duration::from_micros(126));
    }

    #[test]
    fn count_within_matches_due() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 3.0);
        let n = s.count_within(Duration::from_secs(10));
        assert_eq!(n, 30);
        assert!(s.due(n - 1) < t0 + Duration::from_secs(10));
        assert!(s.due(n) >= t0 + Duration::from_secs(10));
        assert_eq!(
            Schedule::new(t0, 0.5).count_within(Duration::from_secs(3)),
            2
        );
    }
}
