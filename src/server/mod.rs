//! The client side of the proxy: the listener, one task per client session, and the
//! shared state sessions use (config, users, backends, pool, session registry).

pub mod auth;
pub mod backends;
pub mod causal;
pub mod counters;
pub mod explain;
pub mod forward;
pub mod kill;
pub mod limits;
pub mod listener;
pub mod observe;
pub mod prepared;
pub mod registry;
pub mod session;
pub mod statement;
pub mod stream;
pub mod tls;
pub mod workers;

pub use listener::run;

use crate::config::Config;
use crate::pool::Pool;
use crate::protocol::auth::Secret;
use crate::replication::Topology;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// What the proxy learned from a backend's greeting, shown to clients in its own.
#[derive(Debug, Clone)]
pub struct ServerFlavour {
    /// `<backend version>-rwproxy`.
    pub version: String,
    /// Capabilities the backend offers.
    pub capabilities: u32,
    /// MariaDB extended capabilities the backend offers.
    pub ext_capabilities: u32,
    /// Its default collation.
    pub charset: u8,
}

impl Default for ServerFlavour {
    fn default() -> Self {
        ServerFlavour {
            version: "5.5.5-10.11.0-MariaDB-rwproxy".into(),
            capabilities: u32::MAX,
            ext_capabilities: 0,
            charset: 45,
        }
    }
}

/// State shared by every session.
pub struct Proxy {
    /// The running configuration.
    pub config: ArcSwap<Config>,
    /// Users who may connect, by name.
    pub users: ArcSwap<HashMap<String, Secret>>,
    /// The backends.
    pub topology: ArcSwap<Topology>,
    /// Idle backend connections.
    pub pool: Pool,
    /// Live sessions, by proxy connection id.
    pub sessions: registry::Registry,
    /// TLS for clients, when configured.
    pub tls: Option<TlsAcceptor>,
    /// What the greeting tells clients.
    pub flavour: ArcSwap<ServerFlavour>,
    /// Routing counters.
    pub route_stats: crate::router::stats::RouteStats,
    /// Compiled `[[rules]]`.
    pub rules: ArcSwap<crate::router::rules::Rules>,
    /// Statements routed, by reason.
    pub route_reasons: counters::ReasonCounters,
    /// Ends backend waits longer than `backend_read_timeout_ms` (run by `serve`).
    pub watchdog: Arc<crate::protocol::deadline::Watchdog>,
    /// Client connection counters.
    pub clients: counters::ClientStats,
    /// Failed handshakes in a row per client IP (`[proxy] max_connect_errors`).
    pub connect_errors: limits::ConnectErrors,
    /// Sessions open per user (`[[users]] max_connections`).
    pub user_sessions: Arc<limits::UserSessions>,
    /// Per-fingerprint statement statistics.
    pub digests: crate::admin::digest::Digests,
    /// `[admin] slow_ms`, read per statement.
    pub slow_ms: AtomicU64,
    /// True while the client listener accepts (readiness).
    pub listening: AtomicBool,
    /// The file the config came from, for `RELOAD CONFIG` and `SAVE CONFIG`.
    pub config_path: Option<PathBuf>,
    /// One reload or save at a time.
    pub reload_lock: tokio::sync::Mutex<()>,
    /// Config reloads applied.
    pub reloads: AtomicU64,
    /// Config reloads refused (invalid file).
    pub reload_failures: AtomicU64,
    /// When the proxy started (uptime, QPS).
    pub started: std::time::Instant,
    /// The last QPS sample: (when, requests so far, rate).
    pub qps_sample: std::sync::Mutex<(std::time::Instant, u64, f64)>,
}

impl Proxy {
    /// Builds the shared state from a validated config; fails only on unreadable TLS files
    /// (client certificate and key, backend CA).
    pub fn new(config: Config) -> Result<Arc<Proxy>, String> {
        Proxy::build(config, None)
    }

