//! Faults on demand for tests and demos: crash a node with SIGKILL, and start it again
//! with the same port, server id and settings (replication resumes from its own state);
//! hang a node with SIGSTOP (its sockets stay open, nothing answers) and wake it with
//! SIGCONT.

use super::node::{Binaries, OsUser};
use super::start::Launch;
use super::{Cluster, ClusterError};
use std::time::{Duration, Instant};

impl Cluster {
    fn index_of(&self, name: &str) -> Result<usize, ClusterError> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| ClusterError::NoSuchNode(name.to_string()))
    }

    /// Kills node `name` with SIGKILL, as a crash would, and waits until it is gone.
    pub fn kill(&mut self, name: &str) -> Result<(), ClusterError> {
        let i = self.index_of(name)?;
        let node = self.nodes[i].clone();
        if node.is_running() {
            super::process::signal(node.pid, libc::SIGKILL);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while node.is_running() && Instant::now() < deadline {
            self.children
                .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
            std::thread::sleep(Duration::from_millis(20));
        }
        if node.is_running() {
            return Err(ClusterError::StopFailed(vec![node.pid]));
        }
        Ok(())
    }

    /// Freezes node `name` with SIGSTOP: connections and the listen socket stay open
    /// but nothing is answered, as with a hung server. Returns once the process shows as
    /// stopped (up to 1 s): a signal is delivered asynchronously, and a test that acts
    /// right after must find the server frozen.
    pub fn pause(&self, name: &str) -> Result<(), ClusterError> {
        self.send(name, libc::SIGSTOP)?;
        let pid = self.nodes[self.index_of(name)?].pid;
        let stat = format!("/proc/{pid}/stat");
        for _ in 0..100 {
            // The state is the field after the parenthesised command name.
            let stopped = std::fs::read_to_string(&stat).is_ok_and(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
            });
            if stopped {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Wakes node `name` after [`pause`](Self::pause) with SIGCONT.
    pub fn resume(&self, name: &str) -> Result<(), ClusterError> {
        self.send(name, libc::SIGCONT)
    }

    fn send(&self, name: &str, sig: libc::c_int) -> Result<(), ClusterError> {
        let node = &self.nodes[self.index_of(name)?];
        if !node.is_running() || !super::process::signal(node.pid, sig) {
            return Err(ClusterError::NotRunning(name.to_string()));
        }
        Ok(())
    }

    /// Starts node `name` again (after [`kill`](Self::kill)) and waits until it accepts
    /// logins; the state file is updated with its new pid.
    pub async fn restart(&mut self, name: &str) -> Result<(), ClusterError> {
        let i = self.index_of(name)?;
        let bin = Binaries::find()?;
        let user = OsUser::current()?;
        let node = self.nodes[i].clone();
        let dir = self.dir.clone();
        let launch = Launch {
            bin: &bin,
            dir: &dir,
            name: &node.name,
            port: node.port,
            server_id: node.server_id,
            replica: i > 0,
            max_allowed_packet: self.max_allowed_packet,
            server_options: &self.server_options,
            user: &user,
        };
        let (info, child, offset) = launch.spawn()?;
        self.nodes[i] = info;
        self.children.push(child);
        self.wait_node_ready(i, offset).await?;
        super::state::write(&self.dir, &self.socket_user, &self.nodes)
    }
}
