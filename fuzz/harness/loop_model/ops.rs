//! The script of the loop-model harness: calls made from outside the loop
//! and, for every callback, what it does when it runs — decoded from fuzz
//! bytes. The real loop and the model run the same script.

use std::rc::Rc;
use std::time::Duration;

use super::cursor::Cursor;

/// The most top-level operations one script runs.
pub const MAX_OPS: usize = 300;

/// How deep callbacks scheduled by callbacks nest.
const MAX_DEPTH: u32 = 3;

/// asyncio's `MAXIMUM_SELECT_TIMEOUT`: the longest one poll waits even
/// when the next timer is further away.
pub const MAX_POLL: Duration = Duration::from_secs(24 * 3600);

/// The sentinel timer's delay: further than any delay a script asks for,
/// so it fires only when the loop has nothing else to do. It stops the
/// loop and re-arms itself, so `run_forever` always returns and a poll
/// never blocks for good.
pub const SENTINEL: Duration = Duration::from_secs(10 * 24 * 3600);

const MS: Duration = Duration::from_millis(1);
const HOUR: Duration = Duration::from_secs(3600);

/// Delays: equal ones are frequent (equal deadlines run in scheduling
/// order), two pass the one-day poll cap, and one overflows the clock.
const DELAYS: &[Duration] = &[
    Duration::ZERO,
    Duration::ZERO,
    MS,
    MS,
    Duration::from_millis(2),
    Duration::from_millis(5),
    Duration::from_secs(1),
    Duration::from_secs(25 * 3600),
    Duration::from_secs(3 * 24 * 3600),
    Duration::MAX,
];

/// Offsets of `call_at` deadlines from the loop's time (either way).
const OFFSETS: &[Duration] =
    &[Duration::ZERO, MS, Duration::from_millis(2), Duration::from_secs(1)];

/// Steps of virtual time.
const ADVANCES: &[Duration] = &[
    Duration::ZERO,
    Duration::from_micros(500),
    MS,
    Duration::from_millis(3),
    Duration::from_secs(1),
    HOUR,
    Duration::from_secs(2 * 24 * 3600),
];

/// What a callback does when it runs, in order.
pub type Spec = Rc<[Action]>;

/// One call, made by a callback or from outside the loop.
#[derive(Clone, Debug)]
pub enum Action {
    /// `call_soon` of a callback doing `Spec`.
    Soon(Spec),
    /// `call_soon_threadsafe` (from the loop's own thread).
    Threadsafe(Spec),
    /// `call_later(delay)`.
    Later(Duration, Spec),
    /// `call_at(time() ± by)`.
    At { back: bool, by: Duration, spec: Spec },
    /// Cancels a handle scheduled earlier (picked by the byte); a timer is
    /// cancelled through `TimerHandle::cancel` or, with the high bit,
    /// through its `Handle`.
    Cancel(u8),
    /// `stop()`.
    Stop,
    /// `set_result` on one of the futures (picked by the byte).
    Resolve(u8),
    /// The sentinel's re-arming (never decoded from input).
    Rearm,
}

/// A top-level operation, made from outside the loop.
#[derive(Clone, Debug)]
pub enum Op {
    /// One of the calls a callback can make.
    Act(Action),
    /// One iteration (`TestLoop::run_once`).
    RunOnce,
    /// `run_forever` (the sentinel guarantees it returns).
    RunForever,
    /// `run_until_complete` of one of the futures (picked by the byte).
    RunUntilComplete(u8),
    /// `create_future`.
    NewFuture,
    /// Moves virtual time forward.
    Advance(Duration),
    /// `n` timers at `delay`, all but every `keep_every`-th cancelled at
    /// once: enough cancelled timers to make the heap purge them.
    Burst { n: u8, delay: Duration, keep_every: u8 },
    /// `close()`: every later call fails with `LoopClosed`.
    Close,
}

/// What a call returned, reduced to what both sides can compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Success.
    Ok,
    /// `run_until_complete` returned the future's value.
    Value(u32),
    /// `Error::LoopClosed`.
    Closed,
    /// `Error::InvalidState`.
    InvalidState,
    /// `Error::InvalidArgument`.
    InvalidArgument,
    /// Any other error (never expected).
    Other(String),
}

impl Outcome {
    /// The outcome of a loop call.
    pub fn of<T>(r: &loop_core::Result<T>) -> Outcome {
        match r {
            Ok(_) => Outcome::Ok,
            Err(loop_core::Error::LoopClosed) => Outcome::Closed,
            Err(loop_core::Error::InvalidState(_)) => Outcome::InvalidState,
            Err(loop_core::Error::InvalidArgument(_)) => Outcome::InvalidArgument,
            Err(e) => Outcome::Other(format!("{e:?}")),
        }
    }
}

/// The sentinel's callback: stop, then schedule the next sentinel.
pub fn sentinel_spec() -> Spec {
    Rc::from([Action::Stop, Action::Rearm])
}

/// Decodes a script; every input decodes to one.
pub fn decode(data: &[u8]) -> Vec<Op> {
    let mut c = Cursor::new(data);
    let mut ops = Vec::new();
    while let Some(b) = c.next() {
        if ops.len() >= MAX_OPS {
            break;
        }
        let op = match b % 16 {
            0..=5 => {
                let kind = c.byte();
                Op::Act(action(&mut c, kind, 0))
            }
            6..=8 => Op::RunOnce,
            9 | 10 => Op::RunForever,
            11 => Op::RunUntilComplete(c.byte()),
            12 => Op::NewFuture,
            13 => Op::Advance(c.pick(ADVANCES)),
            14 => Op::Burst { n: c.byte(), delay: c.pick(DELAYS), keep_every: c.byte() % 4 + 1 },
            _ if c.byte() < 8 => Op::Close,
            _ => Op::RunOnce,
        };
        ops.push(op);
    }
    ops
}

fn action(c: &mut Cursor<'_>, kind: u8, depth: u32) -> Action {
    match kind % 9 {
        0 | 1 => Action::Soon(spec(c, depth + 1)),
        2 | 3 => Action::Later(c.pick(DELAYS), spec(c, depth + 1)),
        4 => Action::At { back: c.byte() & 1 == 1, by: c.pick(OFFSETS), spec: spec(c, depth + 1) },
        5 => Action::Threadsafe(spec(c, depth + 1)),
        6 => Action::Cancel(c.byte()),
        7 => Action::Stop,
        _ => Action::Resolve(c.byte()),
    }
}

fn spec(c: &mut Cursor<'_>, depth: u32) -> Spec {
    if depth > MAX_DEPTH {
        return Rc::from([]);
    }
    let n = match c.byte() % 8 {
        0..=2 => 0,
        3..=5 => 1,
        6 => 2,
        _ => 3,
    };
    (0..n)
        .map(|_| {
            let kind = c.byte();
            action(c, kind, depth)
        })
        .collect()
}
