//! Corpus, part 5: large values across the 16 MiB packet boundary (1 KiB, 1 MiB,
//! 16 MiB - 1, 16 MiB + 100, 32 MiB, and rows whose packet is exactly 0xFFFFFF bytes),
//! inserted as escaped text and as prepared-statement parameters (mysql_async sends big
//! ones with COM_STMT_SEND_LONG_DATA), read back in both row formats; statements whose
//! own packet is an exact multiple of 0xFFFFFF; and LOAD DATA LOCAL INFILE uploads.

use crate::differential::{fingerprint, Big, Ctx, Entry, Event, Val};
use crate::steps;
use mysql_async::InfileData;
use mysql_async::Value;

const MAX_PAYLOAD: usize = 0xFF_FFFF;

/// `n` deterministic pseudo-random bytes (every byte value occurs, quotes and NULs too).
pub fn blob(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// `INSERT INTO b VALUES (id, _binary'...')` with the bytes escaped for a quoted literal.
fn text_insert(id: u32, data: &[u8]) -> Vec<u8> {
    let mut q = format!("INSERT INTO b VALUES ({id}, _binary'").into_bytes();
    q.reserve(data.len() + data.len() / 64 + 8);
    for &b in data {
        match b {
            0 => q.extend_from_slice(b"\\0"),
            b'\'' => q.extend_from_slice(b"\\'"),
            b'\\' => q.extend_from_slice(b"\\\\"),
            b'\n' => q.extend_from_slice(b"\\n"),
            b'\r' => q.extend_from_slice(b"\\r"),
            0x1a => q.extend_from_slice(b"\\Z"),
            b => q.push(b),
        }
    }
    q.extend_from_slice(b"')");
    q
}

/// The table big values go to. Temporary: with row-based binary logging its rows are
/// not logged, so 32 MiB values are not written three times over by the replicas.
const BLOB_TABLE: &str = "CREATE TEMPORARY TABLE b (id INT PRIMARY KEY, v LONGBLOB)";

/// Inserts `n` bytes as row 1 (as text or prepared) and reads them back every way.
async fn roundtrip(c: &mut Ctx, n: usize, prepared: bool) {
    c.q(BLOB_TABLE).await;
    let data = blob(n, n as u64);
    if prepared {
        c.exec("INSERT INTO b VALUES (?, ?)", (1, data.clone()))
            .await;
    } else {
        c.q(text_insert(1, &data)).await;
    }
    c.q("SELECT id, LENGTH(v), SHA2(v, 256) FROM b").await;
    c.q("SELECT v FROM b WHERE id = 1").await;
    let back = match c
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .rev()
        .nth(1)
    {
        Some(Event::Set { rows, .. }) => match rows.first().and_then(|r| r.first()) {
            Some(Val::Big(Big(b))) => b == &data,
            Some(Val::V(Value::Bytes(b))) => b == &data,
            _ => false,
        },
        _ => false,
    };
    c.note(format!("read back equals sent: {back}"));
    c.exec("SELECT v, id FROM b WHERE id = ?", (1,)).await;
}

/// A `SELECT LENGTH('xx...')` whose COM_QUERY payload is exactly `payload` bytes.
fn query_of_payload(payload: usize) -> Vec<u8> {
    let head = b"SELECT LENGTH('";
    let tail = b"') AS n";
    let fill = payload - 1 - head.len() - tail.len();
    let mut q = head.to_vec();
    q.extend(std::iter::repeat_n(b'x', fill));
    q.extend_from_slice(tail);
    q
}

/// Sets the next LOAD DATA LOCAL file of the current connection to `data`.
fn infile(c: &mut Ctx, data: Vec<u8>) {
    infile_chunked(c, data, 1 << 20);
}

/// Like `infile`, handing mysql_async the file in chunks of `chunk` bytes (one packet each).
fn infile_chunked(c: &mut Ctx, data: Vec<u8>, chunk: usize) {
    // tokio-util's `io` feature is on through mysql_async, which streams its own files so.
    c.conn().set_infile_handler(async move {
        let reader = std::io::Cursor::new(data);
        Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(reader, chunk)) as InfileData)
    });
}

