//! `rwproxy bench`: the storefront workload against any MySQL endpoint (the proxy or a
//! server). Shoppers browse (home, category, product, search), add to cart, check out in
//! one transaction and then read their order history on the same connection, which
//! counts stale reads. Closed loop (`--concurrency`) or open loop (`--rate`, latency from
//! the scheduled start); a live line each second; a summary with p50/p95/p99/max per
//! action, QPS, TPS, errors by MySQL code and stale reads, as text or JSON.

mod actions;
pub mod admin;
pub mod cli;
pub mod plan;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod stats;
pub mod visit;

pub use cli::BenchArgs;
pub use report::Report;

use crate::storefront::{Catalog, Popularity, StorefrontError};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why a run could not start (a run that started always ends with a report).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Loading or reading the storefront failed.
    #[error(transparent)]
    Storefront(#[from] StorefrontError),
    /// The endpoint could not be reached before the run.
    #[error("cannot connect to {endpoint}: {cause}")]
    Connect {
        /// `host:port`.
        endpoint: String,
        /// The driver's error.
        cause: mysql_async::Error,
    },
    /// The admin port could not be read.
    #[error("admin port {address}: {reason} (is it rwproxy's SQL admin port, with `[admin] listen` set?)")]
    Admin {
        /// `host:port` given with `--admin`.
        address: String,
        /// What went wrong.
        reason: String,
    },
    /// A flag has an unusable value.
    #[error("{0}")]
    Usage(String),
}

/// The MySQL endpoint and login.
#[derive(Debug, Clone)]
pub struct Target {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User.
    pub user: String,
    /// Password.
    pub password: String,
    /// Database holding the storefront.
    pub database: String,
}

impl Target {
    /// `host:port`.
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Driver options (TCP only: `prefer_socket(false)`), with or without the database.
    pub fn opts(&self, with_db: bool) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .db_name(with_db.then(|| self.database.clone()))
            .prefer_socket(false)
            .into()
    }
}

/// Closed or open loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// `concurrency` connections, each sending its next action when the last one answered.
    Closed {
        /// Connections.
        concurrency: u64,
    },
    /// Actions started at `rate` a second by up to `max_in_flight` connections.
    Open {
        /// Arrivals per second.
        rate: f64,
        /// Most actions running at once; arrivals beyond it are dropped and counted.
        max_in_flight: u64,
    },
}

/// One run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to run.
    pub target: Target,
    /// How hard.
    pub load: Load,
    /// How long.
    pub duration: Duration,
    /// At most this many actions (None = no limit).
    pub max_actions: Option<u64>,
    /// Print the live line on stderr.
    pub progress: bool,
    /// Seed of the random sources.
    pub seed: u64,
}

/// Runs the workload on a loaded storefront and returns the report. Fails only if the
/// endpoint or the storefront is not usable before the run; errors during the run are
/// counted by code in the report. `stop` ends the run early.
pub async fn run(settings: &Settings, stop: CancellationToken) -> Result<Report, BenchError> {
    let target = &settings.target;
    crate::storefront::check_database_name(&target.database)?;
    let mut conn = mysql_async::Conn::new(target.opts(false))
        .await
        .map_err(|cause| BenchError::Connect {
            endpoint: target.endpoint(),
            cause,
        })?;
    let catalog = Catalog::read_in(&mut conn, &target.database).await?;
    let _ = conn.disconnect().await;
    let ctx = Arc::new(runner::Ctx {
        opts: target.opts(true),
        catalog,
        popularity: Popularity::new(catalog.products),
        stats: stats::Stats::default(),
        budget: AtomicU64::new(settings.max_actions.unwrap_or(u64::MAX)),
        seed: settings.seed,
        stop,
    });
    let took = runner::drive(
        ctx.clone(),
        settings.load,
        settings.duration,
        settings.progress,
    )
    .await;
    Ok(Report::new(&ctx, target.endpoint(), settings.load, took))
}
