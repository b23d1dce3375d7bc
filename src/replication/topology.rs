//! The set of backends and what the monitor last learned about each, published as an
//! immutable snapshot (`ArcSwap<Topology>`) so the query path reads it without a lock.
//! Tunables a DBA changes at runtime (weight, lag limit, admin state) and the counters
//! are atomics on the long-lived [`Backend`].

use super::latency::LatencyHistogram;
use crate::config::{BackendConfig, Config, Role};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

/// A backend's health as the monitor and the DBA see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BackendState {
    /// Answering and, for a replica, within its lag limit.
    Online = 0,
    /// A replica behind its lag limit: no reads until it has caught up for a while.
    Lagging = 1,
    /// Not answering the monitor.
    Down = 2,
    /// Taken out by the DBA: no new statements (reads, or writes on a primary);
    /// statements of transactions already open there finish; idle connections close.
    Offline = 3,
    /// Taken out by the DBA: no new reads and, on a primary, no new sessions; sessions
    /// already using it go on.
    Draining = 4,
}

impl BackendState {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendState::Online => "online",
            BackendState::Lagging => "lagging",
            BackendState::Down => "down",
            BackendState::Offline => "offline",
            BackendState::Draining => "draining",
        }
    }

    /// The states a DBA may set: `online` (hand it back to the monitor), `offline`,
    /// `draining`.
    pub fn parse_admin(s: &str) -> Option<BackendState> {
        match s.to_ascii_lowercase().as_str() {
            "online" => Some(BackendState::Online),
            "offline" => Some(BackendState::Offline),
            "draining" => Some(BackendState::Draining),
            _ => None,
        }
    }

    fn from_u8(v: u8) -> BackendState {
        match v {
            1 => BackendState::Lagging,
            2 => BackendState::Down,
            3 => BackendState::Offline,
            4 => BackendState::Draining,
            _ => BackendState::Online,
        }
    }
}

/// What the monitor learned in its last probe of one backend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Replication lag in milliseconds (replicas; from the heartbeat when it is known).
    pub lag_ms: Option<u64>,
    /// `@@read_only`.
    pub read_only: Option<bool>,
    /// GTID position (`@@gtid_current_pos` on MariaDB).
    pub gtid: Option<String>,
    /// Why the last probe failed, or the replication error, if any.
    pub error: Option<String>,
}

/// One backend server.
#[derive(Debug)]
pub struct Backend {
    /// Name from the config.
    pub name: Arc<str>,
    /// `host:port`.
    pub address: String,
    /// Primary or replica.
    pub role: Role,
    /// Read weight (0 = no reads), changeable at runtime.
    pub weight: AtomicU32,
    /// Lag limit for reads, changeable at runtime.
    pub max_lag_ms: AtomicU64,
    /// State set by the monitor (Online/Lagging/Down) or the DBA (Offline/Draining).
    state: AtomicU8,
    /// Requests sent routed as reads.
    pub reads: AtomicU64,
    /// Requests sent as writes, transaction and session traffic (all requests are one
    /// or the other: see [`Backend::requests`]).
    pub writes: AtomicU64,
    /// Requests answered with an ERR packet (the statement failed, the backend is fine).
    pub sql_errors: AtomicU64,
    /// Response times of the requests.
    pub latency: LatencyHistogram,
    /// Connections open to it now (idle in the pool, held by sessions, or being
    /// opened): see [`crate::pool::slot`].
    pub open_conns: AtomicU64,
    /// Most connections it may have open (`max_connections`), changeable by a reload.
    pub max_conns: AtomicU32,
    /// Requests waiting for one of its connections to come free.
    pub queued: AtomicU64,
    /// Requests that gave up waiting (queue full or timed out).
    pub queue_timeouts: AtomicU64,
    /// Woken when one of its connections closes or goes back to the pool.
    pub freed: tokio::sync::Notify,
    /// Set when a config reload removed or replaced this backend: its connections are
    /// not pooled again.
    pub retired: AtomicBool,
    /// Requests that failed with a backend or connection error.
    pub errors: AtomicU64,
    /// Connections opened.
    pub connects: AtomicU64,
    /// Requests sent and not yet answered.
    pub outstanding: AtomicU64,
    /// Exponentially weighted mean response time, µs (the newest sample weighs 1/8).
    pub latency_ewma_us: AtomicU64,
    /// When the backend last became Online (ms since the epoch; 0 = since start):
    /// the start of its slow start.
    pub online_since_ms: AtomicU64,
}

