//! One client session: after the handshake, read a command, decide where it goes, forward
//! it and relay the response, and keep the session's state from what the server said.
//! In this version a session keeps one primary connection for its whole life; it goes
//! back to the pool (reset) when the client leaves.

use super::auth::{self, Authenticated};
use super::forward::{self, ForwardError, Request};
use super::registry::SessionHandle;
use super::stream::ClientStream;
use super::Proxy;
use crate::pool::login::{Login, FORMAT_CAPS};
use crate::pool::{BackendConn, PoolKey};
use crate::protocol::command::Command;
use crate::protocol::constants::errors::*;
use crate::protocol::packets::{ok_packet, ErrPacket};
use crate::protocol::response::ResponseKind;
use crate::protocol::{PacketConn, ProtocolError};
use crate::router::SessionState;
use std::sync::Arc;
use std::time::Duration;

/// Status flags that describe the session rather than the last statement.
const SESSION_STATUS_FLAGS: u16 = crate::protocol::constants::status::SERVER_STATUS_IN_TRANS
    | crate::protocol::constants::status::SERVER_STATUS_AUTOCOMMIT
    | 0x0200 // SERVER_STATUS_NO_BACKSLASH_ESCAPES
    | crate::protocol::constants::status::SERVER_STATUS_IN_TRANS_READONLY;

/// What to do after a command.
pub(crate) enum Flow {
    /// Read the next command.
    Continue,
    /// End the session.
    Close,
}

/// A client session after authentication.
pub struct Session {
    pub(crate) proxy: Arc<Proxy>,
    pub(crate) handle: Arc<SessionHandle>,
    pub(crate) client: PacketConn<ClientStream>,
    pub(crate) caps: u32,
    pub(crate) ext_caps: u32,
    pub(crate) login: Login,
    pub(crate) charset: u8,
    pub(crate) scramble: [u8; 20],
    pub(crate) state: SessionState,
    pub(crate) backend: Option<BackendConn>,
    /// `[proxy] max_allowed_packet` when the session started.
    pub(crate) max_packet: usize,
}

impl Session {
    /// Completes the login (connecting the first backend) and runs the command loop.
    pub async fn run(proxy: Arc<Proxy>, handle: Arc<SessionHandle>, authed: Authenticated) {
        let Authenticated {
            conn,
            caps,
            ext_caps,
            response,
            credential,
            scramble,
            seq,
        } = authed;
        *handle.user.lock().unwrap_or_else(|e| e.into_inner()) = response.user.clone();
        let proxy_max_packet = proxy.config.load().proxy.max_allowed_packet;
        let mut s = Session {
            proxy,
            handle,
            client: conn,
            caps,
            ext_caps,
            login: Login {
                user: response.user.clone(),
                credential,
                attrs: response.attrs.clone(),
            },
            charset: response.charset,
            scramble,
            state: SessionState {
                schema: response.database.clone(),
                ..Default::default()
            },
            backend: None,
            max_packet: proxy_max_packet,
        };
        if let Err(err) = s.ensure_backend().await {
            s.send_err(seq, &err).await;
            return;
        }
        s.state.status = crate::protocol::constants::status::SERVER_STATUS_AUTOCOMMIT;
        s.client
            .write_packet(seq, &ok_packet(s.state.status, s.caps));
        if s.client.flush().await.is_err() {
            return;
        }
        tracing::debug!(id = s.handle.id, user = %s.login.user, "client authenticated");
        s.command_loop().await;
        s.finish().await;
    }

    async fn command_loop(&mut self) {
        let max = self.max_packet;
        loop {
            let packet = tokio::select! {
                p = self.client.read_packet(0, max) => p,
                _ = self.handle.cancel.cancelled() => return,
            };
            let flow = match packet {
                Ok(p) => self.handle_command(&p.payload, p.seq).await,
                Err(ProtocolError::TooLarge { size, max }) => {
                    // The oversize packet was read to its end: the stream is in step.
                    let err = ErrPacket::new(
                        ER_NET_PACKET_TOO_LARGE,
                        "08S01",
                        format!(
                            "Got a packet bigger than 'max_allowed_packet' bytes ({size} > {max})"
                        ),
                    );
                    self.send_err(last_seq(size), &err).await;
                    Flow::Continue
                }
                Err(ProtocolError::OutOfOrder { expected, got }) => {
                    let err = ErrPacket::new(
                        ER_NET_PACKETS_OUT_OF_ORDER,
                        "08S01",
                        format!(
                            "Got packets out of order (expected sequence id {expected}, got {got})"
                        ),
                    );
                    self.send_err(got.wrapping_add(1), &err).await;
                    Flow::Close
                }
                Err(_) => Flow::Close,
            };
            if let Flow::Close = flow {
                return;
            }
        }
    }

