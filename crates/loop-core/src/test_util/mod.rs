//! Test support (feature `test-util`): a loop on virtual time, a scriptable
//! fake driver, and an open-fd counter.
//!
//! ```
//! use std::time::Duration;
//! use loop_core::test_util::TestLoop;
//!
//! let t = TestLoop::new().unwrap();
//! let start = t.time();
//! let lp = t.handle().clone();
//! // A one-hour timer fires at once in real time: the clock jumps to it.
//! t.call_later(Duration::from_secs(3600), move || lp.stop()).unwrap();
//! t.run_forever().unwrap();
//! assert_eq!(t.time() - start, Duration::from_secs(3600));
//! ```

mod fake_driver;
mod virtual_time;

use std::ops::Deref;
use std::rc::Rc;
use std::time::Duration;

use crate::Loop;
use crate::driver::EpollDriver;
use crate::error::Result;

pub use self::fake_driver::FakeDriver;
pub use self::virtual_time::{VirtualClock, VirtualTimeDriver};

/// A loop whose clock is virtual: time moves only when the test calls
/// [`advance`](TestLoop::advance), or when the loop would block waiting for
/// a timer (it jumps to that timer's deadline instead). Real fds still work:
/// the driver is the real epoll driver behind a [`VirtualTimeDriver`].
/// Derefs to [`Loop`].
pub struct TestLoop {
    lp: Loop,
    clock: Rc<VirtualClock>,
}

impl TestLoop {
    /// A new virtual-time loop.
    ///
    /// # Errors
    ///
    /// The OS refused the epoll driver's resources.
    pub fn new() -> Result<Self> {
        let clock = Rc::new(VirtualClock::new());
        let driver = VirtualTimeDriver::new(EpollDriver::new()?, clock.clone());
        let lp = Loop::with_driver(Box::new(driver), Some(clock.clone()));
        Ok(TestLoop { lp, clock })
    }

    /// The user-facing handle.
    pub fn handle(&self) -> &Loop {
        &self.lp
    }

    /// The virtual clock.
    pub fn clock(&self) -> &VirtualClock {
        &self.clock
    }

    /// Moves virtual time forward (timers now due run at the next
    /// iteration).
    ///
    /// # Panics
    ///
    /// As [`VirtualClock::advance`]: past the end of `Instant`'s range.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Iterations run so far.
    pub fn iterations(&self) -> u64 {
        iterations(&self.lp)
    }

    /// Timers in the heap (cancelled ones not yet purged included).
    pub fn timer_count(&self) -> usize {
        self.lp.inner().timer_count()
    }

    /// Runs exactly one iteration, as the thread's running loop.
    ///
    /// # Errors
    ///
    /// As [`Loop::run_forever`].
    pub fn run_once(&self) -> Result<()> {
        run_once(&self.lp)
    }
}

/// Iterations `lp` has run so far.
pub fn iterations(lp: &Loop) -> u64 {
    lp.inner().iterations()
}

/// Runs exactly one iteration of `lp`, as the thread's running loop (to step
/// a loop over a [`FakeDriver`]).
///
/// # Errors
///
/// As [`Loop::run_forever`].
pub fn run_once(lp: &Loop) -> Result<()> {
    if lp.is_closed() {
        return Err(crate::Error::LoopClosed);
    }
    let _running = crate::policy::enter_running(lp)?;
    lp.inner().run_once()
}

impl Deref for TestLoop {
    type Target = Loop;
    fn deref(&self) -> &Loop {
        &self.lp
    }
}

impl std::fmt::Debug for TestLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestLoop").field("loop", &self.lp).finish()
    }
}

/// Number of file descriptors this process has open (from `/proc/self/fd`),
/// for leak checks: compare before and after.
pub fn open_fd_count() -> usize {
    // The directory handle itself is one of the entries while reading.
    std::fs::read_dir("/proc/self/fd").map(|d| d.count().saturating_sub(1)).unwrap_or(0)
}

/// Fails unless the process has no more open fds than `before` (a count
/// from [`open_fd_count`]) — a leak check for one test. Fewer is fine (an
/// earlier test's executor thread, which a loop's close does not join, may
/// release a resolver socket meanwhile); more is waited on for up to two
/// seconds, for fds that threads of this test are about to close.
///
/// # Panics
///
/// When fds stay above `before`: `what` names the test.
pub fn assert_no_fd_leak(before: usize, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let mut now = open_fd_count();
    while now > before && std::time::Instant::now() < deadline {
        std::thread::yield_now();
        now = open_fd_count();
    }
    assert!(now <= before, "{what}: file descriptors leaked ({before} before, {now} after)");
}
