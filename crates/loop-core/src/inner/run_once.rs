//! One iteration of the selector loop (asyncio's `_run_once`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use async_task::Runnable;

use super::LoopInner;
use crate::error::{Error, Result, panic_message};
use crate::exception::ExceptionContext;
use crate::handle::Handle;
use crate::ready::Ready;
use crate::task::{TaskId, TaskRef};

/// The longest the selector blocks in one call even when nothing is due
/// (asyncio's `MAXIMUM_SELECT_TIMEOUT`: one day). Timers further out are
/// simply waited for in several polls, so delays have no upper bound.
pub(crate) const MAX_SELECT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

impl LoopInner {
    /// Runs one iteration. The phases, in order:
    ///
    /// 1. **Purge** the timer heap if cancelled timers dominate it (more than
    ///    100 timers and more than half cancelled), and drop the cancelled
    ///    timers at its head (both at every iteration, as asyncio does).
    /// 2. **Timeout**: zero if anything is ready, stopping, queued from
    ///    another thread or waiting to run before the poll; else until the
    ///    earliest timer (at most [`MAX_SELECT_TIMEOUT`]); else infinite.
    /// 3. **Poll** the driver; every ready fd's reader/writer callback and
    ///    every item sent from another thread joins the ready queue.
    /// 4. **Timers**: every timer due at or before now joins the ready queue,
    ///    in `(deadline, sequence)` order. A timer never runs early.
    /// 5. **Run** exactly the callbacks that were ready when this phase
    ///    started; callbacks they schedule run in the next iteration.
    /// 6. **Before poll**: run the callbacks registered with
    ///    `call_before_poll` (transports flush coalesced writes here).
    ///
    /// # Errors
    ///
    /// An OS error from the driver.
    pub(crate) fn run_once(&self) -> Result<()> {
        self.iterations.set(self.iterations.get() + 1);

        // 1. Purge (`next_deadline` drops the cancelled head).
        let next = {
            let mut timers = self.timers.borrow_mut();
            timers.purge_if_needed();
            timers.next_deadline()
        };

        // 2. Timeout.
        let busy = !self.ready.is_empty()
            || self.stopping.get()
            || !self.remote.is_empty()
            || !self.before_poll.borrow().is_empty();
        let timeout = if busy {
            Some(Duration::ZERO)
        } else {
            next.map(|deadline| {
                deadline.saturating_duration_since(self.time()).min(MAX_SELECT_TIMEOUT)
            })
        };

        // 3. Poll.
        {
            let mut events = self.events.borrow_mut();
            events.clear();
            self.driver.borrow_mut().poll(timeout, &mut events)?;
            let io = self.io.borrow();
            for ev in events.iter() {
                io.dispatch(ev, |h| self.ready.push(Ready::Callback(h)));
            }
        }
        self.take_remote();

        // 4. Timers.
        let now = self.time();
        {
            let ready = &self.ready;
            self.timers.borrow_mut().pop_due(now, |h| ready.push(Ready::Callback(h)));
        }

        // 5. Run this batch.
        let batch = self.ready.len();
        for _ in 0..batch {
            let Some(item) = self.ready.pop() else { break };
            match item {
                Ready::Callback(h) => {
                    if !h.cancelled() {
                        self.run_handle(&h);
                    }
                }
                Ready::Task(id) => self.run_task(id),
                Ready::Runnable(r) => self.run_runnable(r),
                Ready::Remote(f) => self.run_guarded(f, None),
            }
        }

        // 6. Before poll.
        let mut pending = std::mem::take(&mut *self.before_poll.borrow_mut());
        if !pending.is_empty() {
            for h in pending.drain(..) {
                if !h.cancelled() {
                    self.run_handle(&h);
                }
            }
            // Keep the allocation for the next iteration.
            let mut slot = self.before_poll.borrow_mut();
            if slot.is_empty() {
                *slot = pending;
            }
        }
        Ok(())
    }

    fn run_handle(&self, h: &Handle) {
        self.run_guarded(|| h.run(), Some(h));
    }

    /// Runs one step of task `id`. In debug mode the step is timed, and a
    /// slow step's report names the task and where it was created.
    fn run_task(&self, id: TaskId) {
        if !self.common.debug() {
            self.run_guarded_inner(|| self.common.run_task(id), None, false);
            return;
        }
        let task = self.common.task(id);
        self.run_step(|| self.common.run_task(id), task);
    }

    /// Runs one step of a task spawned from another thread.
    fn run_runnable(&self, r: Runnable) {
        if !self.common.debug() {
            self.run_guarded_inner(
                || {
                    r.run();
                },
                None,
                false,
            );
            return;
        }
        self.run_step(
            || {
                r.run();
            },
            None,
        );
    }

    /// Runs a task step in debug mode, warning when it was slow.
    fn run_step(&self, step: impl FnOnce(), task: Option<TaskRef>) {
        let t0 = Instant::now();
        self.run_guarded_inner(step, None, false);
        let took = t0.elapsed();
        if took >= self.common.slow_callback_duration() {
            match task {
                Some(t) => tracing::warn!(
                    target: "tulip",
                    "Executing {t:?} took {:.3} seconds",
                    took.as_secs_f64()
                ),
                None => tracing::warn!(
                    target: "tulip",
                    "Executing a task step took {:.3} seconds",
                    took.as_secs_f64()
                ),
            }
        }
    }

    /// Runs `f`, catching a panic and reporting it with `handle` as context;
    /// in debug mode, warns when `f` was slow.
    fn run_guarded(&self, f: impl FnOnce(), handle: Option<&Handle>) {
        self.run_guarded_inner(f, handle, true);
    }

    /// [`run_guarded`](Self::run_guarded); `time_it: false` leaves the
    /// slow-callback check to the caller.
    fn run_guarded_inner(&self, f: impl FnOnce(), handle: Option<&Handle>, time_it: bool) {
        let debug = time_it && self.common.debug();
        let t0 = debug.then(Instant::now);
        if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
            let err = Error::Panicked(panic_message(&*payload));
            let mut ctx = ExceptionContext::new("Exception in callback").with_error(err);
            if let Some(h) = handle {
                ctx = ctx.with_handle(h.clone());
            }
            self.common.call_exception_handler(ctx);
        }
        if let Some(t0) = t0 {
            let took = t0.elapsed();
            if took >= self.common.slow_callback_duration() {
                match handle {
                    Some(h) => tracing::warn!(
                        target: "tulip",
                        "Executing {h:?} took {:.3} seconds",
                        took.as_secs_f64()
                    ),
                    None => tracing::warn!(
                        target: "tulip",
                        "Executing a callback from another thread took {:.3} seconds",
                        took.as_secs_f64()
                    ),
                }
            }
        }
    }
}
