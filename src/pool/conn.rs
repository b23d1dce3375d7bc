//! One logged-in backend connection and the few commands the proxy itself sends on it
//! (COM_INIT_DB, COM_RESET_CONNECTION, COM_CHANGE_USER, one-off queries).

use super::login::{self, Login};
use super::slot::Slot;
use super::stream::BackendStream;
use super::tls::BackendTls;
use super::{PoolError, PoolKey};
use crate::protocol::constants::com::*;
use crate::protocol::handshake::ChangeUser;
use crate::protocol::packets::ErrPacket;
use crate::protocol::response::{ResponseKind, ResponseWalker, Step};
use crate::protocol::{PacketConn, ProtocolError};
use crate::replication::Backend;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// A backend connection, logged in.
#[derive(Debug)]
pub struct BackendConn {
    /// The framed socket (TLS when `[proxy] backend_tls` is on).
    pub conn: PacketConn<BackendStream>,
    /// The backend it belongs to.
    pub backend: Arc<Backend>,
    /// Its pool key.
    pub key: PoolKey,
    /// Backend thread id (for KILL).
    pub thread_id: u32,
    /// Capabilities in use.
    pub caps: u32,
    /// MariaDB extended capabilities in use.
    pub ext_caps: u32,
    /// The backend's version string.
    pub server_version: String,
    /// Current schema as far as the proxy knows.
    pub schema: Option<String>,
    /// False when its session state is no longer what its pool key says.
    pub reusable: bool,
    /// How many entries of the owning session's history have been applied here.
    pub applied: usize,
    /// The last GTID position this connection waited for (read-your-writes).
    pub waited_gtid: Option<String>,
    /// Its OKs report `last_gtid` (see `TRACK_LAST_GTID`), so a committing statement's
    /// GTID is known without asking; false until set, and after anything that may have
    /// changed `session_track_system_variables`.
    pub gtid_tracked: bool,
    /// Fingerprint of its session state: the initial schema and the session commands
    /// applied, as [`crate::router::session::fingerprint`] computes it. Connections
    /// with equal fingerprints (and pool keys) are interchangeable.
    pub fp: u64,
    /// Its place under the backend's `max_connections`, given back when it closes.
    _slot: Slot,
    /// When the server last answered on it (or it connected). A server closes a
    /// connection `wait_timeout` after the last command it got, so `liveness` and the
    /// idle sweep count from here. Forwarded requests set it from the time their
    /// latency sample ends; the proxy's own exchanges read the clock.
    pub last_used: std::time::Instant,
    /// The binary-protocol statements prepared on it, kept across sessions.
    pub stmts: super::stmt_cache::StmtCache,
}

/// Adds `last_gtid` to the session's tracked variables, keeping the others (the
/// client's own tracking of schema, charset and so on must go on working).
pub const TRACK_LAST_GTID: &str = "SET SESSION session_track_system_variables = \
    IF(@@session_track_system_variables = '*' \
       OR FIND_IN_SET('last_gtid', @@session_track_system_variables), \
       @@session_track_system_variables, \
       CONCAT_WS(',', NULLIF(@@session_track_system_variables, ''), 'last_gtid'))";

impl BackendConn {
    /// True when the connection negotiated MARIADB_CLIENT_CACHE_METADATA.
    pub fn caches_metadata(&self) -> bool {
        self.ext_caps & crate::protocol::constants::ext_caps::MARIADB_CLIENT_CACHE_METADATA != 0
    }

    /// Notes that the connection now holds all of `state`'s session settings: its
    /// whole history applied, so its fingerprint is the session's.
    pub fn in_step_with(&mut self, state: &crate::router::session::SessionState) {
        self.applied = state.history.len();
        self.fp = state.fingerprint;
    }

    /// Queues COM_STMT_CLOSE for backend statements `ids`: the command has no reply, so
    /// it goes out with the connection's next request.
    pub fn close_statements(&mut self, ids: &[u32]) {
        for id in ids {
            let mut p = [COM_STMT_CLOSE, 0, 0, 0, 0];
            p[1..].copy_from_slice(&id.to_le_bytes());
            self.conn.write_packet(0, &p);
        }
    }

