//! `ClusterError`: every way starting, inspecting or stopping the local cluster can fail, with
//! enough detail (the node, the tail of its error log) to fix the cause without digging.

use std::path::PathBuf;

/// Why the cluster could not be started, inspected or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A MariaDB binary is missing from PATH and the usual sbin directories.
    #[error(
        "{program} not found: install it with `apt-get install -y mariadb-server mariadb-client`"
    )]
    NotInstalled {
        /// The program looked for (`mariadbd`, `mariadb-install-db`).
        program: &'static str,
    },
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `mariadb-install-db` failed.
    #[error("mariadb-install-db failed for {datadir}: {output}")]
    InstallDb {
        /// The datadir being created.
        datadir: PathBuf,
        /// Its exit status and the tail of its output.
        output: String,
    },
    /// A server exited while starting.
    #[error("{name}: mariadbd exited while starting; tail of its error log:\n{log_tail}")]
    ServerExited {
        /// Node name.
        name: String,
        /// Last lines of `NAME.err`.
        log_tail: String,
    },
    /// A server could not bind its TCP port.
    #[error("{name}: port {port} is already in use")]
    PortInUse {
        /// Node name.
        name: String,
        /// The port it tried.
        port: u16,
    },
    /// A server did not accept connections in time.
    #[error(
        "{name}: not accepting connections after {secs} s; tail of its error log:\n{log_tail}"
    )]
    StartTimeout {
        /// Node name.
        name: String,
        /// Seconds waited.
        secs: u64,
        /// Last lines of `NAME.err`.
        log_tail: String,
    },
    /// A statement sent to a node failed.
    #[error("{node}: {source}")]
    Sql {
        /// Node name.
        node: String,
        /// The driver's error (boxed: it is large).
        source: Box<mysql_async::Error>,
    },
    /// Something did not happen within its time limit.
    #[error("timed out: {0}")]
    Timeout(String),
    /// `dir/cluster.toml` is missing or unreadable.
    #[error("state file {path}: {reason}")]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `up` was asked to start a cluster in a directory whose cluster is still running.
    #[error("a cluster is already running in {0} (run `rwproxy cluster down` first)")]
    AlreadyRunning(PathBuf),
    /// A replica number outside `1..=replicas`.
    #[error("no replica {0} (replicas are numbered from 1)")]
    NoSuchReplica(usize),
    /// No node has this name.
    #[error("no node named `{0}` in this cluster")]
    NoSuchNode(String),
    /// The node is not running (so it cannot be paused or resumed).
    #[error("node `{0}` is not running")]
    NotRunning(String),
    /// The request cannot work on this machine or with these settings.
    #[error("{0}")]
    Config(String),
    /// Some servers were still running after SIGKILL.
    #[error("could not stop pids {0:?}")]
    StopFailed(Vec<u32>),
}

impl ClusterError {
    /// A `map_err` adapter that wraps an I/O error with what was being done.
    pub(super) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
        let context = context.into();
        move |source| ClusterError::Io { context, source }
    }
}
