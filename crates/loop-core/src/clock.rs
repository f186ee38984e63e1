//! The loop's clock: the monotonic system clock, or virtual time in tests.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Where a loop reads the time from.
#[derive(Clone, Debug)]
pub(crate) enum Clock {
    /// `Instant::now()`.
    System,
    /// Virtual time that moves only when told to.
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))]
    Virtual(Rc<VirtualClock>),
}

impl Clock {
    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            Clock::Virtual(v) => v.now(),
        }
    }
}

/// A clock whose time moves only when a test advances it, or when a loop
/// using it would otherwise block waiting for a timer (then it jumps to that
/// timer's deadline).
#[derive(Debug)]
#[cfg_attr(not(feature = "test-util"), allow(unreachable_pub, dead_code))]
pub struct VirtualClock {
    now: Cell<Instant>,
}

#[cfg_attr(not(feature = "test-util"), allow(unreachable_pub, dead_code))]
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
    pub fn advance(&self, by: Duration) {
        self.now.set(self.now.get() + by);
    }

    /// Moves time forward to `to` (never backwards).
    pub fn advance_to(&self, to: Instant) {
        if to > self.now.get() {
            self.now.set(to);
        }
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}
