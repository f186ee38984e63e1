//! Tasks: futures driven by the loop (asyncio's `Task`).
//!
//! A task is one `Rc` allocation ([`cell`]) holding its header, its future
//! and, once it ended, its output. The loop keeps it in a per-loop slab
//! ([`slab`]) and queues its [`TaskId`] on the same ready queue as
//! `call_soon` callbacks, in FIFO order; its waker is the id itself, with no
//! reference count ([`waker`]). [`Task<T>`] is the typed handle (await it
//! for the output); [`TaskRef`] is the type-erased handle returned by
//! [`current_task`] and [`Loop::all_tasks`](crate::Loop::all_tasks).
//!
//! Dropping a `Task<T>` detaches it: the task keeps running. A task whose
//! panic nobody observed is reported to the loop's exception handler ("Task
//! exception was never retrieved"), either when it fails after its handle was
//! dropped, or when its handle is dropped without the result being taken.

mod cell;
#[allow(unsafe_code)]
mod raw;
mod slab;
mod spawn;
#[cfg(test)]
mod tests;
mod waker;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use cell::{
    CANCEL_REQUESTED, HANDLE_ALIVE, RETRIEVED, TaskCore, TaskHeader, TaskOutput, TaskState,
};
pub(crate) use cell::{TaskAny, TaskPtr};
pub(crate) use slab::TaskSlab;
pub(crate) use spawn::spawn;
pub(crate) use waker::{MAX_LOOPS, TaskId};

use crate::error::{Error, Result};
use crate::handle::Handle;

/// A type-erased, boxed, non-`Send` future (what a task factory handles).
pub type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T> + 'static>>;

/// A task factory (asyncio's `set_task_factory`): it sees each new task and
/// the task's type-erased body, and returns the body the loop will run (the
/// same one, or one wrapped for instrumentation). It may rename the task.
pub type TaskFactory = Rc<dyn Fn(&crate::Loop, &TaskRef, LocalBoxFuture<()>) -> LocalBoxFuture<()>>;

thread_local! {
    static CURRENT_TASK: Cell<Option<TaskRef>> = const { Cell::new(None) };
    /// While [`cancelled_during`] runs: the tasks whose cancellation was
    /// requested on this thread.
    static CANCELLED_DURING: RefCell<Option<Vec<TaskRef>>> = const { RefCell::new(None) };
}

/// Runs `f` and returns the tasks whose cancellation it requested (on this
/// thread): what a timeout must wait for after dropping its inner future
/// (a [`CancelOnDrop`](crate::CancelOnDrop), a [`gather`](crate::gather) or
/// a [`TaskGroup`](crate::TaskGroup) in it cancels its tasks as it is
/// dropped). Nests: an inner call collects only its own.
pub(crate) fn cancelled_during(f: impl FnOnce()) -> Vec<TaskRef> {
    struct Restore(Option<Vec<TaskRef>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            let _ = CANCELLED_DURING.try_with(|c| *c.borrow_mut() = outer);
        }
    }
    let outer = CANCELLED_DURING.with(|c| c.borrow_mut().replace(Vec::new()));
    let restore = Restore(outer);
    f();
    let mine = CANCELLED_DURING.with(|c| c.borrow_mut().take()).unwrap_or_default();
    drop(restore);
    mine
}

/// Records a task whose cancellation was requested, if [`cancelled_during`]
/// is collecting on this thread (`task` is only called then).
fn note_cancelled(task: impl FnOnce() -> Option<TaskRef>) {
    let _ = CANCELLED_DURING.try_with(|c| {
        if let Some(list) = c.borrow_mut().as_mut() {
            list.extend(task());
        }
    });
}

/// The task running now on this thread, if any (asyncio's
/// `current_task()`).
pub fn current_task() -> Option<TaskRef> {
    CURRENT_TASK.with(|c| {
        let cur = c.take();
        c.set(cur.clone());
        cur
    })
}

