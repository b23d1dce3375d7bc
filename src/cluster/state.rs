//! The state file `dir/cluster.toml`: what `up` started (names, ports, pids, datadirs), so that
//! `down`, `status` and `lag` run from another process can find the same servers.

use super::{ClusterError, NodeInfo};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Name of the state file inside the cluster directory.
const STATE_FILE: &str = "cluster.toml";

/// Contents of the state file.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StateFile {
    /// The cluster directory (absolute).
    pub(super) dir: PathBuf,
    /// OS user whose unix_socket login administers the servers.
    pub(super) socket_user: String,
    /// Primary first, then the replicas.
    #[serde(rename = "node")]
    pub(super) nodes: Vec<NodeInfo>,
}

fn path(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// Writes the state file atomically (temporary file, then rename).
pub(super) fn write(dir: &Path, socket_user: &str, nodes: &[NodeInfo]) -> Result<(), ClusterError> {
    let file = StateFile {
        dir: dir.to_path_buf(),
        socket_user: socket_user.to_string(),
        nodes: nodes.to_vec(),
    };
    let target = path(dir);
    let text = toml::to_string(&file).map_err(|e| ClusterError::State {
        path: target.clone(),
        reason: e.to_string(),
    })?;
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    std::fs::write(&tmp, text).map_err(ClusterError::io(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, &target)
        .map_err(ClusterError::io(format!("writing {}", target.display())))
}

/// Reads and checks the state file of `dir`.
pub(super) fn read(dir: &Path) -> Result<StateFile, ClusterError> {
    let p = path(dir);
    let state_err = |reason: String| ClusterError::State {
        path: p.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&p).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            state_err("not found (is a cluster up in this directory?)".into())
        }
        _ => state_err(e.to_string()),
    })?;
    let file: StateFile = toml::from_str(&text).map_err(|e| state_err(e.to_string()))?;
    match file.nodes.first() {
        Some(n) if n.name == "primary" => Ok(file),
        _ => Err(state_err("the first node must be the primary".into())),
    }
}

/// Removes the state file; a missing one is fine.
pub(super) fn remove(dir: &Path) -> Result<(), ClusterError> {
    match std::fs::remove_file(path(dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ClusterError::io(format!(
            "removing {}",
            path(dir).display()
        ))(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, port: u16) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            port,
            server_id: 1,
            pid: 42,
            datadir: PathBuf::from(format!("/c/{name}")),
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = vec![node("primary", 4000), node("replica1", 4001)];
        write(dir.path(), "root", &nodes).unwrap();
        let back = read(dir.path()).unwrap();
        assert_eq!(back.nodes, nodes);
        assert_eq!(back.socket_user, "root");
        remove(dir.path()).unwrap();
        remove(dir.path()).unwrap();
        assert!(matches!(read(dir.path()), Err(ClusterError::State { .. })));
    }

    #[test]
    fn refuses_a_file_without_primary() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "root", &[node("replica1", 4001)]).unwrap();
        assert!(read(dir.path()).is_err());
    }
}
