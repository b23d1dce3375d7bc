//! Logging in to a backend as a client: read the greeting, send a handshake response
//! with the token for the backend's plugin, and follow auth switches and
//! caching_sha2_password's extra round trips until OK or ERR; with `[proxy] backend_tls`,
//! the SSL request and the TLS upgrade come first.

use super::stream::BackendStream;
use super::tls::{BackendTls, TlsError};
use super::{PoolError, PoolKey};
use crate::protocol::auth::{BackendCredential, CACHING_SHA2};
use crate::protocol::constants::caps::*;
use crate::protocol::handshake::{Greeting, HandshakeResponse};
use crate::protocol::packets::ErrPacket;
use crate::protocol::wire::Reader;
use crate::protocol::{PacketConn, ProtocolError};
use crate::replication::Backend;

/// Capabilities the proxy always uses toward backends.
pub const BASE_CAPS: u32 = CLIENT_LONG_PASSWORD
    | CLIENT_LONG_FLAG
    | CLIENT_PROTOCOL_41
    | CLIENT_TRANSACTIONS
    | CLIENT_SECURE_CONNECTION
    | CLIENT_MULTI_RESULTS
    | CLIENT_PS_MULTI_RESULTS
    | CLIENT_PLUGIN_AUTH
    | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
    | CLIENT_CONNECT_ATTRS;

/// Client capabilities that change packet formats or statement semantics; a backend
/// connection copies these from the client it serves.
pub const FORMAT_CAPS: u32 = CLIENT_FOUND_ROWS
    | CLIENT_NO_SCHEMA
    | CLIENT_ODBC
    | CLIENT_LOCAL_FILES
    | CLIENT_IGNORE_SPACE
    | CLIENT_INTERACTIVE
    | CLIENT_MULTI_STATEMENTS
    | CLIENT_SESSION_TRACK
    | CLIENT_DEPRECATE_EOF;

/// Who logs in to the backend, and how.
#[derive(Debug, Clone)]
pub struct Login {
    /// Backend user name.
    pub user: String,
    /// What answers the backend's challenge.
    pub credential: BackendCredential,
    /// Connection attributes to pass on (length-encoded pairs), e.g. the client's.
    pub attrs: Vec<u8>,
}

/// Result of a successful login.
pub struct LoggedIn {
    /// The backend's greeting.
    pub greeting: Greeting,
    /// Capabilities in use on this connection.
    pub caps: u32,
    /// MariaDB extended capabilities in use on this connection.
    pub ext_caps: u32,
}

fn proto(backend: &str) -> impl Fn(ProtocolError) -> PoolError + '_ {
    move |source| PoolError::Protocol {
        backend: backend.to_string(),
        source,
    }
}

/// Performs the login on a fresh TCP connection to `backend`, as `who`, with the wire
/// format of `key`; with `tls`, upgrades to TLS first (after the SSL request packet) and
/// refuses a server that does not offer it. Returns the connection, TLS or not.
pub async fn login(
    mut conn: PacketConn<BackendStream>,
    backend: &Backend,
    key: &PoolKey,
    who: &Login,
    schema: Option<&str>,
    tls: Option<&BackendTls>,
) -> Result<(PacketConn<BackendStream>, LoggedIn), PoolError> {
    let p = proto(&backend.name);
    let hello = conn.read_packet(0, 1 << 16).await.map_err(&p)?;
    if hello.payload.first() == Some(&0xff) {
        let err = ErrPacket::parse(&hello.payload).map_err(&p)?;
        return Err(PoolError::Refused {
            backend: backend.name.to_string(),
            err,
        });
    }
    let greeting = Greeting::parse(&hello.payload).map_err(&p)?;
    let mut caps = (BASE_CAPS | (key.caps & FORMAT_CAPS)) & greeting.capabilities;
    // MariaDB extended capabilities are sent only with the CLIENT_MYSQL bit clear.
    let ext = key.ext_caps & greeting.ext_capabilities;
    if ext == 0 {
        caps |= CLIENT_LONG_PASSWORD;
    } else {
        caps &= !CLIENT_LONG_PASSWORD;
    }
    if schema.is_some() {
        caps |= CLIENT_CONNECT_WITH_DB;
    }
    if tls.is_some() {
        caps |= CLIENT_SSL;
    }
    let token = who
        .credential
        .token(&greeting.auth_plugin, &greeting.scramble)
        .unwrap_or_default();
    let response = HandshakeResponse {
        capabilities: caps,
        max_packet: 1 << 30,
        charset: key.charset,
        user: who.user.clone(),
        auth_response: token,
        database: schema.map(str::to_string),
        auth_plugin: greeting.auth_plugin.clone(),
        attrs: who.attrs.clone(),
        ext_capabilities: ext,
    };
    let encoded = response.encode();
    let mut seq = 1;
    if let Some(tls) = tls {
        if greeting.capabilities & CLIENT_SSL == 0 {
            return Err(tls_error(backend, TlsError::NotOffered(tls.mode_name())));
        }
        // The SSL request is the handshake response's fixed 32-byte head.
        seq = conn.write_packet(seq, &encoded[..SSL_REQUEST_LEN]);
        conn.flush().await.map_err(&p)?;
        conn = upgrade(conn, backend, tls).await?;
    }
    let seq = conn.write_packet(seq, &encoded);
    conn.flush().await.map_err(&p)?;
    finish_auth(&mut conn, &backend.name, who, &greeting.auth_plugin, seq).await?;
    Ok((
        conn,
        LoggedIn {
            greeting,
            caps,
            ext_caps: ext,
        },
    ))
}

