//! Security checks, each against the real servers or the real binary: no path reaches a
//! backend without the proxy's authentication (asserted on the servers' own per-user
//! statistics and the proxy's backend login counter), the admin interfaces listen on
//! localhost by default, and no configured secret ever appears in the logs, even at
//! trace level.

use crate::admin_util::{http, mariadb};
use crate::harness::{
    admin_sql, caught_up, env, free_port, inproc_proxy, node_sql, proxy_opts, InProcProxy,
};
use crate::rawclient::{caps, native_token, RawConn, Shape};
use mysql_async::prelude::Queryable;
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A proxy user whose backend account exists: what a bypass would log in as.
const PROBE_USER: &str = "sec_probe";
const PROBE_PW: &str = "sec-probe-pw";
/// An account that exists on the servers but not in the proxy's `[[users]]`.
const BACKEND_ONLY: &str = "sec_backend_only";
const BACKEND_ONLY_PW: &str = "sec-only-pw";

/// Per server (primary first): logins and statements the server counted for `user`
/// (`information_schema.USER_STATISTICS`, on with `userstat = 1`).
fn user_stats(user: &str) -> Vec<(u64, u64)> {
    let e = env();
    let sql = format!(
        "SELECT TOTAL_CONNECTIONS, SELECT_COMMANDS + UPDATE_COMMANDS + OTHER_COMMANDS \
         FROM information_schema.USER_STATISTICS WHERE USER = '{user}'"
    );
    e.cluster
        .nodes
        .iter()
        .map(|n| {
            let out = node_sql(&e.cluster, &n.name, &sql);
            let mut f = out.split_whitespace().map(|v| v.parse().unwrap_or(0));
            (f.next().unwrap_or(0), f.next().unwrap_or(0))
        })
        .collect()
}

/// Backend logins the proxy's pool has made.
fn pool_logins(p: &InProcProxy) -> u64 {
    let topo = p.proxy.topology.load();
    topo.backends
        .iter()
        .map(|b| b.connects.load(Ordering::Relaxed))
        .sum()
}

