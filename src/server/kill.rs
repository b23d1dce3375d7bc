//! `KILL [CONNECTION | QUERY] n`, COM_PROCESS_KILL and COM_CHANGE_USER: the commands that
//! reach beyond one request. Clients see proxy connection ids; KILL maps them to the
//! backend thread serving that session and runs the KILL there with the caller's own
//! credentials, so the backend's privilege checks apply unchanged.

use super::session::{Flow, Session};
use crate::pool::login::Login;
use crate::pool::PoolKey;
use crate::protocol::constants::errors::*;
use crate::protocol::handshake::{ChangeUser, HandshakeResponse};
use crate::protocol::packets::ErrPacket;
use std::time::Duration;

/// Recognises `KILL [CONNECTION|QUERY] [ID] <n>` and returns (n, query_only).
pub fn parse_kill(sql: &[u8]) -> Option<(u32, bool)> {
    let text = std::str::from_utf8(sql).ok()?;
    let mut words = text.split_whitespace().map(|w| w.trim_end_matches(';'));
    if !words.next()?.eq_ignore_ascii_case("KILL") {
        return None;
    }
    let mut query_only = false;
    let mut w = words.next()?;
    for _ in 0..3 {
        if w.eq_ignore_ascii_case("QUERY") {
            query_only = true;
        } else if w.eq_ignore_ascii_case("CONNECTION")
            || w.eq_ignore_ascii_case("HARD")
            || w.eq_ignore_ascii_case("SOFT")
        {
        } else {
            break;
        }
        w = words.next()?;
    }
    if w.eq_ignore_ascii_case("ID") {
        w = words.next()?;
    }
    let id = w.parse().ok()?;
    words.next().is_none().then_some((id, query_only))
}

impl Session {
    /// Kills session `id`'s query or connection.
    pub(crate) async fn kill(&mut self, id: u32, query_only: bool, reply: u8) -> Flow {
        let unknown = ErrPacket::new(
            ER_NO_SUCH_THREAD,
            "HY000",
            format!("Unknown thread id: {id}"),
        );
        let Some(target) = self.proxy.sessions.get(id) else {
            self.send_err(reply, &unknown).await;
            return Flow::Continue;
        };
        let where_ = target
            .backend
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((backend, thread)) = where_ {
            let key = PoolKey {
                backend: backend.name.clone(),
                user: self.login.user.clone(),
                caps: 0,
                charset: self.charset,
            };
            let timeout = Duration::from_millis(self.proxy.config.load().proxy.connect_timeout_ms);
            let result = async {
                let mut conn = self
                    .proxy
                    .pool
                    .checkout(&backend, &key, &self.login, None, timeout)
                    .await?;
                let what = if query_only { "QUERY" } else { "CONNECTION" };
                let r = conn.query(&format!("KILL {what} {thread}")).await;
                if r.is_ok() {
                    self.proxy.pool.checkin(conn).await;
                }
                r
            }
            .await;
            if let Err(e) = result {
                let mut err = e.to_err_packet();
                if err.code == ER_NO_SUCH_THREAD {
                    err = unknown;
                }
                self.send_err(reply, &err).await;
                return Flow::Continue;
            }
        } else if target
            .user
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_str()
            != self.login.user
        {
            let err = ErrPacket::new(1095, "HY000", format!("You are not owner of thread {id}"));
            self.send_err(reply, &err).await;
            return Flow::Continue;
        }
        if !query_only {
            target.cancel.cancel();
            if id == self.handle.id {
                return Flow::Close;
            }
        }
        self.send_ok(reply).await;
        Flow::Continue
    }

    /// COM_CHANGE_USER: authenticate the new user, then move the session to a clean
    /// backend connection logged in as that user. A failed change closes the session.
    pub(crate) async fn change_user(&mut self, body: &[u8], reply: u8) -> Flow {
        let Ok(cu) = ChangeUser::parse(body, self.caps) else {
            let err = ErrPacket::new(ER_HANDSHAKE_ERROR, "08S01", "Bad COM_CHANGE_USER packet");
            self.send_err(reply, &err).await;
            return Flow::Close;
        };
        let response = HandshakeResponse {
            capabilities: self.caps,
            user: cu.user.clone(),
            auth_response: cu.auth_response.clone(),
            database: cu.database.clone(),
            auth_plugin: cu.auth_plugin.clone(),
            attrs: cu.attrs.clone(),
            ..Default::default()
        };
        let mut seq = reply;
        let Some(credential) = self.verify_user(&response, &mut seq).await else {
            let err = ErrPacket::new(
                ER_ACCESS_DENIED_ERROR,
                "28000",
                format!(
                    "Access denied for user '{}' (using password: {})",
                    cu.user,
                    if cu.auth_response.is_empty() {
                        "NO"
                    } else {
                        "YES"
                    }
                ),
            );
            self.send_err(seq, &err).await;
            return Flow::Close;
        };
        if let Some(old) = self.backend.take() {
            let proxy = self.proxy.clone();
            tokio::spawn(async move { proxy.pool.checkin(old).await });
        }
        self.login = Login {
            user: cu.user.clone(),
            credential,
            attrs: cu.attrs.clone(),
        };
        if let Some(cs) = cu.charset {
            self.charset = cs as u8;
        }
        self.state = crate::router::SessionState {
            schema: cu.database.clone(),
            ..Default::default()
        };
        *self.handle.user.lock().unwrap_or_else(|e| e.into_inner()) = cu.user;
        if let Err(err) = self.ensure_backend().await {
            self.send_err(seq, &err).await;
            return Flow::Close;
        }
        self.state.status = crate::protocol::constants::status::SERVER_STATUS_AUTOCOMMIT;
        self.send_ok(seq).await;
        Flow::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::parse_kill;

    #[test]
    fn kill_forms() {
        assert_eq!(parse_kill(b"KILL 5"), Some((5, false)));
        assert_eq!(parse_kill(b"kill query 12;"), Some((12, true)));
        assert_eq!(parse_kill(b"KILL CONNECTION 7"), Some((7, false)));
        assert_eq!(parse_kill(b"KILL HARD QUERY ID 9"), Some((9, true)));
        assert_eq!(parse_kill(b"KILL USER app"), None);
        assert_eq!(parse_kill(b"SELECT 1"), None);
        assert_eq!(parse_kill(b"KILL 5 6"), None);
    }
}
