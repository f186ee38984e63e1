//! `wait`: wait for tasks until a condition holds, without taking their
//! outputs (asyncio's `asyncio.wait`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::helpers::sleep::{Sleep, sleep_until};
use crate::helpers::task_set::TaskSet;
use crate::task::Task;

/// When [`wait`] returns (asyncio's `FIRST_COMPLETED`, `FIRST_EXCEPTION`,
/// `ALL_COMPLETED`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReturnWhen {
    /// As soon as any task is done (succeeded, failed or cancelled).
    FirstCompleted,
    /// As soon as any task *failed* — panicked — or when all are done. A
    /// cancelled task does not count as failed (as in asyncio, where
    /// `CancelledError` is not an exception for `FIRST_EXCEPTION`); nor does
    /// a task whose output is an `Err` value, which succeeded as a task.
    FirstException,
    /// When every task is done (asyncio's default).
    #[default]
    AllCompleted,
}

/// The `(done, pending)` split that [`wait`] resolves to.
pub type WaitOutcome<T> = (Vec<Task<T>>, Vec<Task<T>>);

/// The future returned by [`wait`].
///
/// # Cancel safety
///
/// Dropping it cancels nothing: the tasks it holds are detached and keep
/// running (asyncio's `wait` never cancels). Keep the tasks by letting it
/// resolve (use a timeout) if you still need them.
pub struct Wait<T: 'static> {
    set: Option<TaskSet<T>>,
    return_when: ReturnWhen,
    limit: Option<Duration>,
    timer: Option<Sleep>,
}

/// Waits until `return_when` holds for `tasks`, or until `timeout` passes,
/// and resolves to `(done, pending)`: every task, split by whether it is
/// done at that moment, each list in input order (asyncio's
/// `wait(tasks, timeout=, return_when=)`, whose sets have no order).
///
/// Outputs are not taken: await (or [`Task::try_take`]) the done tasks to
/// get them. Nothing is cancelled, on timeout either; the pending tasks keep
/// running. The timeout starts at the first poll; `None` means no limit.
/// Tasks already done at the first poll satisfy the condition at once.
///
/// # Errors
///
/// [`Error::InvalidArgument`] when `tasks` is empty (asyncio raises
/// `ValueError`); [`Error::NoRunningLoop`] when a timeout must be armed
/// outside a running loop (the tasks are then detached).
///
/// # Cancel safety
///
/// See [`Wait`]: dropping it cancels nothing.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use loop_core::{Loop, ReturnWhen, sleep, wait};
///
/// let lp = Loop::new()?;
/// let l2 = lp.clone();
/// let (done, pending) = lp.run_until_complete(async move {
///     let fast = l2.create_task(async { true })?;
///     let slow = l2.create_task(async { sleep(Duration::from_secs(60)).await.is_ok() })?;
///     wait([fast, slow], ReturnWhen::FirstCompleted, None).await
/// })??;
/// assert_eq!((done.len(), pending.len()), (1, 1));
/// pending[0].cancel();
/// lp.close()?;
/// # Ok::<(), loop_core::Error>(())
/// ```
pub fn wait<T: 'static>(
    tasks: impl IntoIterator<Item = Task<T>>,
    return_when: ReturnWhen,
    timeout: Option<Duration>,
) -> Wait<T> {
    Wait { set: Some(TaskSet::new(tasks)), return_when, limit: timeout, timer: None }
}

impl<T: 'static> Wait<T> {
    fn finish(&mut self) -> Poll<Result<WaitOutcome<T>>> {
        self.timer = None;
        let Some(mut set) = self.set.take() else {
            return Poll::Ready(Err(Error::InvalidState("Wait polled after completion".into())));
        };
        let (done, pending) = set.take_all().into_iter().partition(|t| t.done());
        Poll::Ready(Ok((done, pending)))
    }

    /// Whether the condition holds, examining the tasks that finished since
    /// the last poll.
    fn condition_met(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(set) = self.set.as_mut() else { return true };
        loop {
            match set.poll_done(cx) {
                Poll::Ready(None) => return true,
                Poll::Pending => return false,
                Poll::Ready(Some(i)) => match self.return_when {
                    ReturnWhen::FirstCompleted => return true,
                    ReturnWhen::FirstException => {
                        if set.get(i).is_some_and(|t| t.failed() && !t.cancelled()) {
                            return true;
                        }
                    }
                    ReturnWhen::AllCompleted => {}
                },
            }
        }
    }
}

impl<T: 'static> Future for Wait<T> {
    type Output = Result<WaitOutcome<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &this.set {
            None => return this.finish(),
            Some(set) if set.len() == 0 => {
                this.set = None;
                return Poll::Ready(Err(Error::InvalidArgument(
                    "wait() needs at least one task".into(),
                )));
            }
            Some(_) => {}
        }
        if this.condition_met(cx) {
            return this.finish();
        }
        if this.timer.is_none() {
            if let Some(limit) = this.limit.take() {
                let now = match crate::get_running_loop() {
                    Ok(lp) => lp.time(),
                    Err(e) => {
                        this.set = None;
                        return Poll::Ready(Err(e));
                    }
                };
                // A deadline beyond the clock's range never comes.
                this.timer = now.checked_add(limit).map(sleep_until);
            }
        }
        if let Some(timer) = this.timer.as_mut() {
            if let Poll::Ready(fired) = Pin::new(timer).poll(cx) {
                fired?;
                return this.finish();
            }
        }
        Poll::Pending
    }
}

impl<T: 'static> fmt::Debug for Wait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("return_when", &self.return_when)
            .field("tasks", &self.set)
            .finish_non_exhaustive()
    }
}
