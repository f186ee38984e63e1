//! Fuzzes the TLS adapter with a peer that sends garbage or corrupts a
//! real handshake, with the harness CI runs deterministically
//! (fuzz/harness/tls_garbage).

#![no_main]

#[path = "../harness/tls_garbage/mod.rs"]
mod tls_garbage;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tls_garbage::run_bytes(data);
});
