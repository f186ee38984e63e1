//! Test support (feature `test-util`): a loop on virtual time, an iteration
//! counter, and an open-fd counter.
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

use std::ops::Deref;
use std::rc::Rc;
use std::time::Duration;

use crate::Loop;
use crate::clock::Clock;
pub use crate::clock::VirtualClock;
use crate::error::Result;
use crate::selector::SelectorEventLoop;

/// A [`SelectorEventLoop`] whose clock is virtual: time moves only when the
/// test calls [`advance`](TestLoop::advance), or when the loop would block
/// waiting for a timer (it jumps to that timer's deadline instead). Real fds
/// still work. Derefs to [`Loop`].
pub struct TestLoop {
    lp: Loop,
    inner: Rc<SelectorEventLoop>,
    clock: Rc<VirtualClock>,
}

impl TestLoop {
    /// A new virtual-time loop.
    ///
    /// # Errors
    ///
    /// The OS refused the selector's resources.
    pub fn new() -> Result<Self> {
        let clock = Rc::new(VirtualClock::new());
        let inner = SelectorEventLoop::with_clock(Clock::Virtual(clock.clone()))?;
        let lp = Loop::from_rc(inner.clone());
        Ok(TestLoop { lp, inner, clock })
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
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Iterations run so far.
    pub fn iterations(&self) -> u64 {
        self.inner.iterations()
    }

    /// Timers in the heap (cancelled ones not yet purged included).
    pub fn timer_count(&self) -> usize {
        self.inner.timer_count()
    }

    /// Runs exactly one iteration, as the thread's running loop.
    ///
    /// # Errors
    ///
    /// As [`Loop::run_forever`].
    pub fn run_once(&self) -> Result<()> {
        let _running = crate::policy::enter_running(&self.lp)?;
        self.inner.run_once()
    }
}

impl Deref for TestLoop {
    type Target = Loop;
    fn deref(&self) -> &Loop {
        &self.lp
    }
}

impl std::fmt::Debug for TestLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestLoop").field("loop", &self.inner).finish()
    }
}

/// Number of file descriptors this process has open (from `/proc/self/fd`),
/// for leak checks: compare before and after.
pub fn open_fd_count() -> usize {
    // The directory handle itself is one of the entries while reading.
    std::fs::read_dir("/proc/self/fd").map(|d| d.count().saturating_sub(1)).unwrap_or(0)
}
