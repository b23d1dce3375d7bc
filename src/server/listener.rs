//! The accept loop: one task per client, tracked so shutdown can wait for them.

use super::auth::{handshake, AuthError};
use super::counters::ClientStats;
use super::session::Session;
use super::Proxy;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

/// Serves clients on `listener` until `shutdown` completes; then stops accepting, closes
/// idle sessions, lets those in a transaction finish it (bounded by
/// `[proxy] shutdown_timeout_ms`), and waits for them.
pub async fn run(listener: TcpListener, proxy: Arc<Proxy>, shutdown: impl Future<Output = ()>) {
    let tracker = TaskTracker::new();
    // `[proxy] workers` is read once: changing it needs a restart.
    let workers = match proxy.config.load().proxy.workers {
        0 => None,
        n => match super::workers::Workers::start(n) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the session workers; using the shared runtime");
                None
            }
        },
    };
    let sweeper = tokio::spawn(sweep_idle(proxy.clone()));
    let watchdog = tokio::spawn(proxy.watchdog.clone().run());
    tokio::pin!(shutdown);
    proxy.listening.store(true, Ordering::Relaxed);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let proxy = proxy.clone();
        proxy.clients.accepted.fetch_add(1, Ordering::Relaxed);
        let handle = proxy.sessions.register(Some(peer));
        let tcp = match &workers {
            Some(_) => match tcp.into_std() {
                Ok(std) => Accepted::Std(std),
                Err(_) => continue,
            },
            None => Accepted::Tokio(tcp),
        };
        let task = tracker.track_future(async move {
            let tcp = match tcp {
                Accepted::Tokio(t) => t,
                Accepted::Std(s) => match tokio::net::TcpStream::from_std(s) {
                    Ok(t) => t,
                    Err(_) => return,
                },
            };
            let limit = proxy.config.load().proxy.max_client_connections;
            // The registry holds every client from accept on, this one included.
            if proxy.sessions.len() > limit {
                proxy.sessions.remove(handle.id);
                too_many(&proxy, tcp, peer, limit).await;
                return;
            }
            let max_errors = proxy.config.load().proxy.max_connect_errors;
            if proxy.connect_errors.is_blocked(peer.ip(), max_errors) {
                proxy.sessions.remove(handle.id);
                proxy.connect_errors.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%peer, max_errors, "client refused: host blocked (max_connect_errors)");
                refuse_greeting(tcp, super::limits::ConnectErrors::error(peer.ip())).await;
                return;
            }
            let timeout = Duration::from_millis(proxy.config.load().proxy.handshake_timeout_ms);
            let users = proxy.users.load_full();
            // A refusal is counted before its ERR goes out: the client may connect again
            // as soon as it reads it, and must then find the count.
            let on_refuse = || count_connect_error(&proxy, peer, None, max_errors);
            let shake = handshake(&proxy, tcp, handle.id, &users, &on_refuse);
            let mut authed = match tokio::time::timeout(timeout, shake).await {
                Ok(Ok(a)) => a,
                failed => {
                    proxy.sessions.remove(handle.id);
                    let err = failed.map(|r| r.err()).ok().flatten();
                    if !matches!(err, Some(AuthError::Refused(_))) {
                        count_connect_error(&proxy, peer, err.as_ref(), max_errors);
                    }
                    log_failed_handshake(&proxy.clients, peer, err, "proxy");
                    return;
                }
            };
            proxy.connect_errors.succeeded(peer.ip());
            let user = authed.response.user.clone();
            if let Err(err) = take_user_slot(&proxy, &handle, &user) {
                proxy.sessions.remove(handle.id);
                tracing::warn!(%peer, %user, "client refused: {}", err.message);
                let _ = super::auth::refuse(&mut authed.conn, authed.seq, err).await;
                authed.conn.shutdown().await;
                return;
            }
            tracing::info!(%peer, id = handle.id, %user, "client connected");
            let started = std::time::Instant::now();
            let why = Session::run(proxy, handle.clone(), authed).await;
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(%peer, id = handle.id, %user, reason = why, secs, "client disconnected");
        });
        match &workers {
            Some(w) => w.spawn(task),
            None => {
                tokio::spawn(task);
            }
        }
    }
    proxy.listening.store(false, Ordering::Relaxed);
    // New clients are refused at once (connection refused), not left in the backlog.
    drop(listener);
    tracker.close();
    // Idle sessions close now; one in a transaction may finish it first, up to
    // `[proxy] shutdown_timeout_ms`.
    proxy.sessions.stop_all();
    tracker.wait().await;
    sweeper.abort();
    watchdog.abort();
    proxy.watchdog.forget_ended();
    if let Some(w) = workers {
        w.stop();
    }
}

