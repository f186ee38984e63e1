//! Fuzzes the stream reader's parsing with the harness CI runs
//! deterministically (fuzz/harness/stream_reader): the input is both a
//! script of feeds and reads (no panic, hang or lost byte) and a model
//! check (chunked reads agree with a reference over the whole input).

#![no_main]

#[path = "../harness/stream_reader/mod.rs"]
mod stream_reader;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    stream_reader::run_bytes(data);
    stream_reader::model_bytes(data);
});
