//! The model: asyncio's ordering rules written down as directly as
//! possible, on a virtual clock counted in nanoseconds from the loop's
//! start.
//!
//! * One iteration (`_run_once`): purge the timer heap when more than 100
//!   entries and more than half cancelled; drop cancelled entries at its
//!   head; poll with timeout 0 when anything is ready or the loop is
//!   stopping, else until the earliest live timer (at most one day), else
//!   forever; move every live timer due at or before now to the ready
//!   queue in `(deadline, scheduling order)`; run exactly the callbacks
//!   that were ready then (a cancelled one is skipped); what they schedule
//!   runs in the next iteration.
//! * `run_forever` runs iterations until one ends with the loop stopping;
//!   `stop()` lets the current iteration finish.
//! * `run_until_complete(fut)` queues the task's first step like
//!   `call_soon`; a task waiting on a future is queued again when the
//!   future's result is set; a finished task queues its done callback,
//!   which stops the loop if its `run_until_complete` is still waiting.
//! * `close()` cancels every queued callback and timer.

use std::collections::VecDeque;
use std::time::Duration;

use super::ops::{Action, MAX_POLL, Outcome, SENTINEL, Spec, sentinel_spec};

/// The purge rule of asyncio (`_MIN_SCHEDULED_TIMER_HANDLES`).
const MIN_TIMERS_TO_PURGE: usize = 100;

fn nanos(d: Duration) -> i128 {
    i128::try_from(d.as_nanos()).expect("a script's durations fit i128")
}

/// What the ready queue holds.
#[derive(Clone, Copy, Debug)]
enum Item {
    Cb(u32),
    /// A step of the task of `run_until_complete` number n.
    Task(usize),
    /// The done callback of that task.
    Done(usize),
}

#[derive(Debug)]
struct Entry {
    when: i128,
    seq: u64,
    id: u32,
}

/// A scheduled callback.
#[derive(Debug)]
pub struct Cb {
    spec: Spec,
    /// Whether the real side got a handle for it.
    pub has_handle: bool,
    pub cancelled: bool,
    /// Its deadline, for a timer.
    pub when: Option<i128>,
}

#[derive(Debug, Default)]
struct Fut {
    done: bool,
    waiters: Vec<usize>,
}

#[derive(Debug)]
struct Run {
    fut: usize,
    active: bool,
    done: bool,
}

/// The model loop.
#[derive(Debug, Default)]
pub struct Model {
    /// Virtual time since the start, in nanoseconds.
    pub now: i128,
    ready: VecDeque<Item>,
    heap: Vec<Entry>,
    next_seq: u64,
    stopping: bool,
    closed: bool,
    /// Iterations run.
    pub iterations: u64,
    /// Ids of the callbacks that ran, in order.
    pub log: Vec<u32>,
    /// What every call returned, in order.
    pub results: Vec<Outcome>,
    /// Every callback scheduled (or refused), by id.
    pub cbs: Vec<Cb>,
    cancellable: Vec<u32>,
    futures: Vec<Fut>,
    runs: Vec<Run>,
}

impl Model {
    /// A model with one future and the first sentinel, as the real side
    /// starts.
    pub fn new() -> Model {
        let mut m = Model::default();
        m.futures.push(Fut::default());
        m.timer(nanos(SENTINEL), &sentinel_spec(), false);
        m
    }

    /// Timers in the heap; and of those, the ones not cancelled.
    pub fn heap_sizes(&self) -> (usize, usize) {
        let live = self.heap.iter().filter(|e| !self.cbs[e.id as usize].cancelled).count();
        (self.heap.len(), live)
    }

    fn new_cb(&mut self, spec: Spec) -> u32 {
        let id = u32::try_from(self.cbs.len()).expect("fewer than 2^32 callbacks");
        self.cbs.push(Cb { spec, has_handle: false, cancelled: false, when: None });
        id
    }

    fn push_timer(&mut self, when: i128, spec: Spec, cancellable: bool) -> u32 {
        let id = self.new_cb(spec);
        let cb = &mut self.cbs[id as usize];
        cb.has_handle = true;
        cb.when = Some(when);
        self.heap.push(Entry { when, seq: self.next_seq, id });
        self.next_seq += 1;
        if cancellable {
            self.cancellable.push(id);
        }
        id
    }

    /// A call made from outside the loop or by a callback.
    pub fn perform(&mut self, a: &Action) {
        match a {
            Action::Soon(spec) | Action::Threadsafe(spec) => {
                let id = self.new_cb(spec.clone());
                if self.closed {
                    self.results.push(Outcome::Closed);
                    return;
                }
                self.ready.push_back(Item::Cb(id));
                if matches!(a, Action::Soon(_)) {
                    self.cbs[id as usize].has_handle = true;
                    self.cancellable.push(id);
                }
                self.results.push(Outcome::Ok);
            }
            Action::Later(delay, spec) => {
                // The deadline is computed first: an overflow is reported
                // even on a closed loop.
                if *delay == Duration::MAX {
                    self.new_cb(spec.clone());
                    self.results.push(Outcome::InvalidArgument);
                } else {
                    self.timer(self.now + nanos(*delay), spec, true);
                }
            }
            Action::At { back, by, spec } => {
                let when = if *back { self.now - nanos(*by) } else { self.now + nanos(*by) };
                self.timer(when, spec, true);
            }
            Action::Cancel(k) => {
                if !self.cancellable.is_empty() {
                    let id = self.cancellable[usize::from(*k) % self.cancellable.len()];
                    self.cbs[id as usize].cancelled = true;
                }
            }
            Action::Stop => self.stopping = true,
            Action::Resolve(k) => {
                if self.futures.is_empty() {
                    return;
                }
                let f = usize::from(*k) % self.futures.len();
                let fut = &mut self.futures[f];
                if fut.done {
                    self.results.push(Outcome::InvalidState);
                    return;
                }
                fut.done = true;
                let waiters = std::mem::take(&mut fut.waiters);
                self.ready.extend(waiters.into_iter().map(Item::Task));
                self.results.push(Outcome::Ok);
            }
            Action::Rearm => self.timer(self.now + nanos(SENTINEL), &sentinel_spec(), false),
        }
    }

