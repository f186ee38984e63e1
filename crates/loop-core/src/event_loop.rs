//! The `EventLoop` trait: what every loop implementation provides.
//!
//! This is asyncio's `AbstractEventLoop` reduced to its core: scheduling,
//! timers, fd watching, task scheduling, exception reporting and lifecycle.
//! It is object-safe and takes boxed/erased callbacks; the user-facing
//! [`Loop`](crate::Loop) wraps an `Rc<dyn EventLoop>` and offers the generic,
//! ergonomic methods. Crates above `loop-core` use only this trait and
//! `Loop`, so any implementation (a test double, a different selector) can
//! stand in for [`SelectorEventLoop`](crate::SelectorEventLoop).

use std::os::fd::RawFd;
use std::time::Instant;

use crate::common::LoopCommon;
use crate::error::Result;
use crate::handle::{Handle, TimerHandle};
use crate::remote::RemoteLoop;
use crate::task::TaskId;

/// An event loop implementation (asyncio's `AbstractEventLoop`).
///
/// Implementations run callbacks one batch at a time, FIFO, on the thread
/// that owns the loop, and never run a callback re-entrantly from inside a
/// scheduling call.
pub trait EventLoop {
    /// The loop's current time on its monotonic clock.
    fn time(&self) -> Instant;

    /// Schedules `handle` to run on the next iteration, after every callback
    /// already scheduled (asyncio's `call_soon`).
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`](crate::Error::LoopClosed) after `close`.
    fn call_soon(&self, handle: Handle) -> Result<()>;

    /// Schedules `handle` to run once the loop's clock reaches `when`
    /// (asyncio's `call_at`). Timers due at the same instant run in the order
    /// they were scheduled; a timer never runs before `when`.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`](crate::Error::LoopClosed) after `close`.
    fn call_at(&self, when: Instant, handle: Handle) -> Result<TimerHandle>;

    /// Schedules `handle` to run at the end of the current iteration, after
    /// the current batch of callbacks and before the loop polls again. Used
    /// by transports to coalesce the writes of one batch into one syscall.
    /// Outside a running batch it runs at the end of the next iteration.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`](crate::Error::LoopClosed) after `close`.
    fn call_before_poll(&self, handle: Handle) -> Result<()>;

    /// Queues a step of task `task` on the ready queue, after everything
    /// already scheduled, so tasks share the queue with callbacks in FIFO
    /// order. When its turn comes the loop calls
    /// [`LoopCommon::run_task`]. Called on the loop's thread only, by
    /// [`LoopCommon`] (which makes sure a task is queued at most once) for
    /// the tasks of [`Loop::create_task`](crate::Loop::create_task). Never
    /// runs the task before returning.
    fn schedule_task(&self, task: TaskId);

    /// The `Send + Sync` face of this loop, for other threads.
    fn remote(&self) -> RemoteLoop;

    /// Runs `handle` every time `fd` is readable, replacing any reader
    /// already registered for `fd`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidFd`](crate::Error::InvalidFd) when the selector
    /// refuses `fd` (closed, invalid, a regular file);
    /// [`Error::LoopClosed`](crate::Error::LoopClosed) after `close`.
    fn add_reader(&self, fd: RawFd, handle: Handle) -> Result<()>;

    /// Stops watching `fd` for reading. Returns whether a reader was
    /// registered.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`](crate::Error::LoopClosed) after `close`.
    fn remove_reader(&self, fd: RawFd) -> Result<bool>;

    /// Runs `handle` every time `fd` is writable, replacing any writer
    /// already registered for `fd`.
    ///
    /// # Errors
    ///
    /// As [`add_reader`](EventLoop::add_reader).
    fn add_writer(&self, fd: RawFd, handle: Handle) -> Result<()>;

    /// Stops watching `fd` for writing. Returns whether a writer was
    /// registered.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`](crate::Error::LoopClosed) after `close`.
    fn remove_writer(&self, fd: RawFd) -> Result<bool>;

    /// Runs iterations until [`stop`](EventLoop::stop) is called.
    ///
    /// Prefer [`Loop::run_forever`](crate::Loop::run_forever), which also
    /// makes the loop the thread's running loop.
    ///
    /// # Errors
    ///
    /// [`Error::LoopRunning`](crate::Error::LoopRunning) when already
    /// running; [`Error::LoopClosed`](crate::Error::LoopClosed) when closed.
    fn run_forever(&self) -> Result<()>;

    /// Asks the loop to stop: the current batch finishes, then
    /// `run_forever` returns. Called before `run_forever`, the next run polls
    /// once without blocking, runs one batch, and returns.
    fn stop(&self);

    /// Whether the loop is running.
    fn is_running(&self) -> bool;

    /// Whether the loop was closed.
    fn is_closed(&self) -> bool;

    /// Closes the loop: pending callbacks, timers and fd watches are
    /// dropped (their closures released, even where the user kept the
    /// handle), tasks still pending are cancelled and their futures dropped,
    /// and the default executor is shut down without waiting. Idempotent.
    ///
    /// # Errors
    ///
    /// [`Error::LoopRunning`](crate::Error::LoopRunning) when running.
    fn close(&self) -> Result<()>;

    /// State every loop keeps the same way: tasks, exception handler, debug
    /// settings, default executor.
    fn common(&self) -> &LoopCommon;
}
