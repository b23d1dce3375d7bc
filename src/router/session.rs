//! `SessionState`: what the proxy knows about one client session. Transaction state comes
//! from the server's status flags; session settings are kept as a command history that is
//! replayed on every backend connection the session uses; pins record why a session must
//! stay on the primary.

use crate::protocol::constants::status::*;
use crate::protocol::packets::OkInfo;
use bytes::Bytes;

/// A command that changed session settings, replayed on every backend the session uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    /// A COM_QUERY payload (command byte included): SET, SET NAMES, USE …
    Query(Bytes),
    /// A COM_INIT_DB payload (command byte included).
    InitDb(Bytes),
    /// A COM_SET_OPTION payload (command byte included).
    SetOption(Bytes),
}

impl SessionCommand {
    /// The request payload to send.
    pub fn payload(&self) -> &[u8] {
        match self {
            SessionCommand::Query(b) | SessionCommand::InitDb(b) | SessionCommand::SetOption(b) => {
                b
            }
        }
    }
}

/// Why a session is kept on the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Pin {
    /// A temporary table exists only on the primary connection.
    TempTable = 0,
    /// GET_LOCK holds a named lock on the primary connection.
    NamedLock = 1,
    /// LOCK TABLES is in force.
    LockTables = 2,
    /// A SELECT assigned user variables on the primary.
    UserVariable = 3,
    /// A multi-statement batch mixed session changes with other statements.
    MixedBatch = 4,
    /// The session history grew too long to replay.
    LongHistory = 5,
    /// A prepared statement changed session state (it cannot be replayed as text).
    PreparedSessionChange = 6,
    /// The session's current schema was dropped: only the primary session knows it has none.
    SchemaDropped = 7,
}

impl Pin {
    /// All pins, in counter order.
    pub const ALL: [Pin; 8] = [
        Pin::TempTable,
        Pin::NamedLock,
        Pin::LockTables,
        Pin::UserVariable,
        Pin::MixedBatch,
        Pin::LongHistory,
        Pin::PreparedSessionChange,
        Pin::SchemaDropped,
    ];

    /// Stable name for metrics and EXPLAIN ROUTE.
    pub fn as_str(self) -> &'static str {
        match self {
            Pin::TempTable => "temp-table",
            Pin::NamedLock => "named-lock",
            Pin::LockTables => "lock-tables",
            Pin::UserVariable => "user-variable",
            Pin::MixedBatch => "mixed-batch",
            Pin::LongHistory => "long-history",
            Pin::PreparedSessionChange => "prepared-session-change",
            Pin::SchemaDropped => "schema-dropped",
        }
    }
}

/// Fingerprint of a connection that starts in `schema` with no session command applied.
pub fn base_fingerprint(schema: Option<&str>) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys (`DefaultHasher::new`): the same in every session, and
    // not steerable into a collision by a client as a fast non-keyed hash would be.
    let mut h = std::hash::DefaultHasher::new();
    schema.hash(&mut h);
    h.finish()
}

/// The fingerprint after applying `cmd` to a connection whose fingerprint is `fp`.
pub fn fingerprint(fp: u64, cmd: &SessionCommand) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    fp.hash(&mut h);
    cmd.payload().hash(&mut h);
    h.finish()
}

/// Longest session history replayed on other backends; beyond it the session is pinned.
pub const MAX_HISTORY: usize = 256;

/// One client session's state.
#[derive(Debug, Clone, Default)]
pub struct SessionState {
    /// The schema the client logged in with (new backend connections start there).
    pub initial_schema: Option<String>,
    /// The current schema, if known.
    pub schema: Option<String>,
    /// Last server status flags seen.
    pub status: u16,
    /// System variables the server reported changed (name, value), latest last.
    pub variables: Vec<(String, String)>,
    /// Session commands to replay on other backends, in order.
    pub history: Vec<SessionCommand>,
    /// Pins in force, as a bit per [`Pin`].
    pub pins: u8,
    /// Backend running the open READ ONLY transaction, if it is not the primary.
    pub txn_backend: Option<std::sync::Arc<str>>,
    /// Backend that ran the previous statement (FOUND_ROWS, SHOW WARNINGS follow it).
    pub last_backend: Option<std::sync::Arc<str>>,
    /// The session wrote since `causal_gtid` was last brought up to date, and the
    /// position must be asked of the primary.
    pub causal_dirty: bool,
    /// The position (per GTID domain) the session's writes reached on the primary.
    pub causal_gtid: Option<String>,
    /// Fingerprint of the initial schema and the history: a pooled connection with the
    /// same one is already in step with the session.
    pub fingerprint: u64,
    /// A text-protocol PREPARE ran: the primary connection holds a statement no
    /// history replays, so the session keeps it (no multiplexing) until a reset.
    pub sql_prepared: bool,
}

