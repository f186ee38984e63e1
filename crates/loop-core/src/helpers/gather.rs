//! `gather` and `gather_return_exceptions`: await many tasks, outputs in
//! input order (asyncio's `gather`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::{Error, Result};
use crate::helpers::done::retrieve_when_done;
use crate::helpers::task_set::TaskSet;
use crate::task::Task;

/// What both gather futures share: the children and the outputs so far.
struct Core<T: 'static> {
    set: TaskSet<T>,
    outputs: Vec<Option<Result<T>>>,
    /// The gather resolved: dropping it no longer cancels anything.
    resolved: bool,
}

impl<T: 'static> Core<T> {
    fn new(tasks: impl IntoIterator<Item = Task<T>>) -> Self {
        let set = TaskSet::new(tasks);
        let outputs = std::iter::repeat_with(|| None).take(set.len()).collect();
        Core { set, outputs, resolved: false }
    }

    /// Collects outputs as children finish. With `stop_on_error`, returns
    /// `Ready(Some(error))` at the first failure; `Ready(None)` once every
    /// output is in.
    fn poll_children(&mut self, cx: &mut Context<'_>, stop_on_error: bool) -> Poll<Option<Error>> {
        if self.resolved {
            return Poll::Ready(Some(Error::InvalidState("gather polled after completion".into())));
        }
        while let Some(i) = std::task::ready!(self.set.poll_done(cx)) {
            let Some(task) = self.set.get_mut(i) else { continue };
            let out = task.try_take();
            match out {
                Err(e) if stop_on_error => {
                    self.resolved = true;
                    // asyncio: the other children keep running, and their
                    // later failures are marked retrieved by gather.
                    for task in self.set.take_all() {
                        retrieve_when_done(task);
                    }
                    return Poll::Ready(Some(e));
                }
                out => self.outputs[i] = Some(out),
            }
        }
        self.resolved = true;
        Poll::Ready(None)
    }

    fn take_outputs(&mut self) -> impl Iterator<Item = Result<T>> + use<T> {
        std::mem::take(&mut self.outputs).into_iter().map(|o| {
            // Every position is filled once every child was reported done.
            o.unwrap_or_else(|| Err(Error::InvalidState("gather lost a child's output".into())))
        })
    }
}

// Nothing is ever pinned inside `Core`: outputs are plain values.
impl<T: 'static> Unpin for Core<T> {}

impl<T: 'static> Drop for Core<T> {
    fn drop(&mut self) {
        if !self.resolved {
            self.set.cancel_pending();
        }
    }
}

/// The future returned by [`gather`].
///
/// # Cancel safety
///
/// Not cancel safe, on purpose (asyncio's semantics): dropping it before it
/// resolved — directly, or because the task awaiting it was cancelled —
/// cancels every child that is not done yet. Once it has resolved, dropping
/// it cancels nothing.
pub struct Gather<T: 'static> {
    core: Core<T>,
}

/// Awaits every task and resolves to their outputs **in input order**
/// (asyncio's `gather(*tasks)`).
///
/// * The first child failure (a panic, or a child that was cancelled)
///   resolves the gather to that error **at once**; the other children keep
///   running and are not cancelled. Their outcomes are discarded, and their
///   failures are marked retrieved (never reported), as in asyncio.
/// * A cancelled child therefore does not cancel the gather's caller nor its
///   siblings: the gather just resolves to [`Error::Cancelled`]. Use
///   [`gather_return_exceptions`] to get the other outputs too.
/// * Dropping the gather before it resolved (asyncio: cancelling the outer
///   future) cancels every child not yet done.
///
/// No tasks resolve to `Ok(vec![])` at the first poll.
///
/// # Errors
///
/// The first child failure in completion order: [`Error::Panicked`] or
/// [`Error::Cancelled`].
///
/// # Cancel safety
///
/// See [`Gather`]: dropping it early cancels the children.
///
/// # Examples
///
/// ```
/// use loop_core::{Loop, gather};
///
/// let lp = Loop::new()?;
/// let l2 = lp.clone();
/// let out = lp.run_until_complete(async move {
///     let tasks = (1..=3).map(|i| l2.create_task(async move { i * 10 }));
///     gather(tasks.collect::<Result<Vec<_>, _>>()?).await
/// })??;
/// assert_eq!(out, vec![10, 20, 30]);
/// lp.close()?;
/// # Ok::<(), loop_core::Error>(())
/// ```
pub fn gather<T: 'static>(tasks: impl IntoIterator<Item = Task<T>>) -> Gather<T> {
    Gather { core: Core::new(tasks) }
}

impl<T: 'static> Gather<T> {
    /// Switches to return-exceptions mode (see [`gather_return_exceptions`]),
    /// keeping the outputs collected so far.
    pub fn return_exceptions(self) -> GatherAll<T> {
        GatherAll { core: self.core }
    }
}

impl<T: 'static> Future for Gather<T> {
    type Output = Result<Vec<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Vec<T>>> {
        let core = &mut self.get_mut().core;
        match std::task::ready!(core.poll_children(cx, true)) {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(core.take_outputs().collect()),
        }
    }
}

impl<T: 'static> fmt::Debug for Gather<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gather")
            .field("children", &self.core.set.len())
            .field("pending", &self.core.set.unreported())
            .finish()
    }
}

/// The future returned by [`gather_return_exceptions`] and
/// [`Gather::return_exceptions`].
///
/// # Cancel safety
///
/// As [`Gather`]: dropping it before it resolved cancels every child not
/// yet done.
pub struct GatherAll<T: 'static> {
    core: Core<T>,
}

/// Awaits every task and resolves to each one's outcome, **in input order**
/// (asyncio's `gather(*tasks, return_exceptions=True)`).
///
/// Failures are collected like values: a panicked child is
/// `Err(Error::Panicked(..))`, a cancelled one `Err(Error::Cancelled { .. })`, and
/// neither affects the siblings or the gather itself. Dropping the gather
/// before it resolved cancels every child not yet done.
///
/// # Errors
///
/// None at the gather level; each element carries its child's outcome.
///
/// # Cancel safety
///
/// See [`GatherAll`]: dropping it early cancels the children.
pub fn gather_return_exceptions<T: 'static>(
    tasks: impl IntoIterator<Item = Task<T>>,
) -> GatherAll<T> {
    GatherAll { core: Core::new(tasks) }
}

impl<T: 'static> Future for GatherAll<T> {
    type Output = Vec<Result<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<Result<T>>> {
        let core = &mut self.get_mut().core;
        match std::task::ready!(core.poll_children(cx, false)) {
            // Only "polled after completion" gets here.
            Some(e) => Poll::Ready(vec![Err(e)]),
            None => Poll::Ready(core.take_outputs().collect()),
        }
    }
}

impl<T: 'static> fmt::Debug for GatherAll<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatherAll")
            .field("children", &self.core.set.len())
            .field("pending", &self.core.set.unreported())
            .finish()
    }
}
