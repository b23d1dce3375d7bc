//! Walking a server's response packet by packet, without decoding rows, to learn where
//! it ends and what state it leaves: the status flags of the last OK/EOF, session-track
//! data, an error code, or a LOAD DATA LOCAL request in the middle.
//!
//! Shapes (CLIENT_DEPRECATE_EOF removes the EOFs marked *):
//! - query / execute: OK | ERR | 0xFB file request | column count, column defs, EOF*,
//!   rows, EOF-or-OK; repeated while SERVER_MORE_RESULTS_EXISTS. An execute that opens a
//!   cursor stops after the metadata with SERVER_STATUS_CURSOR_EXISTS.
//! - prepare: ERR | stmt OK, param defs, EOF*, column defs, EOF*.
//! - fetch and field list: rows or defs, then EOF-or-OK | ERR.
//! - everything else: a single packet.
//!
//! With MARIADB_CLIENT_CACHE_METADATA a column count carries a "metadata follows" byte,
//! and when it is 0 the column definitions are left out (`super::columns`).

use super::columns::{Collector, ColumnDefs};
use super::constants::caps::CLIENT_DEPRECATE_EOF;
use super::constants::status::*;
use super::constants::MAX_PAYLOAD;
use super::packets::{parse_ok, terminator_status, OkInfo};
use super::wire::Reader;
use super::ProtocolError;
use std::sync::Arc;

/// Which response shape to expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// A single packet (OK, ERR, EOF, or COM_STATISTICS's string).
    Single,
    /// COM_QUERY: may also ask for a local file.
    Query,
    /// COM_STMT_EXECUTE.
    Execute,
    /// COM_STMT_PREPARE.
    Prepare,
    /// COM_STMT_FETCH and COM_FIELD_LIST: rows until a terminator.
    Rows,
}

/// What the caller should do after feeding a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The response goes on.
    More,
    /// The response is complete.
    Done,
    /// The server asked for a local file (0xFB); the client's upload must be relayed,
    /// then the walk continues.
    LocalInfile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    First,
    Columns(u64),
    MetaEof,
    Rows,
    Packets(u32),
    Finished,
}

/// Tracks one response.
#[derive(Debug)]
pub struct ResponseWalker {
    kind: ResponseKind,
    caps: u32,
    state: State,
    continuing: bool,
    done_pending: bool,
    /// Status flags of the last OK/EOF seen.
    pub status: Option<u16>,
    /// The last OK packet (session-track data, affected rows).
    pub ok: Option<OkInfo>,
    /// Error code, if the response ended in ERR.
    pub error: Option<u16>,
    /// Statement id from a prepare's OK.
    pub statement_id: Option<u32>,
    /// Number of parameters from a prepare's OK.
    pub params: Option<u16>,
    /// True when the packet just fed was a row.
    pub last_was_row: bool,
    /// True when the packet just fed was an OK (or an OK-style terminator).
    pub last_was_ok: bool,
    /// The last `last_gtid` any OK of the response reported (MariaDB session tracking):
    /// the GTID of a transaction the statement committed.
    pub last_gtid: Option<String>,
    /// An OK said the session's current schema was dropped (SERVER_STATUS_DB_DROPPED).
    pub schema_dropped: bool,
    /// Rows seen (all result sets of the response).
    pub rows: u64,
    /// Warnings the last OK or terminator reported.
    pub warnings: u16,
    /// True when the packet just fed was a column count.
    pub last_was_count: bool,
    /// True when that column count said its definitions were left out.
    pub columns_skipped: bool,
    /// A column count was seen.
    pub had_result_set: bool,
    /// The column definitions the statement's connection last sent (kept when
    /// [`ResponseWalker::keep_columns`]): renewed by a prepare response or a result set
    /// that sends them, used where one leaves them out.
    pub columns: Option<Arc<ColumnDefs>>,
    /// `columns` changed during this response.
    pub columns_renewed: bool,
    /// Column counts carry MARIADB_CLIENT_CACHE_METADATA's "metadata follows" byte.
    metadata_flag: bool,
    keep: bool,
    /// Made when definitions to keep arrive (most executes bring none).
    collector: Option<Box<Collector>>,
    /// A prepare's column definitions: how many, and how many packets come after them.
    prepare_columns: (u16, u8),
}