impl SessionState {
    /// A fresh state for a session that starts in `schema`.
    pub fn new(schema: Option<String>) -> Self {
        SessionState {
            fingerprint: base_fingerprint(schema.as_deref()),
            initial_schema: schema.clone(),
            schema,
            status: SERVER_STATUS_AUTOCOMMIT,
            ..Default::default()
        }
    }

    /// A transaction is open (SERVER_STATUS_IN_TRANS).
    pub fn in_transaction(&self) -> bool {
        self.status & SERVER_STATUS_IN_TRANS != 0
    }

    /// Autocommit is on (SERVER_STATUS_AUTOCOMMIT).
    pub fn autocommit(&self) -> bool {
        self.status & SERVER_STATUS_AUTOCOMMIT != 0
    }

    /// The open transaction is READ ONLY.
    pub fn read_only_transaction(&self) -> bool {
        self.status & SERVER_STATUS_IN_TRANS_READONLY != 0
    }

    /// The first pin in force, if any.
    pub fn pin(&self) -> Option<Pin> {
        Pin::ALL
            .into_iter()
            .find(|p| self.pins & (1 << *p as u8) != 0)
    }

    /// Adds a pin; returns true if it is new.
    pub fn add_pin(&mut self, pin: Pin) -> bool {
        let bit = 1 << pin as u8;
        let new = self.pins & bit == 0;
        self.pins |= bit;
        new
    }

    /// Appends a session command; pins the session when the history gets too long.
    pub fn record(&mut self, cmd: SessionCommand) {
        if self.history.len() >= MAX_HISTORY {
            self.add_pin(Pin::LongHistory);
            return;
        }
        self.fingerprint = fingerprint(self.fingerprint, &cmd);
        self.history.push(cmd);
    }

    /// Records the end of a response: its final status flags and any OK packet.
    pub fn observe(&mut self, status: Option<u16>, ok: Option<&OkInfo>) {
        if let Some(s) = status {
            self.status = s;
            if s & SERVER_STATUS_IN_TRANS == 0 {
                self.txn_backend = None;
            }
        }
        if let Some(ok) = ok {
            if let Some(schema) = &ok.schema {
                // An empty name: the current schema was dropped.
                self.schema = (!schema.is_empty()).then(|| schema.clone());
            }
            for (name, value) in &ok.variables {
                self.variables.retain(|(n, _)| n != name);
                self.variables.push((name.clone(), value.clone()));
            }
        }
    }

    /// Forgets what COM_RESET_CONNECTION clears: variables, history, pins, transaction
    /// (the schema stays, so it becomes the starting schema).
    pub fn reset(&mut self) {
        self.restart(self.schema.clone());
    }

    /// A fresh state starting in `schema` (a reset, a change of user), except for what
    /// the session wrote: its reads must still see that (read-your-writes).
    pub fn restart(&mut self, schema: Option<String>) {
        let dirty = self.causal_dirty;
        let gtid = self.causal_gtid.take();
        *self = SessionState::new(schema);
        self.causal_dirty = dirty;
        self.causal_gtid = gtid;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_follows_status_flags_and_tracking() {
        let mut s = SessionState::new(None);
        s.observe(
            Some(SERVER_STATUS_IN_TRANS | SERVER_STATUS_AUTOCOMMIT),
            None,
        );
        assert!(s.in_transaction() && s.autocommit());
        let ok = OkInfo {
            schema: Some("shop".into()),
            variables: vec![("time_zone".into(), "+01:00".into())],
            ..OkInfo::default()
        };
        s.observe(Some(SERVER_STATUS_AUTOCOMMIT), Some(&ok));
        assert!(!s.in_transaction());
        assert_eq!(s.schema.as_deref(), Some("shop"));
        s.add_pin(Pin::TempTable);
        s.record(SessionCommand::Query(Bytes::from_static(b"\x03SET @a=1")));
        s.causal_gtid = Some("0-1-5".into());
        s.reset();
        assert!(s.variables.is_empty() && s.history.is_empty() && s.pin().is_none());
        assert_eq!(s.initial_schema.as_deref(), Some("shop"));
        assert_eq!(
            s.causal_gtid.as_deref(),
            Some("0-1-5"),
            "a reset does not undo writes"
        );
    }

    #[test]
    fn long_history_pins() {
        let mut s = SessionState::new(None);
        for _ in 0..=MAX_HISTORY {
            s.record(SessionCommand::Query(Bytes::from_static(b"\x03SET @a=1")));
        }
        assert_eq!(s.pin(), Some(Pin::LongHistory));
    }
}
