//! The server side of the handshake: greet the client with a fresh scramble, upgrade to
//! TLS if asked, and authenticate it against the configured users with
//! mysql_native_password or caching_sha2_password (fast path; full auth over TLS),
//! switching plugins when the client started with another one.

use super::stream::ClientStream;
use super::Proxy;
use crate::protocol::auth::{self, BackendCredential, Secret, CACHING_SHA2, NATIVE};
use crate::protocol::constants::caps::*;
use crate::protocol::constants::errors::*;
use crate::protocol::constants::ext_caps::{
    MARIADB_CLIENT_CACHE_METADATA, MARIADB_CLIENT_STMT_BULK_OPERATIONS,
};
use crate::protocol::handshake::{is_ssl_request, Greeting, HandshakeResponse};
use crate::protocol::packets::ErrPacket;
use crate::protocol::{PacketConn, ProtocolError};
use bytes::BytesMut;
use std::collections::HashMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the proxy can offer clients (intersected with the backend's capabilities).
pub const PROXY_CAPS: u32 = CLIENT_LONG_PASSWORD
    | CLIENT_FOUND_ROWS
    | CLIENT_LONG_FLAG
    | CLIENT_CONNECT_WITH_DB
    | CLIENT_NO_SCHEMA
    | CLIENT_ODBC
    | CLIENT_LOCAL_FILES
    | CLIENT_IGNORE_SPACE
    | CLIENT_PROTOCOL_41
    | CLIENT_INTERACTIVE
    | CLIENT_IGNORE_SIGPIPE
    | CLIENT_TRANSACTIONS
    | CLIENT_RESERVED
    | CLIENT_SECURE_CONNECTION
    | CLIENT_MULTI_STATEMENTS
    | CLIENT_MULTI_RESULTS
    | CLIENT_PS_MULTI_RESULTS
    | CLIENT_PLUGIN_AUTH
    | CLIENT_CONNECT_ATTRS
    | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
    | CLIENT_SESSION_TRACK
    | CLIENT_DEPRECATE_EOF;

/// A client that passed authentication (the final OK is not sent yet).
pub struct Authenticated {
    /// The framed client connection.
    pub conn: PacketConn<ClientStream>,
    /// Negotiated capabilities.
    pub caps: u32,
    /// Negotiated MariaDB extended capabilities.
    pub ext_caps: u32,
    /// The handshake response.
    pub response: HandshakeResponse,
    /// What logs in to backends on the client's behalf.
    pub credential: BackendCredential,
    /// The scramble from the greeting (COM_CHANGE_USER tokens use it).
    pub scramble: [u8; 20],
    /// Sequence id for the next packet to the client.
    pub seq: u8,
}

/// Why a handshake ended without a session.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The wire failed.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The client was refused with this error (already sent).
    #[error("{0}")]
    Refused(ErrPacket),
    /// TLS negotiation failed.
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
}

/// Reads one packet straight from the socket without reading ahead (so bytes of a TLS
/// ClientHello that follow an SSL request stay in the socket).
async fn read_exact_packet(tcp: &mut TcpStream) -> Result<(u8, Vec<u8>), ProtocolError> {
    let mut h = [0u8; 4];
    tcp.read_exact(&mut h).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ProtocolError::Closed,
        _ => ProtocolError::Io(e),
    })?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
    if len > 64 * 1024 {
        return Err(ProtocolError::TooLarge {
            size: len,
            max: 64 * 1024,
        });
    }
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload).await?;
    Ok((h[3], payload))
}

