//! Fault tests: crashed, hung and restarted servers under load, and the no-lost-writes
//! ledger. They kill and pause the shared servers, so they run in a test binary of their
//! own with its own cluster (`cargo test --test faults`), one at a time. Figures are
//! printed with `--nocapture`.

mod faults_primary;
mod faults_replica;
mod faults_util;
#[path = "harness.rs"]
mod harness;
mod ledger;
