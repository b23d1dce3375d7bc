//! A backend connection's socket: plain TCP, or TLS after the SSL request when
//! `[proxy] backend_tls` asks for it.

/// A backend socket.
pub type BackendStream =
    crate::protocol::stream::MaybeTls<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;
