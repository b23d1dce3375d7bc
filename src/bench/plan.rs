//! `rwproxy bench --plan`: the back-of-the-envelope arithmetic that turns a user base into
//! a request rate to test with. Users × active share × actions per visit gives actions a
//! day; most traffic falls in the busy hours (by default 80% of it in 20% of the day), and
//! the peak minute runs a few times above the busy-hours average.

/// Seconds in a day.
const DAY_S: f64 = 86_400.0;

/// The inputs, each a `--plan-*` flag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanInput {
    /// Registered users.
    pub users: f64,
    /// Share of them active on a given day (0–1).
    pub active_share: f64,
    /// Actions (requests) per active user per day.
    pub actions_per_visit: f64,
    /// Share of the day's traffic that falls in the busy hours (0–1).
    pub busy_traffic_share: f64,
    /// Share of the day the busy hours last (0–1).
    pub busy_day_share: f64,
    /// Peak over busy-hours average.
    pub peak_factor: f64,
}

impl Default for PlanInput {
    fn default() -> Self {
        PlanInput {
            users: 10_000_000.0,
            active_share: 0.2,
            actions_per_visit: 30.0,
            busy_traffic_share: 0.8,
            busy_day_share: 0.2,
            peak_factor: 3.0,
        }
    }
}

/// The results, in requests per second.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Plan {
    /// Actions a day.
    pub actions_per_day: f64,
    /// Averaged over the whole day.
    pub average_rps: f64,
    /// Averaged over the busy hours.
    pub busy_rps: f64,
    /// At the peak: the rate to test with (`--rate`).
    pub peak_rps: f64,
}

impl PlanInput {
    /// Checks the shares are in (0, 1] and the counts positive.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("--plan-active-share", self.active_share),
            ("--plan-busy-traffic-share", self.busy_traffic_share),
            ("--plan-busy-day-share", self.busy_day_share),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                return Err(format!("{name} must be in (0, 1], not {v}"));
            }
        }
        for (name, v) in [
            ("--plan-users", self.users),
            ("--plan-actions", self.actions_per_visit),
            ("--plan-peak-factor", self.peak_factor),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(format!("{name} must be > 0, not {v}"));
            }
        }
        Ok(())
    }

    /// The arithmetic.
    pub fn compute(&self) -> Plan {
        let actions_per_day = self.users * self.active_share * self.actions_per_visit;
        let average_rps = actions_per_day / DAY_S;
        let busy_rps = actions_per_day * self.busy_traffic_share / (DAY_S * self.busy_day_share);
        Plan {
            actions_per_day,
            average_rps,
            busy_rps,
            peak_rps: busy_rps * self.peak_factor,
        }
    }

    /// The arithmetic spelled out, one step a line.
    pub fn explain(&self) -> String {
        let p = self.compute();
        format!(
            "capacity plan\n\
             \x20 {users} users x {active}% active x {actions} actions = {day} actions/day\n\
             \x20 average over the day:  {day} / 86,400 s = {avg} req/s\n\
             \x20 busy hours ({bt}% of traffic in {bd}% of the day = {bdh:.1} h): {day} x {bt}% / {bds} s = {busy} req/s\n\
             \x20 peak ({pf}x the busy-hours average): {peak} req/s\n\
             test with: rwproxy bench --rate {rate} ...",
            users = group(self.users),
            active = trim(self.active_share * 100.0),
            actions = trim(self.actions_per_visit),
            day = group(p.actions_per_day),
            avg = group(p.average_rps),
            bt = trim(self.busy_traffic_share * 100.0),
            bd = trim(self.busy_day_share * 100.0),
            bdh = 24.0 * self.busy_day_share,
            bds = group(DAY_S * self.busy_day_share),
            busy = group(p.busy_rps),
            pf = trim(self.peak_factor),
            peak = group(p.peak_rps),
            rate = p.peak_rps.round() as u64,
        )
    }
}

/// A number rounded to an integer with thousands separators: 8333.3 → "8,333".
pub fn group(v: f64) -> String {
    let digits = format!("{}", v.round() as i64);
    let (sign, digits) = digits
        .strip_prefix('-')
        .map_or(("", digits.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// A number without a trailing `.0`.
fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_million_users_need_about_8000_rps_at_peak() {
        let p = PlanInput::default().compute();
        assert_eq!(p.actions_per_day, 60_000_000.0);
        assert!((p.average_rps - 694.4).abs() < 0.1, "{p:?}");
        assert!((p.busy_rps - 2777.8).abs() < 0.1, "{p:?}");
        assert!((p.peak_rps - 8333.3).abs() < 0.1, "{p:?}");
        let text = PlanInput::default().explain();
        assert!(text.contains("60,000,000 actions/day"), "{text}");
        assert!(text.contains("--rate 8333"), "{text}");
    }

    #[test]
    fn flat_traffic_has_no_busy_hours() {
        let input = PlanInput {
            busy_traffic_share: 1.0,
            busy_day_share: 1.0,
            peak_factor: 1.0,
            ..PlanInput::default()
        };
        let p = input.compute();
        assert_eq!(p.average_rps, p.busy_rps);
        assert_eq!(p.busy_rps, p.peak_rps);
    }

    #[test]
    fn bad_shares_are_refused() {
        let bad = PlanInput {
            active_share: 1.5,
            ..PlanInput::default()
        };
        assert!(bad.validate().unwrap_err().contains("--plan-active-share"));
        let bad = PlanInput {
            peak_factor: 0.0,
            ..PlanInput::default()
        };
        assert!(bad.validate().is_err());
        assert!(PlanInput::default().validate().is_ok());
    }

    #[test]
    fn grouping() {
        assert_eq!(group(8333.3), "8,333");
        assert_eq!(group(999.0), "999");
        assert_eq!(group(1_000_000.0), "1,000,000");
        assert_eq!(group(-1234.0), "-1,234");
        assert_eq!(trim(20.0), "20");
        assert_eq!(trim(2.5), "2.5");
    }
}
