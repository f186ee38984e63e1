//! `LoopInner`: the loop's machinery, behind every [`Loop`] handle.
//!
//! It owns the ready queue, the timer heap, the fd callbacks, the queue of
//! calls from other threads and the per-loop state of [`LoopCommon`], and
//! drives a [`Driver`] (the only pluggable part; see [`crate::driver`]).

mod io;
mod run_once;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::os::fd::BorrowedFd;
use std::rc::Rc;
use std::time::Instant;

use crate::common::LoopCommon;
use crate::driver::{Clock, Driver, Event};
use crate::error::{Error, Result};
use crate::handle::{Handle, TimerHandle};
use crate::ready::{self, ReadyQueue};
use crate::remote::{RemoteItem, RemoteLoop, RemoteQueue};
use crate::task::TaskId;
use crate::timer_heap::TimerHeap;

use self::io::{Direction, IoRegistry};

/// The loop: a FIFO ready queue shared by callbacks and tasks, a
/// `(deadline, sequence)` timer heap, fd callbacks over a [`Driver`]. See
/// [`run_once`](LoopInner::run_once) for one iteration.
pub(crate) struct LoopInner {
    common: LoopCommon,
    driver: RefCell<Box<dyn Driver>>,
    /// The events of the last poll (kept to reuse the allocation).
    events: RefCell<Vec<Event>>,
    io: RefCell<IoRegistry>,
    ready: ReadyQueue,
    before_poll: RefCell<Vec<Handle>>,
    timers: RefCell<TimerHeap>,
    remote: RemoteQueue,
    /// `None`: the system's monotonic clock.
    clock: Option<Rc<dyn Clock>>,
    running: Cell<bool>,
    stopping: Cell<bool>,
    closed: Cell<bool>,
    iterations: Cell<u64>,
}

impl LoopInner {
    /// A loop over `driver`, on `clock` (`None`: the system's).
    pub(crate) fn new(driver: Box<dyn Driver>, clock: Option<Rc<dyn Clock>>) -> Rc<Self> {
        let notifier = driver.notifier();
        let remote = RemoteQueue::new(move || notifier.notify());
        Rc::new(LoopInner {
            common: LoopCommon::new(),
            driver: RefCell::new(driver),
            events: RefCell::new(Vec::new()),
            io: RefCell::new(IoRegistry::default()),
            ready: ReadyQueue::default(),
            before_poll: RefCell::new(Vec::new()),
            timers: RefCell::new(TimerHeap::new()),
            remote,
            clock,
            running: Cell::new(false),
            stopping: Cell::new(false),
            closed: Cell::new(false),
            iterations: Cell::new(0),
        })
    }

    /// How many iterations (`run_once` calls) the loop has made.
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))]
    pub(crate) fn iterations(&self) -> u64 {
        self.iterations.get()
    }

    /// Number of timers in the heap, cancelled ones not yet purged included.
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))]
    pub(crate) fn timer_count(&self) -> usize {
        self.timers.borrow().len()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.get() { Err(Error::LoopClosed) } else { Ok(()) }
    }

    fn add_io(&self, fd: BorrowedFd<'_>, dir: Direction, handle: Handle, edge: bool) -> Result<()> {
        self.check_open()?;
        self.io.borrow_mut().add(&mut **self.driver.borrow_mut(), fd, dir, handle, edge)
    }

    /// A closed loop watches nothing: removing returns `false` (asyncio).
    fn remove_io(&self, fd: BorrowedFd<'_>, dir: Direction) -> Result<bool> {
        if self.closed.get() {
            return Ok(false);
        }
        Ok(self.io.borrow_mut().remove(&mut **self.driver.borrow_mut(), fd, dir))
    }

    /// Drops every pending callback, timer, fd watch, queued remote item and
    /// pending task.
    fn release_everything(&self) {
        // Extensions first, most recent first: they release what they hold
        // outside the loop while its fds and callbacks still exist. They are
        // dropped after everything else (a callback may still hold one).
        let extensions = self.common.extensions.borrow_mut().take_all();
        for ext in &extensions {
            if let Err(payload) =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ext.on_close()))
            {
                let msg = crate::error::panic_message(&*payload);
                self.common.call_exception_handler(
                    crate::exception::ExceptionContext::new(
                        "Exception in a loop extension's close hook",
                    )
                    .with_error(Error::Panicked(msg)),
                );
            }
        }
        // Refuse remote pushes first and drop what is queued here, on the
        // loop thread.
        self.remote.close();
        // Thread-safe handles may outlive the loop: its fds must not (the
        // driver's registrations go with it).
        self.driver.borrow_mut().close();
        // Released fd callbacks may hold (and so drop) wakers of our tasks.
        self.io.borrow_mut().clear();
        // Every pending task ends cancelled, its future dropped here (the
        // slab holds the only loop-side reference, so a task waiting on
        // something that never completes is not leaked).
        self.common.release_tasks();
        // Dropping a callback may drop (and wake) more: drain until nothing
        // is left.
        loop {
            self.ready.clear();
            for h in std::mem::take(&mut *self.before_poll.borrow_mut()) {
                h.cancel(); // releases the closure even if the user kept `h`
            }
            let mut timers = std::mem::replace(&mut *self.timers.borrow_mut(), TimerHeap::new());
            timers.clear();
            drop(timers);
            if self.ready.is_empty() && self.before_poll.borrow().is_empty() {
                break;
            }
        }
        self.common.shutdown_executor_nowait();
        drop(extensions);
    }
}

