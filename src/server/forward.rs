//! Forwarding one request to a backend and streaming its response back as raw bytes.
//! Complete physical packets are walked (to find the end and the final status) and
//! written to the client in one call per read from the backend. A LOAD DATA LOCAL file
//! request is relayed only when the client's own statement asked for a local file.

use super::stream::ClientStream;
use crate::config::Config;
use crate::pool::BackendConn;
use crate::protocol::columns::ColumnDefs;
use crate::protocol::constants::errors::CR_SERVER_LOST;
use crate::protocol::deadline::Watch;
use crate::protocol::packet::header;
use crate::protocol::packets::ErrPacket;
use crate::protocol::response::{ResponseKind, ResponseWalker, Step};
use crate::protocol::session_track::{rewrite_ok, Strip};
use crate::protocol::{PacketConn, ProtocolError};
use bytes::Buf;
use std::sync::Arc;
use std::time::Duration;

/// Why a forward failed.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The backend broke; `sent` says whether part of the response reached the client.
    #[error("backend '{backend}' failed: {source}")]
    Backend {
        /// Backend name.
        backend: String,
        /// What broke.
        source: ProtocolError,
        /// Whether response bytes were already sent to the client.
        sent: bool,
    },
    /// The client connection broke.
    #[error("client connection failed: {0}")]
    Client(ProtocolError),
}

/// How to forward one request.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// The request payload (command byte first), as the client sent it.
    pub payload: &'a [u8],
    /// The payload to send instead, in pieces (a statement id rewritten for this
    /// backend, parameter types added).
    pub patched: Option<&'a [&'a [u8]]>,
    /// A statement command for the session's statement with this (client) id: bound to
    /// the connection it runs on before it is sent (`Session::bind`).
    pub stmt: Option<u32>,
    /// A COM_STMT_PREPARE: the statement id the client is given in the backend's stead.
    pub prepare_as: Option<u32>,
    /// Sequence id of the request's last packet.
    pub seq: u8,
    /// Response shape, or None when the command gets no response.
    pub kind: Option<ResponseKind>,
    /// True when the client negotiated CLIENT_LOCAL_FILES. A file request is relayed
    /// only if, in addition, the statement itself is a LOAD DATA/XML LOCAL.
    pub local_files: bool,
    /// Largest file packet accepted from the client.
    pub max_packet: usize,
    /// What to cut from OKs' session-state data: backend connections always track
    /// `last_gtid` (read-your-writes), which the client did not ask for.
    pub strip: Strip,
    /// The client negotiated MARIADB_CLIENT_CACHE_METADATA: its column counts carry the
    /// "metadata follows" byte, and a prepare's or an execute's column definitions are
    /// kept (`ResponseWalker::columns`).
    pub client_caches_metadata: bool,
    /// The client has the column definitions the connection's statement last sent (see
    /// [`forward`]): a result set the backend sends without its definitions goes to the
    /// client as it is (otherwise they are added).
    pub client_has_columns: bool,
}

/// `[proxy] backend_read_timeout_ms` as a limit (None: no limit).
pub fn read_limit(config: &Config) -> Option<Duration> {
    match config.proxy.backend_read_timeout_ms {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    }
}

