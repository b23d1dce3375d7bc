//! One client session: after the handshake, read a command, decide where it goes, and
//! relay it. The session holds at most one connection per backend (the primary from the
//! start, replicas as reads need them); they go back to the pool, reset, when it ends.

use super::auth::{self, Authenticated};
use super::registry::SessionHandle;
use super::stream::ClientStream;
use super::Proxy;
use crate::config::Consistency;
use crate::pool::login::Login;
use crate::pool::BackendConn;
use crate::protocol::command::Command;
use crate::protocol::constants::errors::*;
use crate::protocol::packets::{ok_packet, ErrPacket};
use crate::protocol::{PacketConn, ProtocolError};
use crate::router::classify::ClassifyCache;
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
    /// Backend connections, at most one per backend.
    // Boxed, as in the pool: connections move between the two on every statement.
    #[allow(clippy::vec_box)]
    pub(crate) conns: Vec<Box<BackendConn>>,
    /// Prepared statements.
    pub(crate) stmts: super::prepared::Statements,
    /// Classifications of recent statements.
    pub(crate) cache: ClassifyCache,
    /// `[proxy] max_allowed_packet` when the session started.
    pub(crate) max_packet: usize,
    /// `[proxy] consistency` when the session started.
    pub(crate) consistency: Consistency,
    /// `[proxy] primary_reads` when the session started.
    pub(crate) primary_reads: crate::config::PrimaryReads,
    /// Bounds its waits for backends by `[proxy] backend_read_timeout_ms` as it was
    /// when the session started (None: no bound).
    pub(crate) watch: Option<Arc<crate::protocol::deadline::Watch>>,
    /// The login user, shared by the pool keys of its connections.
    pub(crate) pool_user: Arc<str>,
    /// The idle lists of its connections' pool keys, one per backend, with the name
    /// of the backend each was looked up for (see `pool_list`). Cleared when the user
    /// changes.
    pub(crate) pool_lists: Vec<(Arc<str>, Arc<crate::pool::IdleList>)>,
    /// `[proxy] multiplexing` when the session started.
    pub(crate) multiplexing: bool,
    /// Requests to come for which the session keeps its connections, because the last
    /// results left something a next statement may ask about on them (warnings, an
    /// error, an insert id, a row count: SHOW WARNINGS, LAST_INSERT_ID(), ROW_COUNT()).
    pub(crate) hold: u8,
}

/// Requests a session keeps its connections for after a result that left warnings, an
/// error, an insert id or affected rows (ProxySQL's `auto_increment_delay_multiplex`).
pub(crate) const HOLD_AFTER_RESULT: u8 = 5;

/// How long an idle session keeps connections held for a recent result.
const HOLD_IDLE: Duration = Duration::from_secs(1);

