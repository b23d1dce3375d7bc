//! The `rwproxy` command line: clap, logging, the runtime and signals. Everything else
//! lives in the library.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use rwproxy::cluster::{Cluster, ClusterSpec};
use rwproxy::config::Config;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "rwproxy",
    version,
    about = "MySQL/MariaDB proxy that splits reads from writes"
)]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Log level or filter (e.g. `info`, `rwproxy=debug`).
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy.
    Run {
        /// Configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a configuration file and print the resolved topology.
    Check {
        /// Configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Print the backends table of a running proxy (from its admin port).
    Status {
        /// The admin port (`[admin] listen`).
        #[arg(long, default_value = "127.0.0.1:6032")]
        admin: String,
        /// Admin user.
        #[arg(long, default_value = "admin")]
        user: String,
        /// Admin password.
        #[arg(long, default_value = "admin")]
        password: String,
    },
    /// A local MariaDB primary + 2 replicas (no Docker).
    Cluster {
        /// Directory holding the servers' data and state.
        #[arg(long, default_value = ".rwproxy-cluster")]
        dir: PathBuf,
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// The storefront workload against any MySQL endpoint (rwproxy or a server).
    Bench(Box<rwproxy::bench::BenchArgs>),
    /// Cluster up, storefront loaded, proxy in front, a workload, where queries went.
    Demo(rwproxy::demo::DemoArgs),
}

#[derive(Subcommand)]
enum ClusterAction {
    /// Start the cluster and wait until replication runs.
    Up {
        /// First port (primary); replicas take the next ones. Default: free ports.
        #[arg(long)]
        port: Option<u16>,
        /// Write a proxy config for this cluster to this file.
        #[arg(long)]
        write_config: Option<PathBuf>,
        /// Proxy listen address for the written config.
        #[arg(long, default_value = "127.0.0.1:6033")]
        listen: String,
    },
    /// Stop the servers started by `up`.
    Down,
    /// Show servers and replication state.
    Status,
    /// Delay replica N by SECONDS (0 = stop applying).
    Lag {
        /// Replica number (1-based).
        replica: usize,
        /// Delay in seconds.
        #[arg(default_value_t = 0)]
        seconds: u32,
    },
    /// Undo `lag` and wait for the replica to catch up.
    Unlag {
        /// Replica number (1-based).
        replica: usize,
    },
}

fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The demo's live line reads better without per-connection info logs.
    let quiet_demo = matches!(cli.command, Command::Demo(_)) && cli.log_level == "info";
    init_logging(
        cli.log_format,
        if quiet_demo { "warn" } else { &cli.log_level },
    );
    if let Command::Check { config } = &cli.command {
        return match Config::load(config) {
            Ok(c) => {
                print_topology(&c);
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::ExitCode::from(2)
            }
        };
    }
    raise_fd_limit();
    // A fixed global-queue interval: the scheduler stops retuning it. (tokio 1.54 still
    // keeps its poll-time average, a float power per batch of tasks: 0.2% of the proxy's
    // samples under sysbench.)
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .global_queue_interval(31)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(async_main(cli.command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Raises the open-files soft limit to the hard limit: every client and backend
/// connection is a descriptor, and the usual soft limit (1024) is far below
/// `max_client_connections`.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn print_topology(c: &Config) {
    println!(
        "config OK: listen {}, {} user(s)",
        c.proxy.listen,
        c.users.len()
    );
    for b in &c.backends {
        println!(
            "  {:<12} {:<22} {:<8} weight={} max_lag_ms={}",
            b.name,
            b.address,
            format!("{:?}", b.role).to_lowercase(),
            b.weight,
            b.max_lag_ms
        );
    }
}

async fn async_main(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run { config } => run(config).await,
        Command::Check { .. } => Ok(()),
        Command::Cluster { dir, action } => cluster(dir, action).await,
        Command::Bench(args) => Ok(rwproxy::bench::cli::main(*args).await?),
        Command::Demo(args) => Ok(rwproxy::demo::main(args).await?),
        Command::Status {
            admin,
            user,
            password,
        } => {
            print!(
                "{}",
                rwproxy::admin::status::status(&admin, &user, &password).await?
            );
            Ok(())
        }
    }
}

async fn run(path: PathBuf) -> anyhow::Result<()> {
    let proxy = rwproxy::server::Proxy::from_file(&path).map_err(anyhow::Error::msg)?;
    let listen = proxy.config.load().proxy.listen.clone();
    if let Err(e) = proxy.probe_flavour().await {
        tracing::warn!(error = %e, "primary not reachable at start; greeting uses a default version");
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(%listen, "rwproxy listening");
    let stop_monitor = tokio_util::sync::CancellationToken::new();
    rwproxy::admin::start(&proxy, &stop_monitor).await?;
    let monitor = proxy.spawn_monitor(stop_monitor.clone());
    tokio::spawn(reload_on_sighup(proxy.clone()));
    rwproxy::server::run(listener, proxy, shutdown_signal()).await;
    stop_monitor.cancel();
    let _ = monitor.await;
    tracing::info!("rwproxy stopped");
    Ok(())
}

/// SIGHUP reloads the config file (see `rwproxy::admin::reload`).
async fn reload_on_sighup(proxy: std::sync::Arc<rwproxy::server::Proxy>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        rwproxy::admin::reload::reload_logged(&proxy, "SIGHUP").await;
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn cluster(dir: PathBuf, action: ClusterAction) -> anyhow::Result<()> {
    match action {
        ClusterAction::Up {
            port,
            write_config,
            listen,
        } => {
            let mut spec = ClusterSpec::new(&dir);
            spec.base_port = port;
            let mut c = Cluster::up(&spec).await?;
            c.stop_on_drop(false);
            if let Some(path) = write_config {
                std::fs::write(&path, c.sample_config(&listen))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            println!("{}", c.status().await?);
        }
        ClusterAction::Down => {
            let mut c = Cluster::open(&dir)?;
            c.down()?;
            println!("cluster in {} stopped", dir.display());
        }
        ClusterAction::Status => println!("{}", Cluster::open(&dir)?.status().await?),
        ClusterAction::Lag { replica, seconds } => {
            Cluster::open(&dir)?.lag(replica, seconds).await?
        }
        ClusterAction::Unlag { replica } => Cluster::open(&dir)?.unlag(replica).await?,
    }
    Ok(())
}
