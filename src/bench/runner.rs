//! Driving the workload: closed loop (N connections, each sending its next action when
//! the previous one answered) or open loop (actions started on a constant-rate schedule by
//! up to `max_in_flight` connections, latency measured from the due time; arrivals that
//! find every connection busy are dropped and counted). A ticker prints the live line.

use super::actions::execute;
use super::schedule::{Schedule, LATE_AFTER};
use super::stats::{error_code, Stats};
use super::visit::{Step, Visit};
use super::Load;
use crate::storefront::{Catalog, Popularity};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

/// How long in-flight actions may run past the deadline before they are abandoned.
const DRAIN: Duration = Duration::from_secs(10);
/// Pause after a failed connection attempt, so a dead endpoint is not hammered.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);

/// What every worker shares.
pub struct Ctx {
    /// Login to the endpoint.
    pub opts: mysql_async::Opts,
    /// Id ranges of the shop.
    pub catalog: Catalog,
    /// Product popularity.
    pub popularity: Popularity,
    /// Measurements.
    pub stats: Stats,
    /// Actions left to start (`u64::MAX` = unbounded).
    pub budget: AtomicU64,
    /// Seed of the workers' random sources.
    pub seed: u64,
    /// Stops the run early (Ctrl-C).
    pub stop: CancellationToken,
}

impl Ctx {
    fn take_budget(&self) -> bool {
        self.budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
            .is_ok()
    }
}

/// One connection with the visit it is in the middle of.
struct Slot {
    conn: Option<Conn>,
    visit: Option<Visit>,
    rng: StdRng,
}

