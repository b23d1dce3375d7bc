//! A minimal MySQL client over a plain TCP socket, for what mysql_async cannot do:
//! server-side cursors (COM_STMT_EXECUTE with CURSOR_TYPE_READ_ONLY, then COM_STMT_FETCH),
//! a client that does not advertise CLIENT_LOCAL_FILES, COM_FIELD_LIST and COM_SET_OPTION.
//! It hands back the raw response payloads, so the differential suite can compare the
//! proxy with the server byte for byte. It logs in with mysql_native_password only.

use sha1::{Digest, Sha1};
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Capability flags, named as in the MySQL docs.
pub mod caps {
    pub const CLIENT_LONG_PASSWORD: u32 = 1;
    pub const CLIENT_CONNECT_WITH_DB: u32 = 8;
    pub const CLIENT_LOCAL_FILES: u32 = 0x80;
    pub const CLIENT_PROTOCOL_41: u32 = 0x200;
    pub const CLIENT_TRANSACTIONS: u32 = 0x2000;
    pub const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
    pub const CLIENT_MULTI_STATEMENTS: u32 = 1 << 16;
    pub const CLIENT_MULTI_RESULTS: u32 = 1 << 17;
    pub const CLIENT_PS_MULTI_RESULTS: u32 = 1 << 18;
    pub const CLIENT_PLUGIN_AUTH: u32 = 1 << 19;
    pub const CLIENT_DEPRECATE_EOF: u32 = 1 << 24;
    /// MariaDB's extended capability (sent in the handshake's last 4 reserved bytes):
    /// a "metadata follows" byte after each column count, and prepared statements'
    /// column definitions left out when the client has them.
    pub const MARIADB_CLIENT_CACHE_METADATA: u32 = 1 << 4;
    /// What the raw client asks for unless a test says otherwise (no LOCAL_FILES).
    pub const BASE: u32 = CLIENT_LONG_PASSWORD
        | CLIENT_PROTOCOL_41
        | CLIENT_TRANSACTIONS
        | CLIENT_SECURE_CONNECTION
        | CLIENT_MULTI_STATEMENTS
        | CLIENT_MULTI_RESULTS
        | CLIENT_PS_MULTI_RESULTS
        | CLIENT_PLUGIN_AUTH;
}

pub const COM_QUERY: u8 = 0x03;
pub const COM_FIELD_LIST: u8 = 0x04;
pub const COM_STMT_PREPARE: u8 = 0x16;
pub const COM_STMT_EXECUTE: u8 = 0x17;
pub const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
pub const COM_STMT_CLOSE: u8 = 0x19;
pub const COM_STMT_RESET: u8 = 0x1a;
pub const COM_SET_OPTION: u8 = 0x1b;
pub const COM_STMT_FETCH: u8 = 0x1c;
pub const CURSOR_TYPE_READ_ONLY: u8 = 1;
pub const SERVER_MORE_RESULTS_EXISTS: u16 = 0x0008;
pub const SERVER_STATUS_CURSOR_EXISTS: u16 = 0x0040;
pub const SERVER_STATUS_LAST_ROW_SENT: u16 = 0x0080;
const MAX_PAYLOAD: usize = 0xFF_FFFF;

/// The shape of the response a command gets, so the reader knows where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One packet (OK or ERR), or nothing for commands without a reply.
    Single,
    /// COM_QUERY / COM_STMT_EXECUTE: result sets and OKs while MORE_RESULTS is set; a
    /// cursor-opening execute ends after its metadata; stops at a 0xFB file request.
    Results,
    /// COM_STMT_PREPARE: statement OK, then parameter and column definitions.
    Prepare,
    /// COM_STMT_FETCH / COM_FIELD_LIST: packets up to an EOF or ERR.
    Rows,
}

