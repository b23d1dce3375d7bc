//! Packet codec benchmarks: framing and response walking.
fn main() {}
