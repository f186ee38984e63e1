//! Property tests of the stream reader (ST-02), with the fuzz harness of
//! fuzz/harness/stream_reader (also the cargo-fuzz target `stream_reader`).
//! A model: random chunking of the same bytes gives the same readline /
//! readuntil / readexactly results as a reference computed over the whole
//! input. A fuzz run: the harness's two checks on a few thousand arbitrary
//! inputs. All use a fixed seed, so CI runs are reproducible.

#[path = "../../fuzz/harness/stream_reader/mod.rs"]
mod stream_reader;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use stream_reader::{Op, chunked, model, model_bytes, run_bytes};

fn runner(cases: u32) -> TestRunner {
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![4 => Just(b'a'), 2 => Just(b'\n'), 1 => Just(b';'), 1 => Just(b'\r'), 1 => any::<u8>()]
}

fn op() -> impl Strategy<Value = Op> {
    let sep = vec(byte(), 1..4);
    prop_oneof![
        3 => Just(Op::Line),
        3 => vec(sep, 1..4).prop_map(Op::Until),
        2 => (0usize..30).prop_map(Op::Exactly),
    ]
}

#[test]
fn random_chunking_gives_the_same_results_as_the_whole_input() {
    let strategy = (vec(byte(), 0..300), vec(any::<usize>(), 0..40), 1usize..48, vec(op(), 0..25));
    runner(500)
        .run(&strategy, |(data, cuts, limit, ops)| {
            let want = model(&data, limit, &ops);
            let got = chunked(&data, &cuts, limit, &ops);
            prop_assert_eq!(got, want);
            Ok(())
        })
        .unwrap();
}

#[test]
fn one_byte_chunks_match_the_model_too() {
    let strategy = (vec(byte(), 0..200), 1usize..16, vec(op(), 0..20));
    runner(500)
        .run(&strategy, |(data, limit, ops)| {
            let cuts: Vec<usize> = (0..data.len()).collect();
            prop_assert_eq!(chunked(&data, &cuts, limit, &ops), model(&data, limit, &ops));
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_fuzz_harness_finds_no_panic_hang_or_lost_byte() {
    runner(4000)
        .run(&vec(any::<u8>(), 0..600), |script| {
            run_bytes(&script);
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_fuzz_model_check_agrees_on_arbitrary_inputs() {
    runner(4000)
        .run(&vec(any::<u8>(), 0..400), |bytes| {
            model_bytes(&bytes);
            Ok(())
        })
        .unwrap();
}
