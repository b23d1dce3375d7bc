//! The generic response packets: building ERR and OK packets the proxy sends itself, and
//! reading the few fields of OK/EOF packets that carry state (status flags, session
//! tracking).

use super::constants::{caps, status, track};
use super::wire::{put_lenenc, put_lenenc_bytes, Reader};
use super::ProtocolError;
use bytes::{BufMut, BytesMut};

/// An error the proxy reports to a client as an ERR packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrPacket {
    /// MySQL error code.
    pub code: u16,
    /// Five-character SQLSTATE.
    pub sqlstate: [u8; 5],
    /// Human-readable message.
    pub message: String,
}

impl ErrPacket {
    /// A new error; `sqlstate` must be five ASCII characters (others become `HY000`).
    pub fn new(code: u16, sqlstate: &str, message: impl Into<String>) -> Self {
        let mut s = *b"HY000";
        if sqlstate.len() == 5 && sqlstate.is_ascii() {
            s.copy_from_slice(sqlstate.as_bytes());
        }
        ErrPacket {
            code,
            sqlstate: s,
            message: message.into(),
        }
    }

    /// The payload: `0xff`, code, `#`, SQLSTATE, message.
    pub fn encode(&self) -> BytesMut {
        let mut b = BytesMut::with_capacity(9 + self.message.len());
        b.put_u8(0xff);
        b.put_u16_le(self.code);
        b.put_u8(b'#');
        b.put_slice(&self.sqlstate);
        b.put_slice(self.message.as_bytes());
        b
    }

    /// The payload as a server sends it in place of its greeting (too many connections,
    /// host blocked): `0xff`, code, message — no SQLSTATE, since no client has said it
    /// speaks protocol 4.1 yet (clients then report `HY000`).
    pub fn encode_before_handshake(&self) -> BytesMut {
        let mut b = BytesMut::with_capacity(3 + self.message.len());
        b.put_u8(0xff);
        b.put_u16_le(self.code);
        b.put_slice(self.message.as_bytes());
        b
    }

    /// Parses an ERR payload (`0xff` first).
    pub fn parse(payload: &[u8]) -> Result<ErrPacket, ProtocolError> {
        let mut r = Reader::new(payload);
        if r.u8()? != 0xff {
            return Err(ProtocolError::Malformed("not an ERR packet"));
        }
        let code = r.u16()?;
        let mut sqlstate = *b"HY000";
        if r.remaining() >= 6 && payload[3] == b'#' {
            r.u8()?;
            sqlstate.copy_from_slice(r.take(5)?);
        }
        let message = String::from_utf8_lossy(r.rest()).into_owned();
        Ok(ErrPacket {
            code,
            sqlstate,
            message,
        })
    }
}

impl std::fmt::Display for ErrPacket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = String::from_utf8_lossy(&self.sqlstate);
        write!(f, "ERROR {} ({}): {}", self.code, state, self.message)
    }
}

/// An OK payload (`0x00` header) with the given status flags, as a server sends it.
pub fn ok_packet(status_flags: u16, client_caps: u32) -> BytesMut {
    let mut b = BytesMut::with_capacity(11);
    b.put_u8(0);
    put_lenenc(&mut b, 0);
    put_lenenc(&mut b, 0);
    b.put_u16_le(status_flags);
    b.put_u16_le(0);
    if client_caps & caps::CLIENT_SESSION_TRACK != 0 {
        put_lenenc_bytes(&mut b, b"");
    }
    b
}

/// What an OK packet (or the OK-style EOF of CLIENT_DEPRECATE_EOF) says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OkInfo {
    /// Rows affected.
    pub affected_rows: u64,
    /// LAST_INSERT_ID().
    pub last_insert_id: u64,
    /// Server status flags.
    pub status: u16,
    /// Warning count.
    pub warnings: u16,
    /// New current schema, when the session tracked a change.
    pub schema: Option<String>,
    /// System variables reported changed: (name, value).
    pub variables: Vec<(String, String)>,
}

