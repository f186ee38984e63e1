//! `TaskGroup`: structured concurrency (asyncio 3.11's `TaskGroup`).
//!
//! Children are tasks spawned through the group; the group is awaited
//! (`TaskGroup::run`'s scope, or [`TaskGroup::wait`]) until every child is
//! done. The first child failure cancels every sibling and the scope's body,
//! and the awaiter gets every failure in a [`TaskGroupError`].

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result, panic_message};
use crate::task::{Task, TaskRef, current_task};

/// Every failure a [`TaskGroup`] saw (asyncio's `ExceptionGroup`).
///
/// It reaches the awaiter as [`Error::Failed`]; get it back with
/// [`TaskGroupError::from_error`].
#[derive(Debug, Clone)]
pub struct TaskGroupError {
    errors: Vec<Error>,
}

impl TaskGroupError {
    /// The failures in the order the group saw them: children's panics and
    /// `Err`s of [`TaskGroup::create_try_task`] children, then the scope
    /// body's `Err`, if any.
    ///
    /// It normally holds exactly one child failure: the first one cancels
    /// every sibling at once, so a sibling woken in the same loop iteration
    /// is cancelled before it runs again. A body `Err` comes on top.
    pub fn errors(&self) -> &[Error] {
        &self.errors
    }

    /// The failures, by value.
    pub fn into_errors(self) -> Vec<Error> {
        self.errors
    }

    /// The group error inside `err`, if `err` is one.
    pub fn from_error(err: &Error) -> Option<&TaskGroupError> {
        match err {
            Error::Failed(inner) => inner.downcast_ref::<TaskGroupError>(),
            _ => None,
        }
    }

    fn into_error(self) -> Error {
        Error::Failed(Arc::new(self))
    }
}

impl fmt::Display for TaskGroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "unhandled errors in a TaskGroup ({n} sub-exception{})",
            if n == 1 { "" } else { "s" }
        )?;
        if let Some(first) = self.errors.first() {
            write!(f, ": {first}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TaskGroupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errors.first().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[derive(Default)]
struct State {
    next_key: u64,
    /// Children whose future is still alive, by creation order.
    children: BTreeMap<u64, TaskRef>,
    /// Children spawned and not finished; unlike `children`, it also counts
    /// a child between its spawn and its registration.
    live: usize,
    errors: Vec<Error>,
    body_error: Option<Error>,
    aborting: bool,
    finished: bool,
    waiters: Vec<Waker>,
}

#[derive(Default)]
struct Group {
    state: RefCell<State>,
}

impl Group {
    /// Records a failure and, the first time, cancels every child but the
    /// one running now (which is the one failing, if a child fails).
    fn fail(&self, err: Error) {
        self.state.borrow_mut().errors.push(err);
        self.abort();
    }

    /// Starts shutting down: no new children, every child cancelled, the
    /// awaiter woken. Idempotent.
    fn abort(&self) {
        let (children, waiters) = {
            let mut s = self.state.borrow_mut();
            if s.aborting {
                return;
            }
            s.aborting = true;
            (s.children.values().cloned().collect::<Vec<_>>(), std::mem::take(&mut s.waiters))
        };
        // No borrow is held: cancelling can drop a child's future (on a
        // closed loop), which re-enters `child_gone`.
        let me = current_task();
        for child in children {
            if !me.as_ref().is_some_and(|m| m.ptr_eq(&child)) {
                child.cancel();
            }
        }
        waiters.into_iter().for_each(Waker::wake);
    }

    fn child_gone(&self, key: u64) {
        let waiters = {
            let mut s = self.state.borrow_mut();
            s.children.remove(&key);
            s.live -= 1;
            if s.live == 0 { std::mem::take(&mut s.waiters) } else { Vec::new() }
        };
        waiters.into_iter().for_each(Waker::wake);
    }

    fn register(&self, waker: &Waker) {
        let mut s = self.state.borrow_mut();
        if !s.waiters.iter().any(|w| w.will_wake(waker)) {
            s.waiters.push(waker.clone());
        }
    }
}

/// Aborts the group when the awaiting future is dropped early (asyncio: the
/// task inside `async with TaskGroup()` was cancelled).
struct AbortOnDrop<'a> {
    group: &'a Group,
    armed: bool,
}

impl Drop for AbortOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.group.abort();
        }
    }
}

/// Lives inside a child's future: tells the group when the child is gone
/// (finished, cancelled, panicked, or dropped with its loop).
struct ChildGuard {
    group: Rc<Group>,
    key: u64,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.group.child_gone(self.key);
    }
}

