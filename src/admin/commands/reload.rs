//! `RELOAD CONFIG` and `SAVE CONFIG` on the admin port (see `admin::reload` for what a
//! reload changes, `admin::save` for what a save writes).

use super::{Ctx, Reply};

/// `RELOAD CONFIG`: the file wins; an invalid file is refused with the reason.
pub async fn reload(ctx: &Ctx) -> Reply {
    match crate::admin::reload::reload(&ctx.proxy).await {
        Ok(r) => {
            tracing::warn!(by = %ctx.who(), changes = %r.changes.join("; "), "config reloaded");
            let mut info = if r.changes.is_empty() {
                "config reloaded: no changes".to_string()
            } else {
                format!("config reloaded: {}", r.changes.join("; "))
            };
            if !r.restart_needed.is_empty() {
                info.push_str(&format!(
                    "; needs a restart to take effect: {}",
                    r.restart_needed.join(", ")
                ));
            }
            Reply::Ok {
                affected: r.changes.len() as u64,
                info,
            }
        }
        Err(e) => {
            tracing::error!(by = %ctx.who(), error = %e, "config reload refused");
            Reply::error(1105, e.to_string())
        }
    }
}

/// `SAVE CONFIG`: runtime weights, lag limits and states into the file.
pub async fn save(ctx: &Ctx) -> Reply {
    match crate::admin::save::save(&ctx.proxy).await {
        Ok(n) => Reply::Ok {
            affected: n as u64,
            info: format!("config saved: {n} key(s) changed"),
        },
        Err(e) => Reply::error(1105, e.to_string()),
    }
}
