//! Process-level helpers: free ports, recognising our own `mariadbd` by its command line,
//! signals, and the tail of a server's error log for error messages.

use super::ClusterError;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Picks `n` distinct free ports by binding 127.0.0.1:0 (all held until all are chosen).
pub(super) fn free_ports(n: usize) -> Result<Vec<u16>, ClusterError> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ClusterError::io("picking a free port"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ClusterError::io("picking a free port"))
}

/// True when `pid` runs `mariadbd` with `--datadir=<datadir>`. A zombie has an empty command
/// line, so it counts as stopped.
pub(super) fn is_our_server(pid: u32, datadir: &Path) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let want = format!("--datadir={}", datadir.display());
    let mut args = raw.split(|b| *b == 0);
    let is_mariadbd = args.next().is_some_and(|exe| exe.ends_with(b"mariadbd"));
    is_mariadbd && args.any(|a| a == want.as_bytes())
}

/// Sends `sig` to `pid`; false if the process is gone or the pid is out of range.
pub(super) fn signal(pid: u32, sig: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill has no memory-safety preconditions; pid is a positive, single process id.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// The last lines written to `log` after byte `offset`.
pub(super) fn log_tail(log: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(log) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let from = offset.max(len.saturating_sub(8192));
        if f.seek(SeekFrom::Start(from)).is_ok() {
            let mut buf = Vec::new();
            let _ = f.read_to_end(&mut buf);
            text = String::from_utf8_lossy(&buf).into_owned();
        }
    }
    last_lines(&text, 20)
}

pub(super) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_server_check_rejects_other_processes() {
        // This test process is not a mariadbd.
        assert!(!is_our_server(
            std::process::id(),
            Path::new("/nonexistent")
        ));
        assert!(!is_our_server(u32::MAX, Path::new("/nonexistent")));
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(3).unwrap();
        assert!(ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2]);
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(last_lines("a\nb\nc", 2), "b\nc");
        assert_eq!(last_lines("", 2), "");
    }
}
