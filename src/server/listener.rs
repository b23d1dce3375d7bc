//! The accept loop: one task per client, tracked so shutdown can wait for them.

use super::auth::{handshake, AuthError};
use super::session::Session;
use super::Proxy;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Serves clients on `listener` until `shutdown` completes; then stops accepting, asks
/// sessions to end after their current command, and waits for them.
pub async fn run(listener: TcpListener, proxy: Arc<Proxy>, shutdown: impl Future<Output = ()>) {
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    tokio::pin!(shutdown);
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
        let handle = proxy.sessions.register(&stop);
        tracker.spawn(async move {
            let timeout = Duration::from_millis(proxy.config.load().proxy.handshake_timeout_ms);
            let authed =
                match tokio::time::timeout(timeout, handshake(&proxy, tcp, handle.id)).await {
                    Ok(Ok(a)) => a,
                    Ok(Err(AuthError::Refused(err))) => {
                        tracing::info!(%peer, error = %err, "client refused");
                        proxy.sessions.remove(handle.id);
                        return;
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "handshake failed");
                        proxy.sessions.remove(handle.id);
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%peer, "handshake timed out");
                        proxy.sessions.remove(handle.id);
                        return;
                    }
                };
            tracing::info!(%peer, id = handle.id, user = %authed.response.user, "client connected");
            Session::run(proxy, handle.clone(), authed).await;
            tracing::info!(%peer, id = handle.id, "client disconnected");
        });
    }
    tracker.close();
    stop.cancel();
    tracker.wait().await;
}
