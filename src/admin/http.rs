//! The HTTP side of the admin interface (hyper, HTTP/1.1):
//!
//! - `GET /metrics` — OpenMetrics text for Prometheus (see `admin::metrics`);
//! - `GET /health/live` — 200 while the process runs;
//! - `GET /health/ready` — 200 when a writable primary is known and the client
//!   listener is up, else 503 with the reason;
//! - `GET /api/backends` — the `SHOW BACKENDS` rows as JSON;
//! - `PUT /api/backends/{name}` — JSON `{"weight": 3, "max_lag_ms": 500, "state":
//!   "offline"}` (any subset), HTTP Basic auth with the `[admin]` credentials.

use super::backends::{apply, rows, ChangeError};
use super::parse::BackendChange;
use crate::replication::BackendState;
use crate::server::Proxy;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Largest request body accepted.
const MAX_BODY: usize = 64 * 1024;

type Reply = Response<Full<Bytes>>;

/// Serves HTTP until `cancel` fires.
pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, cancel: CancellationToken) {
    let tracker = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = cancel.cancelled() => break,
        };
        let (proxy, cancel) = (proxy.clone(), cancel.clone());
        tracker.spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(route(&proxy, req, peer).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc);
            tokio::select! {
                r = conn => if let Err(e) = r { tracing::debug!(%peer, error = %e, "http connection ended") },
                _ = cancel.cancelled() => {}
            }
        });
    }
    tracker.close();
    tracker.wait().await;
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, body: impl Into<String>) -> Reply {
    let mut s = body.into();
    s.push('\n');
    reply(status, "text/plain; charset=utf-8", s)
}

fn json(status: StatusCode, v: &impl serde::Serialize) -> Reply {
    match serde_json::to_vec_pretty(v) {
        Ok(body) => reply(status, "application/json", body),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Ok when the proxy can serve writes: its listener accepts and a writable primary is
/// known; else why not.
pub fn readiness(proxy: &Proxy) -> Result<String, String> {
    if !proxy.listening.load(Ordering::Relaxed) {
        return Err("client listener not accepting".into());
    }
    match proxy.topology.load().writer() {
        Some(w) => Ok(format!("ready: writes go to {}", w.name)),
        None => Err("no writable primary (every backend read_only, down or offline)".into()),
    }
}

async fn route(proxy: &Arc<Proxy>, req: Request<Incoming>, peer: SocketAddr) -> Reply {
    let path = req.uri().path().trim_end_matches('/').to_string();
    match (req.method(), path.as_str()) {
        (&Method::GET, "/metrics") => reply(
            StatusCode::OK,
            super::metrics::CONTENT_TYPE,
            super::metrics::render(proxy),
        ),
        (&Method::GET, "/health/live") => text(StatusCode::OK, "live"),
        (&Method::GET, "/health/ready") => match readiness(proxy) {
            Ok(why) => text(StatusCode::OK, why),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}")),
        },
        (&Method::GET, "/api/backends") => json(StatusCode::OK, &rows(proxy)),
        (&Method::PUT, p) if p.starts_with("/api/backends/") => {
            let name = p["/api/backends/".len()..].to_string();
            put_backend(proxy, req, &name, peer).await
        }
        (_, "" | "/metrics" | "/health/live" | "/health/ready" | "/api/backends") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found; endpoints: GET /metrics, GET /health/live, GET /health/ready, \
             GET /api/backends, PUT /api/backends/{name}",
        ),
    }
}

/// `PUT /api/backends/{name}` body.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Put {
    weight: Option<u32>,
    max_lag_ms: Option<u64>,
    state: Option<String>,
}

/// True when the request carries HTTP Basic credentials matching `[admin]`.
fn authorized(proxy: &Proxy, req: &Request<Incoming>) -> bool {
    use base64::Engine;
    use sha1::{Digest, Sha1};
    use subtle::ConstantTimeEq;
    let Some(creds) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
    else {
        return false;
    };
    let Some((user, password)) = creds.split_once(':') else {
        return false;
    };
    let admin = &proxy.config.load().admin;
    let secret = crate::protocol::auth::Secret::from_config(&admin.password);
    let stage2 = Sha1::digest(Sha1::digest(password.as_bytes()));
    user == admin.user && bool::from(stage2.as_slice().ct_eq(&secret.native_stage2))
}

async fn put_backend(proxy: &Proxy, req: Request<Incoming>, name: &str, peer: SocketAddr) -> Reply {
    if !authorized(proxy, &req) {
        let mut r = text(
            StatusCode::UNAUTHORIZED,
            "admin credentials required (HTTP Basic)",
        );
        r.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"rwproxy\""),
        );
        tracing::warn!(%peer, "http admin authentication failed");
        return r;
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}"),
            )
        }
    };
    let put: Put = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("bad JSON ({e}); expected {{\"weight\": N, \"max_lag_ms\": N, \"state\": \"online|offline|draining\"}}"),
            )
        }
    };
    let state = match put
        .state
        .as_deref()
        .map(|s| (s, BackendState::parse_admin(s)))
    {
        Some((s, None)) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("state must be online, offline or draining, not {s}"),
            )
        }
        Some((_, st)) => st,
        None => None,
    };
    let change = BackendChange {
        weight: put.weight,
        max_lag_ms: put.max_lag_ms,
        state,
    };
    let who = format!("{}@{peer} via HTTP", proxy.config.load().admin.user);
    match apply(proxy, &[name.to_string()], &change, &who) {
        Ok(_) => match rows(proxy).into_iter().find(|r| r.name == name) {
            Some(row) => json(StatusCode::OK, &row),
            None => text(StatusCode::NOT_FOUND, format!("no backend named '{name}'")),
        },
        Err(e @ ChangeError::Unknown(_)) => text(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
    }
}