/// One raw connection.
pub struct RawConn {
    /// The server's greeting payload.
    pub greeting: Vec<u8>,
    stream: TcpStream,
    caps: u32,
    /// Negotiated MariaDB extended capabilities.
    ext: u32,
    seq: u8,
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))).
pub fn native_token(password: &str, scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let s1 = Sha1::digest(password.as_bytes());
    let s2 = Sha1::digest(s1);
    let mut h = Sha1::new();
    h.update(scramble);
    h.update(s2);
    let s3 = h.finalize();
    s1.iter().zip(s3.iter()).map(|(a, b)| a ^ b).collect()
}

/// Reads a length-encoded integer at `*pos`.
pub fn lenenc(p: &[u8], pos: &mut usize) -> u64 {
    let first = p.get(*pos).copied().unwrap_or(0);
    let (n, len) = match first {
        0xfc => (2, 3),
        0xfd => (3, 4),
        0xfe => (8, 9),
        b => {
            *pos += 1;
            return u64::from(b);
        }
    };
    let mut v = 0u64;
    for i in 0..n {
        v |= u64::from(p.get(*pos + 1 + i).copied().unwrap_or(0)) << (8 * i);
    }
    *pos += len;
    v
}

/// Status flags of an OK packet or of an EOF / OK-as-EOF terminator.
pub fn status_of(p: &[u8], deprecate_eof: bool) -> u16 {
    let mut pos = 1;
    if p[0] == 0x00 || (p[0] == 0xfe && deprecate_eof) {
        lenenc(p, &mut pos);
        lenenc(p, &mut pos);
    } else {
        pos += 2; // EOF: warnings first
    }
    u16::from_le_bytes([
        p.get(pos).copied().unwrap_or(0),
        p.get(pos + 1).copied().unwrap_or(0),
    ])
}

impl RawConn {
    /// Connects and logs in; returns the connection and the final login packet (OK or ERR).
    pub async fn connect(
        port: u16,
        user: &str,
        password: &str,
        db: Option<&str>,
        client_caps: u32,
    ) -> io::Result<(RawConn, Vec<u8>)> {
        Self::connect_ext(port, user, password, db, client_caps, 0).await
    }