impl Session {
    /// Completes the login (connecting the primary) and runs the command loop; returns
    /// why the session ended (for the disconnect log line).
    pub async fn run(
        proxy: Arc<Proxy>,
        handle: Arc<SessionHandle>,
        authed: Authenticated,
    ) -> &'static str {
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
        let config = proxy.config.load_full();
        let watch = super::forward::read_limit(&config).map(|l| proxy.watchdog.watch(l));
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
            state: SessionState::new(response.database.clone()),
            conns: Vec::with_capacity(2),
            stmts: Default::default(),
            cache: ClassifyCache::default(),
            max_packet: config.proxy.max_allowed_packet,
            consistency: config.proxy.consistency,
            primary_reads: config.proxy.primary_reads,
            watch,
            pool_user: response.user.as_str().into(),
            pool_lists: Vec::new(),
            multiplexing: config.proxy.multiplexing,
            hold: 0,
        };
        let login = match s.login_gate() {
            Ok(()) => s.connect_first().await,
            Err(e) => Err(e),
        };
        if let Err(err) = login {
            tracing::info!(id = s.handle.id, user = %s.login.user, error = %err, "client refused after authentication");
            s.send_err(seq, &err).await;
            s.finish().await;
            return "login failed on the primary";
        }
        s.client
            .write_packet(seq, &ok_packet(s.state.status, s.caps));
        s.handle.end(s.state.schema.as_deref());
        s.park_if_free();
        let why = if s.client.flush().await.is_ok() {
            tracing::debug!(id = s.handle.id, user = %s.login.user, "client authenticated");
            s.command_loop().await
        } else {
            "client closed the connection"
        };
        s.finish().await;
        why
    }

    /// Logs the session in on the primary or, when the primary cannot be reached (down,
    /// restarting), on a replica, so that reads go on for new clients too; their writes
    /// then wait for a writable primary (`write_hold_ms`) and fail clearly. A refusal
    /// by the server (wrong database, access denied) is the client's answer as it is.
    async fn connect_first(&mut self) -> Result<(), ErrPacket> {
        let unreachable = match self.connect_primary().await {
            Ok(()) => return Ok(()),
            Err(e) if e.code == CR_CONN_HOST_ERROR => e,
            Err(e) => return Err(e),
        };
        let replica = {
            let topo = self.proxy.topology.load();
            crate::replication::balancer::pick_reader(&topo, &[], None, false)
        };
        let Some(replica) = replica else {
            return Err(unreachable);
        };
        match self.conn_to(&replica).await {
            Ok(idx) => {
                self.publish_backend(idx);
                tracing::info!(id = self.handle.id, backend = %replica.name, "primary unreachable: session logged in on a replica");
                Ok(())
            }
            Err(_) => Err(unreachable),
        }
    }

    /// Connects the primary (at login and after COM_CHANGE_USER); its errors, such as an
    /// unknown database, are what the client sees.
    pub(crate) async fn connect_primary(&mut self) -> Result<(), ErrPacket> {
        let primary = self.primary_backend()?;
        let idx = self
            .conn_to(&primary)
            .await
            .map_err(|e| e.to_err_packet())?;
        self.publish_backend(idx);
        Ok(())
    }

    async fn command_loop(&mut self) -> &'static str {
        let handle = self.handle.clone();
        // One future for the whole session, not one per command.
        let stopped = handle.stop.raised();
        tokio::pin!(stopped);
        // Set on shutdown while a transaction is open: it may finish until then.
        let mut drain_until: Option<tokio::time::Instant> = None;
        loop {
            // Connections kept for a recent result go back to the pool once the
            // session has been idle for a while.
            let holding = self.hold > 0 && !self.conns.is_empty();
            let packet = match drain_until {
                None => tokio::select! {
                    biased;
                    // (An async block: no timer is made unless the branch is polled.)
                    _ = async { tokio::time::sleep(HOLD_IDLE).await }, if holding => {
                        self.hold = 0;
                        self.park_if_free();
                        continue;
                    }
                    _ = &mut stopped => {
                        let killed = self.handle.killed.load(std::sync::atomic::Ordering::SeqCst);
                        if killed || !self.state.in_transaction() {
                            return "killed or shut down";
                        }
                        let ms = self.proxy.config.load().proxy.shutdown_timeout_ms;
                        drain_until = Some(tokio::time::Instant::now() + Duration::from_millis(ms));
                        continue;
                    }
                    p = self.client.read_packet(0, self.max_packet) => p,
                },
                Some(deadline) => tokio::select! {
                    biased;
                    _ = tokio::time::sleep_until(deadline) => {
                        return "shut down: transaction not finished within shutdown_timeout_ms";
                    }
                    p = self.client.read_packet(0, self.max_packet) => p,
                },
            };
            let flow = match packet {
                Ok(p) => {
                    if p.payload.first() == Some(&crate::protocol::constants::com::COM_QUIT) {
                        return "quit";
                    }
                    self.note_begin(&p.payload);
                    let flow = self.handle_command(&p.payload, p.seq).await;
                    self.handle.end(self.state.schema.as_deref());
                    self.park_if_free();
                    flow
                }
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
                Err(ProtocolError::Closed) => return "client closed the connection",
                Err(_) => return "client connection error",
            };
            if let Flow::Close = flow {
                return "closed after a failed request";
            }
            if drain_until.is_some() && !self.state.in_transaction() {
                return "shut down after its transaction";
            }
        }
    }

    async fn handle_command(&mut self, payload: &[u8], seq: u8) -> Flow {
        let reply = seq.wrapping_add(1);
        match Command::decode(payload) {
            Command::Quit => Flow::Close,
            Command::ChangeUser(body) => self.change_user(body, reply).await,
            Command::ProcessKill(id) => self.kill(id, false, reply).await,
            Command::Query(sql) => self.query(payload, sql, seq).await,
            Command::Unknown(_) => {
                let err = ErrPacket::new(ER_UNKNOWN_COM_ERROR, "08S01", "Unknown command");
                self.send_err(reply, &err).await;
                Flow::Continue
            }
            Command::StmtPrepare(sql) => self.stmt_prepare(payload, sql, seq).await,
            Command::StmtExecute(id) => self.stmt_execute(payload, id, seq).await,
            Command::StmtBulkExecute(_) => self.stmt_bulk_execute(payload, seq).await,
            Command::StmtSendLongData(id) => self.stmt_send_long_data(payload, id, seq).await,
            Command::StmtClose(id) => self.stmt_close(id).await,
            Command::StmtReset(id) => self.stmt_follow(payload, id, seq, false).await,
            Command::StmtFetch(id) => self.stmt_follow(payload, id, seq, true).await,
            Command::InitDb(_) | Command::SetOption(_) => self.session_command(payload, seq).await,
            Command::ResetConnection => self.reset_connection(payload, seq).await,
            Command::Ping | Command::Statistics | Command::FieldList | Command::Debug => {
                self.simple_on_primary(payload, seq).await
            }
        }
    }

    pub(crate) async fn send_err(&mut self, seq: u8, err: &ErrPacket) {
        self.client.write_packet(seq, &err.encode());
        let _ = self.client.flush().await;
    }

    /// An OK of the proxy's own, with the session's status flags but none of those that
    /// describe a previous statement (e.g. SERVER_QUERY_NO_INDEX_USED).
    /// An OK of the proxy's own, with the session's status flags but none of those that
    /// describe a previous statement (e.g. SERVER_QUERY_NO_INDEX_USED).
    pub(crate) async fn send_ok(&mut self, seq: u8) {
        let status = self.state.status & SESSION_STATUS_FLAGS;
        self.client.write_packet(seq, &ok_packet(status, self.caps));
        let _ = self.client.flush().await;
    }

    /// Returns the backend connections to the pool and closes the client side.
    async fn finish(mut self) {
        self.proxy.sessions.remove(self.handle.id);
        self.release_all();
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
