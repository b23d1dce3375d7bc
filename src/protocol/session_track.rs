//! Rewriting the session-state part of OK packets on their way to a client. Backend
//! connections always track `last_gtid` (read-your-writes learns each commit's GTID from
//! its OK), which the client never asked for: a client without CLIENT_SESSION_TRACK
//! must get OKs without any session-state data, and a tracking client must not see the
//! `last_gtid` entries the proxy added. The result is byte for byte what the server
//! would have sent the client (the differential tests compare them).

use super::constants::status::SERVER_SESSION_STATE_CHANGED;
use super::constants::track::SESSION_TRACK_SYSTEM_VARIABLES;
use super::wire::{put_lenenc, Reader};
use bytes::BytesMut;

/// What to take out of an OK's session-state data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strip {
    /// Nothing: the client sees what the server sent.
    Nothing,
    /// All of it: the client did not negotiate CLIENT_SESSION_TRACK.
    All,
    /// The proxy's own `last_gtid` entries.
    LastGtid,
}

/// `payload` (an OK, header 0x00 or 0xfe) rewritten per `strip`, or None when it needs
/// no change or is not an OK this understands (it is then passed on as it came).
pub fn rewrite_ok(payload: &[u8], strip: Strip) -> Option<Vec<u8>> {
    if strip == Strip::Nothing {
        return None;
    }
    let mut r = Reader::new(payload);
    r.u8().ok()?;
    r.lenenc().ok()?;
    r.lenenc().ok()?;
    let status_at = payload.len() - r.remaining();
    let status = r.u16().ok()?;
    r.u16().ok()?;
    if status & SERVER_SESSION_STATE_CHANGED == 0 || r.remaining() == 0 {
        return None;
    }
    let after_warnings = payload.len() - r.remaining();
    let info = r.lenenc_bytes().ok()?;
    let after_info = payload.len() - r.remaining();
    let state = r.lenenc_bytes().ok()?;
    let kept = match strip {
        Strip::LastGtid => {
            let kept = without_last_gtid(state)?;
            if kept.len() == state.len() {
                return None;
            }
            kept
        }
        _ => Vec::new(),
    };
    if !kept.is_empty() {
        let mut out = BytesMut::with_capacity(payload.len());
        out.extend_from_slice(&payload[..after_info]);
        put_lenenc(&mut out, kept.len() as u64);
        out.extend_from_slice(&kept);
        return Some(out.to_vec());
    }
    // No session state left: the server sends no flag, and the info string only when
    // there is one.
    let end = if info.is_empty() {
        after_warnings
    } else {
        after_info
    };
    let mut out = payload[..end].to_vec();
    let cleared = status & !SERVER_SESSION_STATE_CHANGED;
    out[status_at..status_at + 2].copy_from_slice(&cleared.to_le_bytes());
    Some(out)
}

/// The session-state entries of `state` but the `last_gtid` system variable.
fn without_last_gtid(state: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader::new(state);
    let mut kept = Vec::with_capacity(state.len());
    while r.remaining() > 0 {
        let start = state.len() - r.remaining();
        let kind = r.u8().ok()?;
        let data = r.lenenc_bytes().ok()?;
        let end = state.len() - r.remaining();
        let is_last_gtid = kind == SESSION_TRACK_SYSTEM_VARIABLES
            && Reader::new(data).lenenc_bytes().ok() == Some(b"last_gtid".as_slice());
        if !is_last_gtid {
            kept.extend_from_slice(&state[start..end]);
        }
    }
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::caps::CLIENT_SESSION_TRACK;
    use crate::protocol::packets::parse_ok;

    /// One system-variable entry.
    fn var(name: &str, value: &str) -> Vec<u8> {
        let mut data = vec![name.len() as u8];
        data.extend_from_slice(name.as_bytes());
        data.push(value.len() as u8);
        data.extend_from_slice(value.as_bytes());
        let mut e = vec![SESSION_TRACK_SYSTEM_VARIABLES, data.len() as u8];
        e.extend_from_slice(&data);
        e
    }

    /// An OK: 1 row, status AUTOCOMMIT|SESSION_STATE_CHANGED, `info`, then `entries`.
    fn ok(info: &str, entries: &[Vec<u8>]) -> Vec<u8> {
        let mut p = vec![0x00, 0x01, 0x00, 0x02, 0x40, 0x00, 0x00];
        p.push(info.len() as u8);
        p.extend_from_slice(info.as_bytes());
        let state: Vec<u8> = entries.concat();
        p.push(state.len() as u8);
        p.extend_from_slice(&state);
        p
    }

    #[test]
    fn non_tracking_clients_get_no_session_state() {
        // As MariaDB 10.11 sends it after an autocommit INSERT with last_gtid tracked.
        let p = ok("", &[var("last_gtid", "0-1-7")]);
        let parsed = parse_ok(&p, CLIENT_SESSION_TRACK).unwrap();
        assert_eq!(parsed.variables, [("last_gtid".into(), "0-1-7".into())]);
        let plain = rewrite_ok(&p, Strip::All).unwrap();
        assert_eq!(plain, [0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00]);
        assert_eq!(parse_ok(&plain, 0).unwrap().status, 2);
        // A non-empty info string stays.
        let p = ok("hi", &[var("last_gtid", "0-1-7")]);
        assert_eq!(
            rewrite_ok(&p, Strip::All).unwrap(),
            [0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, b'h', b'i']
        );
    }

    #[test]
    fn tracking_clients_lose_only_last_gtid() {
        let tz = var("time_zone", "+01:00");
        let p = ok("", &[var("last_gtid", "0-1-7"), tz.clone()]);
        assert_eq!(
            rewrite_ok(&p, Strip::LastGtid).unwrap(),
            ok("", std::slice::from_ref(&tz))
        );
        let only = ok("", &[var("last_gtid", "0-1-7")]);
        assert_eq!(
            rewrite_ok(&only, Strip::LastGtid).unwrap(),
            [0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00]
        );
        assert_eq!(rewrite_ok(&ok("", &[tz]), Strip::LastGtid), None);
    }

    #[test]
    fn left_alone() {
        let p = ok("", &[var("last_gtid", "0-1-7")]);
        assert_eq!(rewrite_ok(&p, Strip::Nothing), None);
        assert_eq!(rewrite_ok(&[0x00, 0, 0, 0x02, 0, 0, 0], Strip::All), None);
        assert_eq!(rewrite_ok(&[0x00, 0x00], Strip::All), None);
        assert_eq!(
            rewrite_ok(&[0x00, 0, 0, 0x02, 0x40, 0, 0, 5], Strip::All),
            None
        );
    }
}
