//! rwproxy: a MySQL/MariaDB wire-protocol proxy that sends writes, transactions and
//! session-sensitive statements to the primary and spreads plain reads over replicas.
//!
//! The crate is split along the path of one statement (see `DESIGN.md`): `protocol`
//! frames and decodes packets, `router` decides where a statement goes, `replication`
//! knows the backends, `pool` holds backend connections and `server` ties them together
//! per client session. `cluster` is the local MariaDB launcher used by the demo and tests.

pub mod admin;
pub mod bench;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod pool;
pub mod protocol;
pub mod replication;
pub mod router;
pub mod server;
pub mod storefront;
