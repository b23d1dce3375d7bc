//! Packet framing as a client's bytes reach it: `PacketConn::read_packet` over a stream
//! that hands the input out in fuzzer-chosen chunk sizes (so headers and payloads split
//! anywhere), with a fuzzer-chosen first sequence id and size limit. Checks that every
//! outcome is a packet within the limit or a clean error, never a panic or a hang, and
//! that what `write_packet` frames reads back unchanged.
//!
//! Input: byte 0 = chunk size (1..=256), byte 1 = first sequence id, byte 2 = size limit
//! selector, byte 3 bit 0 = restart sequence ids at 0 per packet (as the session does)
//! or continue them; the rest is the byte stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rwproxy::protocol::{PacketConn, ProtocolError};
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An in-memory stream: reads hand out `input` `chunk` bytes at a time, writes are kept.
struct Mem<'a> {
    input: &'a [u8],
    chunk: usize,
    written: Vec<u8>,
}

impl AsyncRead for Mem<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.chunk.min(self.input.len()).min(buf.remaining());
        let (now, rest) = self.input.split_at(n);
        buf.put_slice(now);
        self.input = rest;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Mem<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs a future over the in-memory stream, which never blocks: it must finish in one poll.
fn now<T>(f: impl Future<Output = T>) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("framing waited on a stream that never blocks"),
    }
}

fuzz_target!(|data: &[u8]| {
    let [chunk, seq, limit, flags, stream @ ..] = data else {
        return;
    };
    let max = match limit % 4 {
        0 => 0,
        1 => 16,
        2 => 1024,
        _ => 1 << 20,
    };
    let mut conn = PacketConn::new(Mem {
        input: stream,
        chunk: usize::from(*chunk) + 1,
        written: Vec::new(),
    });
    let mut expect = *seq;
    // Each packet takes at least its 4-byte header, so this bounds the loop.
    for _ in 0..=stream.len() / 4 {
        match now(conn.read_packet(expect, max)) {
            Ok(p) => {
                assert!(p.payload.len() <= max, "payload over the limit");
                expect = if flags & 1 == 0 {
                    0
                } else {
                    p.seq.wrapping_add(1)
                };
            }
            // The oversize packet was consumed: the stream is still in step.
            Err(ProtocolError::TooLarge { size, max: m }) => assert!(size > m),
            Err(_) => break,
        }
    }

    // Whatever is framed reads back as the same payload and sequence ids.
    let mut w = PacketConn::new(Mem {
        input: &[],
        chunk: 1,
        written: Vec::new(),
    });
    let next = w.write_packet(*seq, stream);
    assert_eq!(next, seq.wrapping_add(1), "short payloads take one id");
    now(w.flush()).expect("in-memory flush");
    let (mem, _) = w.into_parts();
    let mut r = PacketConn::new(Mem {
        input: &mem.written,
        chunk: usize::from(*chunk) + 1,
        written: Vec::new(),
    });
    let p = now(r.read_packet(*seq, usize::MAX)).expect("framed packet reads back");
    assert_eq!(&p.payload[..], stream);
    assert_eq!(p.seq, *seq);
});
