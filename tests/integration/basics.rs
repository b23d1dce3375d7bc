//! Logging in through the proxy: configured users (plaintext and `*HEX`), wrong
//! passwords, the greeting, and plain queries reaching the primary.

use crate::harness::{self, proxy_opts, HASHED_PASSWORD};
use mysql_async::prelude::*;

#[tokio::test]
async fn login_query_and_version() {
    let mut c = mysql_async::Conn::new(proxy_opts("app", "app", None))
        .await
        .expect("login via proxy");
    let (v, sum): (String, i64) = c
        .query_first("SELECT VERSION(), 1+1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sum, 2);
    assert!(v.contains("MariaDB"), "{v}");
    assert!(
        c.server_version().0 >= 10,
        "client sees the MariaDB flavour"
    );
    c.disconnect().await.unwrap();
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_1045() {
    for (user, pw) in [("app", "nope"), ("ghost", "x"), ("hashed", "app")] {
        let Err(err) = mysql_async::Conn::new(proxy_opts(user, pw, None)).await else {
            panic!("{user} must be refused");
        };
        match err {
            mysql_async::Error::Server(e) => {
                assert_eq!(e.code, 1045, "{e:?}");
                assert!(
                    e.message
                        .contains(&format!("Access denied for user '{user}'")),
                    "{}",
                    e.message
                );
            }
            other => panic!("expected ERR 1045, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn hash_only_user_logs_in_to_the_backend() {
    let db = harness::fresh_schema("basics_hashed").await;
    let mut c = mysql_async::Conn::new(proxy_opts("hashed", HASHED_PASSWORD, Some(&db)))
        .await
        .expect("hashed login");
    let user: String = c
        .query_first("SELECT CURRENT_USER()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user, "hashed@%");
    c.disconnect().await.unwrap();
}

#[tokio::test]
async fn unknown_database_is_the_backends_error() {
    let Err(err) = mysql_async::Conn::new(proxy_opts("app", "app", Some("no_such_db"))).await
    else {
        panic!("unknown database must be refused");
    };
    match err {
        mysql_async::Error::Server(e) => assert_eq!(e.code, 1049, "{e:?}"),
        other => panic!("expected ERR 1049, got {other:?}"),
    }
}

#[tokio::test]
async fn backend_asking_for_client_ed25519_is_answered() {
    // `edu` is IDENTIFIED VIA ed25519 on the servers: the proxy accepts the client with
    // native auth (it knows the plaintext) and answers the backend's ed25519 challenge.
    let mut c = mysql_async::Conn::new(proxy_opts("edu", "ed-pw", None))
        .await
        .expect("ed25519 backend login");
    let user: String = c
        .query_first("SELECT CURRENT_USER()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user, "edu@%");
    c.disconnect().await.unwrap();
}
