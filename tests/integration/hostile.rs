//! A property test of hostile input against live proxies over TCP: proptest makes random
//! connections — raw bytes, well-framed packets with random commands and payloads,
//! truncated packets, wrong sequence ids, garbage before or after the handshake — and
//! sends each to an in-process proxy and to the shared proxy binary at once. After
//! every case each proxy must still accept and serve a fresh client, and what it sent
//! back must be whole packets with well-formed ERRs; meanwhile a well-behaved
//! mysql_async client on each proxy keeps getting correct answers, and at the end no
//! panic happened in the library (a panic hook counts them) and the binary is alive.
//!
//! Bounded: 64 cases, each connection read until the proxy closes it or is silent for
//! [`IDLE`]. `KILL`/`COM_PROCESS_KILL` and `COM_SHUTDOWN` are never generated (they
//! would end other sessions, not test the parser).

use crate::harness::{env, inproc_proxy, proxy_pid};
use mysql_async::prelude::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rwproxy::protocol::auth::{BackendCredential, NATIVE};
use rwproxy::protocol::constants::caps::*;
use rwproxy::protocol::handshake::{Greeting, HandshakeResponse};
use rwproxy::protocol::PacketConn;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a connection may stay silent before the case stops reading it.
const IDLE: Duration = Duration::from_millis(250);

/// Panics raised in the library (`src/…`) anywhere in this test process.
static LIBRARY_PANICS: AtomicU64 = AtomicU64::new(0);

fn count_library_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info
                .location()
                .is_some_and(|l| l.file().starts_with("src/"))
            {
                LIBRARY_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// The sequence id a packet carries.
#[derive(Debug, Clone)]
enum Seq {
    /// What the protocol expects there (1 in the handshake, 0 for a command).
    Right,
    /// Any id.
    Any(u8),
}

/// One piece of what a case sends.
#[derive(Debug, Clone)]
enum Piece {
    /// A well-framed packet.
    Packet(Seq, Vec<u8>),
    /// A header that claims more bytes than follow.
    Truncated(u32, Vec<u8>),
    /// Bytes with no framing.
    Raw(Vec<u8>),
}

/// One hostile connection.
#[derive(Debug, Clone)]
struct Case {
    /// Log in properly first (the pieces come after the handshake) or not (before).
    login: bool,
    pieces: Vec<Piece>,
    /// Half-close the socket after sending.
    half_close: bool,
}

/// Statements a random COM_QUERY / COM_STMT_PREPARE carries (whole or cut short).
const STATEMENTS: &[&str] = &[
    "SELECT 1",
    "SELECT @@version, DATABASE()",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SET @a = 1",
    "SET NAMES utf8mb4",
    "SET autocommit = 0",
    "USE no_such_db",
    "SELECT * FROM no_such_table",
    "SELECT 1; SELECT 2",
    "DO 1",
    "SHOW DATABASES",
    "SELECT GET_LOCK('x', 0)",
    "/* rwproxy:primary */ SELECT 1",
    "WITH t AS (SELECT 1) SELECT * FROM t",
    "SELECT 'unterminated",
];

/// Command bytes with a random body: every command the proxy decodes, and a few it doesn't.
const COMMANDS: &[u8] = &[
    0x01, 0x02, 0x03, 0x04, 0x09, 0x0d, 0x0e, 0x11, 0x12, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c,
    0x1f, 0x20, 0xfa, 0xff,
];

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (
            prop::sample::select(STATEMENTS),
            prop::sample::select(&[0x03u8, 0x16][..]),
            prop::option::of(0usize..40),
        )
            .prop_map(|(sql, com, cut)| {
                let mut p = vec![com];
                p.extend_from_slice(sql.as_bytes());
                if let Some(n) = cut {
                    p.truncate(1 + n.min(sql.len()));
                }
                p
            }),
        (prop::sample::select(COMMANDS), vec(any::<u8>(), 0..24)).prop_map(|(c, body)| [
            &[c][..],
            &body
        ]
        .concat()),
        vec(any::<u8>(), 0..48).prop_map(|mut p| {
            // Never COM_SHUTDOWN or COM_PROCESS_KILL.
            if let Some(c @ (0x08 | 0x0c)) = p.first_mut() {
                *c = 0x0e;
            }
            p
        }),
    ]
}

