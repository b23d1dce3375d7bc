//! Choosing a replica for a read: weighted random over the replicas that may take reads
//! now — weight > 0, state Online (the monitor's lag filter with hysteresis has already
//! moved lagging replicas out), lag within the backend's limit and the statement's own
//! bound — skipping any the caller has already tried. Weighted random keeps the spread
//! proportional to the weights at any load, which is what a DBA tuning weights expects.

use super::topology::{Backend, BackendState, Topology};
use rand::Rng;
use std::sync::Arc;

/// Picks a replica for a read, or None when no replica may take reads. `max_lag_ms`
/// is the statement's own staleness bound, if any.
pub fn pick_replica(
    topology: &Topology,
    exclude: &[&str],
    max_lag_ms: Option<u64>,
) -> Option<Arc<Backend>> {
    pick_reader(topology, exclude, max_lag_ms, false)
}

/// Like [`pick_replica`]; with `with_primary` the primary is a candidate too, by its
/// weight (`primary_reads = "always"`).
pub fn pick_reader(
    topology: &Topology,
    exclude: &[&str],
    max_lag_ms: Option<u64>,
    with_primary: bool,
) -> Option<Arc<Backend>> {
    let writer = topology.writer();
    let eligible = || {
        topology
            .backends
            .iter()
            .zip(&topology.health)
            .filter_map(move |(b, h)| {
                let fresh = match (h.lag_ms, max_lag_ms) {
                    (Some(lag), Some(bound)) => lag <= bound.min(b.max_lag_ms()),
                    (Some(lag), None) => lag <= b.max_lag_ms(),
                    (None, _) => true,
                };
                // Whoever takes writes now reads only when asked to (a promoted replica is
                // the writer; a demoted primary is a reader).
                let is_writer = writer.is_some_and(|w| Arc::ptr_eq(w, b));
                let role_ok = !is_writer || with_primary;
                let ok = role_ok
                    && b.weight() > 0
                    && b.state() == BackendState::Online
                    && fresh
                    && !exclude.contains(&b.name.as_str());
                ok.then_some(b)
            })
    };
    let total: u64 = eligible().map(|b| b.weight() as u64).sum();
    if total == 0 {
        return None;
    }
    let mut ticket = rand::rng().random_range(0..total);
    for b in eligible() {
        let w = b.weight() as u64;
        if ticket < w {
            return Some(b.clone());
        }
        ticket -= w;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    #[test]
    fn weights_shape_the_spread_and_zero_means_none() {
        let text = r#"
[[users]]
name = "a"
password = "a"
[[backends]]
name = "p"
address = "127.0.0.1:1"
role = "primary"
[[backends]]
name = "r1"
address = "127.0.0.1:2"
role = "replica"
weight = 3
[[backends]]
name = "r2"
address = "127.0.0.1:3"
role = "replica"
weight = 1
[[backends]]
name = "r3"
address = "127.0.0.1:4"
role = "replica"
weight = 0
"#;
        let topo = Topology::from_config(&Config::parse(text, Path::new("t.toml")).unwrap());
        let mut r1 = 0;
        for _ in 0..4000 {
            let b = pick_replica(&topo, &[], None).unwrap();
            assert_ne!(b.name, "r3");
            r1 += usize::from(b.name == "r1");
        }
        assert!((2700..3300).contains(&r1), "r1 got {r1} of 4000");
        assert_eq!(pick_replica(&topo, &["r1"], None).unwrap().name, "r2");
        assert!(pick_replica(&topo, &["r1", "r2"], None).is_none());
        // Lag: over the backend's limit (default 1000) or the statement's bound.
        let mut health = topo.health.clone();
        health[1].lag_ms = Some(1500);
        health[2].lag_ms = Some(300);
        let lagged = topo.with_health(health);
        assert_eq!(pick_replica(&lagged, &[], None).unwrap().name, "r2");
        assert!(pick_replica(&lagged, &[], Some(200)).is_none());
        // State: a Down replica gets nothing.
        topo.backends[2].set_state(BackendState::Down);
        assert_eq!(pick_replica(&topo, &[], None).unwrap().name, "r1");
    }
}