    /// Connects and logs in asking for MariaDB extended capabilities `ext` as well (with
    /// CLIENT_LONG_PASSWORD, which is CLIENT_MYSQL, clear).
    pub async fn connect_ext(
        port: u16,
        user: &str,
        password: &str,
        db: Option<&str>,
        mut client_caps: u32,
        ext: u32,
    ) -> io::Result<(RawConn, Vec<u8>)> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        let mut c = RawConn {
            greeting: Vec::new(),
            stream,
            caps: client_caps,
            ext: 0,
            seq: 0,
        };
        let greeting = c.read_packet().await?;
        c.greeting = greeting.clone();
        let scramble = parse_scramble(&greeting)?;
        if db.is_some() {
            client_caps |= caps::CLIENT_CONNECT_WITH_DB;
        }
        let server_caps = greeting_caps(&greeting)?;
        if ext != 0 {
            client_caps &= !caps::CLIENT_LONG_PASSWORD;
        }
        c.caps = client_caps & server_caps;
        let server_ext = greeting_fields(&greeting)
            .and_then(|f| {
                f.4.get(6..10)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            })
            .unwrap_or(0);
        c.ext = ext & server_ext;
        let mut resp = Vec::new();
        resp.extend_from_slice(&c.caps.to_le_bytes());
        resp.extend_from_slice(&(MAX_PAYLOAD as u32 + 1).to_le_bytes());
        resp.push(45); // utf8mb4_general_ci
        resp.extend_from_slice(&[0; 19]);
        resp.extend_from_slice(&c.ext.to_le_bytes());
        resp.extend_from_slice(user.as_bytes());
        resp.push(0);
        let token = native_token(password, &scramble);
        resp.push(token.len() as u8);
        resp.extend_from_slice(&token);
        if let Some(db) = db {
            resp.extend_from_slice(db.as_bytes());
            resp.push(0);
        }
        resp.extend_from_slice(b"mysql_native_password\0");
        c.write_packet(&resp).await?;
        loop {
            let p = c.read_packet().await?;
            match p.first() {
                Some(0xfe) => {
                    // Auth switch: plugin name, NUL, new scramble (NUL-terminated).
                    let name_end = p
                        .iter()
                        .skip(1)
                        .position(|&b| b == 0)
                        .ok_or_else(|| bad("switch"))?
                        + 1;
                    let data = &p[name_end + 1..];
                    let data = &data[..data.len().min(20)];
                    let token = native_token(password, data);
                    c.write_packet(&token).await?;
                }
                _ => return Ok((c, p)),
            }
        }
    }

    /// Negotiated capabilities.
    pub fn deprecate_eof(&self) -> bool {
        self.caps & caps::CLIENT_DEPRECATE_EOF != 0
    }

    /// True when MARIADB_CLIENT_CACHE_METADATA was negotiated.
    pub fn caches_metadata(&self) -> bool {
        self.ext & caps::MARIADB_CLIENT_CACHE_METADATA != 0
    }

    /// Reads one logical packet (joining 16 MiB pieces); checks the sequence id.
    pub async fn read_packet(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let mut h = [0u8; 4];
            self.stream.read_exact(&mut h).await?;
            let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
            if h[3] != self.seq {
                return Err(bad(&format!(
                    "sequence id {} where {} was due",
                    h[3], self.seq
                )));
            }
            self.seq = self.seq.wrapping_add(1);
            let start = out.len();
            out.resize(start + len, 0);
            self.stream.read_exact(&mut out[start..]).await?;
            if len < MAX_PAYLOAD {
                return Ok(out);
            }
        }
    }

    /// Writes one logical packet, split into 16 MiB pieces (plus the empty one an exact
    /// multiple needs).
    pub async fn write_packet(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut buf = Vec::with_capacity(payload.len() + 8);
        let mut rest = payload;
        loop {
            let n = rest.len().min(MAX_PAYLOAD);
            buf.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
            buf.push(self.seq);
            self.seq = self.seq.wrapping_add(1);
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if n < MAX_PAYLOAD {
                break;
            }
        }
        self.stream.write_all(&buf).await
    }

    /// Sends a command (payload with its command byte) and reads its whole response.
    pub async fn command(&mut self, payload: &[u8], shape: Shape) -> io::Result<Vec<Vec<u8>>> {
        self.seq = 0;
        self.write_packet(payload).await?;
        self.read_response(shape).await
    }

    /// Sets the sequence id the next packet read must carry (after pipelined commands).
    pub fn restart_sequence(&mut self, seq: u8) {
        self.seq = seq;
    }

    /// Sends a command that gets no reply (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA).
    pub async fn send_only(&mut self, payload: &[u8]) -> io::Result<()> {
        self.seq = 0;
        self.write_packet(payload).await
    }

    /// Sends the packets of a LOAD DATA LOCAL upload (then the empty packet) and reads the answer.
    pub async fn send_file(&mut self, data: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        if !data.is_empty() {
            self.write_packet(data).await?;
        }
        self.write_packet(&[]).await?;
        self.read_response(Shape::Results).await
    }

    /// Reads a response of `shape`.
    pub async fn read_response(&mut self, shape: Shape) -> io::Result<Vec<Vec<u8>>> {
        let de = self.deprecate_eof();
        let mut out = Vec::new();
        match shape {
            Shape::Single => out.push(self.read_packet().await?),
            Shape::Rows => loop {
                let p = self.read_packet().await?;
                let end = p
                    .first()
                    .is_some_and(|&b| b == 0xff || (b == 0xfe && p.len() < MAX_PAYLOAD));
                out.push(p);
                if end {
                    break;
                }
            },
            Shape::Prepare => {
                let p = self.read_packet().await?;
                let (cols, params) = if p.first() == Some(&0x00) && p.len() >= 9 {
                    (
                        u16::from_le_bytes([p[5], p[6]]),
                        u16::from_le_bytes([p[7], p[8]]),
                    )
                } else {
                    (0, 0)
                };
                out.push(p);
                for n in [params, cols] {
                    for _ in 0..n {
                        out.push(self.read_packet().await?);
                    }
                    if n > 0 && !de {
                        out.push(self.read_packet().await?);
                    }
                }
            }
            Shape::Results => loop {
                let p = self.read_packet().await?;
                let status = match p.first().copied().unwrap_or(0xff) {
                    0x00 => {
                        let st = status_of(&p, de);
                        out.push(p);
                        st
                    }
                    0xff | 0xfb => {
                        out.push(p);
                        break;
                    }
                    _ => {
                        let mut at = 0;
                        let n = lenenc(&p, &mut at);
                        // With cached metadata, a 0 after the count: no definitions.
                        let follows = !self.caches_metadata() || p.get(at) != Some(&0);
                        out.push(p);
                        for _ in 0..if follows { n } else { 0 } {
                            out.push(self.read_packet().await?);
                        }
                        if !de {
                            let eof = self.read_packet().await?;
                            let st = status_of(&eof, false);
                            out.push(eof);
                            if st & SERVER_STATUS_CURSOR_EXISTS != 0 {
                                break;
                            }
                        }
                        let rows = Box::pin(self.read_response(Shape::Rows)).await?;
                        let last = rows.last().cloned().unwrap_or_default();
                        out.extend(rows);
                        if last.first() != Some(&0xfe) {
                            break;
                        }
                        status_of(&last, de)
                    }
                };
                if status & SERVER_MORE_RESULTS_EXISTS == 0 {
                    break;
                }
            },
        }
        Ok(out)
    }
}