impl ResponseWalker {
    /// Starts a walk for a connection with capability flags `caps`.
    pub fn new(kind: ResponseKind, caps: u32) -> Self {
        ResponseWalker {
            kind,
            caps,
            state: if kind == ResponseKind::Rows {
                State::Rows
            } else {
                State::First
            },
            continuing: false,
            done_pending: false,
            status: None,
            ok: None,
            error: None,
            statement_id: None,
            params: None,
            last_was_row: false,
            last_was_ok: false,
            last_gtid: None,
            schema_dropped: false,
            rows: 0,
            warnings: 0,
            last_was_count: false,
            columns_skipped: false,
            had_result_set: false,
            columns: None,
            columns_renewed: false,
            metadata_flag: false,
            keep: false,
            collector: None,
            prepare_columns: (0, 0),
        }
    }

    /// Keeps the column definitions of a prepare or an execute, starting from `columns`
    /// (what the statement's connection last sent); `metadata_flag` when the connection
    /// negotiated MARIADB_CLIENT_CACHE_METADATA. (Set in place, not by a builder: the
    /// walker is big enough that every move is a `memcpy` on the hot path.)
    #[inline]
    pub fn keep_columns(&mut self, columns: Option<Arc<ColumnDefs>>, metadata_flag: bool) {
        self.keep = matches!(self.kind, ResponseKind::Execute | ResponseKind::Prepare);
        self.columns = columns;
        self.metadata_flag = metadata_flag;
    }

    /// Reads column counts with MARIADB_CLIENT_CACHE_METADATA's extra byte.
    pub fn set_metadata_flag(&mut self, on: bool) {
        self.metadata_flag = on;
    }

    fn collect(&mut self, p: &[u8], last: bool) {
        if !self.keep {
            return;
        }
        let collector = self.collector.get_or_insert_with(Box::default);
        collector.push(p);
        if last {
            if let Some(new) = collector.renewed(self.columns.as_ref()) {
                self.columns = Some(new);
                self.columns_renewed = true;
            }
            collector.clear();
        }
    }

    fn deprecate_eof(&self) -> bool {
        self.caps & CLIENT_DEPRECATE_EOF != 0
    }

    /// Feeds one physical packet's payload.
    pub fn feed(&mut self, payload: &[u8]) -> Result<Step, ProtocolError> {
        let whole = payload.len() < MAX_PAYLOAD;
        self.last_was_count = false;
        if self.continuing {
            self.continuing = !whole;
            if whole && self.done_pending {
                return Ok(Step::Done);
            }
            return Ok(Step::More);
        }
        let step = self.logical(payload, whole)?;
        if !whole {
            self.continuing = true;
            if step == Step::Done {
                self.done_pending = true;
                return Ok(Step::More);
            }
        }
        Ok(step)
    }

