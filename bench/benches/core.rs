//! Core loop benchmarks.

fn main() {}
