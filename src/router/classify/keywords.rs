//! The keywords the classifier looks at, matched case-insensitively without allocating
//! and without a chain of comparisons.
//!
//! A word of up to 16 bytes is packed, upper-cased, into a `u128`. [`kw`] finds it in an
//! open-addressing hash table built at compile time from the same packing of every
//! keyword: one pass over the word's bytes, one multiply, usually one probe. The scanner
//! asks only about a handful of keywords, so [`scan_kw`] first rejects a word by its
//! length and first letter, which settles most identifiers with one table lookup.

/// Packs an upper-cased word of at most 16 bytes; `None` if it is longer or empty.
#[inline]
pub(crate) fn pack(word: &[u8]) -> Option<u128> {
    if word.is_empty() || word.len() > 16 {
        return None;
    }
    let mut v: u128 = 0;
    for &b in word {
        v = (v << 8) | u128::from(b.to_ascii_uppercase());
    }
    Some(v)
}

/// [`pack`] at compile time, for the keyword table.
const fn pack_const(s: &str) -> u128 {
    let b = s.as_bytes();
    let mut v: u128 = 0;
    let mut i = 0;
    while i < b.len() {
        v = (v << 8) | b[i] as u128;
        i += 1;
    }
    v
}

/// Slots in the keyword table (a power of two, well above twice the keyword count).
const SLOTS: usize = 512;

/// Slot of a packed word.
#[inline]
const fn slot(p: u128) -> usize {
    let folded = (p as u64) ^ ((p >> 64) as u64).rotate_left(17);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOTS.trailing_zeros())) as usize
}

/// Builds the table: linear probing; an empty slot holds packed value 0 (no word packs
/// to 0).
const fn build(words: &[(u128, Kw)]) -> [(u128, Kw); SLOTS] {
    let mut table = [(0u128, Kw::Other); SLOTS];
    let mut i = 0;
    while i < words.len() {
        let mut at = slot(words[i].0);
        while table[at].0 != 0 {
            at = (at + 1) % SLOTS;
        }
        table[at] = words[i];
        i += 1;
    }
    table
}

macro_rules! keywords {
    ($($name:ident),* $(,)?) => {
        /// A keyword the classifier cares about; everything else is [`Kw::Other`].
        #[allow(clippy::upper_case_acronyms, non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Kw {
            /// Not one of ours (or longer than 16 bytes).
            Other,
            $(
                #[doc = stringify!($name)]
                $name,
            )*
        }

        /// Every keyword with its packing.
        const WORDS: &[(u128, Kw)] = &[$((pack_const(stringify!($name)), Kw::$name)),*];
    };
}

/// The keyword table.
static TABLE: [(u128, Kw); SLOTS] = build(WORDS);

/// The keyword `word` spells, case-insensitively.
#[inline]
pub(crate) fn kw(word: &[u8]) -> Kw {
    let Some(p) = pack(word) else {
        return Kw::Other;
    };
    let mut at = slot(p);
    loop {
        let (key, k) = TABLE[at];
        if key == p {
            return k;
        }
        if key == 0 {
            return Kw::Other;
        }
        at = (at + 1) % SLOTS;
    }
}

/// For each length, the initials of the scanner's keywords of that length.
const SCAN_INITIALS: [u32; 10] = {
    const fn bit(c: u8) -> u32 {
        1 << (c - b'A')
    }
    let mut t = [0u32; 10];
    t[2] = bit(b'A') | bit(b'I');
    t[3] = bit(b'F');
    t[4] = bit(b'L') | bit(b'S') | bit(b'N') | bit(b'I') | bit(b'W');
    t[5] = bit(b'S') | bit(b'V');
    t[6] = bit(b'N') | bit(b'L') | bit(b'U') | bit(b'D') | bit(b'I');
    t[7] = bit(b'R');
    t[8] = bit(b'P');
    t[9] = bit(b'R');
    t
};