    /// Connects (over TLS when `tls` is given) and logs in, bounded by `timeout`, in the
    /// place `slot` holds.
    pub async fn connect(
        slot: Slot,
        backend: Arc<Backend>,
        key: PoolKey,
        who: &Login,
        schema: Option<&str>,
        timeout: Duration,
        tls: Option<&BackendTls>,
    ) -> Result<Box<BackendConn>, PoolError> {
        let timed_out = || PoolError::Timeout {
            backend: backend.name.to_string(),
            address: backend.address.clone(),
            ms: timeout.as_millis() as u64,
        };
        let attempt = async {
            let tcp = TcpStream::connect(&backend.address)
                .await
                .map_err(|source| PoolError::Connect {
                    backend: backend.name.to_string(),
                    address: backend.address.clone(),
                    source,
                })?;
            let _ = tcp.set_nodelay(true);
            let conn = PacketConn::new(BackendStream::Plain(tcp));
            login::login(conn, &backend, &key, who, schema, tls).await
        };
        let (conn, done) = tokio::time::timeout(timeout, attempt)
            .await
            .map_err(|_| timed_out())??;
        backend.connects.fetch_add(1, Ordering::Relaxed);
        let mut conn = Box::new(BackendConn {
            conn,
            key,
            thread_id: done.greeting.connection_id,
            caps: done.caps,
            ext_caps: done.ext_caps,
            server_version: done.greeting.server_version,
            schema: schema.map(str::to_string),
            reusable: true,
            applied: 0,
            waited_gtid: None,
            gtid_tracked: false,
            fp: crate::router::session::base_fingerprint(schema),
            _slot: slot,
            last_used: std::time::Instant::now(),
            stmts: Default::default(),
            backend,
        });
        match tokio::time::timeout(timeout, conn.track_gtids()).await {
            Ok(done) => done?,
            Err(_) => {
                return Err(PoolError::Timeout {
                    backend: conn.backend.name.to_string(),
                    address: conn.backend.address.clone(),
                    ms: timeout.as_millis() as u64,
                })
            }
        }
        Ok(conn)
    }

