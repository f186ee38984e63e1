//! Sync benchmarks.

fn main() {}