/// A type-erased handle to a task (what `current_task` and `all_tasks`
/// return). Cloning is cheap; it does not keep the task's future alive: the
/// future is dropped when the task ends or its loop closes.
#[derive(Clone)]
pub struct TaskRef(pub(crate) TaskPtr);

impl TaskRef {
    fn h(&self) -> &TaskHeader {
        self.0.header()
    }

    /// A process-unique id.
    pub fn id(&self) -> u64 {
        self.h().id
    }

    /// The task's name (`Task-<id>` unless one was given).
    pub fn name(&self) -> String {
        self.h().name()
    }

    /// Renames the task.
    pub fn set_name(&self, name: impl Into<String>) {
        self.h().set_name(name.into());
    }

    /// Requests cancellation: the task's future is dropped at its next poll
    /// and its awaiter sees [`Error::Cancelled`]. Returns `false` if the task
    /// is already done. A task that requests its own cancellation and then
    /// returns without waiting ends cancelled too (its output is dropped),
    /// as in asyncio; a panic after the request stays the task's outcome,
    /// and so does a panic while its future is dropped (its cleanup, where
    /// asyncio would raise in a `finally`): the task then ends with
    /// [`Error::Panicked`].
    pub fn cancel(&self) -> bool {
        self.h().cancel(None)
    }

    /// [`cancel`](TaskRef::cancel) with a message (asyncio's
    /// `cancel(msg)`): the task's awaiter sees [`Error::Cancelled`]
    /// carrying `message` ([`Error::cancel_message`]). If cancellation was
    /// already requested, the first request's message stays.
    pub fn cancel_with(&self, message: impl Into<Arc<str>>) -> bool {
        self.h().cancel(Some(message.into()))
    }

    /// Whether cancellation was requested and the task is not done yet
    /// (once it has ended, [`cancelled`](TaskRef::cancelled) tells).
    pub fn cancelling(&self) -> bool {
        self.h().flags.get(CANCEL_REQUESTED) && self.h().state.get() == TaskState::Pending
    }

    /// Whether the task ended cancelled.
    pub fn cancelled(&self) -> bool {
        self.h().state.get() == TaskState::Cancelled
    }

    /// Whether the task ended (succeeded, failed or cancelled).
    pub fn done(&self) -> bool {
        self.h().state.get() != TaskState::Pending
    }

    /// The task's failure, if it panicked or was cancelled; `None` while
    /// pending or after success. Marks the failure as retrieved.
    pub fn exception(&self) -> Option<Error> {
        self.h().flags.set(RETRIEVED, true);
        self.0.peek_error()
    }

    /// Where the task was created.
    pub fn site(&self) -> &'static Location<'static> {
        self.h().site
    }

    /// The task's failure if it failed (not cancelled) and nobody has
    /// retrieved or reported it yet; marks it retrieved.
    pub(crate) fn take_unreported_failure(&self) -> Option<Error> {
        if self.h().state.get() != TaskState::Failed || self.h().flags.replace(RETRIEVED, true) {
            return None;
        }
        self.0.peek_error()
    }

    /// Schedules `f` with `call_soon` once the task is done (at once if it
    /// already is).
    pub fn add_done_callback(&self, f: impl FnOnce(&TaskRef) + 'static) {
        if self.done() {
            let me = self.clone();
            if let Some(lp) = self.h().owner() {
                let _ = lp.call_soon(Handle::new(move || f(&me)));
            }
        } else {
            self.h().add_done_callback(Box::new(f));
        }
    }

    /// Whether two handles refer to the same task.
    pub fn ptr_eq(&self, other: &TaskRef) -> bool {
        self.0.ptr_eq(&other.0)
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.h();
        f.debug_struct("Task")
            .field("name", &h.name())
            .field("state", &h.state.get())
            .field("created_at", &format_args!("{}:{}", h.site.file(), h.site.line()))
            .finish()
    }
}