/// The greeting's fields but the connection id and the scramble: version string,
/// capabilities, charset, status, the 10 reserved bytes (MariaDB's extended capabilities
/// live in the last 4) and the auth plugin.
pub fn greeting_fields(g: &[u8]) -> Option<(String, u32, u8, u16, Vec<u8>, String)> {
    let v_end = g.iter().skip(1).position(|&b| b == 0)? + 1;
    let version = String::from_utf8_lossy(&g[1..v_end]).into_owned();
    let p = v_end + 1 + 4 + 8 + 1;
    let caps = greeting_caps(g).ok()?;
    let charset = *g.get(p + 2)?;
    let status = u16::from_le_bytes([*g.get(p + 3)?, *g.get(p + 4)?]);
    let reserved = g.get(p + 8..p + 18)?.to_vec();
    let rest = g.get(p + 18 + 13..)?;
    let plugin = String::from_utf8_lossy(rest.split(|&b| b == 0).next()?).into_owned();
    Some((version, caps, charset, status, reserved, plugin))
}

fn greeting_caps(g: &[u8]) -> io::Result<u32> {
    let v_end = g
        .iter()
        .skip(1)
        .position(|&b| b == 0)
        .ok_or_else(|| bad("greeting"))?
        + 1;
    let p = v_end + 1 + 4 + 8 + 1;
    let low = u16::from_le_bytes([g[p], g[p + 1]]) as u32;
    let high = u16::from_le_bytes([g[p + 5], g[p + 6]]) as u32;
    Ok(low | (high << 16))
}

fn parse_scramble(g: &[u8]) -> io::Result<Vec<u8>> {
    if g.first() != Some(&10) {
        return Err(bad("not a v10 greeting"));
    }
    let v_end = g
        .iter()
        .skip(1)
        .position(|&b| b == 0)
        .ok_or_else(|| bad("greeting"))?
        + 1;
    let p = v_end + 1 + 4;
    let mut s = g[p..p + 8].to_vec();
    // filler, caps low, charset, status, caps high, auth data length, 10 reserved bytes
    let p2 = p + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
    s.extend_from_slice(&g[p2..p2 + 12]);
    Ok(s)
}
