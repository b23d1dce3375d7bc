//! Replication-awareness tests: they lag, delay and reweight replicas, so they run in a
//! test binary of their own with its own cluster (`cargo test --test replication`),
//! apart from the suite that expects healthy replicas.

#[path = "harness.rs"]
mod harness;
mod replication;