/// Length of the SSL request: capabilities, max packet, charset, 19 reserved bytes and
/// the MariaDB extended capabilities.
const SSL_REQUEST_LEN: usize = 32;

fn tls_error(backend: &Backend, source: TlsError) -> PoolError {
    PoolError::Tls {
        backend: backend.name.to_string(),
        address: backend.address.clone(),
        source,
    }
}

/// Swaps the plain socket under `conn` for a TLS one (the server has sent nothing since
/// its greeting, so no buffered bytes are lost).
async fn upgrade(
    conn: PacketConn<BackendStream>,
    backend: &Backend,
    tls: &BackendTls,
) -> Result<PacketConn<BackendStream>, PoolError> {
    let (stream, unread) = conn.into_parts();
    let BackendStream::Plain(tcp) = stream else {
        return Err(proto(&backend.name)(ProtocolError::Malformed(
            "TLS requested twice",
        )));
    };
    if !unread.is_empty() {
        return Err(proto(&backend.name)(ProtocolError::Malformed(
            "data before the TLS handshake",
        )));
    }
    let stream = tls
        .upgrade(tcp, &backend.address)
        .await
        .map_err(|e| tls_error(backend, e))?;
    Ok(PacketConn::new(stream))
}

/// Follows the server's auth exchange from sequence id `seq` until OK (also used after
/// COM_CHANGE_USER).
pub async fn finish_auth(
    conn: &mut PacketConn<BackendStream>,
    backend: &str,
    login: &Login,
    plugin: &str,
    mut seq: u8,
) -> Result<(), PoolError> {
    let p = proto(backend);
    let mut plugin = plugin.to_string();
    for _ in 0..8 {
        let pkt = conn.read_packet(seq, 1 << 20).await.map_err(&p)?;
        seq = pkt.seq.wrapping_add(1);
        let payload = &pkt.payload[..];
        match payload.first() {
            Some(0x00) => return Ok(()),
            Some(0xff) => {
                let err = ErrPacket::parse(payload).map_err(&p)?;
                return Err(PoolError::Refused {
                    backend: backend.into(),
                    err,
                });
            }
            Some(0xfe) => {
                let mut r = Reader::new(&payload[1..]);
                plugin = String::from_utf8_lossy(r.null_str()).into_owned();
                let data = r.rest();
                let data = data.strip_suffix(&[0]).unwrap_or(data);
                let token = login.credential.token(&plugin, data).ok_or_else(|| {
                    PoolError::Unsupported {
                        backend: backend.into(),
                        plugin: plugin.clone(),
                    }
                })?;
                seq = conn.write_packet(seq, &token);
                conn.flush().await.map_err(&p)?;
            }
            Some(0x01) if plugin == CACHING_SHA2 && payload.get(1) == Some(&3) => {}
            _ => {
                return Err(PoolError::Unsupported {
                    backend: backend.into(),
                    plugin,
                });
            }
        }
    }
    Err(p(ProtocolError::Malformed("too many auth round trips")))
}