impl Slot {
    fn new(seed: u64, n: u64) -> Slot {
        Slot {
            conn: None,
            visit: None,
            rng: StdRng::seed_from_u64(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        }
    }

    /// Connects if needed, then runs the visit's next action; latency counts from `due`.
    async fn step(&mut self, ctx: &Ctx, due: Option<Instant>) {
        if self.conn.is_none() {
            match Conn::new(ctx.opts.clone()).await {
                Ok(c) => self.conn = Some(c),
                Err(e) => {
                    ctx.stats.failure(None, error_code(&e, true));
                    tracing::debug!(error = %e, "connect failed");
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    return;
                }
            }
        }
        let step = loop {
            let visit = self
                .visit
                .get_or_insert_with(|| Visit::new(&mut self.rng, &ctx.catalog));
            match visit.next(&mut self.rng, &ctx.catalog, &ctx.popularity) {
                Some(s) => break s,
                None => self.visit = None,
            }
        };
        let (Some(conn), Some(visit)) = (self.conn.as_mut(), self.visit.as_mut()) else {
            return;
        };
        let started = due.unwrap_or_else(Instant::now);
        match execute(conn, &step, visit).await {
            Ok(o) => ctx.stats.success(step.action(), started.elapsed(), &o),
            Err(e) => self.failed(ctx, &step, e).await,
        }
    }

    /// Counts the error and starts a new visit; a connection that broke is replaced, one
    /// that got a server error is rolled back and kept.
    async fn failed(&mut self, ctx: &Ctx, step: &Step, e: mysql_async::Error) {
        ctx.stats
            .failure(Some(step.action()), error_code(&e, false));
        tracing::debug!(error = %e, action = step.action().name(), "action failed");
        self.visit = None;
        let keep = match (&e, self.conn.as_mut()) {
            (mysql_async::Error::Server(_), Some(c)) => c.query_drop("ROLLBACK").await.is_ok(),
            _ => false,
        };
        if !keep {
            self.conn = None;
        }
    }

    async fn close(self) {
        if let Some(c) = self.conn {
            let _ = tokio::time::timeout(Duration::from_secs(2), c.disconnect()).await;
        }
    }
}

/// Runs the load until `duration` has passed, the budget is spent or `ctx.stop` fires.
/// Returns the time the run took.
pub async fn drive(ctx: Arc<Ctx>, load: Load, duration: Duration, progress: bool) -> Duration {
    let start = Instant::now();
    let deadline = start + duration;
    // Aborted on drop too: a run dropped midway (the demo's Ctrl-C) leaves no ticker behind.
    let ticker = progress
        .then(|| AbortOnDropHandle::new(tokio::spawn(ticker(ctx.clone(), start, deadline))));
    let mut set = JoinSet::new();
    match load {
        Load::Closed { concurrency } => {
            for n in 0..concurrency {
                let ctx = ctx.clone();
                set.spawn(async move {
                    let mut slot = Slot::new(ctx.seed, n);
                    while Instant::now() < deadline && !ctx.stop.is_cancelled() && ctx.take_budget()
                    {
                        tokio::select! {
                            _ = slot.step(&ctx, None) => {}
                            _ = ctx.stop.cancelled() => break,
                        }
                    }
                    slot.close().await;
                });
            }
        }
        Load::Open {
            rate,
            max_in_flight,
        } => {
            open_loop(
                &ctx,
                &mut set,
                Schedule::new(start, rate),
                deadline,
                max_in_flight,
            )
            .await;
        }
    }
    let drained = tokio::time::timeout_at((deadline + DRAIN).into(), async {
        while set.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "actions still running {} s after the end: abandoned",
            DRAIN.as_secs()
        );
        set.abort_all();
    }
    let took = start.elapsed();
    if let Some(t) = ticker {
        t.abort();
        let _ = t.await;
        if std::io::stderr().is_terminal() {
            eprintln!();
        }
    }
    took
}

async fn open_loop(
    ctx: &Arc<Ctx>,
    set: &mut JoinSet<()>,
    schedule: Schedule,
    deadline: Instant,
    max_in_flight: u64,
) {
    let (free_tx, mut free_rx) = tokio::sync::mpsc::unbounded_channel::<Slot>();
    let mut made = 0u64;
    for i in 0.. {
        let due = schedule.due(i);
        if due >= deadline || ctx.stop.is_cancelled() || !ctx.take_budget() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = ctx.stop.cancelled() => break,
        }
        while set.try_join_next().is_some() {}
        let mut slot = match free_rx.try_recv() {
            Ok(s) => s,
            Err(_) if made < max_in_flight => {
                made += 1;
                Slot::new(ctx.seed, made)
            }
            Err(_) => {
                ctx.stats.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        if due.elapsed() > LATE_AFTER {
            ctx.stats.late.fetch_add(1, Ordering::Relaxed);
        }
        let (ctx, tx) = (ctx.clone(), free_tx.clone());
        set.spawn(async move {
            slot.step(&ctx, Some(due)).await;
            let _ = tx.send(slot);
        });
    }
    drop(free_tx);
    // Close the idle connections now; busy ones close as their action returns them.
    tokio::spawn(async move {
        while let Some(slot) = free_rx.recv().await {
            slot.close().await;
        }
    });
}

/// Prints `elapsed qps tps p99 errors stale` once a second: rewritten in place on a
/// terminal, one line a second otherwise.
async fn ticker(ctx: Arc<Ctx>, start: Instant, deadline: Instant) {
    let tty = std::io::stderr().is_terminal();
    let mut interval = tokio::time::interval_at(
        (start + Duration::from_secs(1)).into(),
        Duration::from_secs(1),
    );
    let (mut last_stmts, mut last_tx, mut last_at) = (0u64, 0u64, start);
    loop {
        let now = interval.tick().await;
        let now: Instant = now.into();
        let s = &ctx.stats;
        let stmts = s.statements.load(Ordering::Relaxed);
        let tx = s.checkouts.load(Ordering::Relaxed);
        let secs = (now - last_at).as_secs_f64().max(1e-3);
        let (p99, _) = s.take_interval();
        let dropped = s.dropped.load(Ordering::Relaxed);
        let line = format!(
            "[{:>4.0}s/{:.0}s] qps {:>7.0}  tps {:>6.1}  p99 {:>7.2} ms  errors {}  stale {}{}",
            (now - start).as_secs_f64(),
            (deadline - start).as_secs_f64(),
            (stmts - last_stmts) as f64 / secs,
            (tx - last_tx) as f64 / secs,
            p99,
            s.errors.load(Ordering::Relaxed),
            s.stale_reads.load(Ordering::Relaxed),
            if dropped > 0 {
                format!("  dropped {dropped}")
            } else {
                String::new()
            },
        );
        (last_stmts, last_tx, last_at) = (stmts, tx, now);
        let mut err = std::io::stderr().lock();
        let _ = if tty {
            write!(err, "\r\x1b[2K{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }
}
