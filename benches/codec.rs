//! Packet codec benchmarks: the per-query hot path of the proxy without any sockets.
//!
//! - `framing`: [`PacketConn::write_packet`] + `flush` + [`PacketConn::read_packet`] of
//!   one logical packet (100 B, 16 KiB, and 16 MiB + 100 B, which splits into a full
//!   0xFFFFFF-byte piece and a short one) through an in-memory loopback stream, so the
//!   numbers are framing and copying, not the kernel.
//! - `response_walk`: [`ResponseWalker::feed`] over a hand-built 100-row result set, both
//!   the classic shape (EOF after the column definitions and at the end) and the
//!   CLIENT_DEPRECATE_EOF shape (no metadata EOF, an OK with a 0xFE header at the end).
//! - `command_decode`: [`Command::decode`] of the requests a proxy sees most.
//! - `relay_fill`: draining that result set's bytes the way `forward` does
//!   ([`PacketConn::fill_packet_within`], 8 KiB reads), with no read limit and with
//!   `backend_read_timeout_ms` = 30000; `ready` never waits (no timer is armed),
//!   `waits` makes every read wait once (a timer per read: the worst case).
//!
//! Run with `cargo bench --bench codec` (`-- --quick` for a fast pass).

use bytes::{Buf, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rwproxy::protocol::command::Command;
use rwproxy::protocol::constants::caps::{CLIENT_DEPRECATE_EOF, CLIENT_PROTOCOL_41};
use rwproxy::protocol::constants::MAX_PAYLOAD;
use rwproxy::protocol::response::{ResponseKind, ResponseWalker, Step};
use rwproxy::protocol::PacketConn;
use std::hint::black_box;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Status flags in the benchmark's terminators: SERVER_STATUS_AUTOCOMMIT.
const STATUS_AUTOCOMMIT: u16 = 0x0002;
/// MYSQL_TYPE_LONG and MYSQL_TYPE_VAR_STRING, for the column definitions.
const TYPE_LONG: u8 = 0x03;
const TYPE_VAR_STRING: u8 = 0xfd;
/// Rows in the walked result set.
const ROWS: usize = 100;

/// An in-memory stream that reads back what was written to it. Always ready, so a
/// current-thread runtime drives it without ever parking.
#[derive(Default)]
struct Loopback {
    buf: BytesMut,
}

impl AsyncRead for Loopback {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = out.remaining().min(self.buf.len());
        out.put_slice(&self.buf[..n]);
        self.buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Loopback {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn framing(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("framing");
    for (name, len) in [
        ("100B", 100),
        ("16KiB", 16 * 1024),
        ("16MiB+100B", MAX_PAYLOAD + 1 + 100),
    ] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut conn = PacketConn::new(Loopback::default());
        if len > MAX_PAYLOAD {
            group.sample_size(10);
        }
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("write_read", name), &payload, |b, p| {
            b.iter(|| {
                rt.block_on(async {
                    let next = conn.write_packet(0, black_box(p));
                    conn.flush().await.expect("flush");
                    let packet = conn.read_packet(0, usize::MAX).await.expect("read");
                    assert_eq!(packet.payload.len(), p.len());
                    black_box((packet, next))
                })
            })
        });
    }
    group.finish();
}

/// Appends a length-encoded integer.
fn put_lenenc(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=250 => out.push(n as u8),
        251..=0xffff => {
            out.push(0xfc);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xff_ffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        }
        _ => {
            out.push(0xfe);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// Appends a length-encoded string.
fn put_lenenc_str(out: &mut Vec<u8>, s: &[u8]) {
    put_lenenc(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// A Protocol::ColumnDefinition41 packet for `sbtest.t.<name>`.
fn column_def(name: &str, column_type: u8, length: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(64);
    for part in ["def", "sbtest", "t", "t", name, name] {
        put_lenenc_str(&mut p, part.as_bytes());
    }
    p.push(0x0c); // length of the fixed-size fields that follow
    p.extend_from_slice(&33u16.to_le_bytes()); // utf8mb3_general_ci
    p.extend_from_slice(&length.to_le_bytes());
    p.push(column_type);
    p.extend_from_slice(&0u16.to_le_bytes()); // flags
    p.push(0); // decimals
    p.extend_from_slice(&[0, 0]); // filler
    p
}

/// A classic EOF packet.
fn eof(status: u16) -> Vec<u8> {
    let mut p = vec![0xfe, 0, 0];
    p.extend_from_slice(&status.to_le_bytes());
    p
}

/// The OK that ends a result set under CLIENT_DEPRECATE_EOF (0xFE header).
fn eof_ok(status: u16) -> Vec<u8> {
    let mut p = vec![0xfe, 0, 0];
    p.extend_from_slice(&status.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes()); // warnings
    p
}

/// The payloads of a 3-column, [`ROWS`]-row result set as a server sends them to a
/// client with capabilities `caps`.
fn result_set(caps: u32) -> Vec<Vec<u8>> {
    let deprecate_eof = caps & CLIENT_DEPRECATE_EOF != 0;
    let mut packets = vec![vec![3u8]];
    packets.push(column_def("id", TYPE_LONG, 11));
    packets.push(column_def("k", TYPE_LONG, 11));
    packets.push(column_def("c", TYPE_VAR_STRING, 360));
    if !deprecate_eof {
        packets.push(eof(STATUS_AUTOCOMMIT));
    }
    for i in 0..ROWS {
        let mut row = Vec::with_capacity(140);
        put_lenenc_str(&mut row, i.to_string().as_bytes());
        put_lenenc_str(&mut row, (i * 7919 % 10_000).to_string().as_bytes());
        put_lenenc_str(&mut row, format!("{:0>119}", i * 31).as_bytes());
        packets.push(row);
    }
    packets.push(if deprecate_eof {
        eof_ok(STATUS_AUTOCOMMIT)
    } else {
        eof(STATUS_AUTOCOMMIT)
    });
    packets
}

/// Feeds every packet and checks the walk ends exactly on the last one.
fn walk(caps: u32, packets: &[Vec<u8>]) -> ResponseWalker {
    let mut walker = ResponseWalker::new(ResponseKind::Query, caps);
    let last = packets.len() - 1;
    for (i, p) in packets.iter().enumerate() {
        let step = walker.feed(black_box(p)).expect("well-formed result set");
        debug_assert_eq!(step == Step::Done, i == last);
    }
    walker
}

fn response_walk(c: &mut Criterion) {
    let mut group = c.benchmark_group("response_walk");
    for (name, caps) in [
        ("classic_eof", CLIENT_PROTOCOL_41),
        ("deprecate_eof", CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF),
    ] {
        let packets = result_set(caps);
        // Check the shape once outside the timing loop, in release builds too.
        let w = walk(caps, &packets);
        assert_eq!(w.status, Some(STATUS_AUTOCOMMIT), "{name}");
        group.throughput(Throughput::Elements(ROWS as u64));
        group.bench_with_input(BenchmarkId::new("rows100", name), &packets, |b, p| {
            b.iter(|| black_box(walk(caps, p).status))
        });
    }
    group.finish();
}

fn command_decode(c: &mut Criterion) {
    let select = b"\x03SELECT c FROM sbtest1 WHERE id=5021".to_vec();
    let mut execute = vec![0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 0];
    execute.extend_from_slice(&5021u32.to_le_bytes());
    let cases: [(&str, Vec<u8>); 4] = [
        ("query", select),
        ("stmt_execute", execute),
        ("ping", vec![0x0e]),
        ("unknown", vec![0x12, 0]),
    ];
    let mut group = c.benchmark_group("command_decode");
    for (name, payload) in &cases {
        group.bench_with_input(BenchmarkId::from_parameter(name), payload, |b, p| {
            b.iter(|| black_box(Command::decode(black_box(p))))
        });
    }
    group.finish();
}

/// Reads at most 8 KiB at a time from `bytes`; with `stutter`, each read first returns
/// Pending once (waking itself at once), as a socket whose data is not there yet.
struct Drip {
    bytes: BytesMut,
    stutter: bool,
    waited: bool,
}

impl AsyncRead for Drip {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.stutter && !self.waited {
            self.waited = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.waited = false;
        let n = out.remaining().min(self.bytes.len()).min(8192);
        out.put_slice(&self.bytes[..n]);
        self.bytes.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Drip {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, d: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(d.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn relay_fill(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut wire = Vec::new();
    let set = result_set(CLIENT_PROTOCOL_41);
    let count = set.len();
    for (i, p) in set.iter().enumerate() {
        wire.extend_from_slice(&(p.len() as u32).to_le_bytes()[..3]);
        wire.push(i as u8 + 1);
        wire.extend_from_slice(p);
    }
    let mut group = c.benchmark_group("relay_fill");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    for stutter in [false, true] {
        for (limit_name, limit) in [
            ("no_limit", None),
            ("30s_limit", Some(std::time::Duration::from_secs(30))),
        ] {
            let name = format!("{}/{limit_name}", if stutter { "waits" } else { "ready" });
            // The watchdog does not run: no wait here lasts the limit.
            let dog = rwproxy::protocol::deadline::Watchdog::default();
            let watch = limit.map(|l| dog.watch(l));
            group.bench_function(name, |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let drip = Drip {
                            bytes: BytesMut::from(&wire[..]),
                            stutter,
                            waited: false,
                        };
                        let mut conn = PacketConn::new(drip);
                        let mut packets = 0;
                        while packets < count {
                            let (len, _) = conn
                                .fill_packet_within(watch.as_deref())
                                .await
                                .expect("fill");
                            conn.read_buf().advance(4 + len);
                            packets += 1;
                        }
                        assert_eq!(conn.read_buf().len(), 0);
                        black_box(packets)
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, framing, response_walk, command_decode, relay_fill);
criterion_main!(benches);
