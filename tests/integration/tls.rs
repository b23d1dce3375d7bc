//! TLS between clients and the proxy: a client that asks for TLS gets it (rustls, cert
//! and key from `[proxy]`), and `require_tls` refuses plaintext clients with a clear error.

use crate::harness::inproc_proxy;
use mysql_async::prelude::*;

fn write_cert(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("cert");
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).expect("write cert");
    std::fs::write(&k, cert.signing_key.serialize_pem()).expect("write key");
    (c, k)
}

fn opts(port: u16, tls: bool) -> mysql_async::Opts {
    let mut b = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("app"))
        .pass(Some("app"))
        .prefer_socket(false);
    if tls {
        b = b.ssl_opts(Some(
            mysql_async::SslOpts::default().with_danger_accept_invalid_certs(true),
        ));
    }
    b.into()
}

#[tokio::test]
async fn tls_is_offered_and_can_be_required() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_cert(dir.path());
    let settings = format!(
        "[proxy]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let offered = inproc_proxy(|t| t.replacen("[proxy]\n", &settings, 1)).await;

    let mut c = mysql_async::Conn::new(opts(offered.port, true))
        .await
        .expect("TLS login");
    let one: i64 = c.query_first("SELECT 1").await.unwrap().unwrap();
    assert_eq!(one, 1);
    c.disconnect().await.unwrap();
    let mut plain = mysql_async::Conn::new(opts(offered.port, false))
        .await
        .expect("plaintext still allowed");
    plain.ping().await.unwrap();
    plain.disconnect().await.unwrap();

    let required = format!("{settings}require_tls = true\n");
    let strict = inproc_proxy(|t| t.replacen("[proxy]\n", &required, 1)).await;
    let mut c = mysql_async::Conn::new(opts(strict.port, true))
        .await
        .expect("TLS login");
    c.ping().await.unwrap();
    c.disconnect().await.unwrap();
    match mysql_async::Conn::new(opts(strict.port, false)).await {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!(e.code, 3159, "{e:?}");
            assert!(e.message.contains("require_tls"), "{}", e.message);
        }
        other => panic!(
            "plaintext client must be refused, got {:?}",
            other.map(|_| ())
        ),
    }
}
