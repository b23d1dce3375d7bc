//! The differential suite: every corpus entry (see `corpus*.rs`) runs twice in the same
//! freshly created schema, first straight against the primary, then through the proxy, and
//! the two transcripts must be identical: column metadata, every value, affected rows, last
//! insert id, warnings, info, status flags, and error code + SQLSTATE + message. Running
//! both sides under the same schema name keeps messages that name the schema comparable
//! without any normalising. On a mismatch both transcripts are printed from the first
//! difference on. What is recorded, and the one thing masked, is in `transcript`.
//!
//! Run: `cargo test --test integration differential -- --nocapture` (a PASS/FAIL line per
//! entry); `DIFF_DUMP=<part of an entry name>` also prints that entry's full transcripts.

use crate::harness;
use crate::rawclient::RawConn;
pub use crate::transcript::*;
use mysql_async::prelude::*;
use mysql_async::{Conn, Params, Statement};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The future a scripted entry returns.
pub type Fut<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
/// A scripted entry.
pub type StepFn = for<'a> fn(&'a mut Ctx) -> Fut<'a>;

/// Time one side of one entry may take.
const ENTRY_TIMEOUT: Duration = Duration::from_secs(90);

/// One corpus entry.
pub enum Entry {
    /// Statements sent one by one as text (COM_QUERY), each response recorded.
    Sql(&'static str, &'static [&'static str]),
    /// Setup statements as text, then each query both as text and as a prepared statement
    /// (binary protocol), so every type is checked in both row formats.
    Typed(
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
    ),
    /// A scripted scenario.
    Steps(&'static str, StepFn),
}

impl Entry {
    /// The entry's name.
    pub fn name(&self) -> &'static str {
        match self {
            Entry::Sql(n, _) | Entry::Typed(n, _, _) | Entry::Steps(n, _) => n,
        }
    }
}

/// Builds an `Entry::Steps` from a block using `c: &mut Ctx`.
#[macro_export]
macro_rules! steps {
    ($name:literal, |$c:ident| $body:block) => {
        $crate::differential::Entry::Steps($name, |$c| Box::pin(async move $body))
    };
}

/// Which way the statements go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Straight to the primary.
    Direct,
    /// Through the rwproxy process.
    Proxy,
}

impl Side {
    /// Port this side connects to.
    pub fn port(self) -> u16 {
        match self {
            Side::Direct => harness::env().cluster.primary().port,
            Side::Proxy => harness::env().proxy_port,
        }
    }

    /// mysql_async options for this side.
    pub fn opts(self, user: &str, pw: &str, db: Option<&str>) -> mysql_async::Opts {
        match self {
            Side::Direct => harness::direct_opts(user, pw, db),
            Side::Proxy => harness::proxy_opts(user, pw, db),
        }
    }
}

/// The state a scenario drives: connections of one side and the transcript.
pub struct Ctx {
    /// Which side this run is.
    pub side: Side,
    /// The entry's schema (the same name on both sides).
    pub schema: String,
    /// Open connections; `cur` is the one the helpers use.
    pub conns: Vec<Conn>,
    /// Index into `conns`.
    pub cur: usize,
    /// The transcript (shared so a timed-out run still shows what happened).
    pub log: Arc<Mutex<Vec<Event>>>,
}

impl Ctx {
    /// Records events.
    pub fn push(&self, events: impl IntoIterator<Item = Event>) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(events);
    }

    /// Records a note.
    pub fn note(&self, s: impl Into<String>) {
        self.push([Event::Note(s.into())]);
    }

    /// The current connection.
    pub fn conn(&mut self) -> &mut Conn {
        &mut self.conns[self.cur]
    }

    /// Opens another connection of this side as `user` (recorded); makes it current.
    pub async fn open(&mut self, user: &str, pw: &str, db: Option<&str>) -> bool {
        self.open_opts(self.side.opts(user, pw, db)).await
    }

