//! One MariaDB server of the local cluster: what is recorded about it, where the MariaDB
//! programs are, the per-node paths, and creating its datadir with `mariadb-install-db`.

use super::process::{is_our_server, last_lines};
use super::ClusterError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// How long `mariadb-install-db` may run.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest unix socket path the kernel accepts (`sun_path` is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// One server of the cluster, as recorded in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// `primary`, `replica1`, `replica2`, ...
    pub name: String,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// `server_id`: 1 for the primary, `i + 1` for replica `i`.
    pub server_id: u32,
    /// Process id of its `mariadbd`.
    pub pid: u32,
    /// Its data directory (absolute).
    pub datadir: PathBuf,
}

impl NodeInfo {
    /// Whether `pid` is still a live `mariadbd` serving this datadir (a reused pid or a zombie
    /// is not).
    pub fn is_running(&self) -> bool {
        is_our_server(self.pid, &self.datadir)
    }
}

/// Paths of the MariaDB programs the launcher runs.
#[derive(Debug)]
pub(super) struct Binaries {
    /// The server.
    pub(super) mariadbd: PathBuf,
    /// The datadir initialiser.
    pub(super) install_db: PathBuf,
}

impl Binaries {
    /// Looks on PATH, then in the sbin/bin directories distributions install MariaDB into.
    pub(super) fn find() -> Result<Binaries, ClusterError> {
        let mariadbd = find_program("mariadbd").ok_or(ClusterError::NotInstalled {
            program: "mariadbd",
        })?;
        let install_db = find_program("mariadb-install-db").ok_or(ClusterError::NotInstalled {
            program: "mariadb-install-db",
        })?;
        Ok(Binaries {
            mariadbd,
            install_db,
        })
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The OS user running the launcher; `mariadb-install-db --auth-root-authentication-method=socket`
/// gives the same-named MariaDB account unix_socket login, which the launcher uses for setup.
#[derive(Debug)]
pub(super) struct OsUser {
    /// Login name.
    pub(super) name: String,
    /// Effective uid 0: `mariadbd` then needs `--user=root` to agree to run.
    pub(super) is_root: bool,
}

impl OsUser {
    pub(super) fn current() -> Result<OsUser, ClusterError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let is_root = unsafe { libc::geteuid() } == 0;
        if is_root {
            return Ok(OsUser {
                name: "root".into(),
                is_root,
            });
        }
        ["USER", "LOGNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .map(|name| OsUser { name, is_root })
            .ok_or_else(|| ClusterError::Config("set USER to your login name".into()))
    }
}

/// Checks that `dir/NAME.sock` fits in a unix socket address.
pub(super) fn check_socket_path(dir: &Path, name: &str) -> Result<(), ClusterError> {
    let sock = socket_path(dir, name);
    if sock.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(ClusterError::Config(format!(
            "socket path {} is longer than {MAX_SOCKET_PATH} bytes: use a shorter cluster directory",
            sock.display()
        )));
    }
    Ok(())
}

/// The unix socket of node `name`.
pub(super) fn socket_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.sock"))
}

/// The private tmpdir of node `name`.
pub(super) fn tmpdir_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.tmp"))
}

/// Returns `dir/NAME` after removing what a previous, stopped cluster left there. Refuses to
/// delete a non-empty directory that does not look like a MariaDB datadir.
pub(super) fn prepare_datadir(dir: &Path, name: &str) -> Result<PathBuf, ClusterError> {
    let datadir = dir.join(name);
    if datadir.exists() {
        let empty = std::fs::read_dir(&datadir)
            .map_err(ClusterError::io(format!("reading {}", datadir.display())))?
            .next()
            .is_none();
        if !empty && !datadir.join("mysql").is_dir() {
            return Err(ClusterError::Config(format!(
                "{} exists and is not a MariaDB datadir; refusing to delete it",
                datadir.display()
            )));
        }
        std::fs::remove_dir_all(&datadir)
            .map_err(ClusterError::io(format!("removing {}", datadir.display())))?;
    }
    // Each server needs its own tmpdir: a starting mariadbd deletes every `#sql*` file in its
    // tmpdir, which would break the temporary tables of servers sharing /tmp.
    let tmpdir = tmpdir_path(dir, name);
    if tmpdir.exists() {
        std::fs::remove_dir_all(&tmpdir)
            .map_err(ClusterError::io(format!("removing {}", tmpdir.display())))?;
    }
    std::fs::create_dir_all(&tmpdir)
        .map_err(ClusterError::io(format!("creating {}", tmpdir.display())))?;
    for ext in ["sock", "pid", "err"] {
        let f = dir.join(format!("{name}.{ext}"));
        if let Err(e) = std::fs::remove_file(&f) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(ClusterError::io(format!("removing {}", f.display()))(e));
            }
        }
    }
    Ok(datadir)
}

/// Runs `mariadb-install-db` for every datadir at once (each takes ~1 s, mostly waiting).
pub(super) async fn install_all(
    bin: &Binaries,
    datadirs: &[PathBuf],
    user: &OsUser,
) -> Result<(), ClusterError> {
    let mut tasks = Vec::new();
    for datadir in datadirs {
        let tmpdir = datadir.with_extension("tmp"); // = tmpdir_path(dir, name)
        let mut cmd = tokio::process::Command::new(&bin.install_db);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", datadir.display()))
            .arg("--auth-root-authentication-method=socket")
            .arg("--skip-test-db")
            .arg("--skip-name-resolve")
            .arg(format!("--user={}", user.name))
            .arg(format!("--tmpdir={}", tmpdir.display()))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let datadir = datadir.clone();
        tasks.push(tokio::spawn(async move {
            let out = tokio::time::timeout(INSTALL_TIMEOUT, cmd.output()).await;
            match out {
                Err(_) => Err(ClusterError::Timeout(format!(
                    "mariadb-install-db for {}",
                    datadir.display()
                ))),
                Ok(Err(e)) => Err(ClusterError::io("running mariadb-install-db")(e)),
                Ok(Ok(o)) if o.status.success() => Ok(()),
                Ok(Ok(o)) => {
                    let text = String::from_utf8_lossy(&o.stdout).to_string()
                        + &String::from_utf8_lossy(&o.stderr);
                    Err(ClusterError::InstallDb {
                        datadir,
                        output: format!("{}\n{}", o.status, last_lines(&text, 15)),
                    })
                }
            }
        }));
    }
    // Await every task before reporting, so no install is still running when `up` returns.
    let mut first_err = None;
    for t in tasks {
        let result = t
            .await
            .map_err(|e| ClusterError::Config(format!("install task failed: {e}")))
            .and_then(|r| r);
        if let Err(e) = result {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}
