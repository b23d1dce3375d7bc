//! Building small text result sets the proxy answers itself (EXPLAIN ROUTE, and later
//! the admin port): column definitions, rows, and the terminators the client's
//! CLIENT_DEPRECATE_EOF setting calls for.

use super::constants::caps::CLIENT_DEPRECATE_EOF;
use super::constants::ext_caps::MARIADB_CLIENT_CACHE_METADATA;
use super::packets::ok_packet;
use super::wire::{put_lenenc, put_lenenc_bytes};
use bytes::{BufMut, BytesMut};

/// MYSQL_TYPE_VAR_STRING.
const MYSQL_TYPE_VAR_STRING: u8 = 0xfd;
/// utf8mb4_general_ci.
const UTF8MB4: u16 = 45;

fn column_def(name: &str) -> BytesMut {
    let mut b = BytesMut::with_capacity(32 + name.len());
    put_lenenc_bytes(&mut b, b"def");
    put_lenenc_bytes(&mut b, b"");
    put_lenenc_bytes(&mut b, b"");
    put_lenenc_bytes(&mut b, b"");
    put_lenenc_bytes(&mut b, name.as_bytes());
    put_lenenc_bytes(&mut b, name.as_bytes());
    put_lenenc(&mut b, 0x0c);
    b.put_u16_le(UTF8MB4);
    b.put_u32_le(1024);
    b.put_u8(MYSQL_TYPE_VAR_STRING);
    b.put_u16_le(0);
    b.put_u8(0);
    b.put_u16_le(0);
    b
}

fn eof(status: u16) -> BytesMut {
    let mut b = BytesMut::with_capacity(5);
    b.put_u8(0xfe);
    b.put_u16_le(0);
    b.put_u16_le(status);
    b
}

/// The payloads of a complete text result set, in order, for a client with capabilities
/// `caps` and MariaDB extended capabilities `ext_caps`.
pub fn text_resultset(
    columns: &[&str],
    rows: &[Vec<Option<String>>],
    status: u16,
    caps: u32,
    ext_caps: u32,
) -> Vec<BytesMut> {
    let mut out = Vec::with_capacity(columns.len() + rows.len() + 3);
    let mut count = BytesMut::new();
    put_lenenc(&mut count, columns.len() as u64);
    if ext_caps & MARIADB_CLIENT_CACHE_METADATA != 0 {
        // "Metadata follows": a text result always sends its column definitions.
        count.put_u8(1);
    }
    out.push(count);
    out.extend(columns.iter().map(|c| column_def(c)));
    let deprecate = caps & CLIENT_DEPRECATE_EOF != 0;
    if !deprecate {
        out.push(eof(status));
    }
    for row in rows {
        let mut b = BytesMut::new();
        for v in row {
            match v {
                Some(s) => put_lenenc_bytes(&mut b, s.as_bytes()),
                None => b.put_u8(0xfb),
            }
        }
        out.push(b);
    }
    if deprecate {
        let mut ok = ok_packet(status, caps);
        ok[0] = 0xfe;
        out.push(ok);
    } else {
        out.push(eof(status));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::response::{ResponseKind, ResponseWalker, Step};

    #[test]
    fn walker_accepts_what_we_build() {
        for caps in [0, CLIENT_DEPRECATE_EOF] {
            for ext in [0, MARIADB_CLIENT_CACHE_METADATA] {
                let rows = vec![vec![Some("a".into()), None]];
                let packets = text_resultset(&["x", "y"], &rows, 2, caps, ext);
                assert_eq!(packets[0].len(), 1 + usize::from(ext != 0));
                let mut w = ResponseWalker::new(ResponseKind::Query, caps);
                w.set_metadata_flag(ext != 0);
                let steps: Vec<Step> = packets.iter().map(|p| w.feed(p).unwrap()).collect();
                assert_eq!(steps.last(), Some(&Step::Done));
                assert!(steps[..steps.len() - 1].iter().all(|s| *s == Step::More));
                assert_eq!(w.rows, 1);
            }
        }
    }
}
