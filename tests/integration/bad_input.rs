//! Hostile and broken clients over raw TCP: garbage, truncated packets, wrong sequence
//! ids, oversized packets, unknown commands and stalled handshakes each get an error or a
//! close, while a well-behaved client on the same proxy keeps working. Also a raw
//! caching_sha2_password login, which the driver-based tests cannot exercise.

use crate::harness::inproc_proxy;
use mysql_async::prelude::*;
use rwproxy::protocol::auth::{self, BackendCredential};
use rwproxy::protocol::constants::caps::*;
use rwproxy::protocol::handshake::{Greeting, HandshakeResponse};
use rwproxy::protocol::PacketConn;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CAPS: u32 = CLIENT_PROTOCOL_41
    | CLIENT_SECURE_CONNECTION
    | CLIENT_PLUGIN_AUTH
    | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
    | CLIENT_LONG_PASSWORD
    | CLIENT_TRANSACTIONS;

/// Logs in as app/app with `plugin`; returns the connection and the first reply packets.
async fn raw_login(port: u16, plugin: &str) -> (PacketConn<TcpStream>, Vec<Vec<u8>>) {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut c = PacketConn::new(tcp);
    let g = Greeting::parse(&c.read_packet(0, 1 << 16).await.unwrap().payload).unwrap();
    let token = BackendCredential::from_password("app")
        .token(plugin, &g.scramble)
        .unwrap();
    let resp = HandshakeResponse {
        capabilities: CAPS,
        max_packet: 1 << 24,
        charset: 45,
        user: "app".into(),
        auth_response: token,
        auth_plugin: plugin.into(),
        ..Default::default()
    };
    c.write_packet(1, &resp.encode());
    c.flush().await.unwrap();
    let mut replies = Vec::new();
    let mut seq = 2;
    loop {
        let p = c.read_packet(seq, 1 << 20).await.unwrap();
        seq = p.seq.wrapping_add(1);
        let done = matches!(p.payload.first(), Some(0x00) | Some(0xff));
        replies.push(p.payload.to_vec());
        if done {
            return (c, replies);
        }
    }
}

async fn query(c: &mut PacketConn<TcpStream>, sql: &str) -> Vec<u8> {
    let mut p = vec![0x03];
    p.extend_from_slice(sql.as_bytes());
    c.write_packet(0, &p);
    c.flush().await.unwrap();
    c.read_packet(1, 1 << 20).await.unwrap().payload.to_vec()
}

fn err_code(p: &[u8]) -> u16 {
    assert_eq!(p.first(), Some(&0xff), "expected ERR, got {p:?}");
    u16::from_le_bytes([p[1], p[2]])
}

/// A well-behaved client, checked between every abuse.
async fn healthy(port: u16) {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("app"))
        .pass(Some("app"))
        .prefer_socket(false);
    let mut c = mysql_async::Conn::new(opts)
        .await
        .expect("healthy client connects");
    let n: i64 = c.query_first("SELECT 40 + 2").await.unwrap().unwrap();
    assert_eq!(n, 42);
    c.disconnect().await.unwrap();
}

/// Reads until the proxy closes the socket; returns what it sent.
async fn until_closed(tcp: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return all,
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Err(_) => panic!("proxy did not close the connection within 10 s"),
        }
    }
}

