//! MARIADB_CLIENT_CACHE_METADATA with a backend that does not offer it (an older server in
//! a mixed cluster): a client that negotiated it with the proxy still gets the "metadata
//! follows" byte after every column count, and the definitions with it. The backend here
//! is replica1 behind a relay that clears the capability in its greeting. Sessions sharing
//! a backend statement are in `multiplex_prepared`; byte-for-byte comparisons with the
//! server in the differential corpus (`corpus_raw`).

use crate::corpus_raw::{cmd, execute};
use crate::harness::{env, fresh_schema, inproc_proxy};
use crate::rawclient::caps::{BASE, CLIENT_DEPRECATE_EOF, MARIADB_CLIENT_CACHE_METADATA};
use crate::rawclient::{RawConn, Shape, COM_QUERY, COM_STMT_PREPARE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A relay to `port` on 127.0.0.1 that clears MARIADB_CLIENT_CACHE_METADATA in the
/// server's greeting and passes everything else as it is. Returns the relay's port; it
/// serves until the test's runtime ends.
async fn relay_without_cache_metadata(port: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut down, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut up) = TcpStream::connect(("127.0.0.1", port)).await else {
                    return;
                };
                let mut header = [0u8; 4];
                if up.read_exact(&mut header).await.is_err() {
                    return;
                }
                let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
                let mut greeting = vec![0u8; len];
                if up.read_exact(&mut greeting).await.is_err() {
                    return;
                }
                // Protocol version, version string, then connection id (4), scramble
                // (8), filler, capabilities (2), charset, status (2), capabilities (2),
                // scramble length, and 10 reserved bytes whose last 4 are MariaDB's.
                if let Some(v_end) = greeting.iter().skip(1).position(|&b| b == 0) {
                    let ext = 1 + v_end + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 6;
                    if let Some(b) = greeting.get_mut(ext) {
                        *b &= !(MARIADB_CLIENT_CACHE_METADATA as u8);
                    }
                }
                if down.write_all(&header).await.is_err()
                    || down.write_all(&greeting).await.is_err()
                {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
            });
        }
    });
    relay_port
}

/// A raw client of `port` in `db` with `caps` that negotiated cached metadata.
pub(crate) async fn caching_client(port: u16, db: &str, caps: u32) -> RawConn {
    let ext = MARIADB_CLIENT_CACHE_METADATA;
    let (c, login) = RawConn::connect_ext(port, "app", "app", Some(db), caps, ext)
        .await
        .unwrap();
    assert_eq!(login[0], 0, "login failed: {login:?}");
    assert!(
        c.caches_metadata(),
        "MARIADB_CLIENT_CACHE_METADATA not offered"
    );
    c
}

/// Prepares `sql`, then runs it twice with a number and once more as text; returns the
/// four responses.
async fn script(r: &mut RawConn, sql: &str) -> Vec<Vec<Vec<u8>>> {
    let prepared = r
        .command(&cmd(COM_STMT_PREPARE, sql.as_bytes()), Shape::Prepare)
        .await
        .unwrap();
    assert_eq!(prepared[0][0], 0, "prepare failed: {prepared:?}");
    let id = u32::from_le_bytes(prepared[0][1..5].try_into().unwrap());
    let mut out = vec![prepared];
    for v in [5, 6] {
        let got = r.command(&execute(id, 0, &[v]), Shape::Results).await;
        out.push(got.unwrap());
    }
    let text = sql.replace('?', "7");
    let got = r
        .command(&cmd(COM_QUERY, text.as_bytes()), Shape::Results)
        .await;
    out.push(got.unwrap());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_without_cached_metadata_still_gives_caching_clients_the_flag() {
    let db = fresh_schema("cached_meta_mixed").await;
    let replica1 = env().cluster.replicas()[0].port;
    let relay = relay_without_cache_metadata(replica1).await;
    let p = inproc_proxy(|t| {
        t.replace(
            &format!("\"127.0.0.1:{replica1}\""),
            &format!("\"127.0.0.1:{relay}\""),
        )
    })
    .await;
    let sql = "/* rwproxy:backend=replica1 */ SELECT ? AS v, 'x' AS w";
    for caps in [BASE, BASE | CLIENT_DEPRECATE_EOF] {
        // What the server sends a client without the capability.
        let (mut plain, _) = RawConn::connect(replica1, "app", "app", Some(&db), caps)
            .await
            .unwrap();
        let want = script(&mut plain, sql).await;
        let mut r = caching_client(p.port, &db, caps).await;
        let got = script(&mut r, sql).await;
        // The same, but for the byte after each column count: 1, the definitions follow.
        assert_eq!(got[0].len(), want[0].len(), "prepare, caps {caps:#x}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate().skip(1) {
            let mut w = w.clone();
            w[0].push(1);
            assert_eq!(*g, w, "response {i}, caps {caps:#x}");
        }
    }
}
