//! `SelectorEventLoop`: the default loop, on a level-triggered epoll
//! selector.
//!
//! Upper crates never name this type; they use [`EventLoop`] through
//! [`Loop`].

mod epoll;
mod io;
mod run_once;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use crate::Loop;
use crate::clock::Clock;
use crate::common::LoopCommon;
use crate::error::{Error, Result};
use crate::event_loop::{EventLoop, Scheduler};
use crate::handle::{Handle, TimerHandle};
use crate::ready::{self, ReadyQueue};
use crate::remote::{RemoteItem, RemoteLoop, RemoteQueue};
use crate::timer_heap::TimerHeap;

use self::epoll::Epoll;
use self::io::{Direction, IoRegistry};

/// The default event loop: a level-triggered epoll selector, a FIFO ready
/// queue shared by callbacks and tasks, and a `(deadline, sequence)` timer
/// heap. See [`run_once`](SelectorEventLoop::run_once) for one iteration.
pub struct SelectorEventLoop {
    common: LoopCommon,
    epoll: RefCell<Epoll>,
    io: RefCell<IoRegistry>,
    ready: Rc<ReadyQueue>,
    before_poll: RefCell<Vec<Handle>>,
    timers: RefCell<TimerHeap>,
    remote: RemoteQueue,
    scheduler: Scheduler,
    clock: Clock,
    running: Cell<bool>,
    stopping: Cell<bool>,
    closed: Cell<bool>,
    iterations: Cell<u64>,
}

impl SelectorEventLoop {
    /// A new loop on the system's monotonic clock, as a user-facing handle.
    ///
    /// # Errors
    ///
    /// The OS refused an epoll instance or an eventfd (out of fds).
    // By design it returns the `Rc`-shared user-facing handle, not `Self`:
    // a loop is only ever used through `Loop`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Result<Loop> {
        Ok(Loop::from_rc(Self::with_clock(Clock::System)?))
    }

    pub(crate) fn with_clock(clock: Clock) -> Result<Rc<Self>> {
        let epoll = Epoll::new()?;
        let notifier = epoll.notifier();
        let remote = RemoteQueue::new(move || notifier.notify());
        let common = LoopCommon::new();
        let id = common.id();
        let to_remote = remote.remote();
        let scheduler: Scheduler = Arc::new(move |runnable| {
            if let Err(runnable) = ready::try_push_local(id, runnable) {
                let _ = to_remote.push(RemoteItem::Task(runnable));
            }
        });
        let ready = Rc::new(ReadyQueue::default());
        ready::register_local(id, ready.clone());
        Ok(Rc::new(SelectorEventLoop {
            common,
            epoll: RefCell::new(epoll),
            io: RefCell::new(IoRegistry::default()),
            ready,
            before_poll: RefCell::new(Vec::new()),
            timers: RefCell::new(TimerHeap::new()),
            remote,
            scheduler,
            clock,
            running: Cell::new(false),
            stopping: Cell::new(false),
            closed: Cell::new(false),
            iterations: Cell::new(0),
        }))
    }

    /// How many iterations (`run_once` calls) the loop has made.
    pub fn iterations(&self) -> u64 {
        self.iterations.get()
    }

    /// Number of timers in the heap, cancelled ones not yet purged included.
    pub fn timer_count(&self) -> usize {
        self.timers.borrow().len()
    }

    /// Number of fds watched.
    pub fn watched_fd_count(&self) -> usize {
        self.io.borrow().len()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.get() { Err(Error::LoopClosed) } else { Ok(()) }
    }

    fn add_io(&self, fd: RawFd, dir: Direction, handle: Handle) -> Result<()> {
        self.check_open()?;
        self.io.borrow_mut().add(&self.epoll.borrow(), fd, dir, handle)
    }

    fn remove_io(&self, fd: RawFd, dir: Direction) -> Result<bool> {
        self.check_open()?;
        Ok(self.io.borrow_mut().remove(&self.epoll.borrow(), fd, dir))
    }

    /// Drops every pending callback, timer, fd watch, queued remote item and
    /// pending task.
    fn release_everything(&self) {
        // Refuse remote pushes first and drop what is queued here, on the
        // loop thread (a dropped task may wake a task of this loop: it lands
        // on the still-registered local ready queue, drained below).
        self.remote.close();
        // Thread-safe handles may outlive the loop: their wake-up fd must not.
        self.epoll.borrow().notifier().close();
        // Released fd callbacks may hold (and so drop) wakers of our tasks.
        self.io.borrow_mut().clear(&self.epoll.borrow());
        // A task waiting on something that never completes is referenced
        // only by its own waker (often from inside its own future, a cycle):
        // it would never be dropped, and neither would what it holds (fds).
        // Cancelling wakes it onto the ready queue, whose runnable the drain
        // below drops, which drops the future and ends the task cancelled.
        for task in self.common.all_tasks() {
            task.cancel();
        }
        // Dropping a task may wake another task of this loop, which lands on
        // the ready queue again: drain until nothing is left.
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
        ready::unregister_local(self.common.id());
        self.common.shutdown_executor_nowait();
    }
}