    /// Opens another connection with `opts` (recorded); makes it current.
    pub async fn open_opts(&mut self, opts: mysql_async::Opts) -> bool {
        match Conn::new(opts).await {
            Ok(c) => {
                self.push([Event::Done("connect"), Event::End(ok_of(&c))]);
                self.conns.push(c);
                self.cur = self.conns.len() - 1;
                true
            }
            Err(e) => {
                self.push([failure(e)]);
                false
            }
        }
    }

    /// Runs text SQL on the current connection.
    pub async fn q(&mut self, sql: impl AsQuery) {
        let mut out = Vec::new();
        text(self.conn(), sql, &mut out).await;
        self.push(out);
    }

    /// Prepares `sql` (recording metadata or the error).
    pub async fn prep(&mut self, sql: &str) -> Option<Statement> {
        match self.conn().prep(sql).await {
            Ok(s) => {
                let params = s.params().iter().map(Col::from).collect();
                let columns = s.columns().iter().map(Col::from).collect();
                self.push([Event::Prepared { params, columns }]);
                Some(s)
            }
            Err(e) => {
                self.push([failure(e)]);
                None
            }
        }
    }

    /// Executes a prepared statement.
    pub async fn run(&mut self, stmt: &Statement, params: impl Into<Params>) {
        let mut out = Vec::new();
        execute(self.conn(), stmt, params.into(), &mut out).await;
        self.push(out);
    }

    /// Closes a prepared statement (COM_STMT_CLOSE).
    pub async fn close(&mut self, stmt: Statement) {
        let r = self.conn().close(stmt).await;
        self.done("close", r);
    }

    /// Prepares, executes once and closes.
    pub async fn exec(&mut self, sql: &str, params: impl Into<Params>) {
        if let Some(s) = self.prep(sql).await {
            self.run(&s, params).await;
            self.close(s).await;
        }
    }

    /// Records the outcome of a command without a result set.
    pub fn done<T>(&mut self, what: &'static str, r: Result<T, mysql_async::Error>) {
        let ev = match r {
            Ok(_) => Event::Done(what),
            Err(e) => failure(e),
        };
        let ok = ok_of(self.conn());
        self.push([ev, Event::End(ok)]);
    }

    /// Opens a raw protocol connection of this side (login outcome recorded).
    ///
    /// The raw connection is a second session: what the first one wrote reaches the
    /// replicas a moment later, so they catch up first (read-your-writes is per session).
    pub async fn raw(&mut self, caps: u32) -> Option<RawConn> {
        self.raw_ext(caps, 0).await
    }

    /// A raw connection that also asks for MariaDB extended capabilities `ext`.
    pub async fn raw_ext(&mut self, caps: u32, ext: u32) -> Option<RawConn> {
        crate::harness::caught_up().await;
        let schema = self.schema.clone();
        let port = self.side.port();
        let r = RawConn::connect_ext(port, "app", "app", Some(&schema), caps, ext).await;
        match r {
            Ok((conn, login)) => {
                let ok = matches!(login.as_slice(), [0, ..]);
                self.push([Event::Raw(vec![if ok {
                    "login OK".into()
                } else {
                    raw_text(&login)
                }])]);
                ok.then_some(conn)
            }
            Err(e) => {
                self.push([Event::Failed(format!("raw connect: {:?}", e.kind()))]);
                None
            }
        }
    }

    /// Records raw response payloads (or the I/O failure).
    pub fn raw_log(&self, r: &std::io::Result<Vec<Vec<u8>>>) {
        self.push([match r {
            Ok(ps) => Event::Raw(
                ps.iter()
                    .map(|p| raw_text(&sorted_session_state(&mask_raw_statement_id(p))))
                    .collect(),
            ),
            Err(e) => Event::Failed(format!("raw: {:?}", e.kind())),
        }]);
    }
}

