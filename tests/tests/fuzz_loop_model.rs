//! The loop-model fuzz harness (fuzz/harness/loop_model, also the
//! cargo-fuzz target `loop_model`), run deterministically: a few hundred
//! arbitrary scripts with a fixed seed. Hand-written scripts pin the model
//! itself to asyncio's rules, with the expected order written out (the
//! sentinel timer is callback 0; ids count up in scheduling order).

#[path = "../../fuzz/harness/loop_model/mod.rs"]
mod loop_model;

use std::rc::Rc;
use std::time::Duration;

use loop_model::{Action, Op, Outcome, run_bytes, run_ops};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn runner(cases: u32) -> TestRunner {
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A callback that does `actions`.
fn does(actions: &[Action]) -> Rc<[Action]> {
    Rc::from(actions)
}

fn soon(actions: &[Action]) -> Op {
    Op::Act(Action::Soon(does(actions)))
}

fn later(delay: Duration, actions: &[Action]) -> Op {
    Op::Act(Action::Later(delay, does(actions)))
}

#[test]
fn arbitrary_scripts_agree_with_the_model() {
    runner(400)
        .run(&vec(any::<u8>(), 0..500), |script| {
            run_bytes(&script);
            Ok(())
        })
        .unwrap();
}

#[test]
fn ready_callbacks_run_fifo_and_what_they_schedule_runs_next_iteration() {
    let s = run_ops(&[
        soon(&[Action::Soon(does(&[]))]),
        soon(&[]),
        Op::Act(Action::Threadsafe(does(&[]))),
        Op::RunOnce,
    ]);
    // 1 scheduled 4 while running: 4 waits for the next iteration.
    assert_eq!(s.log, [1, 2, 3]);
    assert_eq!(s.iterations, 1);
}

#[test]
fn stop_finishes_the_current_iteration_and_the_next_run_goes_on() {
    let s = run_ops(&[
        soon(&[Action::Stop]),
        soon(&[Action::Soon(does(&[Action::Stop]))]),
        soon(&[]),
        Op::RunForever,
        Op::RunForever,
    ]);
    // The first run: 1 stops, 2 and 3 still run; 4 (scheduled by 2) runs
    // in the second run, which it stops.
    assert_eq!(s.log, [1, 2, 3, 4]);
    assert_eq!(s.iterations, 2);
}

#[test]
fn stop_before_run_forever_runs_one_iteration() {
    let s = run_ops(&[
        Op::Act(Action::Stop),
        soon(&[Action::Soon(does(&[]))]),
        later(ms(1), &[]),
        Op::RunForever,
    ]);
    // The poll does not wait for the timer: one iteration, then return.
    assert_eq!(s.log, [1]);
    assert_eq!(s.iterations, 1);
    assert_eq!(s.elapsed, Duration::ZERO);
}

#[test]
fn timers_run_by_deadline_then_scheduling_order_and_cancelled_never_run() {
    let s = run_ops(&[
        later(ms(5), &[]),
        later(ms(1), &[]),
        later(ms(5), &[]),
        Op::Act(Action::At { back: false, by: ms(1), spec: does(&[]) }),
        later(ms(3), &[]),
        // Cancels timer 5 (the fifth cancellable handle: index 4).
        Op::Act(Action::Cancel(4)),
        later(ms(5), &[Action::Stop]),
        Op::RunForever,
    ]);
    assert_eq!(s.log, [2, 4, 1, 3, 6]);
    assert_eq!(s.elapsed, ms(5));
}

#[test]
fn a_callback_cancelled_earlier_in_its_batch_does_not_run() {
    let s = run_ops(&[
        // Handle 1 cancels handle 2 (index 1), queued in the same batch.
        soon(&[Action::Cancel(1)]),
        soon(&[]),
        soon(&[]),
        Op::RunOnce,
    ]);
    assert_eq!(s.log, [1, 3]);
}

#[test]
fn a_poll_waits_at_most_one_day_so_a_three_day_timer_takes_three_polls() {
    let s = run_ops(&[later(Duration::from_secs(3 * 24 * 3600), &[Action::Stop]), Op::RunForever]);
    assert_eq!(s.log, [1]);
    assert_eq!(s.iterations, 3);
}

#[test]
fn run_until_complete_returns_once_the_future_is_done() {
    let s = run_ops(&[
        later(ms(2), &[Action::Resolve(0)]),
        later(ms(4), &[]),
        Op::RunUntilComplete(0),
        // Already done: the task finishes in its first step.
        Op::RunUntilComplete(0),
    ]);
    // Results: the two call_later, then the resolve (from the callback),
    // then the first run_until_complete, then the second.
    let want = [Outcome::Ok, Outcome::Ok, Outcome::Ok, Outcome::Ok];
    assert_eq!(s.results[..4], want, "{:?}", s.results);
    assert_eq!(s.results[4..6], [Outcome::Value(0), Outcome::Value(0)]);
    // Timer 1 resolves; the task steps once more, its done callback
    // stops the loop: 2 ms of virtual time, timer 2 never ran.
    assert_eq!(s.log, [1]);
    assert_eq!(s.elapsed, ms(2));
}

#[test]
fn run_until_complete_stopped_early_is_an_invalid_state_error() {
    let s = run_ops(&[soon(&[Action::Stop]), Op::RunUntilComplete(0)]);
    assert_eq!(s.results[1..3], [Outcome::Ok, Outcome::InvalidState], "{:?}", s.results);
}

#[test]
fn after_close_every_call_fails_with_loop_closed_and_pending_handles_are_cancelled() {
    let s = run_ops(&[
        soon(&[]),
        later(ms(1), &[]),
        Op::Close,
        soon(&[]),
        later(ms(1), &[]),
        Op::RunOnce,
        Op::RunForever,
        Op::RunUntilComplete(0),
        Op::Close,
    ]);
    assert!(s.log.is_empty());
    // The sentinel's timer, the two calls, close, five refusals, close
    // again (the model checked `cancelled()` of every handle).
    assert_eq!(
        s.results[3..],
        [
            Outcome::Ok,
            Outcome::Closed,
            Outcome::Closed,
            Outcome::Closed,
            Outcome::Closed,
            Outcome::Closed,
            Outcome::Ok,
            Outcome::Ok,
        ],
        "{:?}",
        s.results
    );
}

#[test]
fn a_delay_that_overflows_the_clock_is_an_invalid_argument() {
    let s = run_ops(&[later(Duration::MAX, &[])]);
    assert_eq!(s.results[1], Outcome::InvalidArgument);
}

#[test]
fn cancelled_timers_are_purged_from_the_heap() {
    // 200 timers, three in four cancelled: the heap check after the first
    // run fails unless its iteration reclaimed them (none was due, none at
    // the head of the heap).
    let s = run_ops(&[
        Op::Burst { n: 200, delay: Duration::from_secs(1), keep_every: 4 },
        later(ms(1), &[Action::Stop]),
        Op::RunForever,
        later(Duration::from_secs(2), &[Action::Stop]),
        Op::RunForever,
    ]);
    assert_eq!(s.log[0], 201);
    assert_eq!(s.log.len(), 1 + 50 + 1);
}
