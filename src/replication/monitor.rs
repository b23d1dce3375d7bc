//! The replication monitor: one reused mysql_async connection per backend (TCP, never the
//! unix socket), every probe bounded by `[monitor] timeout_ms`, every `interval_ms`.
//! It writes a microsecond heartbeat row on the primary (`rwproxy.heartbeat`) and reads
//! it back on each replica: lag is the age of the newest heartbeat a replica has applied,
//! which, unlike Seconds_Behind_Master (the fallback), keeps growing when the SQL thread
//! stops. Each round publishes a new [`Topology`] snapshot and moves backend states:
//! Down on a failed probe, Lagging above max_lag_ms, back to Online only after
//! [`READMIT_CHECKS`] checks below half the limit.

use super::probe::{Probe, ProbeResult};
use super::topology::{BackendState, Health, Topology};
use crate::config::{MonitorConfig, Role};
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Consecutive good checks a Lagging replica needs before it gets reads again.
pub const READMIT_CHECKS: u32 = 3;

/// Anything that holds the topology the monitor publishes.
pub trait TopologyHolder: Send + Sync + 'static {
    /// The shared snapshot.
    fn topology(&self) -> &ArcSwap<Topology>;

    /// The monitor settings in force now, when they can change at runtime (a config
    /// reload); None keeps the ones the monitor started with.
    fn monitor_settings(&self) -> Option<MonitorConfig> {
        None
    }
}

/// Keeps one probe per backend of `topology`, in its order: probes of backends a
/// reload removed or replaced are closed, new backends get new probes.
async fn sync_probes(probes: &mut Vec<Probe>, topology: &Topology, settings: &MonitorConfig) {
    let same = probes.len() == topology.backends.len()
        && probes
            .iter()
            .zip(&topology.backends)
            .all(|(p, b)| Arc::ptr_eq(&p.backend, b));
    if same {
        return;
    }
    let mut old = std::mem::take(probes);
    for b in &topology.backends {
        match old.iter().position(|p| Arc::ptr_eq(&p.backend, b)) {
            Some(i) => probes.push(old.swap_remove(i)),
            None => probes.push(Probe::new(b.clone(), settings)),
        }
    }
    for p in old {
        p.close().await;
    }
}

/// Runs until `cancel` fires.
pub async fn run<H: TopologyHolder>(
    holder: Arc<H>,
    mut settings: MonitorConfig,
    cancel: CancellationToken,
) {
    let interval = Duration::from_millis(settings.interval_ms);
    let mut probes: Vec<Probe> = holder
        .topology()
        .load()
        .backends
        .iter()
        .map(|b| Probe::new(b.clone(), &settings))
        .collect();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heartbeat: Option<u64> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = cancel.cancelled() => break,
        }
        if let Some(now) = holder.monitor_settings().filter(|s| *s != settings) {
            // New credentials or timeouts: new probes. A new interval: a new ticker.
            for p in std::mem::take(&mut probes) {
                p.close().await;
            }
            if now.interval_ms != settings.interval_ms {
                tick = tokio::time::interval(Duration::from_millis(now.interval_ms));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            }
            settings = now;
        }
        sync_probes(&mut probes, &holder.topology().load(), &settings).await;
        let writer = holder.topology().load().writer().map(|w| w.name.clone());
        let (results, written) = round(&mut probes, last_heartbeat, writer.as_deref()).await;
        if written.is_some() {
            last_heartbeat = written;
        }
        publish(holder.topology(), &mut probes, results);
    }
    for p in probes {
        p.close().await;
    }
}

/// Probes the primary first (it writes the heartbeat), then the replicas concurrently.
async fn round(
    probes: &mut Vec<Probe>,
    heartbeat: Option<u64>,
    writer: Option<&str>,
) -> (Vec<ProbeResult>, Option<u64>) {
    let mut results = vec![ProbeResult::default(); probes.len()];
    let mut written = None;
    let mut set = tokio::task::JoinSet::new();
    let mut taken = Vec::new();
    for (i, mut p) in std::mem::take(probes).into_iter().enumerate() {
        let is_writer = match writer {
            Some(w) => &*p.backend.name == w,
            None => p.backend.role == Role::Primary,
        };
        if is_writer {
            let r = p.check_primary().await;
            written = r.heartbeat_written;
            results[i] = r;
            taken.push((i, Some(p)));
        } else {
            set.spawn(async move {
                let r = p.check_replica(heartbeat).await;
                (i, p, r)
            });
            taken.push((i, None));
        }
    }
    while let Some(joined) = set.join_next().await {
        if let Ok((i, p, r)) = joined {
            results[i] = r;
            if let Some(slot) = taken.iter_mut().find(|(j, _)| *j == i) {
                slot.1 = Some(p);
            }
        }
    }
    *probes = taken.into_iter().filter_map(|(_, p)| p).collect();
    (results, written)
}

