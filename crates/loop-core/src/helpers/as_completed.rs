//! `as_completed`: task outputs in the order the tasks finish (asyncio's
//! `as_completed`).

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::Stream;

use crate::error::{Error, Result};
use crate::helpers::sleep::{Sleep, sleep_until};
use crate::helpers::task_set::TaskSet;
use crate::task::Task;

#[derive(Debug)]
enum Limit {
    None,
    /// Not armed yet: starts at the first poll.
    After(Duration),
    Armed(Sleep),
    Expired,
}

/// The async iterator returned by [`as_completed`]: call
/// [`next`](AsCompleted::next) until it yields `None`, or use it as a
/// [`Stream`].
///
/// # Cancel safety
///
/// [`next`](AsCompleted::next) is cancel safe: dropping its future loses no
/// output (outputs are taken only when yielded). Dropping the `AsCompleted`
/// itself cancels nothing: the tasks not yielded yet are detached and keep
/// running, as in asyncio. Use [`into_pending`](AsCompleted::into_pending)
/// to keep them.
pub struct AsCompleted<T: 'static> {
    set: TaskSet<T>,
    limit: Limit,
}

/// Yields each task's output as the task finishes (asyncio's
/// `as_completed(tasks)`).
///
/// The order is completion order; tasks already done at the first poll come
/// first, in input order. A failed task yields its error
/// (`Err(Error::Panicked(..))`, `Err(Error::Cancelled { .. })`) in its place;
/// nothing else is affected. Add a limit with
/// [`with_timeout`](AsCompleted::with_timeout).
///
/// # Cancel safety
///
/// See [`AsCompleted`]: nothing is cancelled, and `next` loses nothing.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use loop_core::{Loop, as_completed, sleep};
///
/// let lp = Loop::new()?;
/// let l2 = lp.clone();
/// let order = lp.run_until_complete(async move {
///     let slow = l2.create_task(async { let _ = sleep(Duration::ZERO).await; "slow" })?;
///     let fast = l2.create_task(async { "fast" })?;
///     let mut it = as_completed([slow, fast]);
///     let mut order = Vec::new();
///     while let Some(out) = it.next().await {
///         order.push(out?);
///     }
///     Ok::<_, loop_core::Error>(order)
/// })??;
/// assert_eq!(order.len(), 2);
/// assert_eq!(order[0], "fast");
/// lp.close()?;
/// # Ok::<(), loop_core::Error>(())
/// ```
pub fn as_completed<T: 'static>(tasks: impl IntoIterator<Item = Task<T>>) -> AsCompleted<T> {
    AsCompleted { set: TaskSet::new(tasks), limit: Limit::None }
}

impl<T: 'static> AsCompleted<T> {
    /// Limits the whole iteration to `timeout`, counted from the first poll
    /// of [`next`](AsCompleted::next) (asyncio's `timeout=`).
    ///
    /// Once it passes, `next` no longer waits: it yields the output of any
    /// task that is done by then, and otherwise `Err(Error::TimedOut { .. })` once
    /// for each task still pending — in input order — which is then
    /// detached (not cancelled, as in asyncio). A limit so large that the
    /// deadline overflows the clock means none.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.limit = Limit::After(timeout);
        self
    }

    /// Number of tasks not yielded yet.
    pub fn len(&self) -> usize {
        self.set.unreported()
    }

    /// Whether every task was yielded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next output in completion order, `None` when every task was
    /// yielded.
    ///
    /// # Errors
    ///
    /// Each item is its task's outcome: the task's failure
    /// ([`Error::Panicked`], [`Error::Cancelled`]), or [`Error::TimedOut`]
    /// for a task still pending after the limit. An item is
    /// `Err(Error::NoRunningLoop)` if the limit must be armed outside a
    /// running loop (no task is given up for it).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the returned future is dropped, no output is lost.
    pub async fn next(&mut self) -> Option<Result<T>> {
        poll_fn(|cx| self.poll_item(cx)).await
    }

    /// The tasks not yielded yet, in input order, ending the iteration.
    pub fn into_pending(mut self) -> Vec<Task<T>> {
        self.set.take_all()
    }

    fn take_output(&mut self, index: usize) -> Result<T> {
        match self.set.take(index) {
            Some(mut task) => task.try_take(),
            None => Err(Error::InvalidState("as_completed lost a task".into())),
        }
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        // Done tasks first, even after the limit: a finished output is never
        // replaced by a timeout.
        match self.set.poll_done(cx) {
            Poll::Ready(Some(i)) => return Poll::Ready(Some(self.take_output(i))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        if let Limit::After(d) = self.limit {
            match crate::get_running_loop() {
                Ok(lp) => {
                    self.limit = match lp.time().checked_add(d) {
                        Some(deadline) => Limit::Armed(sleep_until(deadline)),
                        None => Limit::None,
                    }
                }
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
        if let Limit::Armed(timer) = &mut self.limit {
            match Pin::new(timer).poll(cx) {
                Poll::Pending => {}
                Poll::Ready(fired) => {
                    self.limit = Limit::Expired;
                    if let Err(e) = fired {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
        }
        if let Limit::Expired = self.limit {
            // Detached, not cancelled.
            return Poll::Ready(self.set.take_first().map(|_| Err(Error::timed_out())));
        }
        Poll::Pending
    }
}

impl<T: 'static> Stream for AsCompleted<T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        self.get_mut().poll_item(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}

impl<T: 'static> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.len())
            .field("limit", &self.limit)
            .finish()
    }
}
