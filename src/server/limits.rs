//! Connection limits kept per client address and per user, like MariaDB's:
//!
//! - [`ConnectErrors`] (`[proxy] max_connect_errors`): failed handshakes in a row from one
//!   client IP. Once an IP has that many, its new connections get ERR 1129 instead of a
//!   greeting until `FLUSH HOSTS` on the admin port; a successful login resets its
//!   count. Only the client port counts (the admin port must stay reachable to unblock).
//! - [`UserSessions`] (`[[users]] max_connections`): sessions open per user; the one over
//!   the limit gets ERR 1203 after authentication. A [`UserSlot`] holds one place and
//!   gives it back when dropped.
//!
//! Both change only at connect and disconnect: a `DashMap` each, never on the query path.

use crate::protocol::constants::errors::{ER_HOST_IS_BLOCKED, ER_TOO_MANY_USER_CONNECTIONS};
use crate::protocol::packets::ErrPacket;
use dashmap::DashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Most client addresses whose errors are remembered; past it, addresses under the limit
/// are forgotten first (MariaDB's host cache is bounded too).
const MAX_HOSTS: usize = 10_000;

/// Failed handshakes in a row, per client IP.
#[derive(Debug, Default)]
pub struct ConnectErrors {
    errors: DashMap<IpAddr, u32>,
    /// Connections refused with ERR 1129.
    pub refused: AtomicU64,
}

impl ConnectErrors {
    /// True when `ip` has `limit` or more failures in a row (`limit` 0 = never).
    pub fn is_blocked(&self, ip: IpAddr, limit: u32) -> bool {
        limit > 0 && self.errors.get(&ip).is_some_and(|n| *n >= limit)
    }

    /// Counts one failed handshake from `ip`; returns its count now.
    pub fn failed(&self, ip: IpAddr, limit: u32) -> u32 {
        if limit == 0 {
            return 0;
        }
        if self.errors.len() >= MAX_HOSTS && !self.errors.contains_key(&ip) {
            // Keep the blocked ones; forget those still under the limit.
            self.errors.retain(|_, n| *n >= limit);
            if self.errors.len() >= MAX_HOSTS {
                return 0;
            }
        }
        let mut n = self.errors.entry(ip).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    /// A successful login from `ip`: its count starts again.
    pub fn succeeded(&self, ip: IpAddr) {
        self.errors.remove(&ip);
    }

    /// `FLUSH HOSTS`: forgets every count; returns how many addresses were blocked.
    pub fn flush(&self, limit: u32) -> usize {
        let blocked = self.blocked(limit);
        self.errors.clear();
        blocked
    }

    /// Addresses blocked now under `limit`.
    pub fn blocked(&self, limit: u32) -> usize {
        if limit == 0 {
            return 0;
        }
        self.errors.iter().filter(|e| *e.value() >= limit).count()
    }

    /// The refusal a blocked client gets in place of the greeting.
    pub fn error(ip: IpAddr) -> ErrPacket {
        ErrPacket::new(
            ER_HOST_IS_BLOCKED,
            "HY000",
            format!(
                "Host '{ip}' is blocked because of many connection errors; \
                 unblock with 'FLUSH HOSTS' on the admin port"
            ),
        )
    }
}

/// Sessions open per user.
#[derive(Debug, Default)]
pub struct UserSessions {
    open: DashMap<String, usize>,
    /// Logins refused with ERR 1203.
    pub refused: AtomicU64,
}

/// One session's place in its user's count; given back on drop.
#[derive(Debug)]
pub struct UserSlot {
    sessions: Arc<UserSessions>,
    user: String,
}

impl UserSessions {
    /// Takes a place for `user`, unless `limit` (> 0) sessions of that user are open.
    /// Sessions are counted even without a limit, so one set by a reload applies at once.
    pub fn acquire(self: &Arc<Self>, user: &str, limit: u32) -> Result<UserSlot, ErrPacket> {
        let mut n = self.open.entry(user.to_string()).or_insert(0);
        if limit > 0 && *n >= limit as usize {
            drop(n);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(ErrPacket::new(
                ER_TOO_MANY_USER_CONNECTIONS,
                "42000",
                format!(
                    "User {user} already has more than 'max_user_connections' active connections"
                ),
            ));
        }
        *n += 1;
        Ok(UserSlot {
            sessions: self.clone(),
            user: user.to_string(),
        })
    }

    /// Sessions of `user` open now.
    pub fn open(&self, user: &str) -> usize {
        self.open.get(user).map(|n| *n).unwrap_or(0)
    }
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        self.sessions.open.remove_if_mut(&self.user, |_, n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_failures_in_a_row_until_success_or_flush() {
        let c = ConnectErrors::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for i in 1..=2 {
            assert!(!c.is_blocked(ip, 3));
            assert_eq!(c.failed(ip, 3), i);
        }
        c.succeeded(ip);
        for _ in 0..3 {
            c.failed(ip, 3);
        }
        assert!(c.is_blocked(ip, 3) && !c.is_blocked(other, 3));
        assert!(!c.is_blocked(ip, 0), "0 turns the limit off");
        assert!(!c.is_blocked(ip, 4), "a higher limit (reload) unblocks");
        assert_eq!(c.blocked(3), 1);
        assert_eq!(c.flush(3), 1);
        assert!(!c.is_blocked(ip, 3));
        assert_eq!(c.failed(ip, 0), 0, "nothing is counted when off");
        let e = ConnectErrors::error(ip);
        assert_eq!(e.code, 1129);
        assert!(e.message.starts_with("Host '10.0.0.1' is blocked"), "{e:?}");
    }

    #[test]
    fn the_host_table_stays_bounded() {
        let c = ConnectErrors::default();
        for i in 0..MAX_HOSTS as u32 {
            c.failed(IpAddr::from(i.to_be_bytes()), 2);
        }
        let seven = IpAddr::from(7u32.to_be_bytes());
        c.failed(seven, 2);
        assert!(c.is_blocked(seven, 2));
        // A new address evicts those under the limit, keeping the blocked one.
        c.failed("192.168.0.1".parse().unwrap(), 2);
        assert_eq!(c.errors.len(), 2);
        assert!(c.is_blocked(seven, 2));
    }

    #[test]
    fn user_slots_are_counted_and_given_back() {
        let s = Arc::new(UserSessions::default());
        let a = s.acquire("app", 2).unwrap();
        let b = s.acquire("app", 2).unwrap();
        let e = s.acquire("app", 2).unwrap_err();
        assert_eq!(e.code, 1203);
        assert_eq!(
            e.message,
            "User app already has more than 'max_user_connections' active connections"
        );
        let other = s.acquire("other", 2).unwrap();
        assert_eq!(s.open("app"), 2);
        drop(a);
        let c = s.acquire("app", 2).unwrap();
        drop((b, c, other));
        assert_eq!(s.open("app"), 0);
        assert!(s.open.is_empty(), "no entry left behind");
        let many: Vec<_> = (0..5).map(|_| s.acquire("app", 0).unwrap()).collect();
        assert_eq!(s.open("app"), 5, "0 = unlimited, still counted");
        drop(many);
        assert_eq!(s.refused.load(Ordering::Relaxed), 1);
    }
}
