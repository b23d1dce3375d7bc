//! Choosing a replica for a read: weighted random over the replicas that may take reads
//! now — weight > 0, state Online (the monitor's lag filter with hysteresis has already
//! moved lagging replicas out), lag within the backend's limit and the statement's own
//! bound — skipping any the caller has already tried. The draw is weighted random by each
//! backend's effective weight: its configured weight, ramped up after readmission (slow
//! start) and divided by 1 + outstanding/weight. Backends that keep up share requests
//! exactly by weight; one that falls behind gets fewer new requests.

use super::topology::{Backend, BackendState, Topology};
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
                    && !exclude.contains(&&*b.name);
                ok.then_some(b)
            })
    };
    // One pass, weighted reservoir sampling: candidate i replaces the choice with
    // probability w_i / (sum of weights so far), so each ends up chosen with
    // probability w_i / total, without a second pass or a list of candidates.
    let slow = topology.slow_start_ms;
    let mut now = None;
    let mut total = 0.0;
    let mut chosen = None;
    for b in eligible() {
        let w = b.effective_weight(slow, &mut now);
        if w <= 0.0 {
            continue;
        }
        total += w;
        if fastrand::f64() * total < w {
            chosen = Some(b);
        }
    }
    chosen.cloned()
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
            assert_ne!(&*b.name, "r3");
            r1 += usize::from(&*b.name == "r1");
        }
        assert!((2700..3300).contains(&r1), "r1 got {r1} of 4000");
        assert_eq!(
            pick_replica(&topo, &["r1"], None).unwrap().name.as_ref(),
            "r2"
        );
        assert!(pick_replica(&topo, &["r1", "r2"], None).is_none());
        // Lag: over the backend's limit (default 1000) or the statement's bound.
        let mut health = topo.health.clone();
        health[1].lag_ms = Some(1500);
        health[2].lag_ms = Some(300);
        let lagged = topo.with_health(health);
        assert_eq!(
            pick_replica(&lagged, &[], None).unwrap().name.as_ref(),
            "r2"
        );
        assert!(pick_replica(&lagged, &[], Some(200)).is_none());
        // Outstanding requests and slow start shrink a replica's share: r1 (weight 3)
        // with 15 in flight weighs 3 / (1 + 15/3) = 0.5 against r2's 1.
        topo.backends[1]
            .outstanding
            .store(15, std::sync::atomic::Ordering::Relaxed);
        let r1 = (0..4000)
            .filter(|_| pick_replica(&topo, &[], None).unwrap().name.as_ref() == "r1")
            .count();
        assert!((1150..1550).contains(&r1), "0.5 vs 1: r1 got {r1} of 4000");
        topo.backends[1]
            .outstanding
            .store(0, std::sync::atomic::Ordering::Relaxed);
        topo.backends[1].set_state(BackendState::Lagging);
        topo.backends[1].set_state(BackendState::Online);
        let mut slow = Topology::from_config(&Config::parse(text, Path::new("t.toml")).unwrap());
        slow.backends = topo.backends.clone();
        slow.slow_start_ms = 60_000;
        let r1 = (0..4000)
            .filter(|_| pick_replica(&slow, &[], None).unwrap().name.as_ref() == "r1")
            .count();
        assert!(
            r1 < 1600,
            "just readmitted: about 0.3 vs 1, r1 got {r1} of 4000"
        );
        // State: a Down replica gets nothing.
        topo.backends[2].set_state(BackendState::Down);
        assert_eq!(pick_replica(&topo, &[], None).unwrap().name.as_ref(), "r1");
    }
}
