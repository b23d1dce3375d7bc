//! The `rwproxy bench` command line (clap) and what it does: optionally load the shop,
//! print the capacity plan, run the workload, read the admin port before and after, and
//! print the summary or one JSON object on stdout. Ctrl-C ends the run early with a summary.

use super::admin::{diff, AdminTarget};
use super::plan::PlanInput;
use super::{run, BenchError, Load, Settings, Target};
use crate::storefront::{prepare, LoadOptions};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Flags of `rwproxy bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Host of the MySQL endpoint (rwproxy or a server).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port of the endpoint.
    #[arg(long, default_value_t = 6033)]
    pub port: u16,
    /// User.
    #[arg(long, default_value = "app")]
    pub user: String,
    /// Password.
    #[arg(long, default_value = "app")]
    pub password: String,
    /// Database holding the storefront.
    #[arg(long, default_value = crate::storefront::DEFAULT_DATABASE)]
    pub database: String,
    /// Drop and recreate the database and load generated data first.
    #[arg(long)]
    pub prepare: bool,
    /// Size of the loaded shop: 1.0 = ~10k products, ~50k customers.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Closed loop: connections, each sending its next action when the last answered (default 8).
    #[arg(long, conflicts_with = "rate")]
    pub concurrency: Option<u64>,
    /// Open loop: actions started per second on a fixed schedule; latency counts from it.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open loop: most actions in flight (= connections); later arrivals are dropped.
    #[arg(long, default_value_t = 256)]
    pub max_in_flight: u64,
    /// Seconds to run (0 with --prepare: load only).
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Stop after this many actions.
    #[arg(long)]
    pub max_actions: Option<u64>,
    /// rwproxy's SQL admin port (HOST:PORT): report reads/writes per backend.
    #[arg(long)]
    pub admin: Option<String>,
    /// Admin user.
    #[arg(long, default_value = "admin")]
    pub admin_user: String,
    /// Admin password.
    #[arg(long, default_value = "admin")]
    pub admin_password: String,
    /// Print one JSON object on stdout instead of the summary table.
    #[arg(long)]
    pub json: bool,
    /// No live progress on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Seed of the data generator and the workload.
    #[arg(long, default_value_t = 20_240_601)]
    pub seed: u64,
    /// Print the capacity arithmetic for the --plan-* inputs and exit.
    #[arg(long)]
    pub plan: bool,
    /// Plan: registered users.
    #[arg(long, default_value_t = 10_000_000.0)]
    pub plan_users: f64,
    /// Plan: share of users active on a day (0-1).
    #[arg(long, default_value_t = 0.2)]
    pub plan_active_share: f64,
    /// Plan: actions per active user per day.
    #[arg(long, default_value_t = 30.0)]
    pub plan_actions: f64,
    /// Plan: share of the day's traffic in the busy hours (0-1).
    #[arg(long, default_value_t = 0.8)]
    pub plan_busy_traffic_share: f64,
    /// Plan: share of the day the busy hours last (0-1).
    #[arg(long, default_value_t = 0.2)]
    pub plan_busy_day_share: f64,
    /// Plan: peak over the busy-hours average.
    #[arg(long, default_value_t = 3.0)]
    pub plan_peak_factor: f64,
}

impl BenchArgs {
    /// The endpoint and login.
    pub fn target(&self) -> Target {
        Target {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            password: self.password.clone(),
            database: self.database.clone(),
        }
    }

    /// Closed or open loop, checked.
    pub fn load(&self) -> Result<Load, BenchError> {
        match (self.rate, self.concurrency) {
            (Some(rate), _) if !(rate > 0.0 && rate.is_finite()) => {
                Err(BenchError::Usage(format!("--rate must be > 0, not {rate}")))
            }
            (Some(_), _) if self.max_in_flight == 0 => {
                Err(BenchError::Usage("--max-in-flight must be > 0".into()))
            }
            (Some(rate), _) => Ok(Load::Open {
                rate,
                max_in_flight: self.max_in_flight,
            }),
            (None, Some(0)) => Err(BenchError::Usage("--concurrency must be > 0".into())),
            (None, c) => Ok(Load::Closed {
                concurrency: c.unwrap_or(8),
            }),
        }
    }

    fn plan_input(&self) -> PlanInput {
        PlanInput {
            users: self.plan_users,
            active_share: self.plan_active_share,
            actions_per_visit: self.plan_actions,
            busy_traffic_share: self.plan_busy_traffic_share,
            busy_day_share: self.plan_busy_day_share,
            peak_factor: self.plan_peak_factor,
        }
    }
}

/// Runs `rwproxy bench`.
pub async fn main(args: BenchArgs) -> Result<(), BenchError> {
    if args.plan {
        let input = args.plan_input();
        input.validate().map_err(BenchError::Usage)?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string(&input.compute()).unwrap_or_default()
            );
        } else {
            println!("{}", input.explain());
        }
        return Ok(());
    }
    let load = args.load()?;
    let target = args.target();
    if args.prepare {
        let opts = LoadOptions {
            scale: args.scale,
            seed: args.seed,
            progress: !args.quiet,
        };
        prepare(target.opts(false), &target.database, &opts).await?;
    }
    if args.duration == 0 {
        return if args.prepare {
            Ok(())
        } else {
            Err(BenchError::Usage(
                "--duration must be > 0 (0 only with --prepare)".into(),
            ))
        };
    }
    let admin = args.admin.as_ref().map(|address| AdminTarget {
        address: address.clone(),
        user: args.admin_user.clone(),
        password: args.admin_password.clone(),
    });
    let before = match &admin {
        Some(a) => Some(a.snapshot().await?),
        None => None,
    };
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    let signals = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let settings = Settings {
        target,
        load,
        duration: Duration::from_secs(args.duration),
        max_actions: args.max_actions,
        progress: !args.quiet,
        seed: args.seed,
    };
    let result = run(&settings, stop).await;
    signals.abort();
    let mut report = result?;
    if let (Some(a), Some(before)) = (&admin, before) {
        match a.snapshot().await {
            Ok(after) => report.backends = Some(diff(&before, &after)),
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}
