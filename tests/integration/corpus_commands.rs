//! Corpus, part 8: raw-protocol commands compared payload by payload: the greeting,
//! COM_FIELD_LIST, COM_SET_OPTION, COM_INIT_DB, COM_RESET_CONNECTION, COM_PING,
//! COM_PROCESS_KILL, unknown and privileged command bytes, byte-exact text results and
//! OK packets with CLIENT_SESSION_TRACK. Helpers are in `corpus_raw`.

use crate::corpus_raw::*;
use crate::differential::Entry;
use crate::rawclient::{caps, Shape, *};
use crate::steps;

/// The raw-protocol command entries.
pub fn entries() -> Vec<Entry> {
    vec![
        steps!("greeting: version, charset, status and auth plugin", |c| {
            let Some(r) = c.raw(caps::BASE).await else {
                return;
            };
            let Some((version, server_caps, charset, status, reserved, plugin)) =
                greeting_fields(&r.greeting)
            else {
                return c.note("unparsable greeting");
            };
            // The proxy may append its own tag to the version (it does: "-rwproxy"); the
            // server's part must come first. Capabilities are the proxy's own choice (no
            // compression, no MariaDB extended capabilities yet): shown, not compared.
            let server_part = version
                .split("-rwproxy")
                .next()
                .unwrap_or_default()
                .to_string();
            c.note(format!(
                "version {server_part:?} charset {charset} status {status:#06x} plugin {plugin:?}"
            ));
            println!("  [{:?}] greeting {version:?}, capabilities {server_caps:#010x}, reserved {reserved:02x?}", c.side);
        }),
        steps!("COM_FIELD_LIST", |c| {
            c.q("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(20) DEFAULT 'x', b BLOB)")
                .await;
            let Some(mut r) = c.raw(caps::BASE).await else {
                return;
            };
            send(c, &mut r, &cmd(COM_FIELD_LIST, b"t\0"), Shape::Rows).await;
            send(c, &mut r, &cmd(COM_FIELD_LIST, b"t\0i%"), Shape::Rows).await;
            send(c, &mut r, &cmd(COM_FIELD_LIST, b"nope\0"), Shape::Rows).await;
        }),
        steps!("COM_SET_OPTION multi-statements off and on", |c| {
            let Some(mut r) = c.raw(caps::BASE).await else {
                return;
            };
            let multi = cmd(COM_QUERY, b"SELECT 1; SELECT 2");
            send(c, &mut r, &multi, Shape::Results).await;
            send(
                c,
                &mut r,
                &cmd(COM_SET_OPTION, &1u16.to_le_bytes()),
                Shape::Single,
            )
            .await;
            send(c, &mut r, &multi, Shape::Results).await;
            send(
                c,
                &mut r,
                &cmd(COM_SET_OPTION, &0u16.to_le_bytes()),
                Shape::Single,
            )
            .await;
            send(c, &mut r, &multi, Shape::Results).await;
        }),
        steps!("byte-exact text results, multi-results and errors", |c| {
            let Some(mut r) = c.raw(caps::BASE).await else {
                return;
            };
            for sql in [
                &b"SELECT 1, 'a', NULL, 1.5, NOW() > '2000-01-01'"[..],
                b"CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v TINYINT); INSERT INTO t (v) VALUES (1), (2)",
                b"SELECT * FROM t; UPDATE t SET v = v + 1; SELECT 1/0; SELECT * FROM nope; SELECT 2",
                b"BEGIN; INSERT INTO t (v) VALUES (500); SHOW WARNINGS; ROLLBACK",
            ] {
                send(c, &mut r, &cmd(COM_QUERY, sql), Shape::Results).await;
            }
        }),
        steps!(
            "COM_INIT_DB, COM_RESET_CONNECTION and an empty COM_QUERY",
            |c| {
                let other = format!("{}_o", c.schema);
                c.q(format!("DROP DATABASE IF EXISTS {other}")).await;
                c.q(format!("CREATE DATABASE {other}")).await;
                let Some(mut r) = c.raw(caps::BASE).await else {
                    return;
                };
                let db = cmd(COM_QUERY, b"SELECT DATABASE()");
                send(
                    c,
                    &mut r,
                    &cmd(COM_INIT_DB, other.as_bytes()),
                    Shape::Single,
                )
                .await;
                send(c, &mut r, &db, Shape::Results).await;
                send(
                    c,
                    &mut r,
                    &cmd(COM_INIT_DB, b"no_such_schema_at_all"),
                    Shape::Single,
                )
                .await;
                send(c, &mut r, &db, Shape::Results).await;
                send(
                    c,
                    &mut r,
                    &cmd(COM_QUERY, b"SET NAMES latin1, @v = 1"),
                    Shape::Results,
                )
                .await;
                send(c, &mut r, &cmd(COM_RESET_CONNECTION, b""), Shape::Single).await;
                send(
                    c,
                    &mut r,
                    &cmd(COM_QUERY, b"SELECT DATABASE(), @v, @@character_set_client"),
                    Shape::Results,
                )
                .await;
                send(c, &mut r, &cmd(COM_QUERY, b""), Shape::Results).await;
                send(c, &mut r, &cmd(COM_QUERY, b"  "), Shape::Results).await;
                send(c, &mut r, &cmd(COM_PING, b""), Shape::Single).await;
                c.q(format!("DROP DATABASE {other}")).await;
            }
        ),
        steps!("COM_PROCESS_KILL and unknown or privileged commands", |c| {
            let Some(mut r) = c.raw(caps::BASE).await else {
                return;
            };
            send(
                c,
                &mut r,
                &cmd(COM_PROCESS_KILL, &3_999_999_999u32.to_le_bytes()),
                Shape::Single,
            )
            .await;
            for code in [0x00u8, 0x0d, 0x1d, 0xee] {
                send(c, &mut r, &cmd(code, b""), Shape::Single).await;
            }
            send(
                c,
                &mut r,
                &cmd(COM_QUERY, b"SELECT 'still in step'"),
                Shape::Results,
            )
            .await;
        }),
        steps!("OK packets with CLIENT_SESSION_TRACK", |c| {
            let Some(mut r) = c
                .raw(caps::BASE | caps::CLIENT_DEPRECATE_EOF | CLIENT_SESSION_TRACK)
                .await
            else {
                return;
            };
            for sql in [
                &b"CREATE TABLE t (a INT)"[..],
                b"INSERT INTO t VALUES (1)",
                b"SET NAMES latin1",
                b"SET time_zone = '+01:00', autocommit = 0",
                b"SELECT * FROM t",
                b"COMMIT",
                b"SET session_track_state_change = 1",
                b"SET @u = 1",
                b"USE mysql",
            ] {
                send(c, &mut r, &cmd(COM_QUERY, sql), Shape::Results).await;
            }
        }),
    ]
}
