//! Shared pieces of the fault tests: one fault at a time (they crash and hang the shared
//! servers), a proxy with fast fault detection, a bounded read load, and how a client
//! error is judged (did the statement certainly not run, or is its outcome unknown?).

pub use crate::harness::opts;
use crate::harness::{caught_up, direct_opts, env, fresh_schema, inproc_proxy, InProcProxy};
use mysql_async::prelude::*;
use rwproxy::cluster::Cluster;
use rwproxy::replication::{Backend, BackendState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The fault tests change the shared servers: one at a time.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Monitor interval of the fault tests' proxies.
pub const INTERVAL_MS: u64 = 100;

/// A proxy that sees faults fast: probes every 100 ms bounded by 300 ms, backend
/// responses bounded by `backend_read_timeout_ms` = 500, connects and write holds by 1 s.
pub async fn fast_proxy() -> InProcProxy {
    inproc_proxy(|t| {
        t.replacen(
            "[monitor]\n",
            &format!("[monitor]\ninterval_ms = {INTERVAL_MS}\ntimeout_ms = 300\n"),
            1,
        )
        .replacen(
            "[proxy]\n",
            "[proxy]\nbackend_read_timeout_ms = 500\nconnect_timeout_ms = 1000\n\
             write_hold_ms = 1000\n",
            1,
        )
    })
    .await
}

/// A proxy whose monitor is slow (a probe a second, bounded by 5 s), so a hung server
/// still looks Online for a while; `proxy` is added to `[proxy]`, then `edit` applied.
pub async fn slow_monitor_proxy(proxy: &str, edit: impl FnOnce(String) -> String) -> InProcProxy {
    inproc_proxy(|t| {
        edit(
            t.replacen(
                "[monitor]\n",
                "[monitor]\ninterval_ms = 1000\ntimeout_ms = 5000\n",
                1,
            )
            .replacen("[proxy]\n", &format!("[proxy]\n{proxy}"), 1),
        )
    })
    .await
}

/// A handle on the shared cluster that can kill, restart, pause and resume its nodes.
pub fn cluster() -> Cluster {
    Cluster::open(&env().cluster.dir).expect("open the test cluster")
}

/// Resumes a paused node even if the test fails, so the cluster can be stopped.
pub struct Paused(pub &'static str);

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = cluster().resume(self.0);
    }
}

/// A fresh schema `name` with a 100-row table `r`, on every server.
pub async fn setup(name: &str) -> String {
    let db = fresh_schema(name).await;
    let mut c = mysql_async::Conn::new(direct_opts("app", "app", Some(&db)))
        .await
        .expect("connect to the primary");
    c.query_drop("CREATE TABLE r (id INT PRIMARY KEY, v INT)")
        .await
        .expect("create r");
    c.query_drop("INSERT INTO r SELECT seq, seq FROM seq_1_to_100")
        .await
        .expect("fill r");
    c.disconnect().await.expect("disconnect");
    caught_up().await;
    db
}

/// Driver options for user app on `port`, in schema `db`.
/// The backend `name` of proxy `p`.
pub fn backend(p: &InProcProxy, name: &str) -> Arc<Backend> {
    p.proxy
        .topology
        .load()
        .get(name)
        .cloned()
        .expect("backend in topology")
}

/// Waits (up to `limit`) until `b` is in state `want`; returns how long it took.
pub async fn wait_state(b: &Backend, want: BackendState, limit: Duration) -> Duration {
    let started = Instant::now();
    while b.state() != want {
        assert!(
            started.elapsed() < limit,
            "{} not {want:?} within {limit:?}: {:?}",
            b.name,
            b.state()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

/// What a bounded read load saw.
#[derive(Debug, Default)]
pub struct ReadLoad {
    /// Reads answered correctly.
    pub ok: u64,
    /// Errors (first few kept verbatim).
    pub errors: Vec<String>,
    /// Completion time (since the load's epoch) and duration of reads slower than 200 ms.
    pub slow: Vec<(Duration, Duration)>,
}

/// `n` clients reading `r` by primary key (autocommit) through `port` until `stop` is
/// set or 30 s pass; timings are measured from `epoch`.
pub fn read_load(
    port: u16,
    db: &str,
    n: usize,
    stop: &Arc<AtomicBool>,
    epoch: Instant,
) -> Vec<tokio::task::JoinHandle<ReadLoad>> {
    (0..n)
        .map(|_| {
            let (db, stop) = (db.to_string(), stop.clone());
            tokio::spawn(async move {
                let mut c = mysql_async::Conn::new(opts(port, &db))
                    .await
                    .expect("reader connects");
                let mut load = ReadLoad::default();
                let deadline = Instant::now() + Duration::from_secs(30);
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    i += 1;
                    let t = Instant::now();
                    let id = i % 100 + 1;
                    let got = c
                        .query_first::<i64, _>(format!("SELECT v FROM r WHERE id = {id}"))
                        .await;
                    let took = t.elapsed();
                    if took > Duration::from_millis(200) {
                        load.slow.push((epoch.elapsed(), took));
                    }
                    match got {
                        Ok(Some(v)) if v == id as i64 => load.ok += 1,
                        other => {
                            load.errors.push(format!("{other:?}"));
                            // A broken session: carry on with a new one.
                            if other.is_err() {
                                if let Ok(n) = mysql_async::Conn::new(opts(port, &db)).await {
                                    c = n;
                                }
                            }
                        }
                    }
                }
                load
            })
        })
        .collect()
}

/// Stops a read load and adds up what its clients saw. A reader still stuck a minute
/// later (a wait on a hung backend the proxy never ended) fails the test instead of
/// hanging it.
pub async fn finish(
    stop: &AtomicBool,
    readers: Vec<tokio::task::JoinHandle<ReadLoad>>,
) -> ReadLoad {
    stop.store(true, Ordering::Relaxed);
    let mut all = ReadLoad::default();
    for r in readers {
        let l = tokio::time::timeout(Duration::from_secs(60), r)
            .await
            .expect("a reader was still stuck in a read 60 s after the load stopped")
            .expect("reader task");
        all.ok += l.ok;
        all.errors.extend(l.errors);
        all.slow.extend(l.slow);
    }
    all.slow.sort();
    all
}

/// What a client can know about a statement that got an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// OK: it ran.
    Acked,
    /// A clear refusal before it ran (no writable primary, backend unreachable, a
    /// server error): it must not have run.
    Failed,
    /// The connection was lost after it may have been sent (2013 or a broken socket):
    /// it ran at most once.
    Unknown,
}

/// CR_SERVER_LOST, CR_SERVER_GONE_ERROR: the request may have reached the server.
const LOST: [u16; 2] = [2013, 2006];

/// Judges a statement's result.
pub fn judge<T>(r: &Result<T, mysql_async::Error>) -> Outcome {
    match r {
        Ok(_) => Outcome::Acked,
        Err(mysql_async::Error::Server(e)) if !LOST.contains(&e.code) => Outcome::Failed,
        Err(_) => Outcome::Unknown,
    }
}

/// The error code of a server error, 0 for anything else.
pub fn code(e: &mysql_async::Error) -> u16 {
    match e {
        mysql_async::Error::Server(s) => s.code,
        _ => 0,
    }
}
