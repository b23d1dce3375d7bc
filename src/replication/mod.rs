//! The backends behind the proxy: their roles and counters now; health, lag, GTID
//! positions and weighted balancing as the replication work lands.

pub mod topology;

pub use topology::{Backend, Topology};
