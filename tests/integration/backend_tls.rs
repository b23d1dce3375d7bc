//! TLS between the proxy and the backends (`[proxy] backend_tls`): a MariaDB server
//! started here with a certificate from a CA made at test time, whose `app` and
//! `monitor` accounts `REQUIRE SSL` (so any plaintext login, the pool's or the
//! monitor's, is refused by the server itself). "verify" with the right CA works and the
//! backend session is encrypted; a wrong CA or a wrong name is a clear error; "on" and
//! "verify" never fall back to plaintext with a server that does not offer TLS.

use crate::harness::{inproc_proxy, inproc_proxy_for, node_sql, InProcProxy};
use mysql_async::prelude::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rwproxy::cluster::{Cluster, ClusterSpec};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The name in the server certificate besides `127.0.0.1`.
const CERT_NAME: &str = "db.rwproxy.test";

/// PEM files of a CA and a server certificate it signed, plus an unrelated CA.
struct Pki {
    ca: PathBuf,
    wrong_ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn make_ca(cn: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA cert")
}

fn write_pki(dir: &Path) -> Pki {
    let ca = make_ca("rwproxy test CA");
    let wrong = make_ca("some other CA");
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), CERT_NAME.to_string()]).unwrap();
    let key = KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &ca).expect("server cert");
    let pki = Pki {
        ca: dir.join("ca.pem"),
        wrong_ca: dir.join("wrong-ca.pem"),
        cert: dir.join("server-cert.pem"),
        key: dir.join("server-key.pem"),
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.wrong_ca, wrong.pem()).unwrap();
    std::fs::write(&pki.cert, cert.pem()).unwrap();
    std::fs::write(&pki.key, key.serialize_pem()).unwrap();
    pki
}

/// A one-server "cluster" with TLS on; `app` and `monitor` must use it.
async fn tls_server(dir: &Path, pki: &Pki) -> Cluster {
    let mut spec = ClusterSpec::new(dir.join("tls-cluster"));
    spec.replicas = 0;
    spec.server_options = vec![
        format!("--ssl-ca={}", pki.ca.display()),
        format!("--ssl-cert={}", pki.cert.display()),
        format!("--ssl-key={}", pki.key.display()),
    ];
    let cluster = Cluster::up(&spec).await.expect("TLS server up");
    let name = cluster.primary().name.clone();
    let have_ssl = node_sql(&cluster, &name, "SELECT @@have_ssl");
    assert_eq!(have_ssl.trim(), "YES", "the server did not enable TLS");
    node_sql(
        &cluster,
        &name,
        "ALTER USER 'app'@'%' REQUIRE SSL; ALTER USER 'monitor'@'%' REQUIRE SSL",
    );
    cluster
}

fn settings(mode: &str, ca: Option<&Path>, name: Option<&str>) -> String {
    let mut s = format!("[proxy]\nbackend_tls = \"{mode}\"\n");
    if let Some(ca) = ca {
        s += &format!("backend_tls_ca = \"{}\"\n", ca.display());
    }
    if let Some(name) = name {
        s += &format!("backend_tls_server_name = \"{name}\"\n");
    }
    s
}

async fn proxy_with(cluster: &Cluster, settings: &str) -> InProcProxy {
    inproc_proxy_for(cluster, |t| t.replacen("[proxy]\n", settings, 1)).await
}

fn opts(port: u16) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("app"))
        .pass(Some("app"))
        .prefer_socket(false)
        .into()
}

/// The cipher of the backend session serving this client ("" = plaintext).
async fn backend_cipher(port: u16) -> String {
    let mut c = mysql_async::Conn::new(opts(port))
        .await
        .expect("login through the proxy");
    let one: i64 = c.query_first("SELECT 1").await.unwrap().unwrap();
    assert_eq!(one, 1);
    let row: Option<(String, String)> = c
        .query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .await
        .expect("SHOW STATUS through the proxy");
    c.disconnect().await.unwrap();
    row.map(|(_, v)| v).unwrap_or_default()
}

/// The client's login error: code and message.
async fn login_error(port: u16) -> (u16, String) {
    match mysql_async::Conn::new(opts(port)).await {
        Err(mysql_async::Error::Server(e)) => (e.code, e.message),
        Err(other) => panic!("expected an error packet, got {other:?}"),
        Ok(_) => panic!("login must fail"),
    }
}

/// Waits until the monitor's probe of the only backend succeeds (Ok) or fails with an
/// error (Err), whichever it settles on within 10 s.
async fn monitor_outcome(p: &InProcProxy) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let topo = p.proxy.topology.load_full();
        let h = topo.health.first().cloned().unwrap_or_default();
        match (&h.error, h.read_only) {
            (Some(e), _) => return Err(e.clone()),
            (None, Some(_)) => return Ok(()),
            _ if Instant::now() > deadline => panic!("the monitor never probed: {h:?}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test]
async fn backend_tls_verifies_the_server_and_encrypts_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let cluster = tls_server(dir.path(), &pki).await;

    // Plaintext to this server is refused by the server: what follows proves TLS.
    let plain = proxy_with(&cluster, "[proxy]\n").await;
    let (code, msg) = login_error(plain.port).await;
    assert_eq!(code, 1045, "{msg}");
    assert!(monitor_outcome(&plain).await.is_err());
    drop(plain);

    for (mode, ca, name) in [
        ("verify", Some(&*pki.ca), None),
        ("verify", Some(&*pki.ca), Some(CERT_NAME)),
        ("on", None, None),
    ] {
        let p = proxy_with(&cluster, &settings(mode, ca, name)).await;
        let cipher = backend_cipher(p.port).await;
        assert!(
            !cipher.is_empty(),
            "{mode} {name:?}: backend session not encrypted"
        );
        monitor_outcome(&p)
            .await
            .unwrap_or_else(|e| panic!("{mode}: the monitor could not log in over TLS: {e}"));
    }

    let wrong_ca = proxy_with(&cluster, &settings("verify", Some(&pki.wrong_ca), None)).await;
    let (code, msg) = login_error(wrong_ca.port).await;
    assert_eq!(code, 2026, "{msg}");
    assert!(
        msg.contains("TLS handshake failed") && msg.contains("UnknownIssuer"),
        "{msg}"
    );
    let probe = monitor_outcome(&wrong_ca).await.unwrap_err();
    assert!(probe.contains("UnknownIssuer"), "{probe}");

    let wrong_name = settings("verify", Some(&pki.ca), Some("other.rwproxy.test"));
    let wrong_name = proxy_with(&cluster, &wrong_name).await;
    let (code, msg) = login_error(wrong_name.port).await;
    assert_eq!(code, 2026, "{msg}");
    assert!(
        msg.contains("not valid for name \"other.rwproxy.test\""),
        "{msg}"
    );
}

#[tokio::test]
async fn backend_tls_never_falls_back_to_plaintext() {
    // The shared cluster's servers run without TLS.
    for mode in ["on", "verify"] {
        let p = inproc_proxy(|t| t.replacen("[proxy]\n", &settings(mode, None, None), 1)).await;
        let (code, msg) = login_error(p.port).await;
        assert_eq!(code, 2026, "{mode}: {msg}");
        assert!(
            msg.contains("does not offer TLS") && msg.contains(&format!("\"{mode}\"")),
            "{mode}: {msg}"
        );
        let probe = monitor_outcome(&p).await.unwrap_err();
        assert!(
            !probe.is_empty(),
            "{mode}: the monitor must not log in in plaintext"
        );
    }
}