    /// Turns on `last_gtid` tracking where the server can report it (MariaDB with
    /// CLIENT_SESSION_TRACK); elsewhere the proxy asks for positions instead.
    pub async fn track_gtids(&mut self) -> Result<(), PoolError> {
        self.gtid_tracked = false;
        if !self.can_track_gtids() {
            return Ok(());
        }
        match self.query(TRACK_LAST_GTID).await {
            Ok(_) => self.gtid_tracked = true,
            // An old server without the variable: the position is asked for instead.
            Err(PoolError::Refused { .. }) => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// MariaDB reports `last_gtid` in OKs to a connection with CLIENT_SESSION_TRACK.
    fn can_track_gtids(&self) -> bool {
        self.caps & crate::protocol::constants::caps::CLIENT_SESSION_TRACK != 0
            && self.server_version.contains("MariaDB")
    }

    fn proto(&self, source: ProtocolError) -> PoolError {
        PoolError::Protocol {
            backend: self.backend.name.to_string(),
            source,
        }
    }

    /// Sends a one-packet command and reads a one-packet reply; ERR becomes `Refused`.
    async fn simple(&mut self, payload: &[u8]) -> Result<(), PoolError> {
        self.conn.write_packet(0, payload);
        self.conn.flush().await.map_err(|e| self.proto(e))?;
        self.simple_reply().await
    }

    /// Reads a one-packet reply; ERR becomes `Refused`.
    async fn simple_reply(&mut self) -> Result<(), PoolError> {
        let reply = self
            .conn
            .read_packet(1, 1 << 24)
            .await
            .map_err(|e| self.proto(e))?;
        if reply.payload.first() == Some(&0xff) {
            let err = ErrPacket::parse(&reply.payload).map_err(|e| self.proto(e))?;
            return Err(PoolError::Refused {
                backend: self.backend.name.to_string(),
                err,
            });
        }
        self.last_used = std::time::Instant::now();
        Ok(())
    }

    /// COM_INIT_DB.
    pub async fn init_db(&mut self, db: &str) -> Result<(), PoolError> {
        let mut p = vec![COM_INIT_DB];
        p.extend_from_slice(db.as_bytes());
        self.simple(&p).await?;
        self.schema = Some(db.to_string());
        self.fp = crate::router::session::base_fingerprint(self.schema.as_deref());
        Ok(())
    }

    /// COM_RESET_CONNECTION: drops variables, temporary tables, prepared statements,
    /// locks and open transactions; keeps the schema. GTID tracking is turned back on
    /// and the schema read back, in the same round trip (the requests are pipelined).
    pub async fn reset(&mut self) -> Result<(), PoolError> {
        let track = self.can_track_gtids();
        self.gtid_tracked = false;
        self.stmts.clear();
        self.conn.write_packet(0, &[COM_RESET_CONNECTION]);
        if track {
            self.conn.write_packet(0, &query_payload(TRACK_LAST_GTID));
        }
        self.conn
            .write_packet(0, &query_payload("SELECT DATABASE()"));
        self.conn.flush().await.map_err(|e| self.proto(e))?;
        self.simple_reply().await?;
        if track {
            match self.receive(ResponseKind::Query, None).await {
                Ok(_) => self.gtid_tracked = true,
                Err(PoolError::Refused { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let mut rows = Vec::new();
        self.receive(ResponseKind::Query, Some(&mut rows)).await?;
        self.schema = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten());
        self.fp = crate::router::session::base_fingerprint(self.schema.as_deref());
        Ok(())
    }

    /// COM_CHANGE_USER to `who`, following the auth exchange.
    pub async fn change_user(
        &mut self,
        who: &Login,
        schema: Option<&str>,
        charset: u8,
    ) -> Result<(), PoolError> {
        let cu = ChangeUser {
            user: who.user.clone(),
            auth_response: Vec::new(),
            database: schema.map(str::to_string),
            charset: Some(charset as u16),
            auth_plugin: crate::protocol::auth::NATIVE.into(),
            attrs: who.attrs.clone(),
        };
        self.stmts.clear();
        self.conn.write_packet(0, &cu.encode(self.caps));
        self.conn.flush().await.map_err(|e| self.proto(e))?;
        login::finish_auth(&mut self.conn, &self.backend.name, who, "", 1).await?;
        self.schema = schema.map(str::to_string);
        self.fp = crate::router::session::base_fingerprint(schema);
        self.key.user = who.user.as_str().into();
        Ok(())
    }

    /// Sends a request the proxy answers itself (history replay, a lazy prepare) and
    /// reads its whole response; an ERR response becomes `Refused`.
    pub async fn exec_quiet(
        &mut self,
        payload: &[u8],
        kind: ResponseKind,
    ) -> Result<ResponseWalker, PoolError> {
        self.exchange(payload, kind, None).await
    }

    /// Runs a statement whose result the proxy reads itself; returns the text rows.
    pub async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PoolError> {
        let mut rows = Vec::new();
        self.exchange(&query_payload(sql), ResponseKind::Query, Some(&mut rows))
            .await?;
        Ok(rows)
    }

    /// Sends `payload`, walks the response to its end, and collects text rows into
    /// `rows` when given.
    async fn exchange(
        &mut self,
        payload: &[u8],
        kind: ResponseKind,
        rows: Option<&mut Vec<Vec<Option<String>>>>,
    ) -> Result<ResponseWalker, PoolError> {
        self.conn.write_packet(0, payload);
        self.conn.flush().await.map_err(|e| self.proto(e))?;
        self.receive(kind, rows).await
    }

    /// Walks one response to its end, collecting text rows into `rows` when given.
    async fn receive(
        &mut self,
        kind: ResponseKind,
        mut rows: Option<&mut Vec<Vec<Option<String>>>>,
    ) -> Result<ResponseWalker, PoolError> {
        let mut walker = ResponseWalker::new(kind, self.caps);
        walker.keep_columns(None, self.caches_metadata());
        let mut seq = 1u8;
        loop {
            let pkt = self
                .conn
                .read_packet(seq, usize::MAX)
                .await
                .map_err(|e| self.proto(e))?;
            seq = pkt.seq.wrapping_add(1);
            let step = walker.feed(&pkt.payload).map_err(|e| self.proto(e))?;
            if let (true, Some(rows)) = (walker.last_was_row, rows.as_mut()) {
                rows.push(text_row(&pkt.payload));
            }
            if step != Step::More {
                self.last_used = std::time::Instant::now();
            }
            match step {
                Step::More => {}
                Step::Done if walker.error.is_some() => {
                    let err = ErrPacket::parse(&pkt.payload).map_err(|e| self.proto(e))?;
                    return Err(PoolError::Refused {
                        backend: self.backend.name.to_string(),
                        err,
                    });
                }
                Step::Done => return Ok(walker),
                Step::LocalInfile => {
                    return Err(self.proto(ProtocolError::Malformed("unexpected file request")))
                }
            }
        }
    }
}

/// A COM_QUERY payload for `sql`.
fn query_payload(sql: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(1 + sql.len());
    p.push(COM_QUERY);
    p.extend_from_slice(sql.as_bytes());
    p
}

/// True when a client's statement may change which variables the server reports in
/// OKs (then `last_gtid` may no longer be among them).
pub fn touches_tracking(sql: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"session_track";
    sql.windows(NEEDLE.len())
        .any(|w| w.eq_ignore_ascii_case(NEEDLE))
}

/// Decodes a text-protocol row (the proxy's own small queries only).
fn text_row(payload: &[u8]) -> Vec<Option<String>> {
    let mut r = crate::protocol::wire::Reader::new(payload);
    let mut out = Vec::new();
    while r.remaining() > 0 {
        if r.clone().u8().ok() == Some(0xfb) {
            let _ = r.u8();
            out.push(None);
            continue;
        }
        match r.lenenc_bytes() {
            Ok(v) => out.push(Some(String::from_utf8_lossy(v).into_owned())),
            Err(_) => break,
        }
    }
    out
}