/// Applies results to states (with hysteresis) and publishes a new snapshot. The
/// snapshot is swapped with `rcu`, so a config reload published meanwhile is kept.
fn publish(topology: &ArcSwap<Topology>, probes: &mut [Probe], results: Vec<ProbeResult>) {
    let mut measured: Vec<(Arc<super::Backend>, Health)> = Vec::with_capacity(probes.len());
    for (p, r) in probes.iter_mut().zip(results) {
        let b = &p.backend;
        let before = b.state();
        let after = next_state(before, &r, b.max_lag_ms(), &mut p.good_checks);
        if after != before {
            b.set_state(after);
            let cause = state_cause(after, &r, b.max_lag_ms());
            tracing::warn!(
                backend = %b.name,
                from = before.as_str(),
                to = after.as_str(),
                %cause,
                "{} {}: {cause}",
                b.name,
                after.as_str()
            );
        }
        let error = r.error.clone().or(r.health.error.clone());
        measured.push((b.clone(), Health { error, ..r.health }));
    }
    topology.rcu(|current| {
        let health = current
            .backends
            .iter()
            .enumerate()
            .map(
                |(i, b)| match measured.iter().find(|(m, _)| Arc::ptr_eq(m, b)) {
                    Some((_, h)) => h.clone(),
                    None => current.health.get(i).cloned().unwrap_or_default(),
                },
            )
            .collect();
        current.with_health(health)
    });
}

/// Why a backend moved to `to`, for the log line ("lag 1830 ms > max_lag_ms 1000").
fn state_cause(to: BackendState, r: &ProbeResult, max_lag_ms: u64) -> String {
    if let Some(e) = &r.error {
        return e.clone();
    }
    match (to, r.health.lag_ms) {
        (BackendState::Lagging, Some(lag)) if lag > max_lag_ms => {
            format!("lag {lag} ms > max_lag_ms {max_lag_ms}")
        }
        (BackendState::Lagging, _) => "answering again; readmitted after good checks".into(),
        (BackendState::Online, Some(lag)) => format!(
            "lag {lag} ms <= {} ms (half of max_lag_ms) for {READMIT_CHECKS} checks",
            max_lag_ms / 2
        ),
        _ => "probe ok".into(),
    }
}

/// The state after one probe.
pub fn next_state(
    before: BackendState,
    r: &ProbeResult,
    max_lag_ms: u64,
    good: &mut u32,
) -> BackendState {
    if matches!(before, BackendState::Offline | BackendState::Draining) {
        return before;
    }
    if r.error.is_some() {
        *good = 0;
        return BackendState::Down;
    }
    let lag = r.health.lag_ms.unwrap_or(0);
    if lag > max_lag_ms {
        *good = 0;
        return BackendState::Lagging;
    }
    match before {
        BackendState::Online => BackendState::Online,
        _ if lag <= max_lag_ms / 2 => {
            *good += 1;
            if *good >= READMIT_CHECKS {
                *good = 0;
                BackendState::Online
            } else {
                before_or_lagging(before)
            }
        }
        _ => {
            *good = 0;
            before_or_lagging(before)
        }
    }
}

/// A backend coming back from Down is Lagging until it proves itself.
fn before_or_lagging(before: BackendState) -> BackendState {
    match before {
        BackendState::Down => BackendState::Lagging,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(lag: u64) -> ProbeResult {
        ProbeResult {
            health: Health {
                lag_ms: Some(lag),
                ..Health::default()
            },
            ..ProbeResult::default()
        }
    }

    #[test]
    fn lag_hysteresis_and_down() {
        let mut good = 0;
        let mut s = BackendState::Online;
        s = next_state(s, &ok(1500), 1000, &mut good);
        assert_eq!(s, BackendState::Lagging);
        // Below the limit but above half: still Lagging.
        s = next_state(s, &ok(800), 1000, &mut good);
        assert_eq!(s, BackendState::Lagging);
        for _ in 0..READMIT_CHECKS - 1 {
            s = next_state(s, &ok(10), 1000, &mut good);
            assert_eq!(s, BackendState::Lagging);
        }
        s = next_state(s, &ok(10), 1000, &mut good);
        assert_eq!(s, BackendState::Online);
        let failed = ProbeResult {
            error: Some("timeout".into()),
            ..ProbeResult::default()
        };
        s = next_state(s, &failed, 1000, &mut good);
        assert_eq!(s, BackendState::Down);
        s = next_state(s, &ok(0), 1000, &mut good);
        assert_eq!(
            s,
            BackendState::Lagging,
            "back from Down only after good checks"
        );
        assert_eq!(
            next_state(BackendState::Offline, &failed, 1000, &mut good),
            BackendState::Offline
        );
    }
}