pin_project_lite::pin_project! {
    /// A child's future: reports a panic to the group the moment it
    /// happens, then lets it unwind so the task still fails with it.
    struct Child<F> {
        #[pin]
        fut: F,
        guard: ChildGuard,
    }
}

impl<F: Future> Future for Child<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        match catch_unwind(AssertUnwindSafe(|| this.fut.as_mut().poll(cx))) {
            Ok(polled) => polled,
            Err(payload) => {
                this.guard.group.fail(Error::Panicked(panic_message(&*payload)));
                resume_unwind(payload)
            }
        }
    }
}

/// A group of child tasks awaited together (asyncio 3.11's `TaskGroup`).
///
/// * [`TaskGroup::run`] is `async with TaskGroup() as tg:` — the scope body
///   gets the group, creates children, and `run` returns once the body and
///   every child are done.
/// * [`TaskGroup::new`] + [`create_task`](TaskGroup::create_task) +
///   [`wait`](TaskGroup::wait) is the same without a body.
///
/// Semantics (as asyncio's):
///
/// * The **first child failure** — a panic, or an `Err` from a
///   [`create_try_task`](TaskGroup::create_try_task) child — cancels every
///   sibling that is not done, and the scope body (its future is dropped).
///   The awaiter then waits for every child to finish and gets
///   `Err(Error::Failed(TaskGroupError))` with the failures.
/// * A child cancelled by someone else is not a failure.
/// * A body returning `Err` cancels every child too; its error comes last in
///   the [`TaskGroupError`].
/// * Dropping the awaiting future (`run`'s or `wait`'s) before it resolved
///   — the parent task was cancelled — cancels every child. Rust cannot
///   await in a destructor, so the children finish cancelling on the loop's
///   next iteration, after the drop.
/// * Once the group is shutting down or finished,
///   [`create_task`](TaskGroup::create_task) fails with
///   [`Error::InvalidState`].
/// * The group retrieves every child's failure: a child whose [`Task`]
///   handle was dropped is not also reported as "Task exception was never
///   retrieved".
///
/// A group that is never awaited leaves its children running as ordinary
/// tasks. The handle is cheap to clone (children may hold one to spawn
/// siblings).
///
/// # Examples
///
/// ```
/// use loop_core::{Loop, TaskGroup};
///
/// let lp = Loop::new()?;
/// let sum = lp.run_until_complete(TaskGroup::run(|tg| async move {
///     let a = tg.create_task(async { 1 })?;
///     let b = tg.create_task(async { 2 })?;
///     Ok((a, b))
/// }))?;
/// let (a, b) = sum?;
/// let sum = lp.run_until_complete(async move { Ok::<_, loop_core::Error>(a.await? + b.await?) })??;
/// assert_eq!(sum, 3);
/// lp.close()?;
/// # Ok::<(), loop_core::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct TaskGroup {
    inner: Rc<Group>,
}

impl TaskGroup {
    /// An empty group.
    pub fn new() -> TaskGroup {
        TaskGroup::default()
    }