    fn logical(&mut self, p: &[u8], whole: bool) -> Result<Step, ProtocolError> {
        self.last_was_row = false;
        self.last_was_ok = false;
        self.last_was_count = false;
        let first = *p
            .first()
            .ok_or(ProtocolError::Malformed("empty response packet"))?;
        // Column definitions start with "def" and rows never with 0xff: an 0xff packet
        // is always an ERR, and an ERR always ends the response.
        if first == 0xff && whole && self.state != State::Finished {
            return self.finish_err(p);
        }
        match (self.kind, self.state) {
            (_, State::Finished) => Err(ProtocolError::Malformed("packet after end of response")),
            (ResponseKind::Single, _) => {
                if first == 0x00 {
                    if let Ok(ok) = parse_ok(p, self.caps) {
                        self.status = Some(ok.status);
                        self.take_ok(ok);
                    }
                } else if first == 0xfe {
                    self.status = parse_ok(p, self.caps).ok().map(|o| o.status);
                }
                self.finish()
            }
            (ResponseKind::Prepare, State::First) => self.prepare_ok(p),
            (_, State::First) => match first {
                0x00 => self.ok_packet(p),
                0xfb if self.kind == ResponseKind::Query => Ok(Step::LocalInfile),
                _ => self.column_count(p),
            },
            (_, State::Columns(n)) => {
                self.collect(p, n == 1);
                self.state = match (n - 1, self.deprecate_eof()) {
                    (0, true) => State::Rows,
                    (0, false) => State::MetaEof,
                    (left, _) => State::Columns(left),
                };
                Ok(Step::More)
            }
            (_, State::MetaEof) => {
                let st = terminator_status(p, self.caps)?;
                self.status = Some(st);
                if st & SERVER_STATUS_CURSOR_EXISTS != 0 {
                    return self.finish();
                }
                self.state = State::Rows;
                Ok(Step::More)
            }
            (_, State::Rows) if first == 0xfe && whole => {
                let st = terminator_status(p, self.caps)?;
                self.status = Some(st);
                if p.len() >= 5 && !self.deprecate_eof() {
                    self.warnings = u16::from_le_bytes([p[1], p[2]]);
                }
                if self.deprecate_eof() {
                    if let Ok(ok) = parse_ok(p, self.caps) {
                        self.take_ok(ok);
                    }
                }
                if st & SERVER_MORE_RESULTS_EXISTS != 0 && self.kind != ResponseKind::Rows {
                    self.state = State::First;
                    return Ok(Step::More);
                }
                self.finish()
            }
            (_, State::Rows) => {
                self.last_was_row = true;
                self.rows += 1;
                Ok(Step::More)
            }
            (_, State::Packets(n)) => {
                let (columns, after) = self.prepare_columns;
                let (columns, after) = (u32::from(columns), u32::from(after));
                if n > after && n <= after + columns {
                    self.collect(p, n == after + 1);
                }
                if n <= 1 {
                    return self.finish();
                }
                self.state = State::Packets(n - 1);
                Ok(Step::More)
            }
        }
    }

    fn column_count(&mut self, p: &[u8]) -> Result<Step, ProtocolError> {
        let mut r = Reader::new(p);
        let n = r.lenenc()?;
        if n == 0 {
            return Err(ProtocolError::Malformed("zero column count"));
        }
        self.last_was_count = true;
        self.had_result_set = true;
        let follows = !self.metadata_flag || r.u8()? != 0;
        self.columns_skipped = !follows;
        if follows {
            self.state = State::Columns(n);
            return Ok(Step::More);
        }
        if self.keep && self.columns.as_ref().map(|c| c.count()) != Some(n) {
            return Err(ProtocolError::Malformed(
                "the server left out column definitions the proxy has not seen",
            ));
        }
        self.state = if self.deprecate_eof() {
            State::Rows
        } else {
            State::MetaEof
        };
        Ok(Step::More)
    }

    fn ok_packet(&mut self, p: &[u8]) -> Result<Step, ProtocolError> {
        let ok = parse_ok(p, self.caps)?;
        self.status = Some(ok.status);
        let more = ok.status & SERVER_MORE_RESULTS_EXISTS != 0;
        self.take_ok(ok);
        if more {
            return Ok(Step::More);
        }
        self.finish()
    }

    /// Keeps an OK's data, moving a tracked `last_gtid` out of its variables: it says
    /// what the statement committed, not a session setting to remember.
    fn take_ok(&mut self, mut ok: OkInfo) {
        self.last_was_ok = true;
        self.warnings = ok.warnings;
        self.schema_dropped |= ok.status & SERVER_STATUS_DB_DROPPED != 0;
        if let Some(i) = ok.variables.iter().position(|(n, _)| n == "last_gtid") {
            let (_, gtid) = ok.variables.swap_remove(i);
            if !gtid.is_empty() {
                self.last_gtid = Some(gtid);
            }
        }
        self.ok = Some(ok);
    }

    fn prepare_ok(&mut self, p: &[u8]) -> Result<Step, ProtocolError> {
        let mut r = Reader::new(p);
        r.u8()?;
        self.statement_id = Some(r.u32()?);
        let column_count = r.u16()?;
        let columns = column_count as u32;
        let params = r.u16()? as u32;
        self.params = Some(params as u16);
        let eofs = |n: u32| u32::from(n > 0 && !self.deprecate_eof());
        let packets = params + eofs(params) + columns + eofs(columns);
        self.prepare_columns = (column_count, eofs(columns) as u8);
        if packets == 0 {
            return self.finish();
        }
        self.state = State::Packets(packets);
        Ok(Step::More)
    }

    fn finish_err(&mut self, p: &[u8]) -> Result<Step, ProtocolError> {
        self.error = Some(Reader::new(&p[1..]).u16().unwrap_or(0));
        self.finish()
    }

