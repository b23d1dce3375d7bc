//! Packet framing: a 3-byte length and a 1-byte sequence id before every payload;
//! payloads of 16 MiB - 1 or more are split, and one that is an exact multiple of
//! 16 MiB - 1 ends with an empty packet.
//!
//! [`PacketConn`] owns one reused read buffer and one write buffer per connection. It
//! reads logical packets (joined, size-limited, sequence-checked) for requests and the
//! handshake, and exposes its buffered physical packets so responses can be relayed as
//! raw bytes without copying them into packets first.

use super::constants::MAX_PAYLOAD;
use super::deadline::Watch;
use super::ProtocolError;
use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A logical packet: its payload and the sequence id of its last physical piece.
#[derive(Debug)]
pub struct Packet {
    /// The joined payload.
    pub payload: BytesMut,
    /// Sequence id of the last physical packet it arrived in.
    pub seq: u8,
}

/// A framed, buffered connection.
#[derive(Debug)]
pub struct PacketConn<S> {
    stream: S,
    rbuf: BytesMut,
    wbuf: BytesMut,
}

/// Length and sequence id of the physical packet at the front of `buf`, if its header
/// has arrived.
pub fn header(buf: &[u8]) -> Option<(usize, u8)> {
    if buf.len() < 4 {
        return None;
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], 0]) as usize;
    Some((len, buf[3]))
}

impl<S: AsyncRead + AsyncWrite + Unpin> PacketConn<S> {
    /// Wraps a connected stream.
    pub fn new(stream: S) -> Self {
        PacketConn {
            stream,
            rbuf: BytesMut::with_capacity(8 * 1024),
            wbuf: BytesMut::with_capacity(8 * 1024),
        }
    }

    /// The underlying stream (for TLS upgrade or shutdown); buffered bytes stay here.
    pub fn into_parts(self) -> (S, BytesMut) {
        (self.stream, self.rbuf)
    }

    /// The underlying stream.
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// The underlying stream, mutably.
    pub fn stream_ref(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Bytes read but not yet consumed.
    pub fn read_buf(&mut self) -> &mut BytesMut {
        &mut self.rbuf
    }

    /// Number of bytes read but not yet consumed.
    pub fn buffered(&self) -> usize {
        self.rbuf.len()
    }

    /// Reads more bytes from the socket into the read buffer.
    pub async fn fill(&mut self) -> Result<(), ProtocolError> {
        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
            self.rbuf.reserve(16 * 1024);
        }
        let n = self.stream.read_buf(&mut self.rbuf).await?;
        if n == 0 {
            return Err(if self.rbuf.is_empty() {
                ProtocolError::Closed
            } else {
                ProtocolError::Io(std::io::ErrorKind::UnexpectedEof.into())
            });
        }
        Ok(())
    }

    /// Makes sure the whole physical packet at the front of the buffer is there and
    /// returns its length and sequence id.
    pub async fn fill_packet(&mut self) -> Result<(usize, u8), ProtocolError> {
        loop {
            if let Some((len, seq)) = header(&self.rbuf) {
                if self.rbuf.len() >= 4 + len {
                    return Ok((len, seq));
                }
                self.rbuf.reserve(4 + len - self.rbuf.len());
            }
            self.fill().await?;
        }
    }

    /// Like [`fill_packet`](Self::fill_packet), but each wait for more bytes is bounded
    /// by `watch` (None: no bound); then it fails with [`ProtocolError::TimedOut`].
    pub async fn fill_packet_within(
        &mut self,
        watch: Option<&Watch>,
    ) -> Result<(usize, u8), ProtocolError> {
        let Some(watch) = watch else {
            return self.fill_packet().await;
        };
        let ms = watch.limit_ms();
        loop {
            if let Some((len, seq)) = header(&self.rbuf) {
                if self.rbuf.len() >= 4 + len {
                    return Ok((len, seq));
                }
                self.rbuf.reserve(4 + len - self.rbuf.len());
            }
            watch
                .bound(self.fill(), ProtocolError::TimedOut { ms })
                .await?;
        }
    }