    async fn handle_command(&mut self, payload: &[u8], seq: u8) -> Flow {
        let cmd = Command::decode(payload);
        let reply = seq.wrapping_add(1);
        let kind = match cmd {
            Command::Quit => return Flow::Close,
            Command::ChangeUser(body) => return self.change_user(body, reply).await,
            Command::ProcessKill(id) => return self.kill(id, false, reply).await,
            Command::Query(sql) => {
                if let Some((id, query_only)) = super::kill::parse_kill(sql) {
                    return self.kill(id, query_only, reply).await;
                }
                Some(ResponseKind::Query)
            }
            Command::Unknown(_) => {
                let err = ErrPacket::new(ER_UNKNOWN_COM_ERROR, "08S01", "Unknown command");
                self.send_err(reply, &err).await;
                return Flow::Continue;
            }
            Command::StmtPrepare(_) => Some(ResponseKind::Prepare),
            Command::StmtExecute(_) | Command::StmtBulkExecute(_) => Some(ResponseKind::Execute),
            Command::StmtFetch(_) | Command::FieldList => Some(ResponseKind::Rows),
            Command::StmtClose(_) | Command::StmtSendLongData(_) => None,
            Command::InitDb(_)
            | Command::Ping
            | Command::Debug
            | Command::Statistics
            | Command::SetOption(_)
            | Command::StmtReset(_)
            | Command::ResetConnection => Some(ResponseKind::Single),
        };
        let req = Request {
            payload,
            seq,
            kind,
            local_files: self.caps & crate::protocol::constants::caps::CLIENT_LOCAL_FILES != 0,
            max_packet: self.max_packet,
        };
        self.forward(&cmd, &req).await
    }

    async fn forward(&mut self, cmd: &Command<'_>, req: &Request<'_>) -> Flow {
        let _route = crate::router::route(cmd, &self.state);
        if let Err(err) = self.ensure_backend().await {
            if req.kind.is_some() {
                self.send_err(req.seq.wrapping_add(1), &err).await;
            }
            return Flow::Continue;
        }
        let Some(backend) = self.backend.as_mut() else {
            return Flow::Close;
        };
        match forward::forward(&mut self.client, backend, req).await {
            Ok(walker) => {
                self.state.observe(walker.status, walker.ok.as_ref());
                if walker.error.is_none() {
                    match cmd {
                        Command::InitDb(db) => {
                            let db = String::from_utf8_lossy(db).into_owned();
                            self.state.schema = Some(db.clone());
                            backend.schema = Some(db);
                        }
                        Command::ResetConnection => self.state.reset(),
                        _ => {}
                    }
                }
                Flow::Continue
            }
            Err(ForwardError::Client(_)) => {
                // The backend may be mid-response: never reuse it.
                self.backend = None;
                Flow::Close
            }
            Err(e @ ForwardError::Backend { sent, .. }) => {
                backend.backend.count_error();
                tracing::warn!(id = self.handle.id, error = %e, "backend failed during a request");
                self.backend = None;
                if !sent
                    && req.kind.is_some()
                    && !self.handle.killed.load(std::sync::atomic::Ordering::SeqCst)
                {
                    let err = ErrPacket::new(
                        CR_SERVER_LOST,
                        "08S01",
                        format!("Lost connection to backend during query: {e}"),
                    );
                    self.send_err(req.seq.wrapping_add(1), &err).await;
                }
                // Session state on that backend (transaction, variables, statements) is
                // gone; continuing would silently change the session's meaning.
                Flow::Close
            }
        }
    }

    /// Makes sure the session has a primary connection.
    pub(crate) async fn ensure_backend(&mut self) -> Result<(), ErrPacket> {
        if self.backend.is_some() {
            return Ok(());
        }
        let topo = self.proxy.topology.load_full();
        let primary = topo.primary().ok_or_else(|| {
            ErrPacket::new(CR_CONN_HOST_ERROR, "08S01", "no primary backend configured")
        })?;
        let key = PoolKey {
            backend: primary.name.clone(),
            user: self.login.user.clone(),
            caps: self.caps & FORMAT_CAPS,
            ext_caps: self.ext_caps,
            charset: self.charset,
        };
        let timeout = Duration::from_millis(self.proxy.config.load().proxy.connect_timeout_ms);
        let conn = self
            .proxy
            .pool
            .checkout(
                primary,
                &key,
                &self.login,
                self.state.schema.as_deref(),
                timeout,
            )
            .await
            .map_err(|e| {
                primary.count_error();
                e.to_err_packet()
            })?;
        *self
            .handle
            .backend
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some((primary.clone(), conn.thread_id));
        self.state.has_backend = true;
        self.backend = Some(conn);
        Ok(())
    }

    pub(crate) async fn send_err(&mut self, seq: u8, err: &ErrPacket) {
        self.client.write_packet(seq, &err.encode());
        let _ = self.client.flush().await;
    }

    /// An OK of the proxy's own, with the session's status flags but none of those that
    /// describe a previous statement (e.g. SERVER_QUERY_NO_INDEX_USED).
    pub(crate) async fn send_ok(&mut self, seq: u8) {
        self.client.write_packet(
            seq,
            &ok_packet(self.state.status & SESSION_STATUS_FLAGS, self.caps),
        );
        let _ = self.client.flush().await;
    }

    /// Returns the backend connection to the pool and closes the client side.
    async fn finish(mut self) {
        self.proxy.sessions.remove(self.handle.id);
        if let Some(conn) = self.backend.take() {
            let proxy = self.proxy.clone();
            tokio::spawn(async move { proxy.pool.checkin(conn).await });
        }
        self.client.shutdown().await;
    }

    /// Verifies a new user for COM_CHANGE_USER with the connection's scramble (or a
    /// switched plugin), like the initial handshake.
    pub(crate) async fn verify_user(
        &mut self,
        response: &crate::protocol::handshake::HandshakeResponse,
        seq: &mut u8,
    ) -> Option<crate::protocol::auth::BackendCredential> {
        let secret = self.proxy.users.load().get(&response.user).cloned()?;
        auth::verify(&mut self.client, seq, &secret, response, &self.scramble)
            .await
            .ok()
            .flatten()
    }
}

/// Sequence id of the last piece of an oversize packet of `size` bytes, plus one.
fn last_seq(size: usize) -> u8 {
    ((size / crate::protocol::constants::MAX_PAYLOAD) as u8).wrapping_add(1)
}