#[tokio::test]
async fn hostile_clients_get_errors_and_others_keep_working() {
    let settings = "[proxy]\nmax_allowed_packet = 1048576\nhandshake_timeout_ms = 500\n";
    let proxy = inproc_proxy(|t| t.replacen("[proxy]\n", settings, 1)).await;
    let port = proxy.port;
    let mut steady = mysql_async::Conn::new(
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some("app"))
            .pass(Some("app"))
            .prefer_socket(false),
    )
    .await
    .unwrap();

    // Garbage instead of a handshake response: "Bad handshake", then close.
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(b"\x10\x00\x00\x01GET / HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    let got = until_closed(&mut tcp).await;
    assert!(got.windows(13).any(|w| w == b"Bad handshake"), "{got:?}");
    healthy(port).await;

    // Truncated packet, then the client hangs up.
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(&[100, 0, 0, 1, 1, 2, 3]).await.unwrap();
    tcp.shutdown().await.unwrap();
    until_closed(&mut tcp).await;
    healthy(port).await;

    // Slow handshake: says nothing; dropped after handshake_timeout_ms.
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    until_closed(&mut tcp).await;
    healthy(port).await;

    // Wrong sequence id after login: ERR 1156, then close.
    let (mut c, _) = raw_login(port, auth::NATIVE).await;
    c.write_packet(7, b"\x03SELECT 1");
    c.flush().await.unwrap();
    let p = c.read_packet(8, 1 << 20).await.unwrap();
    assert_eq!(err_code(&p.payload), 1156);
    assert!(
        c.read_packet(0, 1 << 20).await.is_err(),
        "closed after out-of-order packet"
    );

    // Oversized packet: ERR 1153 and the same connection goes on working.
    let (mut c, _) = raw_login(port, auth::NATIVE).await;
    let big = format!("SELECT '{}'", "x".repeat(2 << 20));
    c.write_packet(0, &[b"\x03", big.as_bytes()].concat());
    c.flush().await.unwrap();
    assert_eq!(
        err_code(&c.read_packet(1, 1 << 20).await.unwrap().payload),
        1153
    );
    let ok = query(&mut c, "DO 1").await;
    assert_eq!(
        ok.as_slice().first(),
        Some(&0x00),
        "connection usable after ERR 1153: {ok:?}"
    );

    // Unknown command: ERR 1047, connection still usable.
    c.write_packet(0, &[0x12, 0, 0, 0, 0]);
    c.flush().await.unwrap();
    assert_eq!(
        err_code(&c.read_packet(1, 1 << 20).await.unwrap().payload),
        1047
    );
    assert_eq!(query(&mut c, "DO 1").await.as_slice().first(), Some(&0x00));

    // Random bytes after login: error or close, never a hang or a crash.
    let (c, _) = raw_login(port, auth::NATIVE).await;
    let (mut tcp, _) = c.into_parts();
    tcp.write_all(&[0xff, 0xff, 0xff, 0x00, 0xde, 0xad, 0xbe, 0xef])
        .await
        .unwrap();
    tcp.shutdown().await.unwrap();
    until_closed(&mut tcp).await;

    healthy(port).await;
    let n: i64 = steady.query_first("SELECT 7").await.unwrap().unwrap();
    assert_eq!(n, 7, "a client connected throughout is unaffected");
    steady.disconnect().await.unwrap();
}

#[tokio::test]
async fn caching_sha2_fast_path_and_native_switch() {
    let proxy = inproc_proxy(|t| t).await;
    let (mut c, replies) = raw_login(proxy.port, auth::CACHING_SHA2).await;
    assert_eq!(
        replies.first().map(|p| &p[..]),
        Some(&[0x01, 0x03][..]),
        "fast_auth_success"
    );
    assert_eq!(
        replies.last().and_then(|p| p.as_slice().first()),
        Some(&0x00)
    );
    assert_eq!(query(&mut c, "DO 1").await.as_slice().first(), Some(&0x00));
    // An unknown plugin is switched to mysql_native_password.
    let tcp = TcpStream::connect(("127.0.0.1", proxy.port)).await.unwrap();
    let mut c = PacketConn::new(tcp);
    c.read_packet(0, 1 << 16).await.unwrap();
    let resp = HandshakeResponse {
        capabilities: CAPS,
        user: "app".into(),
        auth_response: b"whatever".to_vec(),
        auth_plugin: "dialog".into(),
        charset: 45,
        ..Default::default()
    };
    c.write_packet(1, &resp.encode());
    c.flush().await.unwrap();
    let switch = c.read_packet(2, 1 << 16).await.unwrap().payload;
    assert_eq!(switch[0], 0xfe);
    assert!(switch.starts_with(b"\xfemysql_native_password\0"));
    let scramble = &switch[1 + 22..1 + 22 + 20];
    let token = BackendCredential::from_password("app")
        .token(auth::NATIVE, scramble)
        .unwrap();
    c.write_packet(3, &token);
    c.flush().await.unwrap();
    assert_eq!(
        c.read_packet(4, 1 << 16).await.unwrap().payload.first(),
        Some(&0x00)
    );
}

/// Opens a client connection to the proxy on `port`.
async fn connect(port: u16) -> Result<mysql_async::Conn, mysql_async::Error> {
    mysql_async::Conn::new(
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some("app"))
            .pass(Some("app"))
            .prefer_socket(false),
    )
    .await
}

#[tokio::test]
async fn clients_over_max_client_connections_get_1040() {
    let proxy =
        inproc_proxy(|t| t.replacen("[proxy]\n", "[proxy]\nmax_client_connections = 2\n", 1)).await;
    let mut a = connect(proxy.port).await.unwrap();
    let b = connect(proxy.port).await.unwrap();
    match connect(proxy.port).await {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!(e.code, 1040, "{e:?}");
            assert!(e.message.contains("Too many connections"), "{e:?}");
        }
        other => panic!(
            "a third client must get ERR 1040, got {:?}",
            other.map(|_| ())
        ),
    }
    // Those already in are served; a slot freed is a slot taken.
    let one: Option<i64> = a.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    b.disconnect().await.unwrap();
    let mut c = None;
    for _ in 0..50 {
        if let Ok(conn) = connect(proxy.port).await {
            c = Some(conn);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut c = c.expect("a client gets in once another left");
    let one: Option<i64> = c.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    let refused = proxy
        .proxy
        .clients
        .too_many
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(refused >= 1, "counted: {refused}");
}
