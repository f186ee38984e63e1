//! `shield` and `cancel_on_drop`: what happens to a task when whoever
//! awaits it goes away.
//!
//! In asyncio, awaiting a task and being cancelled cancels the task too,
//! unless the await goes through `shield`. In Rust, "cancelled" means the
//! awaiting future is dropped, and dropping a [`Task`] handle only detaches
//! the task. So in tulip the work to protect is always a separate task, and
//! two wrappers make the choice explicit:
//!
//! * [`shield`]: dropping the wrapper leaves the task running (asyncio's
//!   `shield`).
//! * [`cancel_on_drop`]: dropping the wrapper before the task is done
//!   cancels it (asyncio's plain `await task` inside a task that gets
//!   cancelled, and `wait_for(task, t)` on timeout).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::{Error, Result};
use crate::task::Task;

/// The future returned by [`shield`].
///
/// # Cancel safety
///
/// Cancel safe by design: dropping it (because the task awaiting it was
/// cancelled, a [`timeout`](crate::timeout) expired, a [`gather`](crate::gather)
/// was dropped …) leaves the inner task running to completion, detached (a
/// failure of it is then reported as never retrieved).
pub struct Shield<T: 'static> {
    task: Option<Task<T>>,
}

/// Awaits `task` without cancelling it when the shield is dropped
/// (asyncio's `shield`).
///
/// The shield resolves to the task's output. If the shield is dropped first,
/// the task keeps running, detached; a failure nobody can observe any more
/// is then reported to the loop's exception handler ("Task exception was
/// never retrieved"), as asyncio's `shield` does since 3.12 once its outer
/// future is cancelled (before 3.12 it swallowed the failure). If the task
/// itself is cancelled by other means, the shield resolves to
/// [`Error::Cancelled`].
///
/// To shield a future that is not a task yet, spawn it first:
/// `shield(lp.create_task(fut)?)`.
///
/// # Errors
///
/// The task's own failure: [`Error::Cancelled`] or [`Error::Panicked`].
///
/// # Cancel safety
///
/// See [`Shield`]: dropping it never cancels the task.
pub fn shield<T: 'static>(task: Task<T>) -> Shield<T> {
    Shield { task: Some(task) }
}

impl<T: 'static> Future for Shield<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        let Some(task) = this.task.as_mut() else {
            return Poll::Ready(Err(Error::InvalidState("Shield polled after completion".into())));
        };
        let out = std::task::ready!(Pin::new(task).poll(cx));
        this.task = None;
        Poll::Ready(out)
    }
}

impl<T: 'static> fmt::Debug for Shield<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shield").field("task", &self.task).finish()
    }
}

/// The future returned by [`cancel_on_drop`].
///
/// # Cancel safety
///
/// Not cancel safe, on purpose: dropping it before the task is done cancels
/// the task (its future is dropped at its next poll).
pub struct CancelOnDrop<T: 'static> {
    task: Task<T>,
}

/// Awaits `task` and cancels it if the returned future is dropped before
/// the task is done: the structured counterpart of [`shield`].
///
/// Use it where asyncio cancels an awaited task: `wait_for(cancel_on_drop(task),
/// limit)` cancels the task on timeout like asyncio's `wait_for(task, limit)`.
///
/// # Errors
///
/// The task's own failure: [`Error::Cancelled`] or [`Error::Panicked`].
///
/// # Cancel safety
///
/// See [`CancelOnDrop`]: dropping it cancels the task.
pub fn cancel_on_drop<T: 'static>(task: Task<T>) -> CancelOnDrop<T> {
    CancelOnDrop { task }
}

impl<T: 'static> CancelOnDrop<T> {
    /// The task being awaited.
    pub fn task(&self) -> &Task<T> {
        &self.task
    }
}

impl<T: 'static> Future for CancelOnDrop<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        Pin::new(&mut self.get_mut().task).poll(cx)
    }
}

impl<T: 'static> Drop for CancelOnDrop<T> {
    fn drop(&mut self) {
        self.task.cancel();
    }
}

impl<T: 'static> fmt::Debug for CancelOnDrop<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelOnDrop").field("task", &self.task).finish()
    }
}
