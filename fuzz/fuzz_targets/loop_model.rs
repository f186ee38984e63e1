//! Fuzzes the loop's scheduling API against a model of asyncio's ordering
//! rules on virtual time, with the harness CI runs deterministically
//! (fuzz/harness/loop_model).

#![no_main]

#[path = "../harness/loop_model/mod.rs"]
mod loop_model;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    loop_model::run_bytes(data);
});