    fn build(config: Config, config_path: Option<PathBuf>) -> Result<Arc<Proxy>, String> {
        let tls = match (&config.proxy.tls_cert, &config.proxy.tls_key) {
            (Some(c), Some(k)) => Some(tls::acceptor(c, k)?),
            _ => None,
        };
        let backend_tls =
            crate::pool::tls::BackendTls::from_settings(&config.proxy.backend_tls_settings())
                .map_err(|e| e.to_string())?;
        let users = config
            .users
            .iter()
            .map(|u| (u.name.clone(), Secret::from_config(&u.password)))
            .collect();
        let rules = crate::router::rules::Rules::compile(&config.rules)
            .map_err(|(k, r)| format!("{k}: {r}"))?;
        let digests = crate::admin::digest::Digests::default();
        digests
            .enabled
            .store(config.admin.digests, Ordering::Relaxed);
        digests
            .max
            .store(config.admin.max_digests, Ordering::Relaxed);
        let topology = Topology::from_config(&config);
        for (b, c) in topology.backends.iter().zip(&config.backends) {
            if c.state != crate::config::AdminState::Online {
                b.set_state(crate::admin::reload::backend_state(c.state));
            }
        }
        let now = std::time::Instant::now();
        let pool = Pool::default();
        pool.set_tls(backend_tls);
        pool.set_idle_timeout(config.proxy.pool_idle_timeout_ms);
        pool.set_reset_timeout(config.proxy.connect_timeout_ms);
        Ok(Arc::new(Proxy {
            route_reasons: Default::default(),
            watchdog: Default::default(),
            clients: Default::default(),
            connect_errors: Default::default(),
            user_sessions: Default::default(),
            digests,
            slow_ms: AtomicU64::new(config.admin.slow_ms),
            listening: AtomicBool::new(false),
            config_path,
            reload_lock: tokio::sync::Mutex::new(()),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
            started: now,
            qps_sample: std::sync::Mutex::new((now, 0, 0.0)),
            rules: ArcSwap::from_pointee(rules),
            topology: ArcSwap::from_pointee(topology),
            config: ArcSwap::from_pointee(config),
            users: ArcSwap::from_pointee(users),
            pool,
            sessions: registry::Registry::default(),
            tls,
            flavour: ArcSwap::from_pointee(ServerFlavour::default()),
            route_stats: Default::default(),
        }))
    }

    /// Loads, validates and builds the proxy from the file at `path`, remembered for
    /// `RELOAD CONFIG` and `SAVE CONFIG`.
    pub fn from_file(path: &std::path::Path) -> Result<Arc<Proxy>, String> {
        let config = Config::load(path).map_err(|e| e.to_string())?;
        Proxy::build(config, Some(path.to_path_buf()))
    }

    /// Learns the primary's version and capabilities by reading its greeting (no login).
    pub async fn probe_flavour(&self) -> Result<(), String> {
        let topo = self.topology.load();
        let primary = topo.primary().ok_or("no primary configured")?;
        let timeout = std::time::Duration::from_millis(self.config.load().proxy.connect_timeout_ms);
        let greeting = tokio::time::timeout(timeout, async {
            let tcp = tokio::net::TcpStream::connect(&primary.address)
                .await
                .map_err(|e| e.to_string())?;
            let mut conn = crate::protocol::PacketConn::new(tcp);
            let p = conn
                .read_packet(0, 1 << 16)
                .await
                .map_err(|e| e.to_string())?;
            crate::protocol::handshake::Greeting::parse(&p.payload).map_err(|e| e.to_string())
        })
        .await
        .map_err(|_| format!("timed out reading the greeting of '{}'", primary.name))?
        .map_err(|e| format!("backend '{}' ({}): {e}", primary.name, primary.address))?;
        self.flavour.store(Arc::new(ServerFlavour {
            version: format!("{}-rwproxy", greeting.server_version),
            capabilities: greeting.capabilities,
            ext_capabilities: greeting.ext_capabilities,
            charset: greeting.charset,
        }));
        Ok(())
    }
}

impl Proxy {
    /// Starts the replication monitor for this proxy; it stops when `cancel` fires.
    pub fn spawn_monitor(
        self: &Arc<Self>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let settings = self.config.load().monitor.clone();
        tokio::spawn(crate::replication::monitor::run(
            self.clone(),
            settings,
            cancel,
        ))
    }
}

impl crate::replication::monitor::TopologyHolder for Proxy {
    fn topology(&self) -> &ArcSwap<Topology> {
        &self.topology
    }

    fn monitor_settings(&self) -> Option<crate::config::MonitorConfig> {
        Some(self.config.load().monitor.clone())
    }
}
