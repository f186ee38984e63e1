//! The seam where an I/O backend plugs into the loop: [`Driver`] and
//! [`Clock`].
//!
//! A [`Loop`](crate::Loop) owns everything asyncio's `BaseEventLoop` does —
//! the ready queue, the timer heap, the task slab, the queue of calls from
//! other threads, the fd callbacks, and the phases of one iteration
//! (`_run_once`) — exactly once, in loop-core. What differs between backends
//! is small, and is all a backend implements:
//!
//! * a [`Driver`]: start, change and stop watching an fd (by
//!   [`BorrowedFd`], for an [`Interest`]), wait for readiness with a timeout
//!   and report it as [`Event`]s, hand out a thread-safe [`Notify`] that
//!   wakes a blocked wait, and release its OS resources at
//!   [`close`](Driver::close);
//! * optionally a [`Clock`] (the system's monotonic clock by default): a
//!   virtual clock lets tests run timers without waiting.
//!
//! Nothing here is reachable from a running loop: a loop built with
//! [`Loop::with_driver`](crate::Loop::with_driver) owns its driver, and only
//! the loop calls it. [`EpollDriver`] is the default (what [`Loop::new`]
//! uses); `test_util` (feature `test-util`) has a scriptable fake.
//!
//! # Contract
//!
//! The loop calls a driver from its own thread only, never re-entrantly:
//!
//! 1. [`register`](Driver::register) once per fd before any
//!    [`reregister`](Driver::reregister); [`deregister`](Driver::deregister)
//!    when the fd's last callback goes. An fd registered for nothing
//!    ([`Interest::NONE`]) is never passed; the loop deregisters instead.
//! 2. [`poll`](Driver::poll) blocks until an event, a [`Notify::notify`]
//!    from any thread, or the timeout (`None`: no timeout; `Some(ZERO)`:
//!    do not block). It may return early and empty (a signal interrupted
//!    the wait): the loop then recomputes its timeout and polls again, so a
//!    driver must not restart a wait with the original timeout. It reports
//!    each ready fd as one [`Event`]. Readiness is level-triggered from the
//!    loop's point of view (an fd still ready is reported again by the next
//!    poll) — except for an fd registered with an [edge](Interest::is_edge)
//!    interest, whose callbacks consume readiness themselves: a driver may
//!    then report only *new* readiness (epoll's `EPOLLET`), but must report
//!    readiness that exists when the fd is registered or re-registered
//!    (epoll does). Reporting such an fd level-triggered is always correct,
//!    only slower, so a driver may ignore the flag.
//! 3. [`close`](Driver::close) releases every OS resource (the loop then
//!    owns no fd, whatever handles still exist); notifications after it do
//!    nothing. The loop never calls the driver again after `close`.
//!
//! [`Loop::new`]: crate::Loop::new
//!
//! # A completion-based backend
//!
//! io_uring reports completed operations, not readiness. It fits this seam
//! in two steps. First, as a readiness driver: `IORING_OP_POLL_ADD` in
//! multishot mode is exactly level-triggered fd watching, and `poll` submits
//! and waits with `io_uring_enter` and a timeout (or an
//! `IORING_OP_TIMEOUT`), so callbacks, transports and timers work unchanged.
//! Second, transports that want completion I/O (reads into registered
//! buffers, zero-copy sends) would keep per-loop state in an extension slot
//! and be woken by the same poll; that is a transport concern above this
//! seam, not a change to it.

mod epoll;

use std::fmt;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use self::epoll::EpollDriver;

/// What an fd is watched for.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interest {
    readable: bool,
    writable: bool,
    edge: bool,
}

impl Interest {
    /// Nothing (never passed to a driver).
    pub const NONE: Interest = Interest::new(false, false);
    /// Readable (or hung up, or in error).
    pub const READABLE: Interest = Interest::new(true, false);
    /// Writable (or in error).
    pub const WRITABLE: Interest = Interest::new(false, true);
    /// Both.
    pub const BOTH: Interest = Interest::new(true, true);

    /// An interest from its two halves (level-triggered).
    pub const fn new(readable: bool, writable: bool) -> Interest {
        Interest { readable, writable, edge: false }
    }

    /// The same interest, edge-triggered or not (see the [module
    /// docs](self), contract point 2).
    #[must_use]
    pub const fn with_edge(self, edge: bool) -> Interest {
        Interest { edge, ..self }
    }

    /// Whether every callback of the fd consumes readiness itself, so that
    /// the driver may report only new readiness.
    pub const fn is_edge(self) -> bool {
        self.edge
    }

    /// Whether reading is watched.
    pub const fn is_readable(self) -> bool {
        self.readable
    }

    /// Whether writing is watched.
    pub const fn is_writable(self) -> bool {
        self.writable
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.readable, self.writable) {
            (false, false) => "NONE",
            (true, false) => "READABLE",
            (false, true) => "WRITABLE",
            (true, true) => "BOTH",
        })?;
        if self.edge { f.write_str("|EDGE") } else { Ok(()) }
    }
}

/// Readiness of one fd, as a driver reports it. An error or hang-up counts
/// as both readable and writable (the callbacks then see it when they
/// read or write).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The fd.
    pub fd: RawFd,
    /// It can be read (or reached end of file, hung up, or failed).
    pub readable: bool,
    /// It can be written (or failed).
    pub writable: bool,
}

/// Wakes a driver blocked in [`Driver::poll`], from any thread.
///
/// Repeated notifications before the next poll may coalesce into one
/// wake-up. After the driver is closed, `notify` does nothing.
pub trait Notify: Send + Sync {
    /// Wakes the driver's current or next `poll`.
    fn notify(&self);
}

/// An I/O backend: see the [module docs](self) for the contract.
pub trait Driver {
    /// Starts watching `fd` for `interest`.
    ///
    /// # Errors
    ///
    /// The OS refused the fd (closed, invalid, not pollable — a regular
    /// file); the loop reports it as
    /// [`Error::InvalidFd`](crate::Error::InvalidFd).
    fn register(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()>;

    /// Changes what a registered `fd` is watched for.
    ///
    /// # Errors
    ///
    /// As [`register`](Driver::register).
    fn reregister(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()>;

    /// Stops watching `fd`.
    ///
    /// # Errors
    ///
    /// The OS refused; the loop ignores it (the fd is forgotten either way).
    fn deregister(&mut self, fd: BorrowedFd<'_>) -> io::Result<()>;

    /// Waits for readiness, at most `timeout` (`None`: no limit), and pushes
    /// one [`Event`] per ready fd onto `events` (which the loop clears
    /// before each call and reuses, so steady state allocates nothing).
    ///
    /// # Errors
    ///
    /// An OS error that makes the loop unusable; `run_forever` returns it.
    fn poll(&mut self, timeout: Option<Duration>, events: &mut Vec<Event>) -> io::Result<()>;

    /// The thread-safe wake-up for this driver's `poll`.
    fn notifier(&self) -> Arc<dyn Notify>;

    /// Releases every OS resource (the loop is closing).
    fn close(&mut self);
}

/// Where a loop reads the time: the system's monotonic clock unless a
/// backend or a test brings its own (see
/// [`Loop::with_driver`](crate::Loop::with_driver)).
pub trait Clock {
    /// The current time; never goes backwards.
    fn now(&self) -> Instant;
}
