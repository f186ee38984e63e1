//! Virtual time: a clock that moves only when told to, and a driver wrapper
//! that moves it instead of waiting.

use std::cell::Cell;
use std::io;
use std::os::fd::BorrowedFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::driver::{Clock, Driver, Event, Interest, Notify};

/// A clock whose time moves only when a test advances it (or a
/// [`VirtualTimeDriver`] does, instead of waiting).
#[derive(Debug)]
pub struct VirtualClock {
    now: Cell<Instant>,
}

impl VirtualClock {
    /// A virtual clock starting at the current real instant.
    pub fn new() -> Self {
        VirtualClock { now: Cell::new(Instant::now()) }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now.get()
    }

    /// Moves time forward by `by`.
    ///
    /// # Panics
    ///
    /// When the new time is past the end of `Instant`'s range (a test
    /// asking for that has a bug; the loop's own APIs refuse such
    /// deadlines with an error).
    pub fn advance(&self, by: Duration) {
        self.now.set(self.now.get() + by);
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Instant {
        self.now.get()
    }
}

/// Wraps a driver so that a wait with a timeout never blocks: the inner
/// driver is polled without blocking and the virtual clock jumps by the
/// timeout (so the timer the loop was waiting for is due). A wait without a
/// timeout (nothing scheduled) blocks in the inner driver as usual.
///
/// The loop caps one poll's timeout at a day (asyncio's
/// `MAXIMUM_SELECT_TIMEOUT`), so a timer further away is reached in steps
/// of a day, one iteration each: ten years are 3,650 iterations, but a
/// timer near the end of `Instant`'s range is out of reach.
#[derive(Debug)]
pub struct VirtualTimeDriver<D> {
    inner: D,
    clock: Rc<VirtualClock>,
}

impl<D: Driver> VirtualTimeDriver<D> {
    /// `inner`, on `clock`.
    pub fn new(inner: D, clock: Rc<VirtualClock>) -> Self {
        VirtualTimeDriver { inner, clock }
    }
}

impl<D: Driver> Driver for VirtualTimeDriver<D> {
    fn register(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        self.inner.register(fd, interest)
    }

    fn reregister(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        self.inner.reregister(fd, interest)
    }

    fn deregister(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.inner.deregister(fd)
    }

    fn poll(&mut self, timeout: Option<Duration>, events: &mut Vec<Event>) -> io::Result<()> {
        match timeout {
            None => self.inner.poll(None, events),
            Some(t) => {
                self.inner.poll(Some(Duration::ZERO), events)?;
                self.clock.advance(t);
                Ok(())
            }
        }
    }

    fn notifier(&self) -> Arc<dyn Notify> {
        self.inner.notifier()
    }

    fn close(&mut self) {
        self.inner.close();
    }
}