/// Parses an OK payload (header `0x00` or `0xfe`) as sent to a connection with `client_caps`.
pub fn parse_ok(payload: &[u8], client_caps: u32) -> Result<OkInfo, ProtocolError> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let mut ok = OkInfo {
        affected_rows: r.lenenc()?,
        last_insert_id: r.lenenc()?,
        status: r.u16()?,
        warnings: r.u16()?,
        ..OkInfo::default()
    };
    if client_caps & caps::CLIENT_SESSION_TRACK != 0 && r.remaining() > 0 {
        r.lenenc_bytes()?; // info
        if ok.status & status::SERVER_SESSION_STATE_CHANGED != 0 && r.remaining() > 0 {
            let mut st = Reader::new(r.lenenc_bytes()?);
            while st.remaining() > 0 {
                let kind = st.u8()?;
                let mut data = Reader::new(st.lenenc_bytes()?);
                match kind {
                    track::SESSION_TRACK_SCHEMA => {
                        ok.schema = Some(lossy(data.lenenc_bytes()?));
                    }
                    track::SESSION_TRACK_SYSTEM_VARIABLES => {
                        let name = lossy(data.lenenc_bytes()?);
                        let value = lossy(data.lenenc_bytes()?);
                        ok.variables.push((name, value));
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(ok)
}

/// Status flags of a terminator: an old-style EOF (`0xfe`, warnings, status, at most 5
/// bytes) or, under CLIENT_DEPRECATE_EOF, an OK packet with a `0xfe` header.
pub fn terminator_status(payload: &[u8], client_caps: u32) -> Result<u16, ProtocolError> {
    if client_caps & caps::CLIENT_DEPRECATE_EOF != 0 && payload.len() > 5 {
        return Ok(parse_ok(payload, client_caps)?.status);
    }
    let mut r = Reader::new(payload);
    r.u8()?;
    if r.remaining() < 4 {
        // A 4.0-style EOF with no status: nothing more follows.
        return Ok(0);
    }
    r.u16()?;
    r.u16()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn err_packet_round_trips() {
        let e = ErrPacket::new(1045, "28000", "Access denied for user 'x'");
        let p = ErrPacket::parse(&e.encode()).unwrap();
        assert_eq!(p, e);
        assert_eq!(&e.encode()[..4], &[0xff, 0x15, 0x04, b'#']);
        // In place of a greeting: no SQLSTATE; a reader falls back to HY000.
        let early = ErrPacket::new(1040, "08004", "Too many connections");
        assert_eq!(
            &early.encode_before_handshake()[..],
            b"\xff\x10\x04Too many connections"
        );
        let p = ErrPacket::parse(&early.encode_before_handshake()).unwrap();
        assert_eq!(
            (p.code, &p.sqlstate, p.message.as_str()),
            (1040, b"HY000", "Too many connections")
        );
    }

    #[test]
    fn ok_with_session_track_schema() {
        // Captured from MariaDB 10.11 after `USE test` with CLIENT_SESSION_TRACK.
        let payload = [
            0x00, 0x00, 0x00, 0x02, 0x40, 0x00, 0x00, 0x00, 0x07, 0x01, 0x05, 0x04, b't', b'e',
            b's', b't',
        ];
        let ok = parse_ok(&payload, caps::CLIENT_SESSION_TRACK).unwrap();
        assert_eq!(ok.schema.as_deref(), Some("test"));
        assert_eq!(ok.status & status::SERVER_STATUS_AUTOCOMMIT, 2);
    }

    #[test]
    fn eof_status() {
        assert_eq!(terminator_status(&[0xfe, 0, 0, 0x0a, 0], 0).unwrap(), 0x0a);
        assert_eq!(terminator_status(&[0xfe], 0).unwrap(), 0);
    }
}
