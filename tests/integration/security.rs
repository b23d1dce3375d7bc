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
