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
use std::time::Instant;

use crate::Loop;
use crate::clock::Clock;
use crate::common::LoopCommon;
use crate::error::{Error, Result};
use crate::event_loop::EventLoop;
use crate::handle::{Handle, TimerHandle};
use crate::ready::{self, ReadyQueue};
use crate::remote::{RemoteLoop, RemoteQueue};
use crate::task::TaskId;
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
    ready: ReadyQueue,
    before_poll: RefCell<Vec<Handle>>,
    timers: RefCell<TimerHeap>,
    remote: RemoteQueue,
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
        Ok(Rc::new(SelectorEventLoop {
            common: LoopCommon::new(),
            epoll: RefCell::new(epoll),
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
        // loop thread.
        self.remote.close();
        // Thread-safe handles may outlive the loop: their wake-up fd must not.
        self.epoll.borrow().notifier().close();
        // Released fd callbacks may hold (and so drop) wakers of our tasks.
        self.io.borrow_mut().clear(&self.epoll.borrow());
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

    fn schedule_task(&self, task: TaskId) {
        self.ready.push(ready::Ready::Task(task));
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
