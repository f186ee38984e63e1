//! A fuzz harness for the loop's scheduling API, checked against a model
//! of asyncio's ordering rules on virtual time.
//!
//! Arbitrary bytes decode into a script ([`ops`]): `call_soon`,
//! `call_soon_threadsafe`, `call_later`, `call_at`, `Handle::cancel`,
//! `TimerHandle::cancel`, `stop`, `create_future` and `set_result`, made
//! from outside the loop or by callbacks while it runs, and `run_once`,
//! `run_forever`, `run_until_complete`, advancing virtual time and
//! `close`. The script runs on a `loop_core::test_util::TestLoop` ([`real`])
//! and on the model ([`model`]); after every operation the two must agree
//! on which callbacks ran and in what order, on what every call returned,
//! on the loop's time and iteration count, and the timer heap must hold
//! every live timer and no more entries than lazy cancellation allows. At
//! the end every handle's `cancelled()` and every timer's `when()` must
//! match. Inside callbacks the harness also checks, independently of the
//! model, that no callback runs twice, a cancelled one never runs, and a
//! timer never runs early.
//!
//! Shared by the cargo-fuzz target `loop_model` (fuzz/) and the
//! deterministic proptest run in tests/tests/fuzz_loop_model.rs.

#![allow(dead_code, unreachable_pub)]

#[path = "../cursor.rs"]
mod cursor;

mod model;
mod ops;
mod real;

use std::time::{Duration, Instant};

use loop_core::test_util::TestLoop;

use self::model::Model;
// What the tests use to write scripts by hand (the fuzz target only
// decodes bytes).
#[allow(unused_imports)]
pub use self::ops::{Action, Op, Outcome, decode};
use self::real::{Sched, take_problems, with_world};

/// Decodes `data` into a script and runs it. Panics when the loop and the
/// model disagree or a check fails.
pub fn run_bytes(data: &[u8]) {
    run_ops(&decode(data));
}

/// Uninstalls the world even when a check panics.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        drop(real::uninstall());
        take_problems();
    }
}

/// What a script did, once the loop and the model agreed on it.
#[derive(Debug)]
pub struct Summary {
    /// Ids of the callbacks that ran, in order (the sentinel is id 0).
    pub log: Vec<u32>,
    /// What every call returned, in order.
    pub results: Vec<Outcome>,
    /// Iterations run.
    pub iterations: u64,
    /// Virtual time that passed.
    pub elapsed: Duration,
}

/// Runs `ops` on a fresh `TestLoop` and on the model, then closes both.
/// Panics when they disagree or a check fails.
pub fn run_ops(ops: &[Op]) -> Summary {
    let t = TestLoop::new().expect("a virtual-time loop");
    real::install(&t);
    let _installed = Installed;
    let mut m = Model::new();
    check(&t, &m, || "at the start".to_owned());
    for (i, op) in ops.iter().enumerate() {
        apply_real(&t, op);
        apply_model(&mut m, op);
        check(&t, &m, || format!("after op #{i} {op:?} (script: {ops:?})"));
    }
    apply_real(&t, &Op::Close);
    apply_model(&mut m, &Op::Close);
    check(&t, &m, || format!("after the final close (script: {ops:?})"));
    check_handles(&m, || format!("at the end (script: {ops:?})"));
    let elapsed = Duration::from_nanos(u64::try_from(m.now).expect("time only moves forward"));
    Summary { log: m.log, results: m.results, iterations: m.iterations, elapsed }
}