fn piece() -> impl Strategy<Value = Piece> {
    let seq = prop_oneof![4 => Just(Seq::Right), 1 => any::<u8>().prop_map(Seq::Any)];
    prop_oneof![
        6 => (seq, payload()).prop_map(|(s, p)| Piece::Packet(s, p)),
        1 => (1u32..0xff_ffff, vec(any::<u8>(), 0..16)).prop_map(|(n, p)| Piece::Truncated(n, p)),
        1 => vec(any::<u8>(), 1..64).prop_map(Piece::Raw),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (any::<bool>(), vec(piece(), 1..6), any::<bool>()).prop_map(|(login, pieces, half_close)| {
        Case {
            login,
            pieces,
            half_close,
        }
    })
}

/// The bytes a case sends after the greeting (and after the login, if it logs in).
fn wire(case: &Case) -> Vec<u8> {
    let right = if case.login { 0 } else { 1 };
    let mut out = Vec::new();
    for p in &case.pieces {
        match p {
            Piece::Packet(seq, payload) => {
                let s = match seq {
                    Seq::Right => right,
                    Seq::Any(s) => *s,
                };
                out.extend_from_slice(&(payload.len() as u32).to_le_bytes()[..3]);
                out.push(s);
                out.extend_from_slice(payload);
            }
            Piece::Truncated(claimed, payload) => {
                let claimed = (*claimed).max(payload.len() as u32 + 1);
                out.extend_from_slice(&claimed.to_le_bytes()[..3]);
                out.push(right);
                out.extend_from_slice(payload);
            }
            Piece::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }
    out
}

/// Logs in as app/app with mysql_native_password over a raw socket.
async fn raw_login(port: u16) -> Result<TcpStream, String> {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let mut c = PacketConn::new(tcp);
    let g = c.read_packet(0, 1 << 16).await.map_err(|e| e.to_string())?;
    let g = Greeting::parse(&g.payload).map_err(|e| e.to_string())?;
    let token = BackendCredential::from_password("app").token(NATIVE, &g.scramble);
    let resp = HandshakeResponse {
        capabilities: CLIENT_PROTOCOL_41
            | CLIENT_SECURE_CONNECTION
            | CLIENT_PLUGIN_AUTH
            | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
            | CLIENT_LONG_PASSWORD
            | CLIENT_TRANSACTIONS
            | CLIENT_MULTI_STATEMENTS
            | CLIENT_MULTI_RESULTS
            | CLIENT_DEPRECATE_EOF,
        max_packet: 1 << 24,
        charset: 45,
        user: "app".into(),
        auth_response: token.unwrap_or_default(),
        auth_plugin: NATIVE.into(),
        ..Default::default()
    };
    c.write_packet(1, &resp.encode());
    c.flush().await.map_err(|e| e.to_string())?;
    let ok = c.read_packet(2, 1 << 16).await.map_err(|e| e.to_string())?;
    if ok.payload.first() != Some(&0x00) {
        return Err(format!("login refused: {:?}", ok.payload));
    }
    Ok(c.into_parts().0)
}

/// Runs one case on the proxy at `port`: what the proxy sent back, and whether it closed.
async fn run_case(port: u16, case: &Case) -> Result<(Vec<u8>, bool), TestCaseError> {
    let mut tcp = if case.login {
        raw_login(port).await.map_err(TestCaseError::fail)?
    } else {
        let mut tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(fail)?;
        let mut h = [0u8; 4];
        tcp.read_exact(&mut h).await.map_err(fail)?;
        let mut g = vec![0u8; u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize];
        tcp.read_exact(&mut g).await.map_err(fail)?;
        tcp
    };
    // The proxy may hang up half-way: a failed write is an answer, not a failure.
    let _ = tcp.write_all(&wire(case)).await;
    if case.half_close {
        let _ = tcp.shutdown().await;
    }
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match tokio::time::timeout(IDLE, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Ok((got, true)),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return Ok((got, false)),
        }
        prop_assert!(
            got.len() < 4 << 20,
            "more than 4 MiB in reply to {} bytes",
            wire(case).len()
        );
    }
}

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// What a proxy sent back is whole packets (when it closed) and its ERRs are well formed.
fn check_reply(got: &[u8], closed: bool) -> Result<(), TestCaseError> {
    let mut rest = got;
    while rest.len() >= 4 {
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], 0]) as usize;
        if rest.len() < 4 + len {
            break;
        }
        let p = &rest[4..4 + len];
        if p.first() == Some(&0xff) && len > 3 {
            prop_assert!(len >= 9 && p[3] == b'#', "ERR without SQLSTATE: {p:?}");
        }
        rest = &rest[4 + len..];
    }
    if closed {
        prop_assert!(
            rest.is_empty(),
            "closed mid-packet: {} bytes left",
            rest.len()
        );
    }
    Ok(())
}