/// A handle to a task's output (asyncio's `Task`, like tokio's
/// `JoinHandle`).
///
/// Awaiting it yields the task's output, or [`Error::Cancelled`] if the task
/// was cancelled, or [`Error::Panicked`] if it panicked. Dropping it detaches
/// the task, which keeps running. Awaiting a pending task while another loop
/// runs (which can never run it) yields [`Error::InvalidArgument`] at once,
/// as `run_until_complete` given another loop's task does.
pub struct Task<T: 'static> {
    cell: Pin<Rc<dyn TaskOutput<T>>>,
}

impl<T: 'static> Task<T> {
    /// A type-erased handle to the same task.
    pub fn as_task_ref(&self) -> TaskRef {
        let erased: Pin<Rc<dyn TaskCore>> = self.cell.clone();
        TaskRef(TaskPtr(erased))
    }

    /// The task's id.
    pub fn id(&self) -> u64 {
        self.cell.header().id
    }

    /// The task's name.
    pub fn name(&self) -> String {
        self.cell.header().name()
    }

    /// Renames the task.
    pub fn set_name(&self, name: impl Into<String>) {
        self.cell.header().set_name(name.into());
    }

    /// Requests cancellation (see [`TaskRef::cancel`]). Returns `false` if
    /// the task is already done.
    pub fn cancel(&self) -> bool {
        self.cell.header().cancel(None)
    }

    /// Requests cancellation with a message (see [`TaskRef::cancel_with`]).
    pub fn cancel_with(&self, message: impl Into<Arc<str>>) -> bool {
        self.cell.header().cancel(Some(message.into()))
    }

    /// Whether the task ended cancelled.
    pub fn cancelled(&self) -> bool {
        self.cell.header().state.get() == TaskState::Cancelled
    }

    /// Whether the task ended.
    pub fn done(&self) -> bool {
        self.cell.header().state.get() != TaskState::Pending
    }

    /// Whether the task ended with a failure (panic) or cancellation,
    /// without taking the result.
    pub fn failed(&self) -> bool {
        matches!(self.cell.header().state.get(), TaskState::Failed | TaskState::Cancelled)
    }

    /// Schedules `f` once the task is done (see
    /// [`TaskRef::add_done_callback`]).
    pub fn add_done_callback(&self, f: impl FnOnce(&TaskRef) + 'static) {
        self.as_task_ref().add_done_callback(f);
    }

    /// Takes the output if the task is done, without waiting.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] while the task is pending or when the output
    /// was already taken; otherwise the task's own failure.
    pub fn try_take(&mut self) -> Result<T> {
        match self.cell.take_output() {
            Some(r) => {
                self.cell.header().flags.set(RETRIEVED, true);
                r
            }
            None if self.done() => Err(Error::InvalidState("task output already taken".into())),
            None => Err(Error::InvalidState("task is not done yet".into())),
        }
    }
}

impl<T: 'static> Future for Task<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        if this.done() {
            return Poll::Ready(this.try_take());
        }
        let header = this.cell.header();
        // Only its own loop ever runs it: awaited from another, it would
        // never end (asyncio refuses such an await too).
        if crate::policy::another_loop_runs(|lp| header.belongs_to(lp)) {
            return Poll::Ready(Err(Error::InvalidArgument(format!(
                "the awaited task {} belongs to another event loop than the running one",
                header.name()
            ))));
        }
        let slot = &header.join_waker;
        let kept = match slot.take() {
            Some(w) if w.will_wake(cx.waker()) => w,
            _ => cx.waker().clone(),
        };
        slot.set(Some(kept));
        Poll::Pending
    }
}

impl<T: 'static> Drop for Task<T> {
    fn drop(&mut self) {
        let h = self.cell.header();
        h.flags.set(HANDLE_ALIVE, false);
        if h.state.get() == TaskState::Failed && !h.flags.get(RETRIEVED) {
            let me = self.as_task_ref().0;
            self.cell.report_unretrieved(&me);
        }
    }
}

impl<T: 'static> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_task_ref(), f)
    }
}