    /// Reads one logical packet whose first piece must carry `seq`. Payloads over `max`
    /// are read to their end and discarded, then reported as [`ProtocolError::TooLarge`],
    /// so the connection stays in step and can answer with an error.
    pub async fn read_packet(&mut self, seq: u8, max: usize) -> Result<Packet, ProtocolError> {
        let mut expected = seq;
        let mut payload = BytesMut::new();
        let mut size = 0usize;
        loop {
            let (len, got) = self.fill_packet().await?;
            if got != expected {
                return Err(ProtocolError::OutOfOrder { expected, got });
            }
            size += len;
            if size <= max {
                if payload.is_empty() && len < MAX_PAYLOAD {
                    self.rbuf.advance(4);
                    payload = self.rbuf.split_to(len);
                } else {
                    payload.extend_from_slice(&self.rbuf[4..4 + len]);
                    self.rbuf.advance(4 + len);
                }
            } else {
                self.rbuf.advance(4 + len);
            }
            if len < MAX_PAYLOAD {
                if size > max {
                    return Err(ProtocolError::TooLarge { size, max });
                }
                return Ok(Packet { payload, seq: got });
            }
            expected = expected.wrapping_add(1);
        }
    }

    /// Queues `payload` as one logical packet starting at `seq`; returns the sequence id
    /// that follows it. Nothing is sent until [`flush`](Self::flush).
    pub fn write_packet(&mut self, mut seq: u8, payload: &[u8]) -> u8 {
        let mut rest = payload;
        loop {
            let n = rest.len().min(MAX_PAYLOAD);
            self.wbuf.reserve(4 + n);
            self.wbuf.put_slice(&(n as u32).to_le_bytes()[..3]);
            self.wbuf.put_u8(seq);
            self.wbuf.put_slice(&rest[..n]);
            seq = seq.wrapping_add(1);
            rest = &rest[n..];
            if n < MAX_PAYLOAD {
                return seq;
            }
        }
    }

    /// Queues a logical packet made of `parts` (e.g. a request with a patched field)
    /// without joining them first; returns the next sequence id.
    pub fn write_packet_parts(&mut self, seq: u8, parts: &[&[u8]]) -> u8 {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total >= MAX_PAYLOAD {
            return self.write_packet(seq, &parts.concat());
        }
        self.wbuf.reserve(4 + total);
        self.wbuf.put_slice(&(total as u32).to_le_bytes()[..3]);
        self.wbuf.put_u8(seq);
        for p in parts {
            self.wbuf.put_slice(p);
        }
        seq.wrapping_add(1)
    }

    /// Bytes queued and not yet sent.
    pub fn write_buf_len(&self) -> usize {
        self.wbuf.len()
    }

