//! The backend side of framing: `ResponseWalker` fed a fuzzer-made sequence of response
//! packets of every response kind and capability set (cached metadata included), plus the OK/ERR/terminator
//! parsers and the session-track rewriter it leans on. Must end or fail cleanly.
//!
//! Input: byte 0 = response kind, byte 1 = capability selector; then packets, each a
//! 1-byte length followed by that many payload bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rwproxy::protocol::constants::caps::*;
use rwproxy::protocol::packets::{parse_ok, terminator_status, ErrPacket};
use rwproxy::protocol::response::{ResponseKind, ResponseWalker, Step};
use rwproxy::protocol::session_track::{rewrite_ok, Strip};

fuzz_target!(|data: &[u8]| {
    let [kind, caps, stream @ ..] = data else {
        return;
    };
    let mut rest: &[u8] = stream;
    let kind = match kind % 5 {
        0 => ResponseKind::Single,
        1 => ResponseKind::Query,
        2 => ResponseKind::Execute,
        3 => ResponseKind::Prepare,
        _ => ResponseKind::Rows,
    };
    let mut c = CLIENT_PROTOCOL_41;
    if caps & 1 != 0 {
        c |= CLIENT_DEPRECATE_EOF;
    }
    if caps & 2 != 0 {
        c |= CLIENT_SESSION_TRACK;
    }
    let mut walker = ResponseWalker::new(kind, c);
    // MARIADB_CLIENT_CACHE_METADATA: column counts carry a "metadata follows" byte, and
    // a prepare's or an execute's definitions are kept (none known at the start).
    if caps & 4 != 0 {
        walker.keep_columns(None, caps & 8 != 0);
    } else if caps & 8 != 0 {
        walker.set_metadata_flag(true);
    }
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (payload, after) = tail.split_at(n);
        rest = after;
        let _ = parse_ok(payload, c);
        let _ = terminator_status(payload, c);
        let _ = ErrPacket::parse(payload);
        let _ = rewrite_ok(payload, Strip::LastGtid);
        match walker.feed(payload) {
            Ok(Step::Done) | Err(_) => break,
            Ok(Step::More) | Ok(Step::LocalInfile) => {}
        }
    }
});