/// Sends `req` on `backend` and relays the response to `client`, walking it with `walker`
/// (made for `backend`'s capabilities and `req`'s kind; the caller's, so that the result
/// is not moved out of this future). For a statement command of a client that caches
/// column definitions, `columns` are the ones the connection's statement last sent (what
/// it means by leaving them out). Each wait for the backend is bounded by `watch` (the
/// session's `backend_read_timeout_ms`).
pub async fn forward(
    client: &mut PacketConn<ClientStream>,
    backend: &mut BackendConn,
    req: &Request<'_>,
    columns: Option<Arc<ColumnDefs>>,
    walker: &mut ResponseWalker,
    watch: Option<&Watch>,
) -> Result<(), ForwardError> {
    let may_send_file = || {
        req.local_files
            && matches!(req.payload.split_first(), Some((&0x03, sql)) if asks_for_local_file(sql))
    };
    // The proxy's `last_gtid` entries exist only where it turned tracking on.
    let strip = match req.strip {
        Strip::LastGtid if !backend.gtid_tracked => Strip::Nothing,
        s => s,
    };
    match req.patched {
        Some(parts) => backend.conn.write_packet_parts(0, parts),
        None => backend.conn.write_packet(0, req.payload),
    };
    backend
        .conn
        .flush_within(watch)
        .await
        .map_err(|e| backend_error(&backend.backend.name, e, false))?;
    if req.kind.is_none() {
        return Ok(());
    }
    let backend_flag = backend.caches_metadata();
    if req.client_caches_metadata {
        walker.keep_columns(columns, backend_flag);
    } else {
        walker.set_metadata_flag(backend_flag);
    }
    let mut client_has_columns = req.client_has_columns;
    let mut expected = req.seq.wrapping_add(1);
    // Packets the client got that the backend did not send (column definitions it left
    // out): the client's sequence ids run this far ahead of the backend's from there on.
    let mut shift = 0u8;
    let mut sent = false;
    let mut first = true;
    loop {
        if let Err(e) = backend.conn.fill_packet_within(watch).await {
            if sent {
                // Mid-response, at a packet boundary: an ERR is still well-formed
                // here, and tells the client why more than a closed socket would.
                let seq = expected.wrapping_add(shift);
                lost_mid_response(client, &backend.backend.name, &e, seq).await;
            }
            return Err(backend_error(&backend.backend.name, e, sent));
        }
        let buf = backend.conn.read_buf();
        let mut off = 0;
        // Start of the bytes not yet handed to the client (a rewritten OK moves it).
        let mut from = 0;
        let mut step = Step::More;
        while let Some((len, seq)) = header(&buf[off..]) {
            if buf.len() < off + 4 + len {
                break;
            }
            if seq != expected {
                return Err(backend_error(
                    &backend.backend.name,
                    ProtocolError::OutOfOrder { expected, got: seq },
                    sent,
                ));
            }
            expected = expected.wrapping_add(1);
            let seq = seq.wrapping_add(shift);
            if shift != 0 {
                buf[off + 3] = seq;
            }
            let payload = &buf[off + 4..off + 4 + len];
            step = walker
                .feed(payload)
                .map_err(|e| backend_error(&backend.backend.name, e, sent))?;
            if walker.last_was_count && req.client_caches_metadata {
                if !backend_flag || (walker.columns_skipped && !client_has_columns) {
                    // Definitions to send only where the backend left them out.
                    let defs = walker.columns.as_deref().filter(|_| backend_flag);
                    client.write_raw(&buf[from..off]);
                    let added = send_count(client, seq, payload, backend_flag, defs);
                    shift = shift.wrapping_add(added);
                    from = off + 4 + len;
                }
                // Either way the client now has the definitions the backend last sent.
                client_has_columns = true;
            }
            if step == Step::LocalInfile && !may_send_file() {
                // Keep the file request from the client; refuse it below.
                break;
            }
            if let (Some(id), true) = (req.prepare_as, first && payload.first() == Some(&0)) {
                if let Some(ours) = with_statement_id(payload, id) {
                    client.write_raw(&buf[from..off]);
                    client.write_packet(seq, &ours);
                    from = off + 4 + len;
                }
            }
            first = false;
            if strip != Strip::Nothing && walker.last_was_ok {
                if let Some(plain) = rewrite_ok(payload, strip) {
                    client.write_raw(&buf[from..off]);
                    client.write_packet(seq, &plain);
                    from = off + 4 + len;
                }
            }
            off += 4 + len;
            if step != Step::More {
                break;
            }
        }
        if off > 0 {
            let out = if from == 0 {
                client.send_raw(&buf[..off]).await
            } else {
                client.write_raw(&buf[from..off]);
                client.flush().await
            };
            out.map_err(ForwardError::Client)?;
            backend.conn.read_buf().advance(off);
            sent = true;
        }
        match step {
            Step::More => {}
            Step::Done => return Ok(()),
            Step::LocalInfile if may_send_file() => {
                expected = relay_file(client, backend, expected, req.max_packet).await?;
            }
            Step::LocalInfile => {
                refuse_file(client, backend, expected).await?;
                walker.error = Some(1148);
                return Ok(());
            }
        }
    }
}

/// The error for a failure on `backend` (named when it happens: the hot path holds no
/// reference count of its own on the backend).
fn backend_error(backend: &str, source: ProtocolError, sent: bool) -> ForwardError {
    ForwardError::Backend {
        backend: backend.to_string(),
        source,
        sent,
    }
}

/// Sends a client that caches column definitions the column count `count` (a backend's
/// payload, with the "metadata follows" byte when `flagged`) saying that they follow, then
/// `defs`, which the backend left out. Returns how many packets that adds to the response.
#[cold]
fn send_count(
    client: &mut PacketConn<ClientStream>,
    seq: u8,
    count: &[u8],
    flagged: bool,
    defs: Option<&ColumnDefs>,
) -> u8 {
    let count = if flagged {
        &count[..count.len() - 1]
    } else {
        count
    };
    let mut next = client.write_packet_parts(seq, &[count, &[1]]);
    for def in defs.iter().flat_map(|d| d.payloads()) {
        next = client.write_packet(next, def);
    }
    defs.map_or(0, |d| d.count() as u8)
}