async fn run_side(side: Side, schema: &str, entry: &Entry) -> Vec<Event> {
    harness::fresh_schema(schema).await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut ctx = Ctx {
        side,
        schema: schema.to_string(),
        conns: Vec::new(),
        cur: 0,
        log: log.clone(),
    };
    let run = async {
        if !ctx.open("app", "app", Some(schema)).await {
            return;
        }
        match entry {
            Entry::Sql(_, stmts) => {
                for s in stmts.iter() {
                    ctx.q(*s).await;
                }
            }
            Entry::Typed(_, setup, queries) => {
                for s in setup.iter() {
                    ctx.q(*s).await;
                }
                for s in queries.iter() {
                    ctx.q(*s).await;
                    ctx.exec(s, ()).await;
                }
            }
            Entry::Steps(_, f) => f(&mut ctx).await,
        }
        for c in ctx.conns.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), c.disconnect()).await;
        }
    };
    if tokio::time::timeout(ENTRY_TIMEOUT, run).await.is_err() {
        log.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Event::Failed("TIMED OUT".into()));
    }
    let mut events = log.lock().unwrap_or_else(|e| e.into_inner());
    std::mem::take(&mut *events)
}

/// Drops the entry's schema (and what its tables hold) once both sides ran.
async fn drop_schema(schema: &str) {
    if let Ok(mut c) = Conn::new(harness::direct_opts("app", "app", None)).await {
        let _ = c
            .query_drop(format!("DROP DATABASE IF EXISTS `{schema}`"))
            .await;
        let _ = c.disconnect().await;
    }
}

/// Runs one entry on both sides; `Err` holds the mismatch report.
pub async fn run_entry(group: &str, idx: usize, entry: &Entry) -> Result<usize, String> {
    let schema = format!("diff_{group}_{idx}");
    let direct = run_side(Side::Direct, &schema, entry).await;
    let proxy = run_side(Side::Proxy, &schema, entry).await;
    drop_schema(&schema).await;
    // DIFF_DUMP=<part of an entry name> prints that entry's transcripts in full.
    if std::env::var("DIFF_DUMP").is_ok_and(|d| entry.name().contains(&d)) {
        for (side, evs) in [("DIRECT", &direct), ("PROXY", &proxy)] {
            println!("{side} {}:", entry.name());
            evs.iter()
                .enumerate()
                .for_each(|(n, e)| println!("    #{n}: {e:?}"));
        }
    }
    match compare(&direct, &proxy) {
        None => Ok(direct.len()),
        Some(d) => Err(d),
    }
}

/// Runs a group of entries and fails with every mismatch.
pub async fn run_group(group: &str, entries: Vec<Entry>) {
    let mut failed = Vec::new();
    let n = entries.len();
    for (i, e) in entries.iter().enumerate() {
        let started = std::time::Instant::now();
        match run_entry(group, i, e).await {
            Ok(events) => println!(
                "PASS {group}#{i} {} ({events} events, {:?})",
                e.name(),
                started.elapsed()
            ),
            Err(d) => {
                println!("FAIL {group}#{i} {}\n{d}", e.name());
                failed.push(format!("{group}#{i} {}:\n{d}", e.name()));
            }
        }
    }
    println!("{group}: {} of {n} entries identical", n - failed.len());
    assert!(
        failed.is_empty(),
        "{} of {n} entries differ:\n\n{}",
        failed.len(),
        failed.join("\n\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn types() {
    run_group("types", crate::corpus_types::entries()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn statements() {
    run_group("stmts", crate::corpus::entries()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn prepared() {
    run_group("prep", crate::corpus_prepared::entries()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions() {
    run_group("sess", crate::corpus_sessions::entries()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill() {
    run_group("kill", crate::corpus_kill::entries()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn blobs_and_files() {
    run_group("blob", crate::corpus_blobs::entries()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_protocol() {
    let mut entries = crate::corpus_raw::entries();
    entries.extend(crate::corpus_commands::entries());
    run_group("raw", entries).await;
}