    fn timer(&mut self, when: i128, spec: &Spec, cancellable: bool) {
        if self.closed {
            self.new_cb(spec.clone());
            self.results.push(Outcome::Closed);
        } else {
            self.push_timer(when, spec.clone(), cancellable);
            self.results.push(Outcome::Ok);
        }
    }

    /// `n` timers at `delay`, all but every `keep_every`-th cancelled.
    pub fn burst(&mut self, n: u8, delay: Duration, keep_every: u8) {
        for i in 0..n {
            let before = self.cbs.len();
            self.perform(&Action::Later(delay, Spec::from([])));
            if i % keep_every != 0 && self.cbs.len() > before {
                let id = self.cbs.len() - 1;
                if self.cbs[id].has_handle {
                    self.cbs[id].cancelled = true;
                }
            }
            // Burst timers are not targets of `Cancel`.
            if self.cancellable.last().is_some_and(|&id| id as usize == self.cbs.len() - 1) {
                self.cancellable.pop();
            }
        }
    }

    /// `create_future`.
    pub fn new_future(&mut self) {
        self.futures.push(Fut::default());
    }

    /// Moves time forward.
    pub fn advance(&mut self, by: Duration) {
        self.now += nanos(by);
    }

    /// `close()`.
    pub fn close(&mut self) {
        self.results.push(Outcome::Ok);
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        for item in std::mem::take(&mut self.ready) {
            if let Item::Cb(id) = item {
                self.cbs[id as usize].cancelled = true;
            }
        }
        for e in std::mem::take(&mut self.heap) {
            self.cbs[e.id as usize].cancelled = true;
        }
        for f in &mut self.futures {
            f.waiters.clear();
        }
    }

    /// `TestLoop::run_once`.
    pub fn run_once_op(&mut self) {
        if self.closed {
            self.results.push(Outcome::Closed);
        } else {
            self.run_once();
            self.results.push(Outcome::Ok);
        }
    }

    /// `run_forever`.
    pub fn run_forever(&mut self) {
        if self.closed {
            self.results.push(Outcome::Closed);
        } else {
            self.run_until_stopped();
            self.results.push(Outcome::Ok);
        }
    }

    /// `run_until_complete` of future `k`.
    pub fn run_until_complete(&mut self, k: u8) {
        if self.closed {
            self.results.push(Outcome::Closed);
            return;
        }
        let fut = usize::from(k) % self.futures.len();
        let r = self.runs.len();
        self.runs.push(Run { fut, active: true, done: false });
        self.ready.push_back(Item::Task(r));
        self.run_until_stopped();
        self.runs[r].active = false;
        let out = if self.runs[r].done {
            Outcome::Value(u32::try_from(fut).expect("few futures"))
        } else {
            Outcome::InvalidState
        };
        self.results.push(out);
    }

    fn run_until_stopped(&mut self) {
        loop {
            self.run_once();
            if self.stopping {
                break;
            }
        }
        self.stopping = false;
    }

    /// The earliest entry of the heap, by `(when, seq)`.
    fn head(&self) -> Option<usize> {
        (0..self.heap.len()).min_by_key(|&i| (self.heap[i].when, self.heap[i].seq))
    }

    fn run_once(&mut self) {
        self.iterations += 1;
        // 1. Purge, then drop cancelled entries at the head.
        let (len, live) = self.heap_sizes();
        if len > MIN_TIMERS_TO_PURGE && 2 * (len - live) > len {
            let cbs = &self.cbs;
            self.heap.retain(|e| !cbs[e.id as usize].cancelled);
        }
        let next = loop {
            let Some(i) = self.head() else { break None };
            if !self.cbs[self.heap[i].id as usize].cancelled {
                break Some(self.heap[i].when);
            }
            self.heap.swap_remove(i);
        };
        // 2–3. The poll: on virtual time, waiting moves the clock.
        let timeout = if !self.ready.is_empty() || self.stopping {
            0
        } else {
            let next = next.expect("the sentinel keeps a live timer in the heap");
            (next - self.now).clamp(0, nanos(MAX_POLL))
        };
        self.now += timeout;
        // 4. Due timers, in (when, seq) order.
        while let Some(i) = self.head() {
            if self.heap[i].when > self.now {
                break;
            }
            let e = self.heap.swap_remove(i);
            if !self.cbs[e.id as usize].cancelled {
                self.ready.push_back(Item::Cb(e.id));
            }
        }
        // 5. This batch only.
        for _ in 0..self.ready.len() {
            let Some(item) = self.ready.pop_front() else { break };
            match item {
                Item::Cb(id) => {
                    if !self.cbs[id as usize].cancelled {
                        self.fire(id);
                    }
                }
                Item::Task(r) => {
                    let f = self.runs[r].fut;
                    if self.futures[f].done {
                        self.runs[r].done = true;
                        self.ready.push_back(Item::Done(r));
                    } else {
                        self.futures[f].waiters.push(r);
                    }
                }
                Item::Done(r) => {
                    if self.runs[r].active {
                        self.stopping = true;
                    }
                }
            }
        }
    }

    fn fire(&mut self, id: u32) {
        self.log.push(id);
        let spec = self.cbs[id as usize].spec.clone();
        for a in spec.iter() {
            self.perform(a);
        }
    }
}
