//! Is an idle pooled connection still open? A server closes connections that sat idle
//! past its `wait_timeout` (MySQL 8 first sends an ERR, MariaDB just closes), and a
//! restarted server leaves every old connection dead. A client must never be handed
//! such a connection, so one unused for a while is checked before reuse.
//!
//! The check is one non-blocking `recv(MSG_PEEK)` on the socket: an idle connection
//! has nothing to read, so "would block" means alive; end of file, unsolicited bytes
//! (the ERR) or a socket error mean dead. It asks the kernel directly, not tokio's
//! cached readiness, so a close that arrived a moment ago is seen.

use super::BackendConn;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

/// Connections idle for less than this are reused unchecked: a server's
/// `wait_timeout` is whole seconds, and a check on every checkout would cost a syscall
/// on the hottest reuse path.
pub const CHECK_AFTER: Duration = Duration::from_secs(1);

/// True unless `conn` sat idle at least [`CHECK_AFTER`] and its socket shows that the
/// server closed it (or wrote to it unasked).
pub fn usable(conn: &BackendConn, now: Instant) -> bool {
    if now.saturating_duration_since(conn.last_used) < CHECK_AFTER {
        return true;
    }
    // Bytes the proxy already read but nobody asked for: out of step.
    conn.conn.buffered() == 0 && socket_open(conn.conn.stream().tcp())
}

/// True when the socket has nothing to read and no error: the peer is still there.
fn socket_open(stream: &tokio::net::TcpStream) -> bool {
    let sock = socket2::SockRef::from(stream);
    let mut byte = [MaybeUninit::<u8>::uninit(); 1];
    // tokio sockets are non-blocking, so this never waits.
    match sock.peek(&mut byte) {
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
        // 0: end of file; > 0: something the server sent unasked (its ERR before closing).
        Ok(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    /// A connected pair; `socket_open` is tested on the client side.
    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (c, s) = tokio::join!(TcpStream::connect(addr), l.accept());
        (c.unwrap(), s.unwrap().0)
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    #[tokio::test]
    async fn sees_a_close_and_unsolicited_bytes_but_not_silence() {
        let (c, s) = pair().await;
        assert!(socket_open(&c), "a silent peer is alive");
        drop(s);
        settle().await;
        assert!(!socket_open(&c), "a closed peer is dead");

        let (c, mut s) = pair().await;
        s.write_all(&[9, 0, 0, 0, 0xff]).await.unwrap();
        settle().await;
        assert!(!socket_open(&c), "an ERR sent unasked means dead");
        // Peeking consumed nothing; asking again gives the same answer.
        assert!(!socket_open(&c));
    }
}
