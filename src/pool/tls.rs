//! TLS toward the backends (`[proxy] backend_tls`): the rustls client config built once
//! from the settings, the name each backend's certificate must carry, and the upgrade of
//! a fresh TCP connection after the SSL request packet.
//!
//! "on" encrypts without checking the certificate (the handshake signature is still
//! checked, so the session key belongs to whoever holds the presented key); "verify"
//! checks the chain against the configured CA (or the web PKI roots) and the name.
//! Neither ever falls back to plaintext: a server that does not offer TLS is refused.

use super::stream::BackendStream;
use crate::config::{BackendTlsMode, BackendTlsSettings};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Why backend TLS could not be set up or established.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file could not be read or holds no usable certificate.
    #[error("[proxy] backend_tls_ca {path}: {reason}")]
    Ca {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the settings.
    #[error("backend TLS settings: {0}")]
    Config(String),
    /// The backend's host cannot be a certificate name.
    #[error("'{0}' cannot be checked as a certificate name; set [proxy] backend_tls_server_name")]
    BadName(String),
    /// The backend did not offer TLS (no CLIENT_SSL in its greeting).
    #[error("the server does not offer TLS (no CLIENT_SSL in its greeting), and [proxy] backend_tls = \"{0}\" forbids plaintext")]
    NotOffered(&'static str),
    /// The TLS handshake failed (certificate refused, protocol error).
    #[error("TLS handshake failed: {0}")]
    Handshake(std::io::Error),
}

/// Backend TLS, ready to use: built once per config, shared by every connect.
pub struct BackendTls {
    connector: TlsConnector,
    server_name: Option<ServerName<'static>>,
    mode: BackendTlsMode,
}

impl std::fmt::Debug for BackendTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendTls")
            .field("mode", &self.mode)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl BackendTls {
    /// Builds it from the settings; `None` when `backend_tls = "off"`.
    pub fn from_settings(s: &BackendTlsSettings) -> Result<Option<Arc<BackendTls>>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let config = match s.mode {
            BackendTlsMode::Off => return Ok(None),
            BackendTlsMode::On => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(
                    provider.signature_verification_algorithms,
                )))
                .with_no_client_auth(),
            BackendTlsMode::Verify => builder
                .with_root_certificates(roots(s.ca.as_deref())?)
                .with_no_client_auth(),
        };
        let server_name = match &s.server_name {
            Some(n) => {
                Some(ServerName::try_from(n.clone()).map_err(|_| TlsError::BadName(n.clone()))?)
            }
            None => None,
        };
        Ok(Some(Arc::new(BackendTls {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
            mode: s.mode,
        })))
    }

    /// The mode's name as written in the config.
    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            BackendTlsMode::Off => "off",
            BackendTlsMode::On => "on",
            BackendTlsMode::Verify => "verify",
        }
    }

    /// The name the certificate of the backend at `address` (`host:port`) must carry.
    pub fn server_name(&self, address: &str) -> Result<ServerName<'static>, TlsError> {
        if let Some(n) = &self.server_name {
            return Ok(n.clone());
        }
        let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        ServerName::try_from(host.to_string()).map_err(|_| TlsError::BadName(host.into()))
    }

    /// Runs the TLS handshake on `tcp` (after the SSL request was sent on it).
    pub async fn upgrade(&self, tcp: TcpStream, address: &str) -> Result<BackendStream, TlsError> {
        let name = self.server_name(address)?;
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(TlsError::Handshake)?;
        Ok(BackendStream::Tls(Box::new(tls)))
    }
}

/// The trust anchors for "verify": the CA file's certificates, or the web PKI roots.
fn roots(ca: Option<&Path>) -> Result<rustls::RootCertStore, TlsError> {
    let mut store = rustls::RootCertStore::empty();
    let Some(path) = ca else {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(store);
    };
    let bad = |reason: String| TlsError::Ca {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("bad certificate PEM: {e}")))?;
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(bad("no usable CA certificate found".into()));
    }
    Ok(store)
}

/// `backend_tls = "on"`: any certificate is accepted, but the handshake signatures are
/// verified as usual.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn settings(
        mode: BackendTlsMode,
        ca: Option<PathBuf>,
        name: Option<&str>,
    ) -> BackendTlsSettings {
        BackendTlsSettings {
            mode,
            ca,
            server_name: name.map(str::to_string),
        }
    }

    #[test]
    fn off_builds_nothing_and_names_come_from_the_address() {
        let off = BackendTls::from_settings(&settings(BackendTlsMode::Off, None, None)).unwrap();
        assert!(off.is_none());
        let on = BackendTls::from_settings(&settings(BackendTlsMode::On, None, None))
            .unwrap()
            .unwrap();
        let ip = on.server_name("127.0.0.1:3306").unwrap();
        assert!(matches!(ip, ServerName::IpAddress(_)), "{ip:?}");
        let v6 = on.server_name("[::1]:3306").unwrap();
        assert!(matches!(v6, ServerName::IpAddress(_)), "{v6:?}");
        let dns = on.server_name("db1.example.com:3306").unwrap();
        assert_eq!(dns.to_str(), "db1.example.com");
        let fixed = BackendTls::from_settings(&settings(BackendTlsMode::Verify, None, Some("db")))
            .unwrap()
            .unwrap();
        assert_eq!(fixed.server_name("10.0.0.1:3306").unwrap().to_str(), "db");
    }

    #[test]
    fn a_bad_ca_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = BackendTls::from_settings(&settings(BackendTlsMode::Verify, Some(missing), None))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("backend_tls_ca") && e.contains("missing.pem"),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = BackendTls::from_settings(&settings(BackendTlsMode::Verify, Some(empty), None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no usable CA certificate"), "{e}");
    }
}
