//! The binary-protocol statements prepared on one backend connection. They outlive the
//! session that prepared them: a pooled connection carries them to the next session, which
//! reuses one instead of preparing the same statement again (multiplexing keeps working for
//! sessions with prepared statements).
//!
//! A statement is found by its COM_STMT_PREPARE payload and by the connection's state
//! fingerprint when it was prepared: the server resolves names (the default schema) and
//! parses (sql_mode, character set) at prepare time, so a statement prepared under other
//! settings is another statement.

use crate::protocol::columns::ColumnDefs;
use bytes::Bytes;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Statements kept per connection; past it the least recently used one is closed (the
/// server's `max_prepared_stmt_count`, 16,382 by default, is shared by all connections).
pub const CAPACITY: usize = 256;

/// One statement prepared on the connection.
#[derive(Debug)]
pub struct Entry {
    /// The COM_STMT_PREPARE payload.
    sql: Arc<[u8]>,
    /// The backend's statement id.
    pub id: u32,
    /// Parameter types last sent with it: an execute that sends none gets these again
    /// from the server, so another session's differing types must be sent explicitly.
    pub types: Option<Bytes>,
    /// The column definitions the server last sent for it (MARIADB_CLIENT_CACHE_METADATA:
    /// what an execute that leaves them out means).
    pub columns: Option<Arc<ColumnDefs>>,
    used: u64,
}

/// The connection's statements, by (state fingerprint, hash of the prepare payload).
#[derive(Debug, Default)]
pub struct StmtCache {
    map: FxHashMap<(u64, u64), Entry>,
    tick: u64,
}

impl StmtCache {
    /// The statement prepared from `sql` under fingerprint `fp`, if here.
    pub fn get_mut(&mut self, fp: u64, hash: u64, sql: &[u8]) -> Option<&mut Entry> {
        self.tick += 1;
        let tick = self.tick;
        let e = self.map.get_mut(&(fp, hash))?;
        if *e.sql != *sql {
            return None;
        }
        e.used = tick;
        Some(e)
    }

    /// Records statement `id`, just prepared from `sql` under `fp`, whose prepare response
    /// sent `columns` (when they are kept). Returns the backend ids the connection should
    /// close: a statement it replaces, or the least recently used one when full.
    #[must_use]
    pub fn insert(
        &mut self,
        fp: u64,
        hash: u64,
        sql: Arc<[u8]>,
        id: u32,
        columns: Option<Arc<ColumnDefs>>,
    ) -> Vec<u32> {
        let mut close = Vec::new();
        if !self.map.contains_key(&(fp, hash)) && self.map.len() >= CAPACITY {
            if let Some(oldest) = self.map.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| *k) {
                close.extend(self.map.remove(&oldest).map(|e| e.id));
            }
        }
        self.tick += 1;
        let entry = Entry {
            sql,
            id,
            types: None,
            columns,
            used: self.tick,
        };
        close.extend(self.map.insert((fp, hash), entry).map(|e| e.id));
        close
    }

    /// Forgets the statement prepared from `sql` under `fp`; returns its backend id.
    pub fn remove(&mut self, fp: u64, hash: u64, sql: &[u8]) -> Option<u32> {
        match self.map.get(&(fp, hash)) {
            Some(e) if *e.sql == *sql => self.map.remove(&(fp, hash)).map(|e| e.id),
            _ => None,
        }
    }

    /// Forgets everything (the server dropped the connection's statements).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Statements held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when none is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The cache key of a prepare payload.
pub fn hash(sql: &[u8]) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(s: &str) -> Arc<[u8]> {
        Arc::from(s.as_bytes())
    }

    #[test]
    fn a_statement_is_found_under_its_fingerprint_only() {
        let mut c = StmtCache::default();
        let s = sql("\x16SELECT 1");
        assert!(c.insert(7, hash(&s), s.clone(), 3, None).is_empty());
        assert_eq!(c.get_mut(7, hash(&s), &s).map(|e| e.id), Some(3));
        assert!(c.get_mut(8, hash(&s), &s).is_none());
    }

    #[test]
    fn a_hash_collision_is_a_miss_and_the_replaced_statement_is_closed() {
        let mut c = StmtCache::default();
        let (a, b) = (sql("\x16SELECT 1"), sql("\x16SELECT 2"));
        assert!(c.insert(1, 42, a.clone(), 5, None).is_empty());
        assert!(c.get_mut(1, 42, &b).is_none());
        assert_eq!(c.insert(1, 42, b.clone(), 6, None), vec![5]);
        assert_eq!(c.get_mut(1, 42, &b).map(|e| e.id), Some(6));
        assert_eq!(c.remove(1, 42, &a), None);
        assert_eq!(c.remove(1, 42, &b), Some(6));
        assert!(c.is_empty());
    }

    #[test]
    fn when_full_the_least_recently_used_statement_goes() {
        let mut c = StmtCache::default();
        let texts: Vec<Arc<[u8]>> = (0..=CAPACITY)
            .map(|i| sql(&format!("\x16SELECT {i}")))
            .collect();
        for (i, s) in texts.iter().take(CAPACITY).enumerate() {
            assert!(c
                .insert(0, hash(s), s.clone(), i as u32 + 1, None)
                .is_empty());
        }
        // Statement 1 used again: statement 2 is now the oldest.
        assert!(c.get_mut(0, hash(&texts[0]), &texts[0]).is_some());
        let last = &texts[CAPACITY];
        assert_eq!(c.insert(0, hash(last), last.clone(), 999, None), vec![2]);
        assert_eq!(c.len(), CAPACITY);
        assert!(c.get_mut(0, hash(&texts[1]), &texts[1]).is_none());
    }
}