    /// Queues bytes that are already framed.
    pub fn write_raw(&mut self, framed: &[u8]) {
        self.wbuf.extend_from_slice(framed);
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> Result<(), ProtocolError> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
        }
        self.stream.flush().await?;
        Ok(())
    }

    /// [`flush`](Self::flush), the whole of it bounded by `watch` as one wait (None: no
    /// bound), so a peer that stops reading (a hung server) cannot hold the caller once
    /// the socket buffers are full; then it fails with [`ProtocolError::SendTimedOut`].
    /// After a timeout the stream may be mid-packet: drop the connection.
    pub async fn flush_within(&mut self, watch: Option<&Watch>) -> Result<(), ProtocolError> {
        let Some(watch) = watch else {
            return self.flush().await;
        };
        let ms = watch.limit_ms();
        watch
            .bound(self.flush(), ProtocolError::SendTimedOut { ms })
            .await
    }

    /// Sends framed bytes directly, after anything queued (one syscall when nothing is).
    pub async fn send_raw(&mut self, framed: &[u8]) -> Result<(), ProtocolError> {
        if !self.wbuf.is_empty() {
            self.wbuf.extend_from_slice(framed);
            return self.flush().await;
        }
        self.stream.write_all(framed).await?;
        Ok(())
    }

    /// Closes the write side.
    pub async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn round_trip(len: usize) -> (usize, usize) {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let mut w = PacketConn::new(a);
        let mut r = PacketConn::new(b);
        let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let writer = tokio::spawn(async move {
            let next = w.write_packet(0, &data);
            w.flush().await.unwrap();
            next
        });
        let p = r.read_packet(0, usize::MAX).await.unwrap();
        let next = writer.await.unwrap();
        assert!(p.payload.iter().enumerate().all(|(i, &b)| b == i as u8));
        (p.payload.len(), next as usize)
    }

    #[tokio::test]
    async fn splits_and_joins_16mib_packets() {
        assert_eq!(round_trip(0).await, (0, 1));
        assert_eq!(round_trip(10).await, (10, 1));
        // Exactly 16 MiB - 1 needs a trailing empty packet: two sequence ids.
        assert_eq!(round_trip(MAX_PAYLOAD).await, (MAX_PAYLOAD, 2));
        assert_eq!(round_trip(MAX_PAYLOAD + 5).await, (MAX_PAYLOAD + 5, 2));
        assert_eq!(round_trip(2 * MAX_PAYLOAD).await, (2 * MAX_PAYLOAD, 3));
    }

    #[tokio::test]
    async fn wrong_sequence_and_oversize_are_errors() {
        let (a, b) = tokio::io::duplex(1024);
        let mut w = PacketConn::new(a);
        let mut r = PacketConn::new(b);
        w.write_packet(3, b"hi");
        w.flush().await.unwrap();
        assert!(matches!(
            r.read_packet(0, 1000).await,
            Err(ProtocolError::OutOfOrder {
                expected: 0,
                got: 3
            })
        ));
        let (a, b) = tokio::io::duplex(1024);
        let mut w = PacketConn::new(a);
        let mut r = PacketConn::new(b);
        w.write_packet(0, &[7u8; 100]);
        w.write_packet(0, b"ok");
        w.flush().await.unwrap();
        assert!(matches!(
            r.read_packet(0, 50).await,
            Err(ProtocolError::TooLarge { .. })
        ));
        // The stream is still in step after an oversize packet.
        assert_eq!(&r.read_packet(0, 50).await.unwrap().payload[..], b"ok");
        drop(w);
        assert!(matches!(
            r.read_packet(0, 50).await,
            Err(ProtocolError::Closed)
        ));
    }

    #[tokio::test]
    async fn a_silent_peer_times_out_but_a_slow_one_does_not() {
        let (a, b) = tokio::io::duplex(1024);
        let mut w = PacketConn::new(a);
        let mut r = PacketConn::new(b);
        let dog = std::sync::Arc::new(super::super::deadline::Watchdog::default());
        let ticking = tokio::spawn(dog.clone().run());
        let watch = dog.watch(Duration::from_millis(1000));
        // Half a packet now, the rest a little later: each wait is under the limit.
        let writer = tokio::spawn(async move {
            w.write_raw(&[4, 0, 0, 0, b'a', b'b']);
            w.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            w.write_raw(b"cd");
            w.flush().await.unwrap();
            w
        });
        assert_eq!(r.fill_packet_within(Some(&watch)).await.unwrap(), (4, 0));
        let _w = writer.await.unwrap();
        r.read_buf().advance(8);
        // Then nothing at all: the limit expires.
        let start = std::time::Instant::now();
        assert!(matches!(
            r.fill_packet_within(Some(&watch)).await,
            Err(ProtocolError::TimedOut { ms: 1000 })
        ));
        // Never early; late by at most two ticks (and this machine's scheduling).
        assert!(start.elapsed() >= Duration::from_millis(1000));
        ticking.abort();
    }
}
