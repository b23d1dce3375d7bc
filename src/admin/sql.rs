//! The SQL admin port: a MySQL-protocol listener whose only user is `[admin] user`,
//! authenticated by the proxy's own handshake code, answering admin statements
//! (`admin::parse`, `admin::commands`) itself — no backend is involved.

use super::commands::{self, Ctx, Reply};
use crate::protocol::auth::Secret;
use crate::protocol::constants::com::*;
use crate::protocol::constants::status::SERVER_STATUS_AUTOCOMMIT;
use crate::protocol::packets::{ok_packet, ErrPacket};
use crate::protocol::resultset::text_resultset;
use crate::protocol::wire::{put_lenenc, put_lenenc_bytes};
use crate::protocol::PacketConn;
use crate::server::auth::handshake;
use crate::server::counters::ClientStats;
use crate::server::stream::ClientStream;
use crate::server::Proxy;
use bytes::{BufMut, BytesMut};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Largest admin statement accepted.
const MAX_PACKET: usize = 1 << 20;

/// Serves the admin port until `cancel` fires.
pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, cancel: CancellationToken) {
    let tracker = TaskTracker::new();
    let ids = Arc::new(AtomicU32::new(0));
    let stats = Arc::new(ClientStats::default());
    loop {
        let (tcp, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = cancel.cancelled() => break,
        };
        let id = ids.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        let (proxy, stats, cancel) = (proxy.clone(), stats.clone(), cancel.clone());
        tracker.spawn(async move {
            tokio::select! {
                _ = session(proxy, stats, tcp, peer, id) => {}
                _ = cancel.cancelled() => {}
            }
        });
    }
    tracker.close();
    tracker.wait().await;
}

async fn session(
    proxy: Arc<Proxy>,
    stats: Arc<ClientStats>,
    tcp: TcpStream,
    peer: SocketAddr,
    id: u32,
) {
    let _ = tcp.set_nodelay(true);
    let config = proxy.config.load_full();
    let users: HashMap<String, Secret> = [(
        config.admin.user.clone(),
        Secret::from_config(&config.admin.password),
    )]
    .into();
    let timeout = Duration::from_millis(config.proxy.handshake_timeout_ms);
    let authed =
        match tokio::time::timeout(timeout, handshake(&proxy, tcp, id, &users, &|| {})).await {
            Ok(Ok(a)) => a,
            failed => {
                let err = failed.map(|r| r.err()).ok().flatten();
                crate::server::listener::log_failed_handshake(&stats, peer, err, "admin");
                return;
            }
        };
    let user = authed.response.user.clone();
    tracing::info!(%peer, id, %user, "admin connected");
    let mut conn = authed.conn;
    let caps = authed.caps;
    let ext_caps = authed.ext_caps;
    conn.write_packet(authed.seq, &ok_packet(SERVER_STATUS_AUTOCOMMIT, caps));
    if conn.flush().await.is_err() {
        return;
    }
    let ctx = Ctx {
        proxy,
        id,
        user,
        peer,
    };
    while let Ok(p) = conn.read_packet(0, MAX_PACKET).await {
        let reply = match p.payload.split_first() {
            Some((&COM_QUIT, _)) | None => break,
            Some((&COM_QUERY, sql)) => run_query(&ctx, sql).await,
            Some((&(COM_PING | COM_INIT_DB | COM_RESET_CONNECTION | COM_SET_OPTION), _)) => {
                Reply::Ok {
                    affected: 0,
                    info: String::new(),
                }
            }
            Some((&COM_FIELD_LIST, _)) => Reply::rows(&[], Vec::new()),
            Some((&c, _)) => Reply::Err(ErrPacket::new(
                crate::protocol::constants::errors::ER_UNKNOWN_COM_ERROR,
                "08S01",
                format!("rwproxy admin: command 0x{c:02x} is not supported; send SQL (COM_QUERY)"),
            )),
        };
        let field_list = p.payload.first() == Some(&COM_FIELD_LIST);
        if send(
            &mut conn,
            p.seq.wrapping_add(1),
            (caps, ext_caps),
            reply,
            field_list,
        )
        .await
        .is_err()
        {
            break;
        }
    }
    tracing::info!(%peer, id, "admin disconnected");
}

async fn run_query(ctx: &Ctx, sql: &[u8]) -> Reply {
    let Ok(text) = std::str::from_utf8(sql) else {
        return Reply::error(1105, "rwproxy admin: statements must be UTF-8");
    };
    match super::parse::parse(text) {
        Ok(cmd) => {
            tracing::debug!(id = ctx.id, statement = text, "admin statement");
            commands::execute(ctx, cmd).await
        }
        Err(e) => Reply::Err(ErrPacket::new(1064, "42000", e.0)),
    }
}

/// An OK with affected rows and a human-readable info message.
fn ok_with_info(affected: u64, info: &str, caps: u32) -> BytesMut {
    let mut b = BytesMut::with_capacity(16 + info.len());
    b.put_u8(0);
    put_lenenc(&mut b, affected);
    put_lenenc(&mut b, 0);
    b.put_u16_le(SERVER_STATUS_AUTOCOMMIT);
    b.put_u16_le(0);
    if caps & crate::protocol::constants::caps::CLIENT_SESSION_TRACK != 0 {
        put_lenenc_bytes(&mut b, info.as_bytes());
    } else {
        b.put_slice(info.as_bytes());
    }
    b
}

async fn send(
    conn: &mut PacketConn<ClientStream>,
    seq: u8,
    (caps, ext_caps): (u32, u32),
    reply: Reply,
    field_list: bool,
) -> Result<(), crate::protocol::ProtocolError> {
    match reply {
        Reply::Ok { affected, info } => {
            conn.write_packet(seq, &ok_with_info(affected, &info, caps));
        }
        Reply::Err(e) => {
            conn.write_packet(seq, &e.encode());
        }
        Reply::Rows { .. } if field_list => {
            // COM_FIELD_LIST: no columns, just the terminator.
            let packets = text_resultset(&[], &[], SERVER_STATUS_AUTOCOMMIT, caps, ext_caps);
            if let Some(last) = packets.last() {
                conn.write_packet(seq, last);
            }
        }
        Reply::Rows { columns, rows } => {
            let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
            let mut s = seq;
            for p in text_resultset(&cols, &rows, SERVER_STATUS_AUTOCOMMIT, caps, ext_caps) {
                s = conn.write_packet(s, &p);
            }
        }
    }
    conn.flush().await
}