/// Lines of about 1000 bytes (a number, then `x`s) filling exactly `n` bytes.
fn number_lines(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 1024);
    let mut i = 0u64;
    while out.len() + 2000 < n {
        let head = format!("{i} ");
        out.extend_from_slice(head.as_bytes());
        out.extend(std::iter::repeat_n(b'x', 999 - head.len()));
        out.push(b'\n');
        i += 1;
    }
    out.extend_from_slice(i.to_string().as_bytes());
    out.resize(n - 1, b'y');
    out.push(b'\n');
    out
}

/// The large-value and file entries.
pub fn entries() -> Vec<Entry> {
    vec![
        steps!("blob 1 KiB as text", |c| {
            roundtrip(c, 1024, false).await;
        }),
        steps!("blob 1 KiB prepared", |c| {
            roundtrip(c, 1024, true).await;
        }),
        steps!("blob 1 MiB as text", |c| {
            roundtrip(c, 1 << 20, false).await;
        }),
        steps!("blob 1 MiB prepared", |c| {
            roundtrip(c, 1 << 20, true).await;
        }),
        steps!("blob 16 MiB - 1 as text", |c| {
            roundtrip(c, MAX_PAYLOAD, false).await;
        }),
        steps!("blob 16 MiB - 1 prepared", |c| {
            roundtrip(c, MAX_PAYLOAD, true).await;
        }),
        steps!("blob 16 MiB + 100 as text", |c| {
            roundtrip(c, (16 << 20) + 100, false).await;
        }),
        steps!("blob 16 MiB + 100 prepared", |c| {
            roundtrip(c, (16 << 20) + 100, true).await;
        }),
        steps!("blob 32 MiB as text", |c| {
            roundtrip(c, 32 << 20, false).await;
        }),
        steps!("blob 32 MiB prepared", |c| {
            roundtrip(c, 32 << 20, true).await;
        }),
        steps!("text row packet of exactly 0xFFFFFF bytes", |c| {
            // One column: 4-byte length prefix + value = 0xFFFFFF, then an empty packet.
            c.q(BLOB_TABLE).await;
            c.exec("INSERT INTO b VALUES (?, ?)", (1, blob(MAX_PAYLOAD - 4, 5)))
                .await;
            c.q("SELECT v FROM b WHERE id = 1").await;
            c.q("SELECT LENGTH(v), SHA2(v, 256) FROM b").await;
        }),
        steps!("binary row packet of exactly 0xFFFFFF bytes", |c| {
            // Header byte + NULL bitmap (1 byte for 1 column) + 4-byte length + value.
            c.q(BLOB_TABLE).await;
            c.exec("INSERT INTO b VALUES (?, ?)", (1, blob(MAX_PAYLOAD - 6, 7)))
                .await;
            c.exec("SELECT v FROM b WHERE id = ?", (1,)).await;
            c.q("SELECT LENGTH(v), SHA2(v, 256) FROM b").await;
        }),
        steps!(
            "COM_QUERY of exactly 0xFFFFFF and 2 x 0xFFFFFF bytes",
            |c| {
                c.q(query_of_payload(MAX_PAYLOAD)).await;
                c.q(query_of_payload(2 * MAX_PAYLOAD)).await;
                c.q(query_of_payload(MAX_PAYLOAD + 1)).await;
                c.q("SELECT 'after big queries'").await;
            }
        ),
        steps!("a 70 MiB statement (the servers allow 128 MiB)", |c| {
            c.q("SELECT @@max_allowed_packet").await;
            c.q(query_of_payload(70 << 20)).await;
            c.q("SELECT 'after a 70 MiB statement'").await;
        }),
        steps!(
            "LOAD DATA LOCAL in packets of exactly 0xFFFFFF bytes",
            |c| {
                c.q("CREATE TEMPORARY TABLE t (a VARCHAR(3000))").await;
                infile_chunked(c, number_lines(MAX_PAYLOAD), MAX_PAYLOAD);
                c.q("LOAD DATA LOCAL INFILE 'diff-one-packet.txt' INTO TABLE t")
                    .await;
                c.q("SELECT COUNT(*), MAX(LENGTH(a)) FROM t").await;
                infile_chunked(c, number_lines(2 * MAX_PAYLOAD + 10), MAX_PAYLOAD);
                c.q("LOAD DATA LOCAL INFILE 'diff-two-packets.txt' INTO TABLE t")
                    .await;
                c.q("SELECT COUNT(*), MAX(LENGTH(a)) FROM t").await;
            }
        ),
        steps!("many mid-sized rows in one result", |c| {
            c.q("CREATE TEMPORARY TABLE b (id INT PRIMARY KEY, v MEDIUMBLOB)")
                .await;
            for i in 0..8u32 {
                let data = blob(3 << 20, u64::from(i) + 11);
                c.exec("INSERT INTO b VALUES (?, ?)", (i, data)).await;
            }
            c.q("SELECT id, v FROM b ORDER BY id").await;
            c.exec("SELECT v, id FROM b WHERE id >= ? ORDER BY id", (0,))
                .await;
        }),
        steps!("LOAD DATA LOCAL INFILE", |c| {
            c.q("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(20))")
                .await;
            infile(c, "1,alpha\n2,βeta 😀\n3,\\N\n".as_bytes().to_vec());
            c.q("LOAD DATA LOCAL INFILE 'diff-small.csv' INTO TABLE t CHARACTER SET utf8mb4 FIELDS TERMINATED BY ','").await;
            c.q("SELECT * FROM t ORDER BY id").await;
            infile(c, b"4,x\nnot-a-number,y\n5\n6,z,extra\n1,dup\n".to_vec());
            c.q("LOAD DATA LOCAL INFILE 'diff-bad.csv' IGNORE INTO TABLE t FIELDS TERMINATED BY ','").await;
            c.q("SHOW WARNINGS").await;
            infile(c, Vec::new());
            c.q("LOAD DATA LOCAL INFILE 'diff-empty.csv' INTO TABLE t")
                .await;
            c.q("SELECT COUNT(*) FROM t").await;
        }),
        steps!("LOAD DATA LOCAL INFILE of 20 MiB", |c| {
            c.q("CREATE TEMPORARY TABLE t (id INT PRIMARY KEY, a VARCHAR(64), n BIGINT)")
                .await;
            let mut file = Vec::new();
            let mut i = 0u64;
            while file.len() < 20 << 20 {
                file.extend_from_slice(
                    format!("{i}\t{}\t{}\n", fingerprint(&i.to_le_bytes()), i * i).as_bytes(),
                );
                i += 1;
            }
            infile(c, file);
            c.q("LOAD DATA LOCAL INFILE 'diff-big.tsv' INTO TABLE t")
                .await;
            c.q("SELECT COUNT(*), SUM(n), MAX(a), SUM(CRC32(a)) FROM t")
                .await;
        }),
        steps!(
            "LOAD DATA LOCAL into a missing table, then inside a transaction",
            |c| {
                infile(c, b"1\n".to_vec());
                c.q("LOAD DATA LOCAL INFILE 'diff-x.csv' INTO TABLE nope")
                    .await;
                c.q("SELECT 'usable'").await;
                c.q("CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB")
                    .await;
                c.q("BEGIN").await;
                infile(c, b"1\n2\n".to_vec());
                c.q("LOAD DATA LOCAL INFILE 'diff-tx.csv' INTO TABLE t")
                    .await;
                c.q("ROLLBACK").await;
                c.q("SELECT COUNT(*) FROM t").await;
            }
        ),
    ]
}