/// How a request is counted on its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// Routed as a read.
    Read,
    /// A write, or transaction or session traffic.
    Write,
}

impl Backend {
    /// A backend as configured, Online, with zeroed counters.
    pub fn new(b: &BackendConfig) -> Backend {
        Backend {
            name: b.name.as_str().into(),
            address: b.address.clone(),
            role: b.role,
            weight: AtomicU32::new(b.weight),
            max_lag_ms: AtomicU64::new(b.max_lag_ms),
            state: AtomicU8::new(BackendState::Online as u8),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            sql_errors: AtomicU64::new(0),
            latency: LatencyHistogram::default(),
            open_conns: AtomicU64::new(0),
            max_conns: AtomicU32::new(b.max_connections),
            queued: AtomicU64::new(0),
            queue_timeouts: AtomicU64::new(0),
            freed: tokio::sync::Notify::new(),
            retired: AtomicBool::new(false),
            errors: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            outstanding: AtomicU64::new(0),
            latency_ewma_us: AtomicU64::new(0),
            online_since_ms: AtomicU64::new(0),
        }
    }

    /// Counts one failure.
    pub fn count_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Current read weight.
    pub fn weight(&self) -> u32 {
        self.weight.load(Ordering::Relaxed)
    }

    /// Current lag limit.
    pub fn max_lag_ms(&self) -> u64 {
        self.max_lag_ms.load(Ordering::Relaxed)
    }

    /// Current state.
    pub fn state(&self) -> BackendState {
        BackendState::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// Sets the state; returns the previous one. Coming back Online starts a slow start.
    pub fn set_state(&self, s: BackendState) -> BackendState {
        let before = BackendState::from_u8(self.state.swap(s as u8, Ordering::Relaxed));
        if s == BackendState::Online && before != BackendState::Online {
            self.online_since_ms.store(now_ms(), Ordering::Relaxed);
        }
        before
    }

    /// Requests sent: reads plus writes.
    pub fn requests(&self) -> u64 {
        self.reads.load(Ordering::Relaxed) + self.writes.load(Ordering::Relaxed)
    }

    /// Marks a request sent and counts it; the guard marks it answered (or abandoned)
    /// when dropped or [finished](InFlight::finish), and feeds its duration into the
    /// latency average and histogram.
    pub fn begin_request(&self, kind: RequestKind) -> InFlight<'_> {
        match kind {
            RequestKind::Read => &self.reads,
            RequestKind::Write => &self.writes,
        }
        .fetch_add(1, Ordering::Relaxed);
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        InFlight {
            backend: self,
            started: std::time::Instant::now(),
            done: false,
        }
    }

    /// The weight the balancer uses now: the configured weight `w`, ramped up linearly
    /// over `slow_start_ms` after the backend came back Online, divided by
    /// `1 + outstanding / w`. Load per unit of weight is what counts, so backends that
    /// keep up share requests exactly by weight, and one that falls behind (its queue
    /// grows faster than its weight) gets fewer new ones. `now` caches the clock
    /// (milliseconds since the epoch) across the backends of one pick.
    pub fn effective_weight(&self, slow_start_ms: u64, now: &mut Option<u64>) -> f64 {
        let w = self.weight() as f64;
        if w == 0.0 {
            return 0.0;
        }
        let since = self.online_since_ms.load(Ordering::Relaxed);
        let ramp = if since == 0 || slow_start_ms == 0 {
            1.0
        } else {
            // The clock is read once per pick, and only when a backend is ramping up.
            let now = *now.get_or_insert_with(now_ms);
            (now.saturating_sub(since) as f64 / slow_start_ms as f64).clamp(0.1, 1.0)
        };
        w * ramp / (1.0 + self.outstanding.load(Ordering::Relaxed) as f64 / w)
    }
}

/// A request in flight on a backend (see [`Backend::begin_request`]).
pub struct InFlight<'a> {
    backend: &'a Backend,
    started: std::time::Instant,
    done: bool,
}

