//! Live client sessions by proxy connection id, so `KILL n` can find the backend thread
//! serving session `n` and `SHOW SESSIONS` can list them. The map changes only at
//! connect and disconnect; each session updates its own [`Activity`] per command (an
//! uncontended lock the admin port reads rarely).

use crate::replication::Backend;
use dashmap::DashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Longest statement text kept for `SHOW SESSIONS`.
const MAX_SHOWN: usize = 512;

/// What a session is doing, for `SHOW SESSIONS`.
#[derive(Debug, Default)]
pub struct Activity {
    /// Command being run (`Query`, `Execute` …), None while idle.
    pub command: Option<&'static str>,
    /// Statement text (first [`MAX_SHOWN`] bytes) of the current or last query, as
    /// sent: made text only when `SHOW SESSIONS` asks, not on every statement.
    pub statement: Vec<u8>,
    /// When the current (or, while idle, the last) command started. Only one clock
    /// read per command: idle time counts from the last command's start.
    pub since: Option<Instant>,
    /// Current schema.
    pub db: Option<String>,
}

/// One row of `SHOW SESSIONS`.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// Proxy connection id.
    pub id: u32,
    /// Client address.
    pub peer: Option<SocketAddr>,
    /// User.
    pub user: String,
    /// Current schema.
    pub db: Option<String>,
    /// Backend serving its statements now, and that backend's thread id.
    pub backend: Option<(String, u32)>,
    /// `Query`, `Execute` …, or `Sleep` while idle.
    pub command: &'static str,
    /// Time since the current (or, while idle, the last) command started.
    pub time: Duration,
    /// The statement running now (or last run).
    pub statement: String,
}

/// What other sessions may know about one session.
#[derive(Debug)]
pub struct SessionHandle {
    /// Proxy connection id (what the client saw in the greeting).
    pub id: u32,
    /// Authenticated user.
    pub user: Mutex<String>,
    /// The backend and thread id currently serving it.
    pub backend: Mutex<Option<(Arc<Backend>, u32)>>,
    /// Cancelled by `KILL CONNECTION` or shutdown.
    pub cancel: CancellationToken,
    /// Set while a `KILL CONNECTION` of this session is under way.
    pub killed: std::sync::atomic::AtomicBool,
    /// Client address.
    pub peer: Option<SocketAddr>,
    /// What it is doing.
    pub activity: Mutex<Activity>,
    /// Its place in its user's session count (`[[users]] max_connections`), from
    /// login; given back when the session leaves the registry.
    pub user_slot: Mutex<Option<super::limits::UserSlot>>,
}

impl SessionHandle {
    /// Notes that a command started: its name and, for statements, their text.
    pub fn begin(&self, command: &'static str, text: Option<&[u8]>) {
        let mut a = self.activity.lock().unwrap_or_else(|e| e.into_inner());
        a.command = Some(command);
        a.since = Some(Instant::now());
        if let Some(t) = text {
            let t = &t[..t.len().min(MAX_SHOWN)];
            a.statement.clear();
            a.statement.extend_from_slice(t);
        }
    }

    /// Notes that the command ended; `db` is the session's schema now.
    pub fn end(&self, db: Option<&str>) {
        let mut a = self.activity.lock().unwrap_or_else(|e| e.into_inner());
        a.command = None;
        if a.db.as_deref() != db {
            a.db = db.map(str::to_string);
        }
    }

    /// A snapshot for `SHOW SESSIONS`.
    pub fn info(&self) -> SessionInfo {
        let user = self.user.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let backend = self
            .backend
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(b, t)| (b.name.to_string(), *t));
        let a = self.activity.lock().unwrap_or_else(|e| e.into_inner());
        SessionInfo {
            id: self.id,
            peer: self.peer,
            user,
            db: a.db.clone(),
            backend,
            command: a.command.unwrap_or("Sleep"),
            time: a.since.map(|s| s.elapsed()).unwrap_or_default(),
            statement: String::from_utf8_lossy(&a.statement).into_owned(),
        }
    }
}

/// The registry.
#[derive(Debug, Default)]
pub struct Registry {
    sessions: DashMap<u32, Arc<SessionHandle>>,
    next_id: AtomicU32,
}

impl Registry {
    /// Registers a new session from `peer` and returns its handle.
    pub fn register(
        &self,
        parent: &CancellationToken,
        peer: Option<SocketAddr>,
    ) -> Arc<SessionHandle> {
        let id = loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            if id != 0 && !self.sessions.contains_key(&id) {
                break id;
            }
        };
        let h = Arc::new(SessionHandle {
            id,
            user: Mutex::new(String::new()),
            backend: Mutex::new(None),
            cancel: parent.child_token(),
            killed: Default::default(),
            peer,
            activity: Mutex::new(Activity::default()),
            user_slot: Mutex::new(None),
        });
        self.sessions.insert(id, h.clone());
        h
    }

    /// Removes a session and gives back its place in its user's count.
    pub fn remove(&self, id: u32) {
        if let Some((_, h)) = self.sessions.remove(&id) {
            h.user_slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
    }

    /// Looks a session up.
    pub fn get(&self, id: u32) -> Option<Arc<SessionHandle>> {
        self.sessions.get(&id).map(|h| h.clone())
    }

    /// Every live session, by id.
    pub fn list(&self) -> Vec<SessionInfo> {
        let mut v: Vec<SessionInfo> = self.sessions.iter().map(|h| h.info()).collect();
        v.sort_by_key(|i| i.id);
        v
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}
