//! TCP/UDP echo benchmarks.

fn main() {}
