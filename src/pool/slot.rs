//! The per-backend connection limit (`[[backends]] max_connections`): a connection may
//! be opened only with a [`Slot`], and the slot is given back when the connection
//! closes. Requests that find every slot taken wait in a bounded queue, woken when a
//! connection closes or goes back to the pool, until `[proxy] queue_timeout_ms`.

use crate::replication::Backend;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Permission to hold one connection to a backend; counted in its `open_conns`.
#[derive(Debug)]
pub struct Slot(Arc<Backend>);

impl Slot {
    /// Takes a slot if the backend is under its `max_connections`.
    pub fn try_take(backend: &Arc<Backend>) -> Option<Slot> {
        let max = u64::from(backend.max_conns.load(Ordering::Relaxed));
        backend
            .open_conns
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(backend.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open_conns.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.notify_one();
    }
}

/// A place in a backend's wait queue, given up when dropped.
#[derive(Debug)]
pub struct Queued(Arc<Backend>);

impl Queued {
    /// Joins the queue unless `max` requests already wait.
    pub fn join(backend: &Arc<Backend>, max: usize) -> Option<Queued> {
        backend
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < max as u64).then_some(n + 1)
            })
            .ok()
            .map(|_| Queued(backend.clone()))
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BackendConfig, Role};

    fn backend(max: u32) -> Arc<Backend> {
        Arc::new(Backend::new(&BackendConfig {
            name: "b".into(),
            address: "127.0.0.1:1".into(),
            role: Role::Primary,
            weight: 1,
            max_lag_ms: 1000,
            state: Default::default(),
            max_connections: max,
        }))
    }

    #[test]
    fn slots_stop_at_max_and_come_back_on_drop() {
        let b = backend(2);
        let s1 = Slot::try_take(&b).unwrap();
        let _s2 = Slot::try_take(&b).unwrap();
        assert!(Slot::try_take(&b).is_none());
        drop(s1);
        assert!(Slot::try_take(&b).is_some());
        assert_eq!(b.open_conns.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn queue_is_bounded() {
        let b = backend(1);
        let q1 = Queued::join(&b, 1).unwrap();
        assert!(Queued::join(&b, 1).is_none());
        drop(q1);
        assert!(Queued::join(&b, 1).is_some());
    }
}
