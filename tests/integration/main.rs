//! Integration tests against real MariaDB servers with real replication, started by the
//! tests themselves (see `harness`). Run with `cargo test --test integration`.

mod admin;
mod admin_http;
mod admin_util;
mod backend_tls;
mod bad_input;
mod basics;
mod cached_metadata;
mod cluster_test;
mod corpus;
mod corpus_blobs;
mod corpus_commands;
mod corpus_kill;
mod corpus_prepared;
mod corpus_raw;
mod corpus_sessions;
mod corpus_types;
mod demo;
mod differential;
mod harness;
mod hostile;
mod kill_pooled;
mod limits;
mod multiplex;
mod multiplex_prepared;
mod overload;
mod rawclient;
mod real_clients;
mod routing;
mod security;
mod shutdown;
mod storefront;
mod tls;
mod transcript;
