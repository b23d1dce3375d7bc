//! Starting the servers: spawning each `mariadbd` detached, then waiting until it accepts a
//! login, moving a node to another free port if its automatically chosen one was taken.

use super::node::{socket_path, tmpdir_path, Binaries, OsUser};
use super::process::{free_ports, log_tail};
use super::{shared, sql, Cluster, ClusterError, NodeInfo};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to accept connections after it was spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a node whose automatically chosen port was taken meanwhile is moved.
const PORT_RETRIES: usize = 5;

/// Everything needed to start one node.
pub(super) struct Launch<'a> {
    pub(super) bin: &'a Binaries,
    pub(super) dir: &'a Path,
    pub(super) name: &'a str,
    pub(super) port: u16,
    pub(super) server_id: u32,
    pub(super) replica: bool,
    /// `max_allowed_packet` if not rwproxy.cnf's.
    pub(super) max_allowed_packet: Option<u64>,
    /// Extra `mariadbd` options, last (they override the others).
    pub(super) server_options: &'a [String],
    pub(super) user: &'a OsUser,
}

impl Launch<'_> {
    /// Writes the shared `rwproxy.cnf` into the cluster directory and spawns `mariadbd` with
    /// it and this node's options, in its own process group with no stdio, so it outlives this process
    /// and a Ctrl-C in the terminal. Returns the node, the child (for reaping) and the length
    /// of the error log before the start (the new log begins there).
    pub(super) fn spawn(&self) -> Result<(NodeInfo, Child, u64), ClusterError> {
        let datadir = self.dir.join(self.name);
        let err_log = self.dir.join(format!("{}.err", self.name));
        let offset = std::fs::metadata(&err_log).map(|m| m.len()).unwrap_or(0);
        let cnf = shared::write_server_cnf(self.dir)?;
        let mut cmd = Command::new(&self.bin.mariadbd);
        // The shared settings first (`--defaults-file` must be the first option), then this
        // node's own, which override them.
        cmd.arg(format!("--defaults-file={}", cnf.display()))
            .arg(format!("--datadir={}", datadir.display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!(
                "--socket={}",
                socket_path(self.dir, self.name).display()
            ))
            .arg(format!(
                "--pid-file={}",
                self.dir.join(format!("{}.pid", self.name)).display()
            ))
            .arg(format!("--log-error={}", err_log.display()))
            .arg(format!(
                "--tmpdir={}",
                tmpdir_path(self.dir, self.name).display()
            ))
            .arg(format!("--server-id={}", self.server_id))
            .arg(format!("--read-only={}", u8::from(self.replica)));
        if let Some(bytes) = self.max_allowed_packet {
            cmd.arg(format!("--max-allowed-packet={bytes}"));
        }
        cmd.args(self.server_options);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        if self.user.is_root {
            cmd.arg("--user=root");
        }
        let child = cmd.spawn().map_err(ClusterError::io(format!(
            "starting {}",
            self.bin.mariadbd.display()
        )))?;
        let info = NodeInfo {
            name: self.name.to_string(),
            port: self.port,
            server_id: self.server_id,
            pid: child.id(),
            datadir,
        };
        Ok((info, child, offset))
    }
}

/// What `start_nodes` starts: node `i` is `names[i]` on `ports[i]` with server id `i + 1`.
pub(super) struct Plan<'a> {
    pub(super) bin: &'a Binaries,
    pub(super) user: &'a OsUser,
    pub(super) names: &'a [String],
    pub(super) ports: Vec<u16>,
    /// The ports were picked here (not given by the user), so a taken one may be replaced.
    pub(super) auto_ports: bool,
    /// `max_allowed_packet` if not rwproxy.cnf's.
    pub(super) max_allowed_packet: Option<u64>,
    /// Extra `mariadbd` options.
    pub(super) server_options: &'a [String],
}

impl Plan<'_> {
    fn launch<'a>(&'a self, dir: &'a Path, i: usize) -> Launch<'a> {
        Launch {
            bin: self.bin,
            dir,
            name: &self.names[i],
            port: self.ports[i],
            server_id: (i + 1) as u32,
            replica: i > 0,
            max_allowed_packet: self.max_allowed_packet,
            server_options: self.server_options,
            user: self.user,
        }
    }
}

impl Cluster {
    /// Spawns every node (they boot in parallel), then waits for each in turn. Every spawned
    /// server is recorded in `self` at once, so dropping `self` on an error stops it.
    pub(super) async fn start_nodes(&mut self, mut plan: Plan<'_>) -> Result<(), ClusterError> {
        let dir = self.dir.clone();
        let mut offsets = Vec::new();
        for i in 0..plan.names.len() {
            let (info, child, offset) = plan.launch(&dir, i).spawn()?;
            self.nodes.push(info);
            self.children.push(child);
            offsets.push(offset);
        }
        for (i, log_offset) in offsets.iter_mut().enumerate() {
            let mut attempt = 0;
            loop {
                match self.wait_node_ready(i, *log_offset).await {
                    Err(ClusterError::PortInUse { .. })
                        if plan.auto_ports && attempt < PORT_RETRIES =>
                    {
                        attempt += 1;
                        plan.ports[i] = free_ports(1)?[0];
                        let (info, child, offset) = plan.launch(&dir, i).spawn()?;
                        self.nodes[i] = info;
                        self.children.push(child);
                        *log_offset = offset;
                    }
                    other => break other?,
                }
            }
        }
        Ok(())
    }

    /// Waits until node `i` accepts a login on its socket, or fails with its error log's tail.
    pub(super) async fn wait_node_ready(
        &mut self,
        i: usize,
        offset: u64,
    ) -> Result<(), ClusterError> {
        let node = self.nodes[i].clone();
        let err_log = self.dir.join(format!("{}.err", node.name));
        let opts = sql::socket_opts(&socket_path(&self.dir, &node.name), &self.socket_user);
        let start = Instant::now();
        loop {
            let exited = self
                .children
                .iter_mut()
                .find(|c| c.id() == node.pid)
                .map(|c| matches!(c.try_wait(), Ok(Some(_))))
                .unwrap_or_else(|| !node.is_running());
            if exited {
                let log_tail = log_tail(&err_log, offset);
                if log_tail.contains("Address already in use") {
                    return Err(ClusterError::PortInUse {
                        name: node.name,
                        port: node.port,
                    });
                }
                return Err(ClusterError::ServerExited {
                    name: node.name,
                    log_tail,
                });
            }
            if let Ok(Ok(conn)) =
                tokio::time::timeout(Duration::from_secs(2), mysql_async::Conn::new(opts.clone()))
                    .await
            {
                let _ = conn.disconnect().await;
                return Ok(());
            }
            if start.elapsed() > READY_TIMEOUT {
                return Err(ClusterError::StartTimeout {
                    name: node.name,
                    secs: READY_TIMEOUT.as_secs(),
                    log_tail: log_tail(&err_log, offset),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