/// Closes the pool's expired idle connections every half `[proxy]
/// pool_idle_timeout_ms` (within 50 ms and 1 s), however the traffic falls on the
/// pool's lists (see `Pool::sweep`).
async fn sweep_idle(proxy: Arc<Proxy>) {
    loop {
        tokio::time::sleep(proxy.pool.sweep_period()).await;
        proxy.pool.sweep(std::time::Instant::now());
    }
}

/// An accepted client socket: as accepted, or detached from this runtime to be
/// registered on the worker that serves it.
enum Accepted {
    Tokio(tokio::net::TcpStream),
    Std(std::net::TcpStream),
}

/// Refuses a client over `[proxy] max_client_connections` the way the server does at its
/// `max_connections`: ERR 1040 in place of the greeting, then close.
async fn too_many(proxy: &Proxy, tcp: tokio::net::TcpStream, peer: SocketAddr, limit: usize) {
    use crate::protocol::constants::errors::ER_CON_COUNT_ERROR;
    proxy.clients.too_many.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(%peer, limit, "client refused: too many connections (max_client_connections)");
    let err = crate::protocol::packets::ErrPacket::new(
        ER_CON_COUNT_ERROR,
        "08004",
        format!("Too many connections (rwproxy max_client_connections = {limit})"),
    );
    refuse_greeting(tcp, err).await;
}

/// Sends `err` in place of the greeting (sequence id 0, no SQLSTATE, as the server
/// does), then closes.
async fn refuse_greeting(tcp: tokio::net::TcpStream, err: crate::protocol::packets::ErrPacket) {
    let mut conn = crate::protocol::PacketConn::new(tcp);
    conn.write_packet(0, &err.encode_before_handshake());
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.flush()).await;
    conn.shutdown().await;
}

/// Counts a failed handshake against the client's IP (`[proxy] max_connect_errors`). A
/// client that hangs up (close or reset) before finishing a packet — a TCP health
/// check — is not counted; a bad packet, a refusal or a timeout is.
fn count_connect_error(proxy: &Proxy, peer: SocketAddr, err: Option<&AuthError>, limit: u32) {
    if matches!(err, Some(AuthError::Protocol(e)) if e.is_disconnect()) {
        return;
    }
    let n = proxy.connect_errors.failed(peer.ip(), limit);
    if limit > 0 && n == limit {
        tracing::warn!(%peer, errors = n, "client host blocked after {n} failed handshakes in a row; FLUSH HOSTS on the admin port unblocks it");
    }
}

/// Takes the session's place in its user's count (giving back the one it held, if any),
/// or returns the ERR 1203 to refuse it with.
pub(crate) fn take_user_slot(
    proxy: &Proxy,
    handle: &super::registry::SessionHandle,
    user: &str,
) -> Result<(), crate::protocol::packets::ErrPacket> {
    let config = proxy.config.load();
    let limit = config
        .users
        .iter()
        .find(|u| u.name == user)
        .map_or(0, |u| u.max_connections);
    let slot = proxy.user_sessions.acquire(user, limit)?;
    *handle.user_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(slot);
    Ok(())
}

/// One log line and one counter per failed handshake on `port` (`proxy` or `admin`):
/// access denied (with the server's message, which names the user but never the
/// password), another refusal, a broken handshake, or a timeout (`None`).
pub fn log_failed_handshake(
    stats: &ClientStats,
    peer: SocketAddr,
    err: Option<AuthError>,
    port: &'static str,
) {
    match err {
        Some(AuthError::Refused(e))
            if e.code == crate::protocol::constants::errors::ER_ACCESS_DENIED_ERROR =>
        {
            stats.auth_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%peer, port, error = %e.message, "client authentication failed");
        }
        Some(AuthError::Refused(e)) => {
            stats.handshake_errors.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%peer, port, error = %e, "client refused");
        }
        Some(e) => {
            stats.handshake_errors.fetch_add(1, Ordering::Relaxed);
            // A bare connect-and-close (a TCP health check) is not worth a line.
            if matches!(
                e,
                AuthError::Protocol(crate::protocol::ProtocolError::Closed)
            ) {
                tracing::debug!(%peer, port, "client closed during the handshake");
            } else {
                tracing::info!(%peer, port, error = %e, "client handshake failed");
            }
        }
        None => {
            stats.handshake_errors.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%peer, port, "client handshake timed out");
        }
    }
}
