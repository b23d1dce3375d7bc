//! The local MariaDB cluster launcher: one primary and N replicas with GTID binlog replication,
//! started from `mariadbd` on this machine (no Docker).
//!
//! It is the single launcher behind `rwproxy cluster up|down|status|lag|unlag`, the demo and the
//! integration tests, so all of them run against the same topology. Layout of `dir`:
//! `NAME/` (datadir), `NAME.sock`, `NAME.err`, `NAME.pid` and `NAME.tmp/` (its own tmpdir) per
//! node, `rwproxy.cnf` (the server settings shared with the compose cluster, see `shared`) and
//! `cluster.toml`, the state file that lets another process (`down`, `status`, `lag`) find the
//! servers again.
//!
//! Servers run detached in their own process group, so they outlive the CLI process that started
//! them. Stopping only ever signals pids whose command line names `mariadbd` and this datadir.

mod error;
mod faults;
mod node;
mod process;
mod sample;
mod shared;
mod sql;
mod start;
mod state;

pub use error::ClusterError;
pub use node::NodeInfo;
pub use shared::{APP_PRIVILEGES, REPLICA_SQL, SERVER_CNF, USERS_SQL};

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// How long `up` waits for the replicas to apply the primary's setup writes.
const UP_CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `down` waits after SIGTERM before it sends SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// What to start: where, on which ports, how many replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// Directory holding the datadirs, sockets, logs and the state file.
    pub dir: PathBuf,
    /// Primary's port; replica `i` gets `base_port + i`. `None` picks free ports.
    pub base_port: Option<u16>,
    /// Number of replicas (default 2).
    pub replicas: usize,
    /// `max_allowed_packet` of every server in bytes (default: `docker/mariadb/rwproxy.cnf`'s
    /// 64 MiB).
    pub max_allowed_packet: Option<u64>,
    /// Extra `mariadbd` options for every server (e.g. `--ssl-cert=...`), after the
    /// launcher's own.
    pub server_options: Vec<String>,
}

impl ClusterSpec {
    /// A spec for a primary and 2 replicas in `dir`, on free ports.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ClusterSpec {
            dir: dir.into(),
            base_port: None,
            replicas: 2,
            max_allowed_packet: None,
            server_options: Vec::new(),
        }
    }
}

/// A running (or recorded) cluster: the primary first, then `replica1..`.
#[derive(Debug)]
pub struct Cluster {
    /// The directory given in the spec, made absolute.
    pub dir: PathBuf,
    /// Primary first, then the replicas in order.
    pub nodes: Vec<NodeInfo>,
    /// Whether dropping this value stops the servers.
    stop_on_drop: bool,
    /// Servers this process spawned, kept so they can be reaped (no zombies) once stopped.
    children: Vec<Child>,
    /// The OS (= MariaDB unix_socket) user that administers the servers over their sockets.
    socket_user: String,
    /// `max_allowed_packet` the servers were started with if not rwproxy.cnf's (restarts keep
    /// it).
    max_allowed_packet: Option<u64>,
    /// The spec's extra server options (restarts keep them).
    server_options: Vec<String>,
}

impl Cluster {
    /// Creates fresh datadirs (discarding a stopped cluster's data in `dir`), starts the servers,
    /// creates the users `app`, `monitor` and `repl`, starts GTID replication, waits until every
    /// replica has applied the primary's writes and records the cluster in `dir/cluster.toml`.
    ///
    /// The returned value stops the servers when dropped, unless `stop_on_drop(false)`.
    pub async fn up(spec: &ClusterSpec) -> Result<Cluster, ClusterError> {
        let started = Instant::now();
        let bin = node::Binaries::find()?;
        let user = node::OsUser::current()?;
        std::fs::create_dir_all(&spec.dir)
            .map_err(ClusterError::io(format!("creating {}", spec.dir.display())))?;
        let dir = spec.dir.canonicalize().map_err(ClusterError::io(format!(
            "resolving {}",
            spec.dir.display()
        )))?;
        if let Ok(old) = Cluster::open(&dir) {
            if old.nodes.iter().any(NodeInfo::is_running) {
                return Err(ClusterError::AlreadyRunning(dir));
            }
        }
        state::remove(&dir)?;

        let names: Vec<String> = std::iter::once("primary".to_string())
            .chain((1..=spec.replicas).map(|i| format!("replica{i}")))
            .collect();
        let ports = match spec.base_port {
            Some(base) => (0..names.len())
                .map(|i| node_port(base, i))
                .collect::<Result<Vec<_>, _>>()?,
            None => process::free_ports(names.len())?,
        };
        let mut datadirs = Vec::new();
        for name in &names {
            node::check_socket_path(&dir, name)?;
            datadirs.push(node::prepare_datadir(&dir, name)?);
        }
        node::install_all(&bin, &datadirs, &user).await?;

        let mut cluster = Cluster {
            dir: dir.clone(),
            nodes: Vec::new(),
            stop_on_drop: true,
            children: Vec::new(),
            socket_user: user.name.clone(),
            max_allowed_packet: spec.max_allowed_packet,
            server_options: spec.server_options.clone(),
        };
        cluster
            .start_nodes(start::Plan {
                bin: &bin,
                user: &user,
                names: &names,
                ports,
                auto_ports: spec.base_port.is_none(),
                max_allowed_packet: spec.max_allowed_packet,
                server_options: &spec.server_options,
            })
            .await?;
        state::write(&dir, &cluster.socket_user, &cluster.nodes)?;
        cluster.setup_replication().await?;
        cluster.wait_caught_up(UP_CATCH_UP_TIMEOUT).await?;
        tracing::info!(dir = %dir.display(), elapsed_ms = started.elapsed().as_millis() as u64, "cluster up");
        Ok(cluster)
    }

