//! Replication-awareness tests: they lag, delay and reweight replicas, so they run in a
//! test binary of their own with its own cluster (`cargo test --test replication`),
//! apart from the suite that expects healthy replicas.

mod admin_replication;
#[path = "admin_util.rs"]
mod admin_util;
#[path = "harness.rs"]
mod harness;
mod replication;
