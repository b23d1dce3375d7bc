//! `rwproxy demo`: one command that shows what the proxy does. It starts a local MariaDB
//! primary and two replicas (the `cluster` launcher) in a temp dir, starts rwproxy in this
//! process in front of them, loads the storefront through it, runs the storefront workload
//! with a live line, and prints where reads and writes went (each server's own counters),
//! the largest replication lag the proxy saw and the stale reads the workload caught.
//! Ctrl-C (or SIGTERM) at any point stops the servers it started and removes the temp dir.

mod counters;
mod summary;

use crate::bench::{self, BenchError, Load, Settings, Target};
use crate::cluster::{Cluster, ClusterError, ClusterSpec};
use crate::storefront::{self, LoadOptions, StorefrontError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What to install when MariaDB is missing (Debian/Ubuntu).
pub const INSTALL_HINT: &str = "apt-get install -y mariadb-server mariadb-client";

/// Flags of `rwproxy demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Seconds of workload.
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Size of the shop (1.0 = ~10k products, ~50k customers).
    #[arg(long, default_value_t = 0.05)]
    pub scale: f64,
    /// Shoppers (connections) running at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: u64,
    /// Directory in which the demo makes (and at the end removes) its temp dir.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Why the demo stopped before its summary.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// No MariaDB server on this machine.
    #[error("{program} not found. The demo runs real MariaDB servers: install them with `{INSTALL_HINT}` (as root or through sudo), or run `make demo`, which does.")]
    MissingMariadb {
        /// The program looked for.
        program: &'static str,
    },
    /// The cluster failed to start or stop.
    #[error("cluster: {0}")]
    Cluster(#[from] ClusterError),
    /// The proxy could not start.
    #[error("proxy: {0}")]
    Proxy(String),
    /// Loading the storefront failed.
    #[error(transparent)]
    Storefront(#[from] StorefrontError),
    /// The workload could not start.
    #[error(transparent)]
    Bench(#[from] BenchError),
    /// A server's counters could not be read.
    #[error("reading the counters of {0}: {1}")]
    Counters(String, String),
    /// The temp dir could not be made.
    #[error("temp dir in {0}: {1}")]
    TempDir(PathBuf, std::io::Error),
    /// Ctrl-C or SIGTERM.
    #[error("interrupted: stopped the servers and removed the temp dir")]
    Interrupted,
}

/// Runs the demo; everything it started is stopped and its temp dir removed on return,
/// whether it completed, failed or was interrupted.
pub async fn main(args: DemoArgs) -> Result<(), DemoError> {
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = tempfile::Builder::new()
        .prefix("rwproxy-demo-")
        .tempdir_in(&parent)
        .map_err(|e| DemoError::TempDir(parent.clone(), e))?;
    let interrupted = CancellationToken::new();
    let watcher = tokio::spawn(watch_signals(interrupted.clone()));
    let result = tokio::select! {
        r = demo(&args, work.path(), interrupted.clone()) => r,
        _ = interrupted.cancelled() => Err(DemoError::Interrupted),
    };
    // `demo` has returned or been dropped: its cluster is down (stop on drop), its proxy
    // stopped. Now the directory goes.
    watcher.abort();
    let path = work.path().to_path_buf();
    if let Err(e) = work.close() {
        eprintln!("could not remove {}: {e}", path.display());
    }
    result
}

async fn watch_signals(token: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let sigterm = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = sigterm => {}
    }
    token.cancel();
}

/// The proxy running in this process; dropping it stops it.
struct InProcess {
    proxy: Arc<crate::server::Proxy>,
    port: u16,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn demo(
    args: &DemoArgs,
    work: &Path,
    interrupted: CancellationToken,
) -> Result<(), DemoError> {
    eprintln!(
        "== starting MariaDB: a primary and 2 replicas with GTID replication, in {}",
        work.display()
    );
    let cluster = Cluster::up(&ClusterSpec::new(work.join("cluster")))
        .await
        .map_err(|e| match e {
            ClusterError::NotInstalled { program } => DemoError::MissingMariadb { program },
            e => DemoError::Cluster(e),
        })?;
    let proxy = start_proxy(&cluster).await?;
    eprintln!(
        "== rwproxy listening on 127.0.0.1:{} (in this process)",
        proxy.port
    );
    let target = Target {
        host: "127.0.0.1".into(),
        port: proxy.port,
        user: "app".into(),
        password: "app".into(),
        database: storefront::DEFAULT_DATABASE.into(),
    };
    eprintln!(
        "== loading the storefront through rwproxy (scale {})",
        args.scale
    );
    let load = LoadOptions {
        scale: args.scale,
        ..LoadOptions::default()
    };
    storefront::prepare(target.opts(false), &target.database, &load).await?;
    cluster.wait_caught_up(Duration::from_secs(60)).await?;
    let before = counters::read_all(&cluster).await?;
    eprintln!(
        "== {} shoppers browsing, adding to carts and checking out through rwproxy for {} s",
        args.concurrency, args.duration
    );
    let sampling = CancellationToken::new();
    let lag = tokio::spawn(counters::sample_lag(proxy.proxy.clone(), sampling.clone()));
    let settings = Settings {
        target,
        load: Load::Closed {
            concurrency: args.concurrency.max(1),
        },
        duration: Duration::from_secs(args.duration),
        max_actions: None,
        progress: true,
        seed: LoadOptions::default().seed,
    };
    let report = bench::run(&settings, interrupted.child_token()).await?;
    sampling.cancel();
    let max_lag = lag.await.unwrap_or_default();
    let after = counters::read_all(&cluster).await?;
    let rows = summary::rows(&cluster, &before, &after, &max_lag);
    print!("{}", summary::render(&rows, &report));
    stop_proxy(proxy).await;
    let mut cluster = cluster;
    cluster.down()?;
    eprintln!(
        "== stopped the servers and the proxy; removing {}",
        work.display()
    );
    Ok(())
}

async fn start_proxy(cluster: &Cluster) -> Result<InProcess, DemoError> {
    let fail = |e: String| DemoError::Proxy(e);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fail(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| fail(e.to_string()))?
        .port();
    // Admin listeners on free ports of their own, so the demo never collides with a
    // proxy already running on the default 6032/6080.
    let (admin, http) = (free_port().map_err(fail)?, free_port().map_err(fail)?);
    let text = format!(
        "{}\n[admin]\nlisten = \"127.0.0.1:{admin}\"\nhttp = \"127.0.0.1:{http}\"\n",
        cluster.sample_config(&format!("127.0.0.1:{port}"))
    );
    let config = crate::config::Config::parse(&text, Path::new("demo.toml"))
        .map_err(|e| fail(e.to_string()))?;
    let proxy = crate::server::Proxy::new(config).map_err(fail)?;
    proxy.probe_flavour().await.map_err(fail)?;
    let stop = CancellationToken::new();
    let monitor = proxy.spawn_monitor(stop.clone());
    let shutdown = stop.clone().cancelled_owned();
    let server = tokio::spawn({
        let proxy = proxy.clone();
        async move {
            crate::server::run(listener, proxy, shutdown).await;
            let _ = monitor.await;
        }
    });
    Ok(InProcess {
        proxy,
        port,
        stop,
        server,
    })
}

async fn stop_proxy(mut p: InProcess) {
    p.stop.cancel();
    let server = std::mem::replace(&mut p.server, tokio::spawn(async {}));
    if tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .is_err()
    {
        tracing::warn!("the proxy did not stop within 10 s");
    }
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}
