//! Task helpers (asyncio's `sleep`, `timeout` / `wait_for`, `gather`,
//! `wait`, `as_completed`, `shield`, `TaskGroup`).
//!
//! They need a running loop only to schedule timers; everything else is
//! plain future composition over [`Task`](crate::Task) handles.
//!
//! # Cancellation, asyncio and Rust
//!
//! asyncio cancels a coroutine by throwing `CancelledError` into it; Rust
//! cancels a future by dropping it. So "cancelling a helper" means dropping
//! its future — directly, or because the task awaiting it was cancelled.
//! Each helper's `# Cancel safety` section says what that does to the tasks
//! it was given: [`gather`] and [`TaskGroup`] cancel their children,
//! [`wait`], [`as_completed`] and [`shield`] cancel nothing, [`timeout`]
//! drops its inner future.

mod as_completed;
mod done;
mod gather;
mod shield;
mod sleep;
mod task_group;
mod task_set;
mod timeout;
mod wait;

pub use as_completed::{AsCompleted, as_completed};
pub(crate) use done::wait_done;
pub use gather::{Gather, GatherAll, gather, gather_return_exceptions};
pub use shield::{CancelOnDrop, Shield, cancel_on_drop, shield};
pub use sleep::{Sleep, sleep, sleep_until};
pub use task_group::{TaskGroup, TaskGroupError};
pub use timeout::{Timeout, timeout, timeout_at, wait_for};
pub use wait::{ReturnWhen, Wait, WaitOutcome, wait};
