//! Integration tests against real MariaDB servers with real replication, started by the
//! tests themselves (see `harness`). Run with `cargo test --test integration`.

mod basics;
mod cluster_test;
mod harness;
mod tls;
