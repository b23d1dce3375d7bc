//! Column definitions kept for MariaDB's MARIADB_CLIENT_CACHE_METADATA. With it, every
//! column count carries one more byte, "metadata follows", and a server sends a prepared
//! statement's column definitions only when they differ from the ones it last sent for
//! that statement (in its prepare response or an execute); otherwise the byte is 0 and
//! the client uses the ones it has. Text results always carry them (the byte is 1).
//!
//! Behind the proxy a client statement runs on whichever connection's statement is free,
//! so the proxy keeps both sides: what each backend statement last sent, and what each
//! client statement last received, and sends a client the definitions a backend skipped
//! when that client has not got them.

use std::sync::Arc;

/// One result set's column definition packets, as the server sent them.
#[derive(Debug, PartialEq, Eq)]
pub struct ColumnDefs {
    /// Each payload after its length (3 bytes, little-endian).
    bytes: Box<[u8]>,
    count: u64,
}

impl ColumnDefs {
    /// Number of columns.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The definitions' payloads, in order.
    pub fn payloads(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest = &*self.bytes;
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<3>()?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], 0]) as usize;
            let (payload, tail) = tail.split_at(len);
            rest = tail;
            Some(payload)
        })
    }
}

/// Collects a result set's definitions as they arrive.
#[derive(Debug, Default)]
pub struct Collector {
    bytes: Vec<u8>,
    count: u64,
}

impl Collector {
    /// Starts over.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.count = 0;
    }

    /// Adds one definition (a whole packet: a definition never reaches 16 MiB).
    pub fn push(&mut self, payload: &[u8]) {
        self.bytes
            .extend_from_slice(&(payload.len() as u32).to_le_bytes()[..3]);
        self.bytes.extend_from_slice(payload);
        self.count += 1;
    }

    fn finish(&self) -> ColumnDefs {
        ColumnDefs {
            bytes: self.bytes.as_slice().into(),
            count: self.count,
        }
    }

    /// The definitions collected, or None when they equal `current` (which then stays:
    /// a statement that sends the same definitions again allocates nothing to keep).
    pub fn renewed(&mut self, current: Option<&Arc<ColumnDefs>>) -> Option<Arc<ColumnDefs>> {
        if current.is_some_and(|c| c.count == self.count && *c.bytes == *self.bytes) {
            return None;
        }
        Some(Arc::new(self.finish()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_come_back_as_sent_and_a_repeat_is_not_renewed() {
        let mut c = Collector::default();
        c.push(b"\x03defa");
        c.push(b"");
        c.push(&[7; 300]);
        let defs = c.renewed(None).expect("new definitions");
        assert_eq!(defs.count(), 3);
        let got: Vec<&[u8]> = defs.payloads().collect();
        assert_eq!(got, [&b"\x03defa"[..], b"", &[7; 300]]);
        assert!(c.renewed(Some(&defs)).is_none());
        c.clear();
        c.push(b"\x03defb");
        assert_eq!(c.renewed(Some(&defs)).map(|d| d.count()), Some(1));
    }
}
