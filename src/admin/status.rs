//! `rwproxy status`: the backends table of a running proxy, read from its admin port
//! with mysql_async (`SHOW BACKENDS`, plus a few `SHOW STATS` figures).

use mysql_async::prelude::*;

/// Why the status could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// `--admin` is not host:port.
    #[error("--admin {0}: expected host:port")]
    Address(String),
    /// Connecting or querying failed.
    #[error("admin port {addr}: {source}")]
    Mysql {
        /// The admin address.
        addr: String,
        /// What failed.
        source: mysql_async::Error,
    },
}

/// Columns shown, and their headings.
const SHOWN: [(&str, &str); 13] = [
    ("name", "NAME"),
    ("address", "ADDRESS"),
    ("role", "ROLE"),
    ("state", "STATE"),
    ("weight", "WEIGHT"),
    ("lag_ms", "LAG_MS"),
    ("conn_active", "ACTIVE"),
    ("conn_idle", "IDLE"),
    ("queries", "QUERIES"),
    ("reads", "READS"),
    ("writes", "WRITES"),
    ("errors", "ERRORS"),
    ("p99_ms", "P99_MS"),
];

/// Reads the backends table from the admin port at `addr` and formats it.
pub async fn status(addr: &str, user: &str, password: &str) -> Result<String, StatusError> {
    let (host, port) = addr
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
        .ok_or_else(|| StatusError::Address(addr.to_string()))?;
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(host.to_string())
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(password))
        .prefer_socket(false);
    let err = |source| StatusError::Mysql {
        addr: addr.to_string(),
        source,
    };
    let mut conn = mysql_async::Conn::new(opts).await.map_err(err)?;
    let rows: Vec<mysql_async::Row> = conn.query("SHOW BACKENDS").await.map_err(err)?;
    let stats: Vec<(String, String)> = conn.query("SHOW STATS").await.map_err(err)?;
    let _ = conn.disconnect().await;
    let mut table: Vec<Vec<String>> = vec![SHOWN.iter().map(|(_, h)| h.to_string()).collect()];
    for row in &rows {
        let cols = row.columns_ref();
        let cell = |name: &str| {
            cols.iter()
                .position(|c| c.name_str() == name)
                .and_then(|i| row.as_ref(i))
                .map(|v| match v {
                    mysql_async::Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                    mysql_async::Value::NULL => "-".into(),
                    other => other.as_sql(true),
                })
                .unwrap_or_else(|| "-".into())
        };
        table.push(SHOWN.iter().map(|(c, _)| cell(c)).collect());
    }
    let widths: Vec<usize> = (0..SHOWN.len())
        .map(|i| table.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    let get = |k: &str| {
        stats
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("?")
    };
    out.push_str(&format!(
        "rwproxy at {addr}: up {} s, {} client(s), {} qps\n",
        get("uptime_s"),
        get("clients_connected"),
        get("qps")
    ));
    for r in &table {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    Ok(out)
}