impl InFlight<'_> {
    /// Marks the request answered; returns how long it took, in microseconds, and when
    /// it ended.
    pub fn finish(mut self) -> (u64, std::time::Instant) {
        self.done = true;
        self.complete()
    }

    fn complete(&self) -> (u64, std::time::Instant) {
        let b = self.backend;
        b.outstanding.fetch_sub(1, Ordering::Relaxed);
        let ended = std::time::Instant::now();
        let sample = ended.saturating_duration_since(self.started).as_micros() as u64;
        b.latency.record(sample);
        let old = b.latency_ewma_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        b.latency_ewma_us.store(new, Ordering::Relaxed);
        (sample, ended)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.complete();
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// An immutable snapshot of all backends and their last known health.
#[derive(Debug)]
pub struct Topology {
    /// All backends, in config order.
    pub backends: Vec<Arc<Backend>>,
    /// Health per backend, same order.
    pub health: Vec<Health>,
    /// `[monitor] slow_start_ms`: how long a readmitted backend takes to full weight.
    pub slow_start_ms: u64,
}

impl Topology {
    /// Builds the topology from a validated config.
    pub fn from_config(config: &Config) -> Topology {
        let backends: Vec<Arc<Backend>> = config
            .backends
            .iter()
            .map(|b| Arc::new(Backend::new(b)))
            .collect();
        let health = vec![Health::default(); backends.len()];
        Topology {
            backends,
            health,
            slow_start_ms: config.monitor.slow_start_ms,
        }
    }

    /// The primary (a validated config has exactly one).
    pub fn primary(&self) -> Option<&Arc<Backend>> {
        self.backends.iter().find(|b| b.role == Role::Primary)
    }

    /// The backend that takes writes now: the configured primary unless the monitor saw
    /// it `read_only` (or it is down) while another backend is writable — a replica an
    /// operator or failover tool promoted. None while no writable backend is known.
    pub fn writer(&self) -> Option<&Arc<Backend>> {
        let usable = |i: usize| {
            !matches!(
                self.backends[i].state(),
                BackendState::Down | BackendState::Offline
            )
        };
        let read_only = |i: usize| self.health.get(i).and_then(|h| h.read_only);
        if let Some(i) = self.backends.iter().position(|b| b.role == Role::Primary) {
            if read_only(i) != Some(true) && usable(i) {
                return Some(&self.backends[i]);
            }
        }
        (0..self.backends.len())
            .find(|&i| read_only(i) == Some(false) && usable(i))
            .map(|i| &self.backends[i])
    }

    /// True if `b` is the current writer.
    pub fn is_writer(&self, b: &Backend) -> bool {
        self.writer().is_some_and(|w| std::ptr::eq(w.as_ref(), b))
    }

    /// A backend by name.
    pub fn get(&self, name: &str) -> Option<&Arc<Backend>> {
        self.backends.iter().find(|b| &*b.name == name)
    }

    /// The same backends with new health.
    pub fn with_health(&self, health: Vec<Health>) -> Topology {
        Topology {
            backends: self.backends.clone(),
            health,
            slow_start_ms: self.slow_start_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_writer_follows_read_only() {
        let text = "[[users]]\nname = \"a\"\npassword = \"a\"\n\
                    [[backends]]\nname = \"p\"\naddress = \"127.0.0.1:1\"\nrole = \"primary\"\n\
                    [[backends]]\nname = \"r\"\naddress = \"127.0.0.1:2\"\nrole = \"replica\"\n";
        let topo = Topology::from_config(&Config::parse(text, Path::new("t.toml")).unwrap());
        assert_eq!(
            &*topo.writer().unwrap().name,
            "p",
            "unknown health: the configured primary"
        );
        let mut h = topo.health.clone();
        h[0].read_only = Some(true);
        h[1].read_only = Some(true);
        assert!(
            topo.with_health(h.clone()).writer().is_none(),
            "nobody writable"
        );
        h[1].read_only = Some(false);
        let promoted = topo.with_health(h);
        assert_eq!(&*promoted.writer().unwrap().name, "r", "a promoted replica");
        assert!(promoted.is_writer(&promoted.backends[1]));
    }
}