    fn finish(&mut self) -> Result<Step, ProtocolError> {
        self.state = State::Finished;
        Ok(Step::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::caps::CLIENT_SESSION_TRACK;

    fn walk(kind: ResponseKind, caps: u32, packets: &[&[u8]]) -> (Vec<Step>, ResponseWalker) {
        let mut w = ResponseWalker::new(kind, caps);
        let steps = packets.iter().map(|p| w.feed(p).unwrap()).collect();
        (steps, w)
    }

    const DEF: &[u8] =
        b"\x03def\x00\x00\x00\x01a\x00\x0c\x3f\x00\x01\x00\x00\x00\x08\x81\x00\x00\x00\x00";
    const ROW: &[u8] = b"\x011";
    const EOF_MORE: &[u8] = &[0xfe, 0, 0, 0x0a, 0];
    const EOF_LAST: &[u8] = &[0xfe, 0, 0, 0x02, 0];

    #[test]
    fn classic_result_sets_with_more_results() {
        use Step::*;
        let (steps, w) = walk(
            ResponseKind::Query,
            0,
            &[
                b"\x01", DEF, EOF_MORE, ROW, EOF_MORE, b"\x01", DEF, EOF_LAST, EOF_LAST,
            ],
        );
        assert_eq!(
            steps,
            [More, More, More, More, More, More, More, More, Done]
        );
        assert_eq!(w.status, Some(2));
    }

    #[test]
    fn deprecate_eof_result_and_final_ok() {
        use Step::*;
        let ok_last = [0xfe, 0, 0, 0x03, 0, 0, 0];
        let (steps, w) = walk(
            ResponseKind::Query,
            CLIENT_DEPRECATE_EOF,
            &[b"\x01", DEF, ROW, ROW, &ok_last],
        );
        assert_eq!(steps, [More, More, More, More, Done]);
        assert_eq!(w.status, Some(3));
    }

    #[test]
    fn errors_and_local_infile() {
        let err = b"\xff\x28\x04#42000oops";
        let (steps, w) = walk(ResponseKind::Query, 0, &[b"\x01", DEF, EOF_MORE, ROW, err]);
        assert_eq!(steps.last(), Some(&Step::Done));
        assert_eq!(w.error, Some(1064));
        let (steps, _) = walk(
            ResponseKind::Query,
            0,
            &[b"\xfbfile.csv", &[0, 1, 0, 2, 0, 0, 0]],
        );
        assert_eq!(steps, [Step::LocalInfile, Step::Done]);
    }

    #[test]
    fn prepare_counts_definitions() {
        use Step::*;
        // id 1, 1 column, 2 params.
        let ok = [0, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0];
        let (steps, w) = walk(
            ResponseKind::Prepare,
            0,
            &[&ok, DEF, DEF, EOF_LAST, DEF, EOF_LAST],
        );
        assert_eq!(steps, [More, More, More, More, More, Done]);
        assert_eq!(w.statement_id, Some(1));
        let (steps, _) = walk(
            ResponseKind::Prepare,
            CLIENT_DEPRECATE_EOF,
            &[&ok, DEF, DEF, DEF],
        );
        assert_eq!(steps, [More, More, More, Done]);
    }

    #[test]
    fn cursor_stops_after_metadata() {
        let cursor_eof = [0xfe, 0, 0, 0x42, 0];
        let (steps, _) = walk(ResponseKind::Execute, 0, &[b"\x01", DEF, &cursor_eof]);
        assert_eq!(steps.last(), Some(&Step::Done));
    }

    #[test]
    fn big_rows_span_packets_and_0xfe_rows_are_not_terminators() {
        let big = vec![0xfe; MAX_PAYLOAD];
        let (steps, _) = walk(
            ResponseKind::Query,
            CLIENT_DEPRECATE_EOF | CLIENT_SESSION_TRACK,
            &[b"\x01", DEF, &big, &[0xfe, 1, 2], &[0xfe, 0, 0, 2, 0, 0, 0]],
        );
        assert_eq!(
            steps,
            [Step::More, Step::More, Step::More, Step::More, Step::Done]
        );
    }

    #[test]
    fn cached_metadata_is_kept_from_a_prepare_and_renewed_by_an_execute_that_sends_it() {
        use Step::*;
        // id 1, 1 column, 0 params; the prepare's definition is DEF.
        let ok = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let mut w = ResponseWalker::new(ResponseKind::Prepare, 0);
        w.keep_columns(None, true);
        let steps: Vec<Step> = [&ok[..], DEF, EOF_LAST]
            .iter()
            .map(|p| w.feed(p).unwrap())
            .collect();
        assert_eq!(steps, [More, More, Done]);
        let kept = w.columns.clone().expect("prepare's definitions kept");
        assert_eq!(kept.payloads().collect::<Vec<_>>(), [DEF]);
        assert!(w.columns_renewed);

        // An execute that leaves them out: count, flag 0, then (classic) EOF and rows.
        for caps in [0, CLIENT_DEPRECATE_EOF] {
            let last: &[u8] = if caps == 0 {
                EOF_LAST
            } else {
                &[0xfe, 0, 0, 2, 0, 0, 0]
            };
            let mut packets: Vec<&[u8]> = vec![b"\x01\x00"];
            if caps == 0 {
                packets.push(EOF_LAST);
            }
            packets.extend([ROW, last]);
            let mut w = ResponseWalker::new(ResponseKind::Execute, caps);
            w.keep_columns(Some(kept.clone()), true);
            w.feed(packets[0]).unwrap();
            assert!(w.last_was_count && w.columns_skipped);
            let steps: Vec<Step> = packets[1..].iter().map(|p| w.feed(p).unwrap()).collect();
            assert_eq!(steps.last(), Some(&Done));
            assert_eq!(w.rows, 1);
            assert!(!w.columns_renewed && Arc::ptr_eq(w.columns.as_ref().unwrap(), &kept));
        }

        // One that sends the same definitions keeps the same allocation; other ones
        // replace it.
        let other =
            b"\x03def\x00\x00\x00\x01b\x00\x0c\x3f\x00\x01\x00\x00\x00\x08\x81\x00\x00\x00\x00";
        for (def, renewed) in [(DEF, false), (&other[..], true)] {
            let mut w = ResponseWalker::new(ResponseKind::Execute, 0);
            w.keep_columns(Some(kept.clone()), true);
            for p in [b"\x01\x01", def, EOF_LAST, ROW, EOF_LAST] {
                w.feed(p).unwrap();
            }
            assert!(!w.columns_skipped);
            assert_eq!(w.columns_renewed, renewed);
            assert_eq!(w.columns.unwrap().payloads().next(), Some(def));
        }
    }

    #[test]
    fn left_out_metadata_the_walker_never_saw_is_an_error() {
        let mut w = ResponseWalker::new(ResponseKind::Execute, 0);
        w.keep_columns(None, true);
        assert!(w.feed(b"\x01\x00").is_err());
        // A count without its flag byte is malformed too.
        let mut w = ResponseWalker::new(ResponseKind::Query, 0);
        w.set_metadata_flag(true);
        assert!(w.feed(b"\x01").is_err());
    }

    #[test]
    fn random_packets_with_cached_metadata_end_or_fail_without_a_panic() {
        let kinds = [
            ResponseKind::Query,
            ResponseKind::Execute,
            ResponseKind::Prepare,
        ];
        let mut rng = fastrand::Rng::with_seed(36);
        for round in 0..20_000u32 {
            let caps = if round % 2 == 0 {
                0
            } else {
                CLIENT_DEPRECATE_EOF
            };
            let mut w = ResponseWalker::new(kinds[round as usize % 3], caps);
            w.keep_columns(None, round % 4 < 2);
            for _ in 0..rng.usize(1..12) {
                // Mostly short packets of likely first bytes, so walks get somewhere.
                let mut p = vec![*rng.choice(&[0u8, 1, 2, 3, 0xfe, 0xfb, 0xff]).unwrap()];
                p.extend((0..rng.usize(0..12)).map(|_| rng.u8(..)));
                match w.feed(&p) {
                    Ok(Step::Done) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut w = ResponseWalker::new(ResponseKind::Query, 0);
        assert!(w.feed(&[]).is_err());
        let mut w = ResponseWalker::new(ResponseKind::Prepare, 0);
        assert!(w.feed(&[0, 1]).is_err());
    }
}