    /// Runs `body` as the group's scope (asyncio's
    /// `async with TaskGroup() as tg:`): `body` gets the group, and the
    /// returned future resolves once `body` and every child are done, to
    /// `body`'s value.
    ///
    /// # Errors
    ///
    /// `Err(Error::Failed(TaskGroupError))` when a child failed or `body`
    /// returned `Err` (see [`TaskGroup`]); [`Error::Cancelled`] if the group
    /// was aborted with no failure (a clone's [`wait`](TaskGroup::wait) was
    /// dropped early).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, on purpose: dropping the future cancels `body` and
    /// every child.
    pub async fn run<F, Fut, R>(body: F) -> Result<R>
    where
        F: FnOnce(TaskGroup) -> Fut,
        Fut: Future<Output = Result<R>>,
    {
        let tg = TaskGroup::new();
        let mut guard = AbortOnDrop { group: &tg.inner, armed: true };
        let value = {
            let mut body = pin!(body(tg.clone()));
            poll_fn(|cx| {
                // A failure cancels the body: it is not polled again.
                if tg.inner.state.borrow().aborting {
                    return Poll::Ready(None);
                }
                match body.as_mut().poll(cx) {
                    Poll::Ready(out) => Poll::Ready(Some(out)),
                    Poll::Pending => {
                        tg.inner.register(cx.waker());
                        Poll::Pending
                    }
                }
            })
            .await
        };
        let value = match value {
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                tg.inner.state.borrow_mut().body_error = Some(e);
                tg.inner.abort();
                None
            }
            None => None,
        };
        let joined = tg.wait().await;
        guard.armed = false;
        match (joined, value) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(v)) => Ok(v),
            // Aborted without any failure: only a dropped `wait` does that.
            (Ok(()), None) => Err(Error::cancelled()),
        }
    }

    /// Spawns `fut` as a child on the running loop (asyncio's
    /// `TaskGroup.create_task`). A panic in it is a group failure.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] when the group is shutting down or finished;
    /// [`Error::NoRunningLoop`] outside a running loop;
    /// [`Error::LoopClosed`] after the loop was closed.
    #[track_caller]
    pub fn create_task<F>(&self, fut: F) -> Result<Task<F::Output>>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn(None, fut)
    }

    /// [`create_task`](TaskGroup::create_task) with a task name.
    ///
    /// # Errors
    ///
    /// As [`create_task`](TaskGroup::create_task).
    #[track_caller]
    pub fn create_named_task<F>(&self, name: impl Into<String>, fut: F) -> Result<Task<F::Output>>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn(Some(name.into()), fut)
    }

    /// Spawns a child whose `Err` output is a group failure, like an
    /// exception raised in an asyncio child: the group records a clone of
    /// the error and cancels the siblings. The task's own output keeps the
    /// `Err`. Map other error types with [`Error::failed`].
    ///
    /// # Errors
    ///
    /// As [`create_task`](TaskGroup::create_task).
    #[track_caller]
    pub fn create_try_task<F, T>(&self, fut: F) -> Result<Task<Result<T>>>
    where
        F: Future<Output = Result<T>> + 'static,
        T: 'static,
    {
        let group = self.inner.clone();
        self.spawn(None, async move {
            let out = fut.await;
            if let Err(e) = &out {
                group.fail(e.clone());
            }
            out
        })
    }

    #[track_caller]
    fn spawn<F>(&self, name: Option<String>, fut: F) -> Result<Task<F::Output>>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let lp = crate::get_running_loop()?;
        let key = {
            let mut s = self.inner.state.borrow_mut();
            if s.finished {
                return Err(Error::InvalidState("the task group is finished".into()));
            }
            if s.aborting {
                return Err(Error::InvalidState("the task group is shutting down".into()));
            }
            s.next_key += 1;
            s.live += 1;
            s.next_key
        };
        // If spawning fails, `child` is dropped and its guard undoes `live`.
        let child = Child { fut, guard: ChildGuard { group: self.inner.clone(), key } };
        let task = match name {
            Some(name) => lp.create_named_task(name, child)?,
            None => lp.create_task(child)?,
        };
        let erased = task.as_task_ref();
        // The group answers for every child failure (it reports them to its
        // awaiter), so none is "never retrieved", even after the caller
        // drops the handle. `exception()` marks the task's failure retrieved
        // ahead of time.
        let _ = erased.exception();
        self.inner.state.borrow_mut().children.insert(key, erased);
        Ok(task)
    }

    /// Waits until every child is done (asyncio's exit from
    /// `async with TaskGroup()`); then the group is finished and accepts no
    /// new children. Children may create children while it waits.
    ///
    /// # Errors
    ///
    /// `Err(Error::Failed(TaskGroupError))` when a child failed (siblings
    /// were cancelled at the first failure).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, on purpose: dropping the future before it resolved
    /// cancels every child and shuts the group down.
    pub async fn wait(&self) -> Result<()> {
        let mut guard = AbortOnDrop { group: &self.inner, armed: true };
        poll_fn(|cx| {
            if self.inner.state.borrow().live == 0 {
                Poll::Ready(())
            } else {
                self.inner.register(cx.waker());
                Poll::Pending
            }
        })
        .await;
        guard.armed = false;
        let mut s = self.inner.state.borrow_mut();
        s.finished = true;
        let mut errors = s.errors.clone();
        errors.extend(s.body_error.clone());
        if errors.is_empty() { Ok(()) } else { Err(TaskGroupError { errors }.into_error()) }
    }

    /// Number of children not done yet.
    pub fn len(&self) -> usize {
        self.inner.state.borrow().live
    }

    /// Whether no child is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the group is shutting down (a child failed, the body
    /// returned `Err`, or the awaiter was dropped).
    pub fn is_aborting(&self) -> bool {
        self.inner.state.borrow().aborting
    }
}

impl fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.inner.state.borrow();
        f.debug_struct("TaskGroup")
            .field("children", &s.live)
            .field("errors", &s.errors.len())
            .field("aborting", &s.aborting)
            .field("finished", &s.finished)
            .finish()
    }
}