/// Reads one packet (seq, payload); None when the proxy closed the connection.
async fn recv(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let read = async {
        let mut h = [0u8; 4];
        s.read_exact(&mut h).await.ok()?;
        let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
        let mut p = vec![0u8; len];
        s.read_exact(&mut p).await.ok()?;
        Some((h[3], p))
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the proxy neither answered nor closed within 10 s")
}

async fn send(s: &mut TcpStream, seq: u8, payload: &[u8]) {
    let mut b = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    b.push(seq);
    b.extend_from_slice(payload);
    // The proxy may already have closed: what it does next is what is checked.
    let _ = s.write_all(&b).await;
}

/// Connects and reads the greeting; returns the socket and the scramble.
async fn greeted(port: u16) -> (TcpStream, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (_, g) = recv(&mut s).await.expect("greeting");
    let v_end = 1 + g[1..].iter().position(|&b| b == 0).unwrap();
    let p = v_end + 1 + 4;
    let mut scramble = g[p..p + 8].to_vec();
    let p2 = p + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
    scramble.extend_from_slice(&g[p2..p2 + 12]);
    (s, scramble)
}

fn handshake_response(user: &str, token: &[u8], plugin: &str) -> Vec<u8> {
    let mut r = caps::BASE.to_le_bytes().to_vec();
    r.extend_from_slice(&(1u32 << 24).to_le_bytes());
    r.push(45);
    r.extend_from_slice(&[0; 23]);
    r.extend_from_slice(user.as_bytes());
    r.push(0);
    r.push(token.len() as u8);
    r.extend_from_slice(token);
    r.extend_from_slice(plugin.as_bytes());
    r.push(0);
    r
}

/// After an attack: the proxy answers ERR (or nothing) and then closes; nothing it
/// sends is an OK or a result set. An auth switch is answered with a wrong token.
async fn refused_then_closed(s: &mut TcpStream, what: &str) {
    let mut seen = 0;
    while let Some((seq, p)) = recv(s).await {
        seen += 1;
        assert!(seen < 4, "{what}: the proxy keeps answering");
        if p.first() == Some(&0xfe) {
            send(s, seq.wrapping_add(1), &[0x33; 20]).await;
            continue;
        }
        assert_eq!(p.first(), Some(&0xff), "{what}: the proxy answered {p:?}");
    }
}

/// Raw clients that skip, garble or fail authentication, each on a fresh connection.
async fn raw_attacks(port: u16) {
    let query = b"\x03SELECT CURRENT_USER()".to_vec();

    // A command instead of the handshake response, with the next and with a wrong seq.
    for seq in [1, 0] {
        let (mut s, _) = greeted(port).await;
        send(&mut s, seq, &query).await;
        send(&mut s, 0, &query).await;
        refused_then_closed(&mut s, "COM_QUERY before auth").await;
    }
    // No password, a garbage token, a wrong password, an overlong token; each followed
    // by queries sent without waiting for the verdict.
    for kind in 0..4 {
        let (mut s, scramble) = greeted(port).await;
        let token = match kind {
            0 => vec![],
            1 => vec![0x5a; 20],
            2 => native_token("not-the-password", &scramble),
            _ => vec![0; 255],
        };
        let resp = handshake_response(PROBE_USER, &token, "mysql_native_password");
        send(&mut s, 1, &resp).await;
        send(&mut s, 0, &query).await;
        send(&mut s, 0, &query).await;
        refused_then_closed(&mut s, "bad token").await;
    }
    // Another plugin's name with the wrong cleartext password.
    let (mut s, _) = greeted(port).await;
    let resp = handshake_response(PROBE_USER, b"wrong\0", "mysql_clear_password");
    send(&mut s, 1, &resp).await;
    refused_then_closed(&mut s, "clear password").await;
    // Truncated responses, an SSL request to a proxy without TLS, random bytes.
    let full = handshake_response(PROBE_USER, &[1; 20], "mysql_native_password");
    for cut in [4, 31, 32, 33, 40] {
        let (mut s, _) = greeted(port).await;
        send(&mut s, 1, &full[..cut]).await;
        send(&mut s, 0, &query).await;
        refused_then_closed(&mut s, "truncated response").await;
    }
    let mut garbage = vec![0u8; 296];
    rand::Rng::fill(&mut rand::rng(), &mut garbage[..]);
    let (mut s, _) = greeted(port).await;
    send(&mut s, 1, &garbage).await;
    refused_then_closed(&mut s, "random packet").await;
    let (mut s, _) = greeted(port).await;
    let _ = s.write_all(&garbage).await;
    let _ = s.shutdown().await;
    refused_then_closed(&mut s, "random bytes").await;
}

/// COM_CHANGE_USER from a logged-in `app` session to `user` with `password`; returns
/// the reply and who the session is afterwards.
async fn change_user(port: u16, user: &str, password: &str) -> (Vec<u8>, String) {
    let (mut c, ok) = RawConn::connect(port, "app", "app", None, caps::BASE)
        .await
        .unwrap();
    assert_eq!(ok[0], 0, "app login: {ok:?}");
    let g = c.greeting.clone();
    let v_end = 1 + g[1..].iter().position(|&b| b == 0).unwrap();
    let p = v_end + 1 + 4;
    let mut scramble = g[p..p + 8].to_vec();
    let p2 = p + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
    scramble.extend_from_slice(&g[p2..p2 + 12]);
    let token = native_token(password, &scramble);
    let mut cu = vec![0x11];
    cu.extend_from_slice(user.as_bytes());
    cu.push(0);
    cu.push(token.len() as u8);
    cu.extend_from_slice(&token);
    cu.push(0); // no schema
    cu.extend_from_slice(&45u16.to_le_bytes());
    cu.extend_from_slice(b"mysql_native_password\0");
    let mut reply = c.command(&cu, Shape::Single).await.unwrap();
    if reply.first().and_then(|p| p.first()) == Some(&0xfe) {
        // An auth switch: answer it with the same (wrong) password.
        let data = &reply[0][1..];
        let name_end = data.iter().position(|&b| b == 0).unwrap();
        let salt = &data[name_end + 1..];
        let salt = &salt[..salt.len().min(20)];
        c.write_packet(&native_token(password, salt)).await.unwrap();
        reply = c.read_response(Shape::Single).await.unwrap();
    }
    let rows = c
        .command(b"\x03SELECT CURRENT_USER()", Shape::Results)
        .await
        .unwrap();
    let who = rows
        .iter()
        .find(|r| r.first().is_some_and(|&b| b > 0 && b < 0xfb) && r.contains(&b'@'))
        .map(|r| String::from_utf8_lossy(&r[1..]).into_owned())
        .unwrap_or_default();
    (reply[0].clone(), who)
}

#[tokio::test]
async fn no_path_reaches_a_backend_without_authentication() {
    let grants = rwproxy::cluster::APP_PRIVILEGES;
    admin_sql(
        &env().cluster,
        &format!(
            "CREATE USER IF NOT EXISTS '{PROBE_USER}'@'%' IDENTIFIED BY '{PROBE_PW}'; \
             GRANT {grants} ON *.* TO '{PROBE_USER}'@'%'; \
             CREATE USER IF NOT EXISTS '{BACKEND_ONLY}'@'%' IDENTIFIED BY '{BACKEND_ONLY_PW}'; \
             GRANT {grants} ON *.* TO '{BACKEND_ONLY}'@'%';"
        ),
    );
    caught_up().await;
    let users = format!("[[users]]\nname = \"{PROBE_USER}\"\npassword = \"{PROBE_PW}\"\n\n");
    let p = inproc_proxy(|t| format!("{users}{t}")).await;
    let before = (user_stats(PROBE_USER), user_stats(BACKEND_ONLY));
    assert_eq!(pool_logins(&p), 0, "no client yet, no backend login");

    raw_attacks(p.port).await;
    for (user, pw) in [(PROBE_USER, "wrong"), (BACKEND_ONLY, BACKEND_ONLY_PW)] {
        let opts = mysql_async::OptsBuilder::from_opts(proxy_opts(user, pw, None)).tcp_port(p.port);
        match mysql_async::Conn::new(opts).await {
            Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1045, "{user}: {e:?}"),
            other => panic!("{user} must be refused: {:?}", other.map(|_| ())),
        }
    }
    assert_eq!(pool_logins(&p), 0, "a refused client made the proxy log in");
    let after = (user_stats(PROBE_USER), user_stats(BACKEND_ONLY));
    assert_eq!(before, after, "a server saw a login or statement");

    // From a real session: COM_CHANGE_USER with a wrong password, or to a user the
    // proxy does not know (with the right backend password), leaves it as `app`.
    for (user, pw) in [(PROBE_USER, "wrong"), (BACKEND_ONLY, BACKEND_ONLY_PW)] {
        let (reply, who) = change_user(p.port, user, pw).await;
        assert_eq!(reply[0], 0xff, "change to {user}: {reply:?}");
        assert_eq!(&reply[1..3], &1045u16.to_le_bytes(), "{reply:?}");
        assert_eq!(who, "app@%", "after a failed change to {user}");
    }
    // (The proxy replays a failed change on its backend connection so the session is
    // reset as the server would: a denied attempt there, never a login or statement.)
    let after = (user_stats(PROBE_USER), user_stats(BACKEND_ONLY));
    assert_eq!(
        before, after,
        "a failed COM_CHANGE_USER ran as the new user"
    );

    // The control: the right password does reach the primary, and it shows.
    let opts = mysql_async::OptsBuilder::from_opts(proxy_opts(PROBE_USER, PROBE_PW, None))
        .tcp_port(p.port);
    let mut c = mysql_async::Conn::new(opts).await.expect("right password");
    let who: String = c
        .query_first("SELECT CURRENT_USER()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(who, format!("{PROBE_USER}@%"));
    c.disconnect().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while user_stats(PROBE_USER)[0].0 <= before.0[0].0 {
        assert!(
            Instant::now() < deadline,
            "the server never counted the real login"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(pool_logins(&p) > 0);
}

/// Listening TCP sockets of process `pid`, as (address, port), from /proc.
fn listening(pid: u32) -> BTreeSet<(std::net::IpAddr, u16)> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    l.strip_prefix("socket:[")?
                        .strip_suffix(']')
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = BTreeSet::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address, st (0A = LISTEN), inode
            if f.len() < 10 || f[3] != "0A" || !inodes.contains(f[9]) {
                continue;
            }
            let Some((addr, port)) = f[1].split_once(':') else {
                continue;
            };
            let port = u16::from_str_radix(port, 16).unwrap_or(0);
            let bytes: Vec<u8> = (0..addr.len() / 2)
                .filter_map(|i| u8::from_str_radix(&addr[2 * i..2 * i + 2], 16).ok())
                .collect();
            // /proc prints each 32-bit word in host (little-endian) order.
            let words: Vec<u8> = bytes
                .chunks(4)
                .flat_map(|w| w.iter().rev().copied())
                .collect();
            let ip = match words.len() {
                4 => std::net::IpAddr::from([words[0], words[1], words[2], words[3]]),
                16 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&words);
                    std::net::IpAddr::from(a)
                }
                _ => continue,
            };
            out.insert((ip, port));
        }
    }
    out
}

