//! `rwproxy demo` as a user runs it (the real binary): it completes and prints where
//! statements went, or is interrupted with Ctrl-C; either way no server it started is
//! left running and its temp dir is gone. Each run starts its own cluster in a directory
//! of the test's making, passed with `--dir` and as TMPDIR.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn demo(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rwproxy"));
    c.args(["demo", "--scale", "0.02", "--dir"])
        .arg(dir)
        .env("TMPDIR", dir)
        .stdin(Stdio::null());
    c
}

/// Pids of live processes whose command line mentions `dir`.
fn processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

fn assert_clean(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .expect("read the test dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "the demo left {left:?}");
    let procs = processes_under(dir);
    assert!(
        procs.is_empty(),
        "the demo left processes running: {procs:?}"
    );
}

#[test]
fn demo_runs_prints_the_summary_and_cleans_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = demo(dir.path())
        .args(["--duration", "5"])
        .output()
        .expect("run rwproxy demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    for needle in [
        "where the statements went",
        "primary",
        "replica1",
        "replica2",
        "of SELECTs ran on the replicas",
        "stale reads: 0",
        "checkout",
    ] {
        assert!(stdout.contains(needle), "no `{needle}` in:\n{stdout}");
    }
    assert!(
        stderr.contains("qps"),
        "no live progress on stderr:\n{stderr}"
    );
    // Most SELECTs ran on the replicas, by the servers' own counters.
    let share: u32 = stdout
        .lines()
        .find_map(|l| l.trim().split_once("% of SELECTs ran on the replicas"))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        share >= 50,
        "only {share}% of SELECTs on replicas:\n{stdout}"
    );
    assert_clean(dir.path());
}

#[test]
fn ctrl_c_stops_the_servers_and_removes_the_temp_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = demo(dir.path())
        .args(["--duration", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rwproxy demo");
    let stderr = child.stderr.take().expect("stderr");
    // Interrupt once the workload runs: the cluster, the proxy and the data all exist.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("qps") {
                let _ = tx.send(Ok(()));
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        let _ = tx.send(Err(seen));
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(Ok(())) => {}
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the demo never reached its workload: {other:?}");
        }
    }
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not stop within 60 s of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success(), "an interrupted demo exits non-zero");
    assert_clean(dir.path());
}