/// Greets and authenticates a client on `tcp`, whose proxy connection id is `id`,
/// against `users` (the proxy's `[[users]]`, or the admin port's one admin).
/// `on_refuse` runs before a refusal's ERR is sent: whatever it records is in place by the
/// time the client can see the refusal and connect again.
pub async fn handshake(
    proxy: &Proxy,
    mut tcp: TcpStream,
    id: u32,
    users: &HashMap<String, Secret>,
    on_refuse: &(dyn Fn() + Sync),
) -> Result<Authenticated, AuthError> {
    let flavour = proxy.flavour.load_full();
    let mut offered = PROXY_CAPS & (flavour.capabilities | CLIENT_LONG_PASSWORD | CLIENT_SSL);
    if proxy.tls.is_some() {
        offered |= CLIENT_SSL;
    }
    // Of MariaDB's extended capabilities bulk execution and cached metadata are relayed
    // (PROGRESS and EXTENDED_METADATA change packet formats the walker does not follow).
    let offered_ext = (MARIADB_CLIENT_STMT_BULK_OPERATIONS | MARIADB_CLIENT_CACHE_METADATA)
        & flavour.ext_capabilities;
    if offered_ext != 0 {
        offered &= !CLIENT_LONG_PASSWORD;
    }
    let scramble = auth::scramble();
    let greeting = Greeting {
        server_version: flavour.version.clone(),
        connection_id: id,
        scramble: scramble.to_vec(),
        capabilities: offered,
        charset: flavour.charset,
        status: crate::protocol::constants::status::SERVER_STATUS_AUTOCOMMIT,
        auth_plugin: NATIVE.into(),
        ext_capabilities: offered_ext,
    };
    let mut framed = BytesMut::new();
    let g = greeting.encode();
    framed.extend_from_slice(&(g.len() as u32).to_le_bytes()[..3]);
    framed.extend_from_slice(&[0]);
    framed.extend_from_slice(&g);
    tcp.write_all(&framed).await.map_err(ProtocolError::Io)?;

    let (seq, first) = read_exact_packet(&mut tcp).await?;
    if seq != 1 {
        return Err(ProtocolError::OutOfOrder {
            expected: 1,
            got: seq,
        }
        .into());
    }
    let (mut conn, payload, seq) = if is_ssl_request(&first) && proxy.tls.is_some() {
        let acceptor = proxy
            .tls
            .clone()
            .ok_or(ProtocolError::Malformed("no TLS"))?;
        let tls = acceptor.accept(tcp).await.map_err(AuthError::Tls)?;
        let mut conn = PacketConn::new(ClientStream::Tls(Box::new(tls)));
        let p = conn.read_packet(2, 64 * 1024).await?;
        (conn, p.payload.to_vec(), p.seq)
    } else {
        (PacketConn::new(ClientStream::Plain(tcp)), first, seq)
    };
    let mut seq = seq.wrapping_add(1);
    let response = match HandshakeResponse::parse(&payload) {
        Ok(r) => r,
        Err(_) => {
            let err = ErrPacket::new(ER_HANDSHAKE_ERROR, "08S01", "Bad handshake");
            return Err(refuse_counted(&mut conn, seq, err, on_refuse).await);
        }
    };
    let caps = response.capabilities & offered;
    let ext_caps = response.ext_capabilities & offered_ext;
    if proxy.config.load().proxy.require_tls && !conn_is_tls(&mut conn) {
        let err = ErrPacket::new(
            ER_SECURE_TRANSPORT_REQUIRED,
            "HY000",
            "Connections using insecure transport are prohibited: rwproxy requires TLS (require_tls)",
        );
        return Err(refuse_counted(&mut conn, seq, err, on_refuse).await);
    }
    let secret = users.get(&response.user).cloned();
    let credential = match secret {
        Some(secret) => verify(&mut conn, &mut seq, &secret, &response, &scramble).await?,
        None => None,
    };
    let Some(credential) = credential else {
        let using = if response.auth_response.is_empty() {
            "NO"
        } else {
            "YES"
        };
        let err = ErrPacket::new(
            ER_ACCESS_DENIED_ERROR,
            "28000",
            format!(
                "Access denied for user '{}'@'{}' (using password: {using})",
                response.user,
                peer_host(&conn)
            ),
        );
        return Err(refuse_counted(&mut conn, seq, err, on_refuse).await);
    };
    Ok(Authenticated {
        conn,
        caps,
        ext_caps,
        response,
        credential,
        scramble,
        seq,
    })
}

