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
        // `KILL QUERY ID n` names a query id, which is the server's business.
        return None;
    }
    let id = w.parse().ok()?;
    words.next().is_none().then_some((id, query_only))
}

/// A KILL on its way to a session's backend connection: keeps that connection out of
/// the pool (see [`super::registry::Serving`]) until dropped, on every path.
struct PendingKill {
    handle: std::sync::Arc<super::registry::SessionHandle>,
    target: Option<(std::sync::Arc<crate::replication::Backend>, u32)>,
}

impl PendingKill {
    fn begin(handle: &std::sync::Arc<super::registry::SessionHandle>) -> PendingKill {
        let target = handle
            .backend
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .begin_kill();
        PendingKill {
            handle: handle.clone(),
            target,
        }
    }
}

impl Drop for PendingKill {
    fn drop(&mut self) {
        if let Some(t) = &self.target {
            self.handle
                .backend
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .end_kill(t);
        }
    }
}

impl Session {
    /// Kills session `id`'s query or connection.
    pub(crate) async fn kill(&mut self, id: u32, query_only: bool, reply: u8) -> Flow {
        let unknown = ErrPacket::new(
            ER_NO_SUCH_THREAD,
            "HY000",
            format!("Unknown thread id: {id}"),
        );
        if id == self.handle.id {
            // As the server does: KILL QUERY interrupts the KILL itself; KILL CONNECTION
            // says so and closes.
            let (code, msg) = if query_only {
                (1317, "Query execution was interrupted")
            } else {
                (1927, "Connection was killed")
            };
            self.send_err(reply, &ErrPacket::new(code, "70100", msg))
                .await;
            return if query_only {
                Flow::Continue
            } else {
                Flow::Close
            };
        }
        let Some(target) = self.proxy.sessions.get(id) else {
            self.send_err(reply, &unknown).await;
            return Flow::Continue;
        };
        if !query_only {
            // Before the backend KILL, so the target sees its backend vanish as a kill
            // (and closes quietly, as a server would), not as a backend failure.
            target
                .killed
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        // Until the KILL is answered, the target's connection stays out of the pool.
        let pending = PendingKill::begin(&target);
        if let Some((backend, thread)) = pending.target.clone() {
            let key = PoolKey {
                backend: backend.name.clone(),
                user: self.login.user.as_str().into(),
                caps: 0,
                ext_caps: 0,
                charset: self.charset,
                worker: super::workers::current(),
            };
            let limits = crate::pool::Limits::from_config(&self.proxy.config.load().proxy);
            let want = crate::pool::Want {
                schema: None,
                fp: crate::router::session::base_fingerprint(None),
            };
            let result = async {
                let mut conn = self
                    .proxy
                    .pool
                    .checkout(
                        &backend,
                        &self.proxy.pool.list(&key),
                        &self.login,
                        want,
                        limits,
                    )
                    .await?;
                let what = if query_only { "QUERY" } else { "CONNECTION" };
                let r = conn.query(&format!("KILL {what} {thread}")).await;
                if r.is_ok() {
                    self.proxy.pool.checkin(conn).await;
                }
                r
            }
            .await;
            drop(pending);
            // The statement ended and its connection closed before the KILL landed: as
            // a server answers a KILL QUERY of an idle connection, that is no error.
            let result = match result {
                Err(e)
                    if e.to_err_packet().code == ER_NO_SUCH_THREAD
                        && self.proxy.sessions.get(id).is_some() =>
                {
                    Ok(())
                }
                r => r.map(|_| ()),
            };
            if let Err(e) = result {
                target
                    .killed
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                let mut err = e.to_err_packet();
                if err.code == ER_NO_SUCH_THREAD {
                    err = unknown;
                } else if err.code == 1095 {
                    err.message = format!("You are not owner of thread {id}");
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
            target.stop.raise();
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
                    "Access denied for user '{}'@'{}' (using password: {})",
                    cu.user,
                    super::auth::peer_host(&self.client),
                    if cu.auth_response.is_empty() {
                        "NO"
                    } else {
                        "YES"
                    }
                ),
            );
            // Like the server: the session goes on as the previous user, with its session
            // reset the way a failed COM_CHANGE_USER resets it there.
            self.failed_change_user(&cu).await;
            self.send_err(seq, &err).await;
            return Flow::Continue;
        };
        if cu.user != self.login.user {
            // The new user's own limit applies (`[[users]] max_connections`).
            if let Err(err) = super::listener::take_user_slot(&self.proxy, &self.handle, &cu.user) {
                self.send_err(seq, &err).await;
                return Flow::Close;
            }
        }
        self.release_all();
        self.stmts = Default::default();
        self.pool_user = cu.user.as_str().into();
        // The charset may change too.
        self.pool_lists.clear();
        self.login = Login {
            user: cu.user.clone(),
            credential,
            attrs: cu.attrs.clone(),
        };
        if let Some(cs) = cu.charset {
            self.charset = cs as u8;
        }
        self.state.restart(cu.database.clone());
        *self.handle.user.lock().unwrap_or_else(|e| e.into_inner()) = cu.user;
        if let Err(err) = self.connect_primary().await {
            self.send_err(seq, &err).await;
            return Flow::Close;
        }
        self.state.status = crate::protocol::constants::status::SERVER_STATUS_AUTOCOMMIT;
        self.send_ok(seq).await;
        Flow::Continue
    }
}

impl Session {
    /// Replays a failed COM_CHANGE_USER on the backend (with a token that cannot match)
    /// so the backend session is reset exactly as the server resets it; the connection
    /// then stays with the session but never goes back to the pool.
    async fn failed_change_user(&mut self, cu: &ChangeUser) {
        self.release_replicas();
        if self.conns.is_empty() && self.connect_primary().await.is_err() {
            return;
        }
        let Some(conn) = self.conns.first_mut() else {
            return;
        };
        let wrong = Login {
            user: cu.user.clone(),
            credential: crate::protocol::auth::BackendCredential {
                native_stage1: Some(crate::protocol::auth::scramble()),
                plaintext: None,
            },
            attrs: cu.attrs.clone(),
        };
        let charset = cu.charset.unwrap_or(self.charset as u16) as u8;
        let schema = cu.database.clone();
        if conn
            .change_user(&wrong, schema.as_deref(), charset)
            .await
            .is_ok()
        {
            // Cannot happen with a random token; never keep a connection in doubt.
            self.conns.clear();
            return;
        }
        conn.reusable = false;
        conn.applied = 0;
        // The server reset the session's variables, GTID tracking included.
        if conn.track_gtids().await.is_err() {
            self.conns.clear();
            return;
        }
        self.state.restart(self.state.schema.clone());
        self.stmts = Default::default();
        // The server put the session's character set back to its default: replicas must
        // get the same, so it goes into the history.
        let sql = "SELECT @@character_set_client, @@collation_connection, @@character_set_results";
        if let Ok(rows) = conn.query(sql).await {
            let row = rows.into_iter().next().unwrap_or_default();
            let quote = |v: Option<&Option<String>>| match v.cloned().flatten() {
                Some(s) if s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                    format!("'{s}'")
                }
                _ => "NULL".to_string(),
            };
            let set = format!(
                "\x03SET character_set_client = {}, collation_connection = {}, character_set_results = {}",
                quote(row.first()),
                quote(row.get(1)),
                quote(row.get(2))
            );
            let mut payload = set.into_bytes();
            payload[0] = crate::protocol::constants::com::COM_QUERY;
            self.record(
                crate::router::session::SessionCommand::Query(payload.into()),
                0,
            );
        }
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
        assert_eq!(parse_kill(b"KILL HARD QUERY 9"), Some((9, true)));
        assert_eq!(parse_kill(b"KILL QUERY ID 9"), None);
        assert_eq!(parse_kill(b"KILL USER app"), None);
        assert_eq!(parse_kill(b"SELECT 1"), None);
        assert_eq!(parse_kill(b"KILL 5 6"), None);
    }
}
