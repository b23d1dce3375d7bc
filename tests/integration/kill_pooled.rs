//! KILL and multiplexing: a KILL aimed at one session must never reach another session
//! that took over its backend connection from the pool. The killer reads the target's
//! backend thread id, then needs a round trip to send the KILL; in that window the target
//! may finish its statement and park the connection, and another session may check it
//! out. Here one session runs short statements, another runs short sleeps on the same
//! pool, and a third keeps killing the first's queries: the sleeper must never be hit.

use crate::harness::{inproc_proxy, opts};
use mysql_async::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the three clients run.
const RUN: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_query_never_reaches_the_session_that_took_the_connection_next() {
    // One replica, so both sessions' reads share one pool.
    let p = inproc_proxy(|t| {
        t.replace("weight = 1\n", "weight = 0\n")
            .replacen("weight = 0\n", "weight = 1\n", 1)
    })
    .await;
    let target = mysql_async::Conn::new(opts(p.port, "mysql"))
        .await
        .expect("target");
    let target_id = target.id();
    let deadline = Instant::now() + RUN;
    // The target and the bystander stay connected until the last KILL is answered: a
    // KILL racing the target's own disconnect would rightly find no such thread.
    let killing = Arc::new(AtomicBool::new(true));

    // The target: short statements, each parking its connection afterwards.
    let still = killing.clone();
    let busy = tokio::spawn(async move {
        let mut c = target;
        let (mut ran, mut killed) = (0u64, 0u64);
        while still.load(Ordering::Relaxed) && ran < 200_000 {
            match c.query_drop("SELECT 1").await {
                Ok(()) => ran += 1,
                Err(mysql_async::Error::Server(e)) if e.code == 1317 => killed += 1,
                Err(e) => panic!("target: {e}"),
            }
        }
        (ran, killed)
    });
    // The bystander: short sleeps, taking whatever connection the pool offers.
    let port = p.port;
    let still = killing.clone();
    let bystander = tokio::spawn(async move {
        let mut c = mysql_async::Conn::new(opts(port, "mysql"))
            .await
            .expect("bystander");
        let (mut ran, mut hit) = (0u64, Vec::new());
        while still.load(Ordering::Relaxed) && ran < 20_000 {
            match c.query_first::<i64, _>("SELECT SLEEP(0.002)").await {
                Ok(Some(0)) => ran += 1,
                Ok(other) => hit.push(format!("SLEEP returned {other:?}")),
                Err(e) => hit.push(e.to_string()),
            }
        }
        (ran, hit)
    });
    // The killer.
    let mut killer = mysql_async::Conn::new(opts(p.port, "mysql"))
        .await
        .expect("killer");
    let mut kills = 0u64;
    while Instant::now() < deadline && kills < 100_000 {
        killer
            .query_drop(format!("KILL QUERY {target_id}"))
            .await
            .expect("KILL QUERY of a live session succeeds");
        kills += 1;
    }
    killing.store(false, Ordering::Relaxed);
    let (ran, killed) = busy.await.expect("target task");
    let (slept, hit) = bystander.await.expect("bystander task");
    eprintln!(
        "target: {ran} statements, {killed} killed; bystander: {slept} sleeps; {kills} kills"
    );
    assert!(ran > 100 && slept > 100, "too little work to mean anything");
    assert!(
        hit.is_empty(),
        "the bystander was hit {} times by KILLs aimed at the target, e.g. {:?}",
        hit.len(),
        &hit[..hit.len().min(3)]
    );
}