/// A PREPARE OK with statement id `id` in place of the backend's.
fn with_statement_id(ok: &[u8], id: u32) -> Option<Vec<u8>> {
    let mut out = ok.to_vec();
    out.get_mut(1..5)?.copy_from_slice(&id.to_le_bytes());
    Some(out)
}

/// Tells the client, mid-response, that the backend was lost (CR_SERVER_LOST); the
/// session closes next.
async fn lost_mid_response(
    client: &mut PacketConn<ClientStream>,
    backend: &str,
    e: &ProtocolError,
    seq: u8,
) {
    let err = ErrPacket::new(
        CR_SERVER_LOST,
        "08S01",
        format!("Lost connection to backend '{backend}' during query: {e}"),
    );
    client.write_packet(seq, &err.encode());
    let _ = client.flush().await;
}

/// Streams the client's file packets (up to the empty one) to the backend.
async fn relay_file(
    client: &mut PacketConn<ClientStream>,
    backend: &mut BackendConn,
    mut seq: u8,
    max_packet: usize,
) -> Result<u8, ForwardError> {
    let name = backend.backend.name.clone();
    loop {
        let p = client
            .read_packet(seq, max_packet)
            .await
            .map_err(ForwardError::Client)?;
        let empty = p.payload.is_empty();
        seq = backend.conn.write_packet(seq, &p.payload);
        if empty || backend.conn.write_buf_len() > 256 * 1024 {
            backend
                .conn
                .flush()
                .await
                .map_err(|source| ForwardError::Backend {
                    backend: name.to_string(),
                    source,
                    sent: true,
                })?;
        }
        if empty {
            return Ok(seq);
        }
    }
}

/// The backend asked for a file the client never asked to send: answer the backend
/// with an empty file, swallow its reply, and tell the client why.
async fn refuse_file(
    client: &mut PacketConn<ClientStream>,
    backend: &mut BackendConn,
    file_seq: u8,
) -> Result<u8, ForwardError> {
    let name = backend.backend.name.clone();
    let be = |source| ForwardError::Backend {
        backend: name.to_string(),
        source,
        sent: true,
    };
    // Drop the 0xFB packet itself; the client must not see it.
    let (len, _) = header(backend.conn.read_buf()).unwrap_or((0, 0));
    backend.conn.read_buf().advance(4 + len);
    let next = backend.conn.write_packet(file_seq, &[]);
    backend.conn.flush().await.map_err(be)?;
    // Drain the backend's answer (an OK for the empty load, maybe more results).
    let mut drain = ResponseWalker::new(ResponseKind::Query, backend.caps);
    drain.set_metadata_flag(backend.caches_metadata());
    let mut seq = next;
    loop {
        let p = backend
            .conn
            .read_packet(seq, usize::MAX)
            .await
            .map_err(be)?;
        seq = p.seq.wrapping_add(1);
        if drain.feed(&p.payload).map_err(be)? == Step::Done {
            break;
        }
    }
    let err = ErrPacket::new(
        1148,
        "42000",
        "The server asked for a local file, but the client's statement did not request LOAD DATA LOCAL",
    );
    client.write_packet(file_seq.wrapping_sub(1), &err.encode());
    client.flush().await.map_err(ForwardError::Client)?;
    Ok(seq)
}

/// True when `sql` contains `LOAD DATA|XML [LOW_PRIORITY|CONCURRENT] LOCAL`, the only
/// statements that may make a server ask the client for a file.
pub fn asks_for_local_file(sql: &[u8]) -> bool {
    let text = String::from_utf8_lossy(sql).to_ascii_uppercase();
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(3).any(|w| {
        w[0] == "LOAD"
            && (w[1] == "DATA" || w[1] == "XML")
            && (w[2] == "LOCAL" || w[2] == "LOW_PRIORITY" || w[2] == "CONCURRENT")
    }) && words.contains(&"LOCAL")
}

#[cfg(test)]
mod tests {
    use super::asks_for_local_file;

    #[test]
    fn spots_load_data_local() {
        assert!(asks_for_local_file(
            b"LOAD DATA LOCAL INFILE 'x' INTO TABLE t"
        ));
        assert!(asks_for_local_file(
            b"/*c*/ load  data\nconcurrent local infile 'x' into table t"
        ));
        assert!(!asks_for_local_file(b"LOAD DATA INFILE 'x' INTO TABLE t"));
    }
}
