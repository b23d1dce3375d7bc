//! MariaDB GTID positions (`domain-server-seq`, comma-separated per domain) and the one
//! question the proxy asks of them: has a server's position reached another one?

/// True when `pos` (e.g. a replica's `@@gtid_current_pos`) includes `target`: for every
/// domain in `target`, `pos` has that domain with a sequence number at least as high.
/// Sequence numbers grow within a domain, so the server id does not matter. Anything
/// unparseable answers false (the caller then waits on the server instead).
pub fn reached(pos: &str, target: &str) -> bool {
    let Some(have) = parse(pos) else { return false };
    let Some(want) = parse(target) else {
        return false;
    };
    want.iter()
        .all(|(d, seq)| have.iter().any(|(hd, hseq)| hd == d && hseq >= seq))
}

/// `pos` with `gtid` (one `domain-server-seq`) folded in: its domain's entry replaced
/// when `gtid` is newer, added when the domain is new. A session's causal position is
/// built this way from the GTIDs its commits report, so a later commit in one domain
/// never hides an earlier one in another. An unparseable `gtid` leaves `pos` as it is.
pub fn merge(pos: Option<&str>, gtid: &str) -> String {
    let Some(new) = parse(gtid).filter(|g| g.len() == 1) else {
        return pos.unwrap_or_default().to_string();
    };
    let domain = new[0].0;
    let mut out: Vec<&str> = Vec::new();
    let mut replaced = false;
    for entry in pos.unwrap_or_default().split(',').map(str::trim) {
        match parse(entry).as_deref() {
            Some([(d, seq)]) if *d == domain => {
                replaced = true;
                out.push(if *seq > new[0].1 { entry } else { gtid.trim() });
            }
            Some([_]) => out.push(entry),
            _ => {}
        }
    }
    if !replaced {
        out.push(gtid.trim());
    }
    out.join(",")
}

fn parse(list: &str) -> Option<Vec<(u32, u64)>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|g| {
            let mut parts = g.split('-');
            let domain = parts.next()?.parse().ok()?;
            let _server: u32 = parts.next()?.parse().ok()?;
            let seq = parts.next()?.parse().ok()?;
            parts.next().is_none().then_some((domain, seq))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{merge, reached};

    #[test]
    fn merging_commits_into_a_position() {
        assert_eq!(merge(None, "0-1-7"), "0-1-7");
        assert_eq!(merge(Some("0-1-7"), "0-1-9"), "0-1-9");
        assert_eq!(merge(Some("0-1-9"), "0-2-8"), "0-1-9", "never goes back");
        assert_eq!(merge(Some("0-1-9"), "1-1-2"), "0-1-9,1-1-2");
        assert_eq!(merge(Some("0-1-9,1-1-2"), "1-1-3"), "0-1-9,1-1-3");
        assert_eq!(merge(Some("0-1-9"), "junk"), "0-1-9");
        assert_eq!(merge(Some(""), "0-1-1"), "0-1-1");
    }

    #[test]
    fn per_domain_comparison() {
        assert!(reached("0-1-10", "0-1-10"));
        assert!(reached("0-2-11", "0-1-10"), "server id does not matter");
        assert!(!reached("0-1-9", "0-1-10"));
        assert!(reached("0-1-10,1-3-5", "1-3-5"));
        assert!(
            !reached("0-1-10", "0-1-10,1-3-5"),
            "a domain the replica has not seen"
        );
        assert!(reached("0-1-3", ""), "nothing to wait for");
        assert!(!reached("", "0-1-1"));
        assert!(!reached("garbage", "0-1-1"));
        assert!(!reached("0-1-1", "0-1-x"));
    }
}
