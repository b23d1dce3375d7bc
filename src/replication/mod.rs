//! The backends behind the proxy: their roles and counters, and how a read picks a
//! replica. Health, lag and GTID awareness build on these.

pub mod balancer;
pub mod gtid;
pub mod latency;
pub mod monitor;
pub mod probe;
pub mod topology;

pub use topology::{Backend, BackendState, Health, RequestKind, Topology};
