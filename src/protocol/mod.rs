//! The MySQL client/server protocol as the proxy needs it: packet framing, the handshake
//! and authentication (both as a server to clients and as a client to backends), command
//! decoding, and walking responses just far enough to know where they end and what state
//! they leave. Knows nothing of routing.

pub mod auth;
pub mod columns;
pub mod command;
pub mod constants;
pub mod deadline;
pub mod ed25519;
pub mod handshake;
pub mod packet;
pub mod packets;
pub mod response;
pub mod resultset;
pub mod session_track;
pub mod stream;
pub mod wire;

pub use packet::PacketConn;

/// What can go wrong on the wire.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection.
    #[error("connection closed by peer")]
    Closed,
    /// A packet arrived with the wrong sequence id.
    #[error("packets out of order: expected sequence id {expected}, got {got}")]
    OutOfOrder {
        /// The id the protocol requires next.
        expected: u8,
        /// The id the peer sent.
        got: u8,
    },
    /// A logical packet exceeded the configured maximum.
    #[error("got a packet bigger than 'max_allowed_packet' bytes ({size} > {max})")]
    TooLarge {
        /// Bytes seen so far.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A packet did not have the expected shape.
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    /// The peer sent nothing for longer than allowed (a hung server).
    #[error("no data from the peer for {ms} ms (backend_read_timeout_ms)")]
    TimedOut {
        /// The limit that expired.
        ms: u64,
    },
    /// The peer took none of what was being sent for longer than allowed (a hung
    /// server with full socket buffers).
    #[error("the peer took no data for {ms} ms (backend_read_timeout_ms)")]
    SendTimedOut {
        /// The limit that expired.
        ms: u64,
    },
}

impl ProtocolError {
    /// True when the connection can no longer be used (as opposed to one bad packet).
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self,
            ProtocolError::Io(_)
                | ProtocolError::Closed
                | ProtocolError::TimedOut { .. }
                | ProtocolError::SendTimedOut { .. }
        )
    }
}