fn conn_is_tls(conn: &mut PacketConn<ClientStream>) -> bool {
    conn.stream_ref().is_tls()
}

/// The client's IP address, as error messages show it.
pub fn peer_host(conn: &PacketConn<ClientStream>) -> String {
    conn.stream()
        .tcp()
        .peer_addr()
        .ok()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Runs `on_refuse`, then refuses the handshake with `err`.
async fn refuse_counted(
    conn: &mut PacketConn<ClientStream>,
    seq: u8,
    err: ErrPacket,
    on_refuse: &(dyn Fn() + Sync),
) -> AuthError {
    on_refuse();
    refuse(conn, seq, err).await
}

/// Sends `err` to the client and returns it as the handshake's outcome.
pub async fn refuse(conn: &mut PacketConn<ClientStream>, seq: u8, err: ErrPacket) -> AuthError {
    conn.write_packet(seq, &err.encode());
    let _ = conn.flush().await;
    AuthError::Refused(err)
}

/// Checks the client's token, switching plugin when needed. Returns the backend
/// credential on success, None on wrong credentials.
pub async fn verify(
    conn: &mut PacketConn<ClientStream>,
    seq: &mut u8,
    secret: &Secret,
    response: &HandshakeResponse,
    scramble: &[u8; 20],
) -> Result<Option<BackendCredential>, AuthError> {
    let plugin = if response.auth_plugin.is_empty() {
        NATIVE
    } else {
        response.auth_plugin.as_str()
    };
    match plugin {
        NATIVE => Ok(check_native(secret, scramble, &response.auth_response)),
        CACHING_SHA2 if secret.plaintext.is_some() => {
            sha2(conn, seq, secret, scramble, &response.auth_response).await
        }
        _ => {
            // Ask for mysql_native_password with a fresh scramble.
            let fresh = auth::scramble();
            let mut p = BytesMut::new();
            p.extend_from_slice(&[0xfe]);
            p.extend_from_slice(NATIVE.as_bytes());
            p.extend_from_slice(&[0]);
            p.extend_from_slice(&fresh);
            p.extend_from_slice(&[0]);
            conn.write_packet(*seq, &p);
            conn.flush().await?;
            let reply = conn.read_packet(seq.wrapping_add(1), 1024).await?;
            *seq = reply.seq.wrapping_add(1);
            Ok(check_native(secret, &fresh, &reply.payload))
        }
    }
}

fn check_native(secret: &Secret, scramble: &[u8], token: &[u8]) -> Option<BackendCredential> {
    if secret.empty {
        return token
            .is_empty()
            .then(|| BackendCredential::from_password(""));
    }
    let stage1 = auth::native_check(secret, scramble, token)?;
    Some(BackendCredential {
        native_stage1: Some(stage1),
        plaintext: secret.plaintext.clone(),
    })
}

/// caching_sha2_password: the fast path always applies (the proxy knows the password);
/// a failed fast path may retry with the cleartext password, but only over TLS.
async fn sha2(
    conn: &mut PacketConn<ClientStream>,
    seq: &mut u8,
    secret: &Secret,
    scramble: &[u8; 20],
    token: &[u8],
) -> Result<Option<BackendCredential>, AuthError> {
    let pw = secret.plaintext.clone().unwrap_or_default();
    let ok = if pw.is_empty() {
        token.is_empty()
    } else {
        auth::sha2_check(&pw, scramble, token)
    };
    if ok {
        *seq = conn.write_packet(*seq, &[0x01, 0x03]);
        return Ok(Some(BackendCredential::from_password(&pw)));
    }
    if !conn.stream_ref().is_tls() {
        return Ok(None);
    }
    conn.write_packet(*seq, &[0x01, 0x04]);
    conn.flush().await?;
    let reply = conn.read_packet(seq.wrapping_add(1), 1024).await?;
    *seq = reply.seq.wrapping_add(1);
    Ok(auth::cleartext_check(&pw, &reply.payload).then(|| BackendCredential::from_password(&pw)))
}
