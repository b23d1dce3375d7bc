//! Running parsed admin statements: one file per command, each turning the proxy's
//! state into a [`Reply`] (a result set, an OK, or an ERR).

pub mod explain_route;
pub mod flush_hosts;
pub mod reload;
pub mod select;
pub mod show_backends;
pub mod show_digests;
pub mod show_sessions;
pub mod show_stats;
pub mod update_backends;

use super::parse::AdminCommand;
use crate::protocol::packets::ErrPacket;
use crate::server::Proxy;
use std::net::SocketAddr;
use std::sync::Arc;

/// What an admin statement answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A result set.
    Rows {
        /// Column names.
        columns: Vec<String>,
        /// Rows of text values (None = NULL).
        rows: Vec<Vec<Option<String>>>,
    },
    /// An OK with affected rows and an info message.
    Ok {
        /// Rows affected (backends changed).
        affected: u64,
        /// Message shown by the client.
        info: String,
    },
    /// An error.
    Err(ErrPacket),
}

impl Reply {
    /// A result set with `columns` given as `&str`s.
    pub fn rows(columns: &[&str], rows: Vec<Vec<Option<String>>>) -> Reply {
        Reply::Rows {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
        }
    }

    /// ERR 1105 (`ER_UNKNOWN_ERROR`-class) with `message`.
    pub fn error(code: u16, message: impl Into<String>) -> Reply {
        Reply::Err(ErrPacket::new(code, "HY000", message))
    }
}

/// Who is asking.
#[derive(Clone)]
pub struct Ctx {
    /// The proxy.
    pub proxy: Arc<Proxy>,
    /// Admin connection id.
    pub id: u32,
    /// Admin user.
    pub user: String,
    /// Where the admin connected from.
    pub peer: SocketAddr,
}

impl Ctx {
    /// `admin@127.0.0.1:50312`, for log lines about changes.
    pub fn who(&self) -> String {
        format!("{}@{} via SQL", self.user, self.peer)
    }
}

/// Runs one admin command.
pub async fn execute(ctx: &Ctx, cmd: AdminCommand) -> Reply {
    match cmd {
        AdminCommand::ShowBackends => show_backends::run(ctx),
        AdminCommand::ShowStats => show_stats::run(ctx),
        AdminCommand::ShowSessions => show_sessions::run(ctx),
        AdminCommand::ShowDigests => show_digests::run(ctx),
        AdminCommand::TruncateDigests => show_digests::truncate(ctx),
        AdminCommand::FlushHosts => flush_hosts::run(ctx),
        AdminCommand::UpdateBackends { change, names } => {
            update_backends::run(ctx, &names, &change)
        }
        AdminCommand::ExplainRoute(stmt) => explain_route::run(ctx, &stmt),
        AdminCommand::ReloadConfig => reload::reload(ctx).await,
        AdminCommand::SaveConfig => reload::save(ctx).await,
        AdminCommand::Select(items) => select::run(ctx, &items),
        AdminCommand::Ignored => Reply::Ok {
            affected: 0,
            info: String::new(),
        },
    }
}
