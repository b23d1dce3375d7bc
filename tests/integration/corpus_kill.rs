//! Corpus, part 7: KILL. Each side kills by the id its client saw in the handshake
//! (`Conn::id()`: the server's thread id directly, the proxy's session id through the
//! proxy), so the same script means the same thing on both sides: KILL QUERY of a running
//! `SELECT SLEEP(30)`, KILL CONNECTION, killing an idle or one's own connection, unknown
//! ids (1094), and the status flags of the OK a KILL gets.

use crate::corpus_sessions::observer;
use crate::differential::{text, Ctx, Entry, Event};
use crate::steps;
use mysql_async::prelude::*;
use std::time::Duration;

/// Waits (unrecorded, bounded) until a statement is running `SLEEP(30)` on the primary.
async fn until_sleeping(c: &mut Ctx) {
    let probe =
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(30)'";
    // Up to 10 s on a loaded machine; at least one, as the other side of a differential
    // run may be sleeping on the same server at the same time.
    for _ in 0..200 {
        let n: Option<i64> = c.conn().query_first(probe).await.ok().flatten();
        if n.unwrap_or(0) >= 1 {
            // Leave the killer's session as a fresh one would be: the probe's status flags
            // (SERVER_QUERY_NO_INDEX_USED) are not what this entry is about.
            c.conn().query_drop("DO 0").await.ok();
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.note("the sleeping statement never showed up");
}

/// Runs `SELECT SLEEP(30)` on connection 0 while connection 1 sends `kill` + the id
/// connection 0 saw; records both outcomes, then whether each connection still works.
async fn kill_sleeper(c: &mut Ctx, kill: &str) {
    observer(c).await;
    let id = c.conns[0].id();
    let mut sleeper = c.conns.remove(0);
    let sleeping = async {
        let mut out = Vec::new();
        let r = tokio::time::timeout(
            Duration::from_secs(20),
            text(&mut sleeper, "SELECT SLEEP(30)", &mut out),
        )
        .await;
        if r.is_err() {
            out.push(Event::Failed("sleep was not interrupted".into()));
        }
        out
    };
    let killing = async {
        c.cur = 0; // the observer, now at index 0
        until_sleeping(c).await;
        c.q(format!("{kill} {id}")).await;
    };
    let (slept, ()) = tokio::join!(sleeping, killing);
    c.push(slept);
    c.conns.insert(0, sleeper);
    c.cur = 0;
    c.q("SELECT 'sleeper after kill'").await;
    c.cur = 1;
    c.q("SELECT 'killer still fine'").await;
}

/// The KILL entries.
pub fn entries() -> Vec<Entry> {
    vec![
        steps!("KILL QUERY of a running SELECT SLEEP(30)", |c| {
            kill_sleeper(c, "KILL QUERY").await;
        }),
        steps!("KILL CONNECTION of a running SELECT SLEEP(30)", |c| {
            kill_sleeper(c, "KILL CONNECTION").await;
        }),
        steps!("KILL of an idle connection", |c| {
            observer(c).await;
            let id = c.conns[0].id();
            c.cur = 1;
            c.q(format!("KILL {id}")).await;
            c.cur = 0;
            c.q("SELECT 'killed while idle'").await;
            c.cur = 1;
            c.q("SELECT 'killer still fine'").await;
        }),
        steps!("KILL of unknown ids gives 1094", |c| {
            c.q("KILL 3999999999").await;
            c.q("KILL QUERY 3999999998").await;
            c.q("KILL CONNECTION 3999999997").await;
            c.q("KILL HARD 3999999996").await;
            c.q("SELECT 'still fine'").await;
        }),
        steps!("KILL QUERY ID takes a query id, not a connection id", |c| {
            // MariaDB: `KILL QUERY ID n` kills the statement whose query id is n.
            c.q("KILL QUERY ID 3999999995").await;
            c.q("KILL HARD QUERY ID 3999999994").await;
            c.q("SELECT 'still fine'").await;
        }),
        steps!("KILL QUERY of one's own connection", |c| {
            let own = c.conns[0].id();
            c.q(format!("KILL QUERY {own}")).await;
            c.q("SELECT 'after killing own query'").await;
        }),
        steps!("KILL CONNECTION of one's own connection", |c| {
            let own = c.conns[0].id();
            c.q(format!("KILL CONNECTION {own}")).await;
            c.q("SELECT 'after killing oneself'").await;
        }),
        steps!("KILL of another user's connection (not the owner)", |c| {
            // The message names the id the killer used; it differs between the sides, so
            // it is replaced by <id> before comparing (any other number stays visible).
            let target = c.conns[0].id();
            let schema = c.schema.clone();
            c.open("other", "other", Some(&schema)).await;
            for kill in ["KILL QUERY", "KILL CONNECTION", "KILL"] {
                let mut out = Vec::new();
                text(c.conn(), format!("{kill} {target}"), &mut out).await;
                c.push(out.into_iter().map(|e| match e {
                    Event::Err {
                        code,
                        state,
                        message,
                    } => Event::Err {
                        code,
                        state,
                        message: message.replace(&target.to_string(), "<id>"),
                    },
                    e => e,
                }));
            }
            c.cur = 0;
            c.q("SELECT 'target still fine'").await;
        }),
        steps!("status flags of the OK a KILL gets", |c| {
            // The statement before the KILL leaves SERVER_QUERY_NO_INDEX_USED (0x20) set; the
            // KILL's own OK must carry the flags of the KILL, as the server's does.
            observer(c).await;
            let idle = c.conns[1].id();
            c.q("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'no such statement'").await;
            c.q(format!("KILL QUERY {idle}")).await;
            c.q("KILL 3999999999").await;
            c.q("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'no such statement'").await;
            c.q("KILL 3999999999").await;
            c.q("BEGIN").await;
            c.q(format!("KILL QUERY {idle}")).await;
            c.q("COMMIT").await;
            c.q(format!("KILL CONNECTION {idle}")).await;
        }),
    ]
}
