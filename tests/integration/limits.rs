//! Connection limits on in-process proxies (so 127.0.0.1 is never blocked on the shared
//! one): `[proxy] max_connect_errors` blocks a client address after failed handshakes in
//! a row with ERR 1129 until `FLUSH HOSTS`; `[[users]] max_connections` refuses a user's
//! session over the limit with ERR 1203 after authentication, gives the place back when
//! a session ends, follows `RELOAD CONFIG`, and applies to COM_CHANGE_USER; a slowloris
//! handshake is cut off at `handshake_timeout_ms` while others are served.

use crate::admin_util::{admin, table};
use crate::harness::inproc_proxy;
use mysql_async::prelude::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn login(port: u16, user: &str, pw: &str) -> Result<mysql_async::Conn, mysql_async::Error> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(pw))
        .prefer_socket(false);
    mysql_async::Conn::new(opts).await
}

/// The server error a login got (panics if it got in or failed otherwise).
async fn refused(port: u16, user: &str, pw: &str) -> mysql_async::ServerError {
    match login(port, user, pw).await {
        Err(mysql_async::Error::Server(e)) => e,
        other => panic!(
            "{user}: expected a server error, got {:?}",
            other.map(|_| ())
        ),
    }
}

async fn select_one(c: &mut mysql_async::Conn) -> i64 {
    c.query_first("SELECT 1").await.unwrap().unwrap()
}