/// The few keywords the scanner reacts to. Length and first letter narrow a word to at
/// most one candidate, so most identifiers are rejected without reading them.
#[inline(always)]
pub(crate) fn scan_kw(word: &[u8]) -> Kw {
    let Some(&first) = word.first() else {
        return Kw::Other;
    };
    let first = first.to_ascii_uppercase();
    // Bit `first - 'A'` of SCAN_INITIALS[len]: some scanner keyword has that shape.
    let shape = SCAN_INITIALS.get(word.len()).copied().unwrap_or(0);
    if shape >> (first.wrapping_sub(b'A') & 31) & 1 == 0 {
        return Kw::Other;
    }
    let (text, k): (&[u8], Kw) = match (word.len(), first) {
        (2, b'A') => (b"AS", Kw::AS),
        (2, b'I') => (b"IN", Kw::IN),
        (3, b'F') => (b"FOR", Kw::FOR),
        (4, b'L') => (b"LOCK", Kw::LOCK),
        (4, b'S') => (b"SKIP", Kw::SKIP),
        (4, b'N') => (b"NEXT", Kw::NEXT),
        (4, b'I') => (b"INTO", Kw::INTO),
        (4, b'W') => (b"WITH", Kw::WITH),
        (5, b'S') => (b"SHARE", Kw::SHARE),
        (5, b'V') => (b"VALUE", Kw::VALUE),
        (6, b'N') => (b"NOWAIT", Kw::NOWAIT),
        (6, b'L') => (b"LOCKED", Kw::LOCKED),
        (6, b'U') => (b"UPDATE", Kw::UPDATE),
        (6, b'D') => (b"DELETE", Kw::DELETE),
        (6, b'I') => (b"INSERT", Kw::INSERT),
        (7, b'R') => (b"REPLACE", Kw::REPLACE),
        (8, b'P') => (b"PREVIOUS", Kw::PREVIOUS),
        (9, b'R') => (b"RECURSIVE", Kw::RECURSIVE),
        _ => return Kw::Other,
    };
    if word.eq_ignore_ascii_case(text) {
        k
    } else {
        Kw::Other
    }
}

keywords! {
    // First keywords: writes, DDL, admin.
    INSERT, UPDATE, DELETE, REPLACE, LOAD, CREATE, ALTER, DROP, RENAME, TRUNCATE,
    GRANT, REVOKE, FLUSH, RESET, PURGE, INSTALL, UNINSTALL, OPTIMIZE, REPAIR, ANALYZE,
    CHECK, CHECKSUM, CACHE, CHANGE, STOP, SHUTDOWN, BINLOG, BACKUP, SIGNAL, RESIGNAL,
    KILL, LOCK, UNLOCK, CALL, DO, HANDLER, XA, PREPARE, EXECUTE, DEALLOCATE, GET,
    // Transactions and session commands.
    BEGIN, START, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, TRANSACTION, WORK, CHAIN, NO,
    SET, USE, NOT, TO, READ, ONLY, WRITE, AND,
    // Reads.
    SELECT, WITH, RECURSIVE, SHOW, DESC, DESCRIBE, EXPLAIN, HELP, VALUES, TABLE,
    // Inside statements.
    FOR, SHARE, IN, NOWAIT, SKIP, LOCKED, INTO, NEXT, PREVIOUS, VALUE, AS, TABLES,
    TEMPORARY, PROCEDURE, FUNCTION, TRIGGER, EVENT, PACKAGE,
    // SET.
    GLOBAL, PERSIST, PERSIST_ONLY, SESSION, LOCAL, NAMES, CHARSET, CHARACTER, PASSWORD,
    DEFAULT, ROLE, STATEMENT, AUTOCOMMIT, NULL, TRUE, FALSE,
    // SHOW and EXPLAIN.
    FULL, PROCESSLIST, MASTER, BINARY, SLAVE, REPLICA, SLAVES, REPLICAS, ALL, RELAYLOG,
    WARNINGS, ERRORS, COUNT, PROFILE, PROFILES, EXTENDED, PARTITIONS, FORMAT,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_is_found() {
        for &(p, k) in WORDS {
            let bytes = p.to_be_bytes();
            let word: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
            assert_eq!(kw(&word), k);
            assert_eq!(kw(&word.to_ascii_lowercase()), k);
        }
    }

    #[test]
    fn matches_case_insensitively() {
        assert_eq!(kw(b"select"), Kw::SELECT);
        assert_eq!(kw(b"SeLeCt"), Kw::SELECT);
        assert_eq!(kw(b"PERSIST_ONLY"), Kw::PERSIST_ONLY);
        assert_eq!(kw(b"selectx"), Kw::Other);
        assert_eq!(kw(b"a_very_long_identifier_name"), Kw::Other);
        assert_eq!(kw(b""), Kw::Other);
        assert_eq!(kw("sélect".as_bytes()), Kw::Other);
        assert_eq!(scan_kw(b"for"), Kw::FOR);
        assert_eq!(scan_kw(b"Recursive"), Kw::RECURSIVE);
        assert_eq!(scan_kw(b"select"), Kw::Other);
        assert_eq!(scan_kw(b"sbtest1"), Kw::Other);
    }
}
