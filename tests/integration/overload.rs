//! Ten thousand client connections held at once by the real binary, served by a few
//! backend connections (multiplexing), with the proxy's memory per connection reported.

use crate::harness::{env, free_port};
use crate::rawclient::{caps, RawConn, Shape, COM_QUERY};
use std::time::{Duration, Instant};

const CLIENTS: usize = 10_000;

/// Resident memory of process `pid`, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

async fn login(port: u16) -> std::io::Result<RawConn> {
    let (c, last) = RawConn::connect(port, "app", "app", None, caps::BASE).await?;
    if last.first() != Some(&0) {
        return Err(std::io::Error::other(format!("login refused: {last:?}")));
    }
    Ok(c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_clients_held_at_once() {
    let _alone = crate::harness::THOUSANDS_OF_CONNECTIONS.lock().await;
    crate::harness::raise_fd_limit(CLIENTS as u64 + 2000);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = env()
        .cluster
        .sample_config(&format!("127.0.0.1:{port}"))
        .replacen(
            "[proxy]\n",
            "[proxy]\nmax_client_connections = 12000\nworkers = 2\n",
            1,
        )
        .replace("[[backends]]\n", "[[backends]]\nmax_connections = 50\n")
        + "\n[admin]\nlisten = \"\"\nhttp = \"\"\n";
    let path = dir.path().join("rwproxy.toml");
    std::fs::write(&path, config).unwrap();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rwproxy"))
        .args(["--log-level", "error", "run", "--config"])
        .arg(&path)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().expect("pid");
    let started = Instant::now();
    let mut first = loop {
        match login(port).await {
            Ok(c) => break c,
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("proxy did not come up: {e}"),
        }
    };
    let mut select1 = vec![COM_QUERY];
    select1.extend_from_slice(b"SELECT 1");
    first.command(&select1, Shape::Results).await.unwrap();
    let base = rss_kib(pid);

    // All clients log in (64 handshakes at a time) and stay connected.
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    let mut joins = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let gate = gate.clone();
        joins.push(tokio::spawn(async move {
            let _p = gate.acquire_owned().await.unwrap();
            tokio::time::timeout(Duration::from_secs(60), login(port))
                .await
                .map_err(|_| std::io::Error::other("login timed out"))?
        }));
    }
    let mut clients = Vec::with_capacity(CLIENTS);
    let mut errors = Vec::new();
    for j in joins {
        match j.await.unwrap() {
            Ok(c) => clients.push(c),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let logged_in = started.elapsed();
    let idle = rss_kib(pid);

    // Each of them is served while all are connected.
    let mut joins = Vec::with_capacity(CLIENTS);
    for mut c in clients {
        let q = select1.clone();
        joins.push(tokio::spawn(async move {
            let r =
                tokio::time::timeout(Duration::from_secs(60), c.command(&q, Shape::Results)).await;
            (r, c)
        }));
    }
    let mut clients = Vec::with_capacity(CLIENTS);
    for j in joins {
        let (r, c) = j.await.unwrap();
        match r {
            Ok(Ok(packets)) if packets.last().is_some_and(|p| p.first() != Some(&0xff)) => {}
            Ok(Ok(packets)) => errors.push(format!("error reply: {:?}", packets.last())),
            Ok(Err(e)) => errors.push(e.to_string()),
            Err(_) => errors.push("query timed out".into()),
        }
        clients.push(c);
    }
    let after_query = rss_kib(pid);
    let held = clients.len();
    drop(clients);
    let per_idle = (idle.saturating_sub(base)) as f64 * 1024.0 / held.max(1) as f64;
    let per_used = (after_query.saturating_sub(base)) as f64 * 1024.0 / held.max(1) as f64;
    eprintln!(
        "{held} clients held at once (logged in by {logged_in:?}); proxy RSS {base} KiB -> \
         {idle} KiB idle -> {after_query} KiB after one query each: {:.1} KiB per idle \
         connection, {:.1} KiB after a query; errors {}",
        per_idle / 1024.0,
        per_used / 1024.0,
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "{} errors, e.g. {:?}",
        errors.len(),
        &errors[..errors.len().min(3)]
    );
    assert_eq!(held, CLIENTS);
    drop(child);
}
