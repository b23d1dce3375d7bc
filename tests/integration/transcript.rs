//! What the differential suite records and compares: a transcript of events (result sets
//! with full column metadata and values, final OK packets, errors, prepared-statement
//! metadata, raw payloads), the helpers that run a statement and record it, and the
//! comparison that prints both sides of a mismatch. The only normalising anywhere: a
//! statement id in error 1243's message and in the raw COM_STMT_PREPARE OK, because
//! statement ids count per server connection and the proxy's backend connection may have
//! served earlier clients.

use mysql_async::prelude::*;
use mysql_async::{Column, Conn, Params, QueryResult, Statement, Value};

/// Values longer than this are printed as their length and a fingerprint.
const BIG: usize = 256;

/// Column metadata as both sides must send it.
#[derive(Debug, PartialEq)]
pub struct Col {
    pub schema: String,
    pub table: String,
    pub org_table: String,
    pub name: String,
    pub org_name: String,
    pub ty: mysql_async::consts::ColumnType,
    pub flags: mysql_async::consts::ColumnFlags,
    pub charset: u16,
    pub length: u32,
    pub decimals: u8,
}

impl From<&Column> for Col {
    fn from(c: &Column) -> Self {
        Col {
            schema: c.schema_str().into(),
            table: c.table_str().into(),
            org_table: c.org_table_str().into(),
            name: c.name_str().into(),
            org_name: c.org_name_str().into(),
            ty: c.column_type(),
            flags: c.flags(),
            charset: c.character_set(),
            length: c.column_length(),
            decimals: c.decimals(),
        }
    }
}

/// A value. Long byte strings are compared in full but printed as length + fingerprint.
#[derive(Debug, PartialEq)]
pub enum Val {
    V(Value),
    Big(Big),
}

/// A long byte string.
#[derive(PartialEq)]
pub struct Big(pub Vec<u8>);

impl std::fmt::Debug for Big {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<{} bytes, fingerprint {}>",
            self.0.len(),
            fingerprint(&self.0)
        )
    }
}

/// A fast non-cryptographic fingerprint for printing long values (std's SipHash with
/// fixed keys: deterministic, and optimised even in a debug build, unlike sha2 here).
pub fn fingerprint(b: &[u8]) -> String {
    use std::hash::Hasher;
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    h.write(b);
    format!("{:016x}", h.finish())
}

fn val(v: Value) -> Val {
    match v {
        Value::Bytes(b) if b.len() > BIG => Val::Big(Big(b)),
        v => Val::V(v),
    }
}

/// What the last OK packet said.
#[derive(Debug, PartialEq)]
pub struct OkInfo {
    pub affected: u64,
    pub last_insert_id: u64,
    pub status: u16,
    pub warnings: u16,
    pub info: String,
}