fn stat(admin_port: u16, name: &str) -> String {
    table(&admin(admin_port, "SHOW STATS"))
        .into_iter()
        .find(|r| r["name"] == name)
        .map(|r| r["value"].clone())
        .unwrap_or_else(|| panic!("SHOW STATS has no {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handshakes_in_a_row_block_the_host_until_flush_hosts() {
    let p = inproc_proxy(|t| t.replacen("[proxy]\n", "[proxy]\nmax_connect_errors = 3\n", 1)).await;
    // Two failures, then a success: the count starts again.
    for _ in 0..2 {
        assert_eq!(refused(p.port, "app", "wrong").await.code, 1045);
    }
    select_one(&mut login(p.port, "app", "app").await.unwrap()).await;
    // A bare connect-and-close (a TCP health check) is not an error.
    for _ in 0..5 {
        let mut tcp = TcpStream::connect(("127.0.0.1", p.port)).await.unwrap();
        let mut greeting = [0u8; 4];
        tcp.read_exact(&mut greeting).await.unwrap();
    }
    // Three in a row: a wrong password, garbage, another wrong password.
    assert_eq!(refused(p.port, "app", "wrong").await.code, 1045);
    let mut tcp = TcpStream::connect(("127.0.0.1", p.port)).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let _ = tcp.read(&mut buf).await.unwrap();
    tcp.write_all(b"\x05\x00\x00\x01hello").await.unwrap();
    while tcp.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    assert_eq!(refused(p.port, "nobody", "x").await.code, 1045);
    // Blocked now, even with the right password, before any authentication.
    let e = refused(p.port, "app", "app").await;
    assert_eq!(e.code, 1129, "{e:?}");
    assert_eq!(
        e.message,
        "Host '127.0.0.1' is blocked because of many connection errors; \
         unblock with 'FLUSH HOSTS' on the admin port"
    );
    assert_eq!(stat(p.admin_port, "hosts_blocked"), "1");
    assert_eq!(stat(p.admin_port, "client_host_blocked"), "1");
    // The admin port is never blocked; FLUSH HOSTS lets the host in again.
    let out = std::process::Command::new("mariadb")
        .args([
            "--no-defaults",
            "--protocol=TCP",
            "-h127.0.0.1",
            "-uadmin",
            "-padmin",
            "-vvv",
        ])
        .arg(format!("-P{}", p.admin_port))
        .args(["-e", "FLUSH HOSTS"])
        .output()
        .expect("run the mariadb client");
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("Query OK, 1 row affected"), "{out}");
    assert!(out.contains("1 blocked host(s) unblocked"), "{out}");
    select_one(&mut login(p.port, "app", "app").await.unwrap()).await;
    assert_eq!(stat(p.admin_port, "hosts_blocked"), "0");
    assert_eq!(p.proxy.connect_errors.refused.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connect_errors_zero_never_blocks() {
    let p = inproc_proxy(|t| t.replacen("[proxy]\n", "[proxy]\nmax_connect_errors = 0\n", 1)).await;
    for _ in 0..5 {
        assert_eq!(refused(p.port, "app", "wrong").await.code, 1045);
    }
    select_one(&mut login(p.port, "app", "app").await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_max_connections_is_enforced_released_and_reloadable() {
    let limited = "name = \"other\"\npassword = \"other\"\nmax_connections = 2\n";
    let p =
        inproc_proxy(|t| t.replacen("name = \"other\"\npassword = \"other\"\n", limited, 1)).await;
    let mut a = login(p.port, "other", "other").await.unwrap();
    let b = login(p.port, "other", "other").await.unwrap();
    let e = refused(p.port, "other", "other").await;
    assert_eq!(e.code, 1203, "{e:?}");
    assert_eq!(
        e.message,
        "User other already has more than 'max_user_connections' active connections"
    );
    assert_eq!(e.state, "42000");
    // Other users are not limited by it; those in are served.
    let apps: Vec<_> = app_sessions(p.port, 3).await;
    assert_eq!(select_one(&mut a).await, 1);
    // A session that ends gives its place back.
    b.disconnect().await.unwrap();
    // Refused while the proxy has not yet seen `b` leave: those count as refusals too.
    let (mut c, early) = retry_login(p.port, "other").await;
    assert_eq!(select_one(&mut c).await, 1);
    // COM_CHANGE_USER to a user at the limit is refused the same way.
    let mut app = login(p.port, "app", "app").await.unwrap();
    let to_other = mysql_async::ChangeUserOpts::default()
        .with_user(Some("other".into()))
        .with_pass(Some("other".into()));
    match app.change_user(to_other).await {
        Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1203, "{e:?}"),
        other => panic!("change_user over the limit: {other:?}"),
    }
    assert_eq!(refused(p.port, "other", "other").await.code, 1203);
    // Raised by RELOAD CONFIG: applies to the next login.
    let text = std::fs::read_to_string(&p.config_path).unwrap();
    std::fs::write(
        &p.config_path,
        text.replace("max_connections = 2", "max_connections = 3"),
    )
    .unwrap();
    admin(p.admin_port, "RELOAD CONFIG");
    let mut d = login(p.port, "other", "other").await.unwrap();
    assert_eq!(select_one(&mut d).await, 1);
    assert_eq!(refused(p.port, "other", "other").await.code, 1203);
    assert_eq!(
        stat(p.admin_port, "client_user_limit"),
        (4 + early).to_string()
    );
    drop(apps);
}

/// `n` sessions of `app` at once.
async fn app_sessions(port: u16, n: usize) -> Vec<mysql_async::Conn> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(login(port, "app", "app").await.expect("app is not limited"));
    }
    v
}

/// Logs in as `user` (password = name), retrying while the proxy notices a session left;
/// also answers how many tries were refused for the user's limit (ER 1203).
async fn retry_login(port: u16, user: &str) -> (mysql_async::Conn, u64) {
    let mut refused = 0;
    for _ in 0..100 {
        match login(port, user, user).await {
            Ok(c) => return (c, refused),
            Err(mysql_async::Error::Server(e)) if e.code == 1203 => refused += 1,
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{user} never got back in after a session ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_handshakes_are_cut_off_and_others_served() {
    let p = inproc_proxy(|t| t.replacen("[proxy]\n", "[proxy]\nhandshake_timeout_ms = 1000\n", 1))
        .await;
    let port = p.port;
    // Three clients send a (valid-looking) handshake response one byte per 200 ms.
    let drips: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(async move {
                let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                let mut buf = vec![0u8; 4096];
                let _ = tcp.read(&mut buf).await.unwrap();
                let started = Instant::now();
                let mut body = vec![0x00u8, 0x02, 0x00, 0x01];
                body.extend_from_slice(&[0x0d, 0xa2, 0x00, 0x00]);
                body.extend(std::iter::repeat_n(0x41, 200));
                for b in body {
                    if tcp.write_all(&[b]).await.is_err() {
                        break;
                    }
                    // A read that ends means the proxy hung up.
                    match tokio::time::timeout(Duration::from_millis(200), tcp.read(&mut buf)).await
                    {
                        Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
                        _ => {}
                    }
                }
                panic!(
                    "the proxy kept a slowloris handshake open for {:?}",
                    started.elapsed()
                );
            })
        })
        .collect();
    // Meanwhile a well-behaved client logs in and queries over and over.
    let mut served = 0;
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        let mut c = login(port, "app", "app")
            .await
            .expect("served during slowloris");
        let n: i64 = c.query_first("SELECT 20 + 22").await.unwrap().unwrap();
        assert_eq!(n, 42);
        c.disconnect().await.unwrap();
        served += 1;
    }
    for d in drips {
        let cut = d.await.expect("slowloris client");
        // Cut off at the 1 s timeout, not after its 40 s of dripping (bounded
        // generously: the machine is shared).
        assert!(cut < Duration::from_secs(10), "{cut:?}");
    }
    assert!(served > 0);
    let timeouts = p.proxy.clients.handshake_errors.load(Ordering::Relaxed);
    assert!(timeouts >= 3, "handshake errors counted: {timeouts}");
}
