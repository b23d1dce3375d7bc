//! The client's socket: plain TCP, or TLS after the client's SSL request.

/// A client connection.
pub type ClientStream =
    crate::protocol::stream::MaybeTls<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>;