/// Waits until nothing listens on 127.0.0.1:`port` (another proxy with default ports
/// may be running a test of its own), up to 60 s.
fn wait_port_free(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "127.0.0.1:{port} stays taken: the default-ports test cannot run"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts the real binary with `config`; stdout and stderr go to `log`.
fn spawn_binary(
    config: &std::path::Path,
    log: &std::path::Path,
    level: &str,
) -> std::process::Child {
    let out = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_rwproxy"))
        .args(["--log-level", level, "run", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start rwproxy")
}

fn stop(mut child: std::process::Child) {
    // SAFETY: signalling the child this test spawned, by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn admin_and_http_listen_on_localhost_by_default() {
    let defaults = rwproxy::config::AdminConfig::default();
    for addr in [&defaults.listen, &defaults.http] {
        let a: std::net::SocketAddr = addr.parse().unwrap();
        assert!(a.ip().is_loopback(), "default {addr} is not loopback");
    }
    let e = env();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // The cluster's sample config has no [admin] section: every admin default applies.
    let text = e.cluster.sample_config(&format!("127.0.0.1:{port}"));
    assert!(!text.contains("[admin]"));
    let config = dir.path().join("defaults.toml");
    std::fs::write(&config, text).unwrap();
    let (admin_port, http_port) = (6032, 6080);
    wait_port_free(admin_port);
    wait_port_free(http_port);
    let child = spawn_binary(&config, &dir.path().join("log"), "warn");
    let pid = child.id();
    let want = [port, admin_port, http_port];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = listening(pid);
    while !want.iter().all(|p| seen.iter().any(|(_, q)| q == p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        seen = listening(pid);
    }
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    stop(child);
    for p in want {
        assert!(
            seen.iter().any(|(_, q)| *q == p),
            "not listening on {p}: {seen:?}\n{log}"
        );
    }
    let lo = std::net::IpAddr::from([127, 0, 0, 1]);
    assert!(
        seen.iter().all(|(ip, _)| *ip == lo),
        "a listener is not bound to 127.0.0.1: {seen:?}"
    );
}

/// The secrets of the logging test: (name, password), all configured in the proxy.
const SECRET_USER: (&str, &str) = ("sec_user", "Zq8-user-secret-71");
const SECRET_HASHED: (&str, &str) = ("sec_hash", "Zq8-hash-secret-72");
const SECRET_MONITOR: (&str, &str) = ("sec_monitor", "Zq8-monitor-secret-73");
const SECRET_ADMIN: (&str, &str) = ("sec_admin", "Zq8-admin-secret-74");

fn sha1_hex(data: &[u8]) -> (Vec<u8>, String) {
    use sha1::{Digest, Sha1};
    let d = Sha1::digest(data).to_vec();
    let hex = d.iter().map(|b| format!("{b:02X}")).collect();
    (d, hex)
}

/// What a log must never contain for `password`: the password, its SHA1 and the
/// mysql_native_password hash, in either hex case.
fn forms(password: &str) -> Vec<String> {
    let (stage1, stage1_hex) = sha1_hex(password.as_bytes());
    let (_, stage2_hex) = sha1_hex(&stage1);
    vec![
        password.to_string(),
        stage1_hex.to_lowercase(),
        stage1_hex,
        stage2_hex.to_lowercase(),
        stage2_hex,
    ]
}

fn secrets_config(port: u16, admin_port: u16, http_port: u16) -> String {
    let e = env();
    let (_, admin_hash) = sha1_hex(&sha1_hex(SECRET_ADMIN.1.as_bytes()).0);
    let (_, user_hash) = sha1_hex(&sha1_hex(SECRET_HASHED.1.as_bytes()).0);
    let mut t = format!(
        "[proxy]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [admin]\nlisten = \"127.0.0.1:{admin_port}\"\nhttp = \"127.0.0.1:{http_port}\"\n\
         user = \"{}\"\npassword = \"*{admin_hash}\"\n\n\
         [monitor]\nuser = \"{}\"\npassword = \"{}\"\n\n\
         [[users]]\nname = \"{}\"\npassword = \"{}\"\n\n\
         [[users]]\nname = \"{}\"\npassword = \"*{user_hash}\"\n",
        SECRET_ADMIN.0,
        SECRET_MONITOR.0,
        SECRET_MONITOR.1,
        SECRET_USER.0,
        SECRET_USER.1,
        SECRET_HASHED.0,
    );
    for (i, n) in e.cluster.nodes.iter().enumerate() {
        let role = if i == 0 { "primary" } else { "replica" };
        t += &format!(
            "\n[[backends]]\nname = \"{}\"\naddress = \"127.0.0.1:{}\"\nrole = \"{role}\"\n",
            n.name, n.port
        );
    }
    t
}

fn create_secret_accounts() {
    let grants = rwproxy::cluster::APP_PRIVILEGES;
    let mut sql = String::new();
    for (user, pw) in [SECRET_USER, SECRET_HASHED] {
        sql += &format!(
            "CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{pw}'; \
             GRANT {grants} ON *.* TO '{user}'@'%'; "
        );
    }
    let (m, pw) = SECRET_MONITOR;
    sql += &format!(
        "CREATE USER IF NOT EXISTS '{m}'@'%' IDENTIFIED BY '{pw}'; \
         GRANT SELECT, PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.* TO '{m}'@'%'; \
         GRANT ALL ON rwproxy.* TO '{m}'@'%';"
    );
    admin_sql(&env().cluster, &sql);
}

/// Client traffic that exercises every place a secret could leak from: logins right and
/// wrong (proxy and admin port, hashed and plaintext users), COM_CHANGE_USER, admin
/// commands, a reload by command and by SIGHUP, the HTTP API with right and wrong Basic
/// credentials.
async fn exercise(pid: u32, port: u16, admin_port: u16, http_port: u16) {
    let opts = |(user, pw): (&str, &str)| {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some(user))
            .pass(Some(pw))
            .prefer_socket(false)
    };
    for who in [
        (SECRET_USER.0, "Zq8-wrong-75"),
        (SECRET_HASHED.0, SECRET_USER.1),
    ] {
        assert!(mysql_async::Conn::new(opts(who)).await.is_err(), "{who:?}");
    }
    let mut c = mysql_async::Conn::new(opts(SECRET_USER))
        .await
        .expect("login");
    let _: Option<i64> = c.query_first("SELECT 1").await.unwrap();
    let _ = c.query_drop("SELECT * FROM no_such_table").await;
    // A password in a statement (refused by the server: no CREATE USER privilege).
    let _ = c
        .query_drop("CREATE USER 'sec_tmp'@'%' IDENTIFIED BY 'Zq8-literal-78'")
        .await;
    let _ = c
        .query_drop("SET PASSWORD FOR 'sec_tmp'@'%' = PASSWORD('Zq8-literal-79')")
        .await;
    c.change_user(
        mysql_async::ChangeUserOpts::default()
            .with_user(Some(SECRET_HASHED.0.into()))
            .with_pass(Some(SECRET_HASHED.1.into())),
    )
    .await
    .expect("change user");
    let who: String = c
        .query_first("SELECT CURRENT_USER()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(who, format!("{}@%", SECRET_HASHED.0));
    c.disconnect().await.unwrap();

    let (admin, admin_pw) = SECRET_ADMIN;
    assert!(mariadb(admin_port, admin, "Zq8-wrong-76", "SHOW BACKENDS").is_err());
    for sql in [
        "SHOW BACKENDS",
        "SHOW SESSIONS",
        "SHOW STATS",
        "RELOAD CONFIG",
    ] {
        mariadb(admin_port, admin, admin_pw, sql)
            .unwrap_or_else(|e| panic!("hashed admin password, {sql}: {e}"));
    }
    // SAFETY: signalling the child this test spawned, by its pid.
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    for path in ["/metrics", "/api/backends", "/health/ready"] {
        let (status, _) = http(http_port, "GET", path, None, None);
        assert_eq!(status, 200, "{path}");
    }
    let put = Some(r#"{"weight": 1}"#);
    let wrong = format!("{admin}:Zq8-wrong-77");
    let (status, _) = http(
        http_port,
        "PUT",
        "/api/backends/replica1",
        put,
        Some(&wrong),
    );
    assert_eq!(status, 401);
    let right = format!("{admin}:{admin_pw}");
    let (status, body) = http(
        http_port,
        "PUT",
        "/api/backends/replica1",
        put,
        Some(&right),
    );
    assert_eq!(status, 200, "hashed admin password over HTTP: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_logs() {
    create_secret_accounts();
    caught_up().await;
    let dir = tempfile::tempdir().unwrap();
    let (port, admin_port, http_port) = (free_port(), free_port(), free_port());
    let config = dir.path().join("secrets.toml");
    std::fs::write(&config, secrets_config(port, admin_port, http_port)).unwrap();
    let log = dir.path().join("trace.log");
    let child = spawn_binary(&config, &log, "trace");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", http_port)).is_err() {
        assert!(Instant::now() < deadline, "rwproxy did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    exercise(child.id(), port, admin_port, http_port).await;
    // Let the monitor run a few rounds (its logins use the monitor password).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop(child);
    let check = Command::new(env!("CARGO_BIN_EXE_rwproxy"))
        .args(["--log-level", "trace", "check", "--config"])
        .arg(&config)
        .output()
        .expect("rwproxy check");
    assert!(check.status.success());
    let mut text = std::fs::read_to_string(&log).unwrap();
    text += &String::from_utf8_lossy(&check.stdout);
    text += &String::from_utf8_lossy(&check.stderr);
    // The log really is at trace level and saw the traffic: the search below means something.
    for needle in ["DEBUG", "config reloaded", SECRET_USER.0, SECRET_ADMIN.0] {
        assert!(text.contains(needle), "the log lacks {needle:?}");
    }
    for (_, pw) in [SECRET_USER, SECRET_HASHED, SECRET_MONITOR, SECRET_ADMIN] {
        for form in forms(pw) {
            if let Some(at) = text.find(&form) {
                let line = text[..at].rsplit('\n').next().unwrap_or("");
                panic!("a secret ({form}) is in the log, in: {line}{form}...");
            }
        }
    }
    for (what, needle) in [
        ("a wrong password", "Zq8-wrong"),
        ("a statement's password", "Zq8-literal"),
    ] {
        assert!(!text.contains(needle), "{what} is in the log");
    }
    println!(
        "searched {} bytes of trace log: no secret found",
        text.len()
    );
}