/// One thing that happened, in order.
#[derive(Debug, PartialEq)]
pub enum Event {
    /// A result set (or a bare OK, with no columns): affected rows, last insert id,
    /// warnings and info of its OK (for rows: of the terminator or of the next result).
    Set {
        columns: Vec<Col>,
        rows: Vec<Vec<Val>>,
        ok: (u64, Option<u64>, u16, String),
    },
    /// The whole response is over; what the last OK packet said.
    End(Option<OkInfo>),
    /// A server error.
    Err {
        code: u16,
        state: String,
        message: String,
    },
    /// A client-side or I/O failure (its kind only: wording differs between OS paths).
    Failed(String),
    /// A statement prepared: parameter and column metadata (the id is the server's business).
    Prepared { params: Vec<Col>, columns: Vec<Col> },
    /// A command without result (ping, reset, change user, close) completed.
    Done(&'static str),
    /// Raw response payloads (from `rawclient`).
    Raw(Vec<String>),
    /// Something the scenario observed.
    Note(String),
}

/// Shows a payload as hex (long ones by length and digest).
pub fn raw_text(p: &[u8]) -> String {
    if p.len() > BIG {
        return format!("<{} bytes, fingerprint {}>", p.len(), fingerprint(p));
    }
    p.iter().map(|b| format!("{b:02x}")).collect()
}

/// SERVER_STATUS_METADATA_CHANGED: "this statement's columns changed since it was
/// prepared". A read statement is prepared again lazily on the replica that runs it,
/// possibly after the DDL already reached that replica, so the flag may legitimately be
/// absent through the proxy; the columns themselves are compared in full.
const SERVER_STATUS_METADATA_CHANGED: u16 = 0x0400;

pub fn ok_of(conn: &Conn) -> Option<OkInfo> {
    conn.last_ok_packet().map(|o| OkInfo {
        affected: o.affected_rows(),
        last_insert_id: o.last_insert_id().unwrap_or(0),
        status: o.status_flags().bits() & !SERVER_STATUS_METADATA_CHANGED,
        warnings: o.warnings(),
        info: o.info_str().map(|s| s.into_owned()).unwrap_or_default(),
    })
}

/// ER_UNKNOWN_STMT_HANDLER: its message names the statement id.
const ER_UNKNOWN_STMT_HANDLER: u16 = 1243;

/// Statement ids count statements per server connection, and the proxy's backend
/// connection may have served earlier clients: the id in this one message is masked.
fn mask_statement_id(message: String) -> String {
    match (message.find('('), message.find(')')) {
        (Some(a), Some(b)) if a < b => format!("{}(N{}", &message[..a], &message[b..]),
        _ => message,
    }
}

/// `mask_statement_id` for a raw ERR 1243 packet.
pub fn mask_raw_statement_id(p: &[u8]) -> Vec<u8> {
    let code = ER_UNKNOWN_STMT_HANDLER.to_le_bytes();
    if p.len() > 9 && p[0] == 0xff && p[1..3] == code {
        let msg = mask_statement_id(String::from_utf8_lossy(&p[9..]).into_owned());
        return [&p[..9], msg.as_bytes()].concat();
    }
    p.to_vec()
}

/// An OK packet with its session-state entries in a fixed order. The server lists tracked
/// variables in an order that varies between connections (it changes, for one, with the
/// set of variables a connection tracks), so only the entries themselves are compared.
pub fn sorted_session_state(p: &[u8]) -> Vec<u8> {
    use rwproxy::protocol::wire::Reader;
    let sorted = || -> Option<Vec<u8>> {
        let mut r = Reader::new(p);
        if r.u8().ok()? != 0 {
            return None;
        }
        r.lenenc().ok()?;
        r.lenenc().ok()?;
        let status = r.u16().ok()?;
        r.u16().ok()?;
        if status & 0x4000 == 0 {
            return None;
        }
        r.lenenc_bytes().ok()?;
        let head = p.len() - r.remaining();
        let state = r.lenenc_bytes().ok()?;
        let mut entries = Vec::new();
        let mut s = Reader::new(state);
        while s.remaining() > 0 {
            let start = state.len() - s.remaining();
            s.u8().ok()?;
            s.lenenc_bytes().ok()?;
            entries.push(&state[start..state.len() - s.remaining()]);
        }
        entries.sort();
        Some(
            [
                &p[..head],
                &p[head..p.len() - state.len()],
                &entries.concat(),
            ]
            .concat(),
        )
    };
    sorted().unwrap_or_else(|| p.to_vec())
}

pub fn failure(e: mysql_async::Error) -> Event {
    match e {
        mysql_async::Error::Server(s) if s.code == ER_UNKNOWN_STMT_HANDLER => Event::Err {
            code: s.code,
            state: s.state,
            message: mask_statement_id(s.message),
        },
        mysql_async::Error::Server(s) => Event::Err {
            code: s.code,
            state: s.state,
            message: s.message,
        },
        mysql_async::Error::Io(_) => Event::Failed("io".into()),
        mysql_async::Error::Driver(d) => Event::Failed(format!("driver: {d}")),
        other => Event::Failed(format!("other: {other}")),
    }
}

async fn drain<P: mysql_async::prelude::Protocol>(
    r: &mut QueryResult<'_, '_, P>,
    out: &mut Vec<Event>,
) -> bool {
    while let Some(cols) = r.columns() {
        // A bare OK's counters are there now; a row set's only after its terminator.
        let head = (
            r.affected_rows(),
            r.last_insert_id(),
            r.warnings(),
            r.info().into_owned(),
        );
        let rows: Vec<mysql_async::Row> = match r.collect().await {
            Ok(rows) => rows,
            Err(e) => {
                out.push(failure(e));
                return false;
            }
        };
        let rows = rows
            .into_iter()
            .map(|row| row.unwrap().into_iter().map(val).collect())
            .collect();
        let tail = (
            r.affected_rows(),
            r.last_insert_id(),
            r.warnings(),
            r.info().into_owned(),
        );
        let ok = if cols.is_empty() { head } else { tail };
        out.push(Event::Set {
            columns: cols.iter().map(Col::from).collect(),
            rows,
            ok,
        });
    }
    true
}

/// Runs `sql` as text on `conn`; records every result and the final OK.
pub async fn text(conn: &mut Conn, sql: impl AsQuery, out: &mut Vec<Event>) {
    match conn.query_iter(sql).await {
        Ok(mut r) => {
            if !drain(&mut r, out).await {
                return;
            }
        }
        Err(e) => return out.push(failure(e)),
    }
    out.push(Event::End(ok_of(conn)));
}

/// Executes a prepared statement on `conn`; records every result and the final OK.
pub async fn execute(conn: &mut Conn, stmt: &Statement, params: Params, out: &mut Vec<Event>) {
    match conn.exec_iter(stmt, params).await {
        Ok(mut r) => {
            if !drain(&mut r, out).await {
                return;
            }
        }
        Err(e) => return out.push(failure(e)),
    }
    out.push(Event::End(ok_of(conn)));
}

/// Describes the first difference between two transcripts, with both sides around it.
pub fn compare(direct: &[Event], proxy: &[Event]) -> Option<String> {
    let n = direct.len().max(proxy.len());
    let i = (0..n).find(|&i| direct.get(i) != proxy.get(i))?;
    let show = |evs: &[Event]| {
        evs.iter()
            .enumerate()
            .skip(i.saturating_sub(2))
            .take(6)
            .map(|(n, e)| format!("    #{n}: {e:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut out = format!(
        "first difference at event #{i}\n  DIRECT ({} events):\n{}\n  PROXY ({} events):\n{}",
        direct.len(),
        show(direct),
        proxy.len(),
        show(proxy)
    );
    // Later differences too (by position), so one entry can show more than one problem.
    let later: Vec<usize> = (i + 1..n)
        .filter(|&k| direct.get(k) != proxy.get(k))
        .collect();
    for &k in later.iter().take(4) {
        out += &format!(
            "\n  also #{k}:\n    DIRECT: {:?}\n    PROXY:  {:?}",
            direct.get(k),
            proxy.get(k)
        );
    }
    if later.len() > 4 {
        out += &format!("\n  ... and {} more", later.len() - 4);
    }
    Some(out)
}