impl EventLoop for SelectorEventLoop {
    fn time(&self) -> Instant {
        self.clock.now()
    }

    fn call_soon(&self, handle: Handle) -> Result<()> {
        self.check_open()?;
        self.ready.push(ready::Ready::Callback(handle));
        Ok(())
    }

    fn call_at(&self, when: Instant, handle: Handle) -> Result<TimerHandle> {
        self.check_open()?;
        Ok(self.timers.borrow_mut().push(when, handle))
    }

    fn call_before_poll(&self, handle: Handle) -> Result<()> {
        self.check_open()?;
        self.before_poll.borrow_mut().push(handle);
        Ok(())
    }

    fn scheduler(&self) -> Scheduler {
        self.scheduler.clone()
    }

    fn remote(&self) -> RemoteLoop {
        self.remote.remote()
    }

    fn add_reader(&self, fd: RawFd, handle: Handle) -> Result<()> {
        self.add_io(fd, Direction::Read, handle)
    }

    fn remove_reader(&self, fd: RawFd) -> Result<bool> {
        self.remove_io(fd, Direction::Read)
    }

    fn add_writer(&self, fd: RawFd, handle: Handle) -> Result<()> {
        self.add_io(fd, Direction::Write, handle)
    }

    fn remove_writer(&self, fd: RawFd) -> Result<bool> {
        self.remove_io(fd, Direction::Write)
    }

    fn run_forever(&self) -> Result<()> {
        self.check_open()?;
        if self.running.replace(true) {
            return Err(Error::LoopRunning);
        }
        struct Reset<'a>(&'a SelectorEventLoop);
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

    fn stop(&self) {
        self.stopping.set(true);
    }

    fn is_running(&self) -> bool {
        self.running.get()
    }

    fn is_closed(&self) -> bool {
        self.closed.get()
    }

    fn close(&self) -> Result<()> {
        if self.running.get() {
            return Err(Error::LoopRunning);
        }
        if self.closed.replace(true) {
            return Ok(());
        }
        self.release_everything();
        Ok(())
    }

    fn common(&self) -> &LoopCommon {
        &self.common
    }
}

impl Drop for SelectorEventLoop {
    fn drop(&mut self) {
        if !self.closed.replace(true) {
            tracing::warn!(target: "tulip", loop_id = self.common.id(), "unclosed event loop dropped");
            self.release_everything();
        }
    }
}

impl fmt::Debug for SelectorEventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectorEventLoop")
            .field("id", &self.common.id())
            .field("running", &self.running.get())
            .field("closed", &self.closed.get())
            .field("debug", &self.common.debug())
            .field("ready", &self.ready.len())
            .field("timers", &self.timers.borrow().len())
            .finish()
    }
}