/// A fresh client logs in and gets the right answer.
async fn serves(port: u16, n: i64) -> Result<(), TestCaseError> {
    let mut c = mysql_async::Conn::new(opts(port)).await.map_err(fail)?;
    let got: Option<i64> = c.exec_first("SELECT ? + 1", (n,)).await.map_err(fail)?;
    prop_assert_eq!(got, Some(n + 1));
    c.disconnect().await.map_err(fail)?;
    Ok(())
}

fn opts(port: u16) -> mysql_async::OptsBuilder {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("app"))
        .pass(Some("app"))
        .prefer_socket(false)
}

/// A well-behaved client: queries with known answers until `stop`, reconnecting every 25.
async fn steady(port: u16, stop: Arc<AtomicBool>) -> Result<u64, String> {
    let mut done = 0u64;
    let mut c = mysql_async::Conn::new(opts(port))
        .await
        .map_err(|e| e.to_string())?;
    while !stop.load(Ordering::Relaxed) {
        let n = done as i64;
        let got: Option<(i64, String)> = c
            .exec_first("SELECT ? * 2, CONCAT('r', ?)", (n, n))
            .await
            .map_err(|e| format!("query {done}: {e}"))?;
        if got != Some((n * 2, format!("r{n}"))) {
            return Err(format!("query {done}: wrong answer {got:?}"));
        }
        done += 1;
        if done % 25 == 0 {
            c.disconnect().await.map_err(|e| e.to_string())?;
            c = mysql_async::Conn::new(opts(port))
                .await
                .map_err(|e| format!("reconnect: {e}"))?;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    c.disconnect().await.map_err(|e| e.to_string())?;
    Ok(done)
}

#[test]
fn random_bytes_and_packets_never_break_a_live_proxy() {
    count_library_panics();
    let shared = env().proxy_port;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let settings = "[proxy]\nmax_allowed_packet = 1048576\nhandshake_timeout_ms = 2000\n";
    let inproc = rt.block_on(inproc_proxy(|t| t.replacen("[proxy]\n", settings, 1)));
    let ports = [inproc.port, shared];
    let stop = Arc::new(AtomicBool::new(false));
    let steadies: Vec<_> = ports
        .iter()
        .map(|&p| rt.spawn(steady(p, stop.clone())))
        .collect();

    let config = Config {
        cases: 64,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let count = std::sync::atomic::AtomicI64::new(0);
    let outcome = runner.run(&case(), |case| {
        let n = count.fetch_add(1, Ordering::Relaxed) + 1;
        rt.block_on(async {
            let (a, b) = tokio::join!(run_case(ports[0], &case), run_case(ports[1], &case));
            for (got, closed) in [a?, b?] {
                check_reply(&got, closed)?;
            }
            for port in ports {
                serves(port, n).await?;
            }
            Ok(())
        })
    });
    stop.store(true, Ordering::Relaxed);
    for (s, port) in steadies.into_iter().zip(ports) {
        let done = rt.block_on(s).expect("steady client task");
        let done = done.unwrap_or_else(|e| panic!("well-behaved client on {port} failed: {e}"));
        assert!(done > 0, "the well-behaved client on {port} ran no query");
        eprintln!("well-behaved client on port {port}: {done} correct answers");
    }
    if let Err(e) = outcome {
        panic!("{e}");
    }
    assert_eq!(
        LIBRARY_PANICS.load(Ordering::SeqCst),
        0,
        "the library panicked (see stderr)"
    );
    // The binary is still the one the harness started.
    let alive = unsafe { libc::kill(proxy_pid() as libc::pid_t, 0) } == 0;
    assert!(alive, "the proxy binary died");
    drop(inproc);
    rt.shutdown_timeout(Duration::from_secs(5));
}
