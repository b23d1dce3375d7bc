//! Live client sessions by proxy connection id, so `KILL n` can find the backend thread
//! serving session `n`. Changes only at connect, disconnect and backend switch.

use crate::replication::Backend;
use dashmap::DashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

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
}

/// The registry.
#[derive(Debug, Default)]
pub struct Registry {
    sessions: DashMap<u32, Arc<SessionHandle>>,
    next_id: AtomicU32,
}

impl Registry {
    /// Registers a new session and returns its handle.
    pub fn register(&self, parent: &CancellationToken) -> Arc<SessionHandle> {
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
        });
        self.sessions.insert(id, h.clone());
        h
    }

    /// Removes a session.
    pub fn remove(&self, id: u32) {
        self.sessions.remove(&id);
    }

    /// Looks a session up.
    pub fn get(&self, id: u32) -> Option<Arc<SessionHandle>> {
        self.sessions.get(&id).map(|h| h.clone())
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