/// What the user-facing [`Loop`](crate::Loop) calls: scheduling, fd
/// watching and lifecycle.
impl LoopInner {
    pub(crate) fn time(&self) -> Instant {
        match &self.clock {
            None => Instant::now(),
            Some(c) => c.now(),
        }
    }

    pub(crate) fn call_soon(&self, handle: Handle) -> Result<()> {
        self.check_open()?;
        self.push_ready(ready::Ready::Callback(handle));
        Ok(())
    }

    #[track_caller]
    pub(crate) fn call_at(&self, when: Instant, f: impl FnOnce() + 'static) -> Result<TimerHandle> {
        self.check_open()?;
        let mut timers = self.timers.borrow_mut();
        let handle = Handle::timer(f, timers.cancelled_counter());
        Ok(timers.push(when, handle))
    }

    pub(crate) fn call_before_poll(&self, handle: Handle) -> Result<()> {
        self.check_open()?;
        self.before_poll.borrow_mut().push(handle);
        Ok(())
    }

    pub(crate) fn schedule_task(&self, task: TaskId) {
        self.push_ready(ready::Ready::Task(task));
    }

    /// Queues `item`, keeping `call_soon_threadsafe` and `call_soon` one
    /// FIFO queue as in asyncio: work queued from other threads (or this
    /// one) before now joins the ready queue first. When nothing is queued
    /// (nearly always) this costs one emptiness check of the remote queue.
    #[inline]
    fn push_ready(&self, item: ready::Ready) {
        if !self.remote.is_empty() {
            // Out of line, taking `item` along: the fast path keeps it in
            // registers (holding it across a call here made `call_soon`
            // measurably slower).
            self.push_ready_after_remote(item);
        } else {
            self.ready.push(item);
        }
    }

    #[cold]
    #[inline(never)]
    fn push_ready_after_remote(&self, item: ready::Ready) {
        self.take_remote();
        self.ready.push(item);
    }

    /// Moves everything queued from other threads onto the ready queue, in
    /// the order it was queued.
    fn take_remote(&self) {
        while let Some(item) = self.remote.pop() {
            match item {
                RemoteItem::Call(f) => self.ready.push(ready::Ready::Remote(f)),
                RemoteItem::Task(r) => self.ready.push(ready::Ready::Runnable(r)),
                // Queued straight here (not through `schedule_task`, which
                // would look at the rest of the queue first).
                RemoteItem::WakeTask(id) => {
                    if self.common.tasks.mark_scheduled(id) {
                        self.ready.push(ready::Ready::Task(id));
                    }
                }
                RemoteItem::Stop => self.stopping.set(true),
            }
        }
    }

    pub(crate) fn remote(&self) -> RemoteLoop {
        self.remote.remote()
    }

    pub(crate) fn add_reader(&self, fd: BorrowedFd<'_>, handle: Handle, edge: bool) -> Result<()> {
        self.add_io(fd, Direction::Read, handle, edge)
    }

    pub(crate) fn remove_reader(&self, fd: BorrowedFd<'_>) -> Result<bool> {
        self.remove_io(fd, Direction::Read)
    }

    pub(crate) fn add_writer(&self, fd: BorrowedFd<'_>, handle: Handle, edge: bool) -> Result<()> {
        self.add_io(fd, Direction::Write, handle, edge)
    }

    pub(crate) fn remove_writer(&self, fd: BorrowedFd<'_>) -> Result<bool> {
        self.remove_io(fd, Direction::Write)
    }

    pub(crate) fn run_forever(&self) -> Result<()> {
        self.check_open()?;
        if self.running.replace(true) {
            return Err(Error::LoopRunning);
        }
        struct Reset<'a>(&'a LoopInner);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                self.0.stopping.set(false);
                self.0.running.set(false);
            }
        }
        let _reset = Reset(self);
        loop {
            self.run_once()?;
            if self.stopping.get() {
                break;
            }
        }
        Ok(())
    }

    pub(crate) fn stop(&self) {
        self.stopping.set(true);
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running.get()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }

    pub(crate) fn close(&self) -> Result<()> {
        if self.running.get() {
            return Err(Error::LoopRunning);
        }
        if self.closed.replace(true) {
            return Ok(());
        }
        self.release_everything();
        Ok(())
    }

    pub(crate) fn common(&self) -> &LoopCommon {
        &self.common
    }
}

impl Drop for LoopInner {
    fn drop(&mut self) {
        if !self.closed.replace(true) {
            tracing::warn!(target: "tulip", loop_id = self.common.id(), "unclosed event loop dropped");
            self.release_everything();
        }
    }
}

impl fmt::Debug for LoopInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loop")
            .field("id", &self.common.id())
            .field("running", &self.running.get())
            .field("closed", &self.closed.get())
            .field("debug", &self.common.debug())
            .field("ready", &self.ready.len())
            .field("timers", &self.timers.borrow().len())
            .finish()
    }
}
