//! The statement path's text readers, on any bytes a client may send as SQL: the
//! classifier (fast lexical path and sqlparser), the per-session classification cache
//! (which must agree with the uncached classifier), the digest fingerprint, and the
//! admin port's `EXPLAIN ROUTE` target finder.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rwproxy::router::classify::{classify, ClassifyCache, Target};

fuzz_target!(|data: &[u8]| {
    let c = classify(data);
    if std::str::from_utf8(data).is_err() {
        assert_eq!(
            c.target,
            Target::Primary,
            "unreadable text goes to the primary"
        );
    }
    let mut cache = ClassifyCache::with_capacity(2);
    assert_eq!(cache.get_or_classify(data), c, "cache miss agrees");
    assert_eq!(cache.get_or_classify(data), c, "cache hit agrees");
    let mut fp = Vec::new();
    rwproxy::admin::fingerprint::fingerprint(data, &mut fp);
    assert!(fp.len() <= 2 * rwproxy::admin::fingerprint::MAX_SCAN + 16);
    let _ = rwproxy::server::explain::explain_route_target(data);
});
