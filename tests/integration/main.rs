//! Integration tests against real MariaDB servers with real replication, started by the
//! tests themselves (see `harness`). Run with `cargo test --test integration`.

mod bad_input;
mod basics;
mod cluster_test;
mod harness;
mod real_clients;
mod tls;
