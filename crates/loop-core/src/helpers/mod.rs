//! Task helpers (asyncio's `sleep`, `wait_for`, `gather`, `wait`, …).
//!
//! They need a running loop only to schedule timers; everything else is
//! plain future composition.

mod done;
mod sleep;

pub(crate) use done::wait_done;
pub use sleep::{Sleep, sleep, sleep_until};