    /// Loads the cluster recorded in `dir/cluster.toml`. Dropping it never stops the servers.
    pub fn open(dir: &Path) -> Result<Cluster, ClusterError> {
        let file = state::read(dir)?;
        Ok(Cluster {
            dir: file.dir,
            nodes: file.nodes,
            stop_on_drop: false,
            children: Vec::new(),
            socket_user: file.socket_user,
            max_allowed_packet: None,
            server_options: Vec::new(),
        })
    }

    /// Chooses whether dropping this value stops the servers.
    pub fn stop_on_drop(&mut self, yes: bool) {
        self.stop_on_drop = yes;
    }

    /// Stops the servers: SIGTERM to each recorded pid that is still a `mariadbd` on this
    /// cluster's datadir, up to 20 s for them to exit, then SIGKILL; removes the state file.
    pub fn down(&mut self) -> Result<(), ClusterError> {
        let targets: Vec<NodeInfo> = self
            .nodes
            .iter()
            .filter(|n| n.is_running())
            .cloned()
            .collect();
        for n in &targets {
            process::signal(n.pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_GRACE;
        let mut left = self.still_running(&targets);
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            left = self.still_running(&targets);
        }
        if !left.is_empty() {
            tracing::warn!(pids = ?left, "servers ignored SIGTERM; sending SIGKILL");
            for n in targets.iter().filter(|n| left.contains(&n.pid)) {
                process::signal(n.pid, libc::SIGKILL);
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while !left.is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
                left = self.still_running(&targets);
            }
        }
        // A server may have exited (a zombie) between the last reap and the check: reap
        // every stopped child now, so no /proc entry of ours outlives `down`.
        self.children.retain_mut(|c| {
            let ours = targets.iter().any(|n| n.pid == c.id());
            if ours && !left.contains(&c.id()) {
                let _ = c.wait();
                return false;
            }
            true
        });
        self.stop_on_drop = false;
        if !left.is_empty() {
            return Err(ClusterError::StopFailed(left));
        }
        state::remove(&self.dir)
    }

    /// Reaps exited children of this process, then lists the pids of `targets` still running.
    fn still_running(&mut self, targets: &[NodeInfo]) -> Vec<u32> {
        self.children
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        targets
            .iter()
            .filter(|n| n.is_running())
            .map(|n| n.pid)
            .collect()
    }

    /// The primary.
    pub fn primary(&self) -> &NodeInfo {
        &self.nodes[0]
    }

    /// The replicas, `replica1` first.
    pub fn replicas(&self) -> &[NodeInfo] {
        &self.nodes[1..]
    }

    /// `mysql://user:password@127.0.0.1:port` for `node` (user and password percent-encoded).
    pub fn url(&self, node: &NodeInfo, user: &str, password: &str) -> String {
        format!(
            "mysql://{}:{}@127.0.0.1:{}",
            percent_encode(user),
            percent_encode(password),
            node.port
        )
    }

    /// Driver options for a TCP login to `node` (with `prefer_socket(false)`, see PROTOCOL-NOTES).
    pub fn opts(&self, node: &NodeInfo, user: &str, password: &str) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(node.port)
            .user(Some(user))
            .pass(Some(password))
            .prefer_socket(false)
            .into()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.stop_on_drop {
            if let Err(e) = self.down() {
                tracing::warn!(error = %e, "stopping the cluster on drop");
            }
        }
    }
}

/// `base + index`, refusing to run past port 65535.
fn node_port(base: u16, index: usize) -> Result<u16, ClusterError> {
    u16::try_from(index)
        .ok()
        .and_then(|i| base.checked_add(i))
        .ok_or_else(|| ClusterError::Config(format!("base port {base} + {index} exceeds 65535")))
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for URL userinfo.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_defaults() {
        let spec = ClusterSpec::new("/tmp/x");
        assert_eq!(spec.replicas, 2);
        assert_eq!(spec.base_port, None);
        assert_eq!(spec.max_allowed_packet, None);
    }

    #[test]
    fn ports_follow_base_and_stop_at_the_top() {
        assert_eq!(node_port(4000, 2).ok(), Some(4002));
        assert!(node_port(65535, 1).is_err());
    }

    #[test]
    fn url_encodes_userinfo() {
        assert_eq!(percent_encode("app"), "app");
        assert_eq!(percent_encode("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
    }
}
