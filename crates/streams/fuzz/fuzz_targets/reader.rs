//! Fuzzes the StreamReader with the harness the tests run
//! deterministically: arbitrary bytes decode into feeds, EOF, an
//! exception, reads in two slots, polls and drops.

#![no_main]

#[path = "../../tests/util"]
mod util {
    pub mod fake;
}

#[path = "../../tests/reader_harness/mod.rs"]
mod reader_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    reader_harness::run_bytes(data);
});
