//! The table-less `SELECT`s clients send on connect or to check a connection:
//! `SELECT 1`, `SELECT @@version_comment LIMIT 1` (the mariadb client's banner),
//! `SELECT @@max_allowed_packet, @@wait_timeout, @@socket` (mysql_async), and a few
//! functions. Unknown variables get the server's ERR 1193.

use super::{Ctx, Reply};
use crate::admin::parse::SelectValue;

/// What `@@name` answers on the admin port.
fn variable(ctx: &Ctx, name: &str) -> Result<Option<String>, Reply> {
    let v = match name.to_ascii_lowercase().as_str() {
        "version_comment" => "rwproxy admin".to_string(),
        "version" => ctx.proxy.flavour.load().version.clone(),
        "max_allowed_packet" => "16777216".into(),
        "wait_timeout" | "interactive_timeout" | "net_read_timeout" => "28800".into(),
        "autocommit" => "1".into(),
        "sql_mode" => String::new(),
        "character_set_client"
        | "character_set_connection"
        | "character_set_results"
        | "character_set_server" => "utf8mb4".into(),
        "collation_connection" | "collation_server" => "utf8mb4_general_ci".into(),
        "tx_isolation" | "transaction_isolation" => "REPEATABLE-READ".into(),
        "lower_case_table_names" | "read_only" => "0".into(),
        "time_zone" | "system_time_zone" => "SYSTEM".into(),
        "license" => "MIT".into(),
        "port" => ctx
            .proxy
            .config
            .load()
            .admin
            .listen
            .rsplit(':')
            .next()
            .unwrap_or("")
            .into(),
        // NULL: there is no socket (mysql_async would otherwise reconnect through it).
        "socket" => return Ok(None),
        other => {
            return Err(Reply::Err(crate::protocol::packets::ErrPacket::new(
                1193,
                "HY000",
                format!("Unknown system variable '{other}' (rwproxy admin port)"),
            )))
        }
    };
    Ok(Some(v))
}

fn function(ctx: &Ctx, name: &str) -> Result<Option<String>, Reply> {
    Ok(match name {
        "DATABASE" | "SCHEMA" => None,
        "USER" | "CURRENT_USER" | "SESSION_USER" | "SYSTEM_USER" => {
            Some(format!("{}@{}", ctx.user, ctx.peer.ip()))
        }
        "VERSION" => Some(ctx.proxy.flavour.load().version.clone()),
        "CONNECTION_ID" => Some(ctx.id.to_string()),
        "NOW" | "CURRENT_TIMESTAMP" | "SYSDATE" => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            Some(secs.to_string())
        }
        other => {
            return Err(Reply::error(
                1305,
                format!("FUNCTION {other} does not exist on the rwproxy admin port"),
            ))
        }
    })
}

/// Runs the command.
pub fn run(ctx: &Ctx, items: &[(String, SelectValue)]) -> Reply {
    let mut row = Vec::with_capacity(items.len());
    for (_, value) in items {
        let cell = match value {
            SelectValue::Literal(v) => Ok(v.clone()),
            SelectValue::Variable(name) => variable(ctx, name),
            SelectValue::Function(name) => function(ctx, name),
        };
        match cell {
            Ok(c) => row.push(c),
            Err(reply) => return reply,
        }
    }
    let columns: Vec<&str> = items.iter().map(|(c, _)| c.as_str()).collect();
    Reply::rows(&columns, vec![row])
}