fn apply_real(t: &TestLoop, op: &Op) {
    let out = match op {
        Op::Act(a) => return with_world(|w| w.perform(a)),
        Op::NewFuture => return with_world(real::World::new_future),
        Op::Advance(by) => return t.advance(*by),
        Op::Burst { n, delay, keep_every } => {
            return with_world(|w| w.burst(*n, *delay, *keep_every));
        }
        Op::RunOnce => Outcome::of(&t.run_once()),
        Op::RunForever => Outcome::of(&t.run_forever()),
        Op::RunUntilComplete(k) => {
            let fut = with_world(|w| w.futures[usize::from(*k) % w.futures.len()].clone());
            match t.run_until_complete(fut) {
                Ok(Ok(v)) => Outcome::Value(v),
                Ok(Err(e)) => Outcome::Other(format!("the future failed: {e:?}")),
                Err(e) => Outcome::of::<()>(&Err(e)),
            }
        }
        Op::Close => Outcome::of(&t.close()),
    };
    with_world(|w| w.results.push(out));
}

fn apply_model(m: &mut Model, op: &Op) {
    match op {
        Op::Act(a) => m.perform(a),
        Op::NewFuture => m.new_future(),
        Op::Advance(by) => m.advance(*by),
        Op::Burst { n, delay, keep_every } => m.burst(*n, *delay, *keep_every),
        Op::RunOnce => m.run_once_op(),
        Op::RunForever => m.run_forever(),
        Op::RunUntilComplete(k) => m.run_until_complete(*k),
        Op::Close => m.close(),
    }
}

/// The instant `nanos` after (or, negative, before) `t0`.
fn instant(t0: Instant, nanos: i128) -> Instant {
    let d = Duration::from_nanos(u64::try_from(nanos.unsigned_abs()).expect("a script's span"));
    if nanos >= 0 { t0 + d } else { t0 - d }
}

/// Where two logs first differ, with a few entries either side.
fn first_difference(real: &[u32], model: &[u32]) -> String {
    let at =
        real.iter().zip(model).position(|(a, b)| a != b).unwrap_or(real.len().min(model.len()));
    let from = at.saturating_sub(5);
    let window = |l: &[u32]| format!("{:?}", &l[from.min(l.len())..(at + 6).min(l.len())]);
    format!(
        "first difference at run #{at} (of {} real, {} model); from #{from}: real {} model {}",
        real.len(),
        model.len(),
        window(real),
        window(model)
    )
}

fn check(t: &TestLoop, m: &Model, at: impl Fn() -> String) {
    let problems = take_problems();
    assert!(problems.is_empty(), "{}: {}", at(), problems.join("; "));
    with_world(|w| {
        if w.log != m.log {
            panic!("{}: the callbacks ran differently: {}", at(), first_difference(&w.log, &m.log));
        }
        assert_eq!(w.results, m.results, "{}: the calls returned differently", at());
        assert_eq!(w.lp.time(), instant(w.t0, m.now), "{}: the loop's time", at());
        assert_eq!(t.iterations(), m.iterations, "{}: iterations run", at());
        assert!(!w.lp.is_running(), "{}: the loop still runs", at());
    });
    // Lazy cancellation may keep cancelled timers in the heap, but no more
    // than asyncio's purge rule allows, and every live timer is there.
    let (bound, live) = m.heap_sizes();
    let held = t.timer_count();
    assert!(
        live <= held && held <= bound,
        "{}: the timer heap holds {held} entries; {live} live timers, at most {bound} expected",
        at()
    );
}

fn check_handles(m: &Model, at: impl Fn() -> String) {
    with_world(|w| {
        assert_eq!(w.sched.len(), m.cbs.len(), "{}: callbacks scheduled", at());
        for (id, (real, model)) in w.sched.iter().zip(&m.cbs).enumerate() {
            let cancelled = real.cancelled();
            assert_eq!(cancelled.is_some(), model.has_handle, "{}: callback {id}'s handle", at());
            if let Some(c) = cancelled {
                assert_eq!(c, model.cancelled, "{}: callback {id}'s cancelled()", at());
            }
            if let (Sched::Timer(t), Some(when)) = (real, model.when) {
                assert_eq!(t.when(), instant(w.t0, when), "{}: timer {id}'s when()", at());
            }
        }
    });
}
