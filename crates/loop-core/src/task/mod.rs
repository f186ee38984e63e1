//! Tasks: futures driven by the loop (asyncio's `Task`).
//!
//! A task is an `async-task` runnable scheduled through the loop's
//! [`Scheduler`](crate::Scheduler), so it shares the ready queue with
//! `call_soon` callbacks in FIFO order. [`Task<T>`] is the typed handle
//! (await it for the output); [`TaskRef`] is the type-erased handle returned
//! by [`current_task`] and [`Loop::all_tasks`](crate::Loop::all_tasks).
//!
//! Dropping a `Task<T>` detaches it: the task keeps running. A task whose
//! panic nobody observed is reported to the loop's exception handler ("Task
//! exception was never retrieved"), either when it fails after its handle was
//! dropped, or when its handle is dropped without the result being taken.

mod body;
mod registry;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

pub(crate) use body::spawn;
pub(crate) use registry::TaskRegistry;

use crate::error::{Error, Result};
use crate::event_loop::EventLoop;
use crate::exception::ExceptionContext;
use crate::handle::Handle;

/// A type-erased, boxed, non-`Send` future (what a task factory handles).
pub type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T> + 'static>>;

/// A task factory (asyncio's `set_task_factory`): it sees each new task and
/// the task's type-erased body, and returns the body the loop will run (the
/// same one, or one wrapped for instrumentation). It may rename the task.
pub type TaskFactory = Rc<dyn Fn(&crate::Loop, &TaskRef, LocalBoxFuture<()>) -> LocalBoxFuture<()>>;

static NEXT_TASK_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static CURRENT_TASK: Cell<Option<TaskRef>> = const { Cell::new(None) };
    /// Set by a debug-mode loop around a task step, so the step's task can
    /// be named in the slow-callback report (a runnable does not say which
    /// task it drives).
    static TRACE_STEP: Cell<bool> = const { Cell::new(false) };
    /// The task polled by the traced step.
    static TRACED_TASK: Cell<Option<TaskRef>> = const { Cell::new(None) };
}

/// Runs one task step (`run` polls a runnable) and returns the task it
/// polled, if the runnable was one of
/// [`Loop::create_task`](crate::Loop::create_task)'s tasks. For debug reports only: it costs a task-handle clone.
pub(crate) fn traced_step(run: impl FnOnce()) -> Option<TaskRef> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            TRACE_STEP.with(|t| t.set(false));
        }
    }
    TRACED_TASK.with(|t| t.set(None));
    TRACE_STEP.with(|t| t.set(true));
    let reset = Reset;
    run();
    drop(reset);
    TRACED_TASK.with(Cell::take)
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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TaskState {
    Pending,
    Succeeded,
    Failed,
    Cancelled,
}

/// A callback waiting for a task to finish.
type TaskDoneCallback = Box<dyn FnOnce(&TaskRef)>;

/// The type-independent part of a task.
pub(crate) struct TaskHeader {
    id: u64,
    // Fields are `Cell`s (take and put back) rather than `RefCell`s, and
    // small: a task's header is allocated for every task, so its size is
    // memory traffic on the spawn path.
    name: Cell<Option<Box<str>>>,
    state: Cell<TaskState>,
    cancel_requested: Cell<bool>,
    handle_alive: Cell<bool>,
    retrieved: Cell<bool>,
    /// Registry slot (for `all_tasks`).
    slot: Cell<u32>,
    /// The task's own waker, kept once a poll returned `Pending` so `cancel`
    /// can wake it (a task that completes in its first poll never needs it).
    waker: Cell<Option<Waker>>,
    /// Whoever awaits the `Task<T>`.
    join_waker: Cell<Option<Waker>>,
    done_callbacks: Cell<Vec<TaskDoneCallback>>,
    site: &'static Location<'static>,
    owner: Option<Weak<dyn EventLoop>>,
}

pub(crate) trait TaskAny {
    fn header(&self) -> &TaskHeader;
    /// The failure, if the task failed or was cancelled.
    fn peek_error(&self) -> Option<Error>;
}

pub(crate) struct TaskCell<T> {
    header: TaskHeader,
    output: RefCell<Option<Result<T>>>,
}

impl<T> TaskAny for TaskCell<T> {
    fn header(&self) -> &TaskHeader {
        &self.header
    }
    fn peek_error(&self) -> Option<Error> {
        match &*self.output.borrow() {
            Some(Err(e)) => Some(e.clone()),
            _ => match self.header.state.get() {
                TaskState::Cancelled => Some(Error::Cancelled),
                _ => None,
            },
        }
    }
}

impl<T: 'static> TaskCell<T> {
    fn new(
        name: Option<String>,
        site: &'static Location<'static>,
        owner: Option<Weak<dyn EventLoop>>,
    ) -> Self {
        TaskCell {
            header: TaskHeader {
                id: NEXT_TASK_ID.fetch_add(1, Ordering::Relaxed),
                name: Cell::new(name.map(String::into_boxed_str)),
                state: Cell::new(TaskState::Pending),
                cancel_requested: Cell::new(false),
                handle_alive: Cell::new(true),
                retrieved: Cell::new(false),
                slot: Cell::new(u32::MAX),
                waker: Cell::new(None),
                join_waker: Cell::new(None),
                done_callbacks: Cell::new(Vec::new()),
                site,
                owner,
            },
            output: RefCell::new(None),
        }
    }

    /// Records the outcome, wakes the awaiter, schedules done callbacks and
    /// reports a failure nobody can observe any more.
    fn finish(self: &Rc<Self>, result: Result<T>) {
        let h = &self.header;
        if h.state.get() != TaskState::Pending {
            return;
        }
        let state = match &result {
            Ok(_) => TaskState::Succeeded,
            Err(Error::Cancelled) => TaskState::Cancelled,
            Err(_) => TaskState::Failed,
        };
        *self.output.borrow_mut() = Some(result);
        h.state.set(state);
        drop(h.waker.take());
        // Taken out of the cell first: the waker runs with nothing borrowed.
        if let Some(w) = h.join_waker.take() {
            w.wake();
        }
        let lp = h.owner.as_ref().and_then(Weak::upgrade);
        if let Some(lp) = &lp {
            lp.common().tasks.remove(h.slot.get());
        }
        let callbacks = h.done_callbacks.take();
        if !callbacks.is_empty() {
            let me = TaskRef(self.clone());
            for cb in callbacks {
                let me = me.clone();
                let handle = Handle::new(move || cb(&me));
                // A closed loop drops pending callbacks anyway.
                if let Some(lp) = &lp {
                    let _ = lp.call_soon(handle);
                }
            }
        }
        if state == TaskState::Failed && !h.handle_alive.get() {
            self.report_unretrieved(lp.as_deref());
        }
    }

    fn report_unretrieved(self: &Rc<Self>, lp: Option<&dyn EventLoop>) {
        let h = &self.header;
        if h.retrieved.replace(true) {
            return;
        }
        let ctx = ExceptionContext::new("Task exception was never retrieved")
            .with_task(TaskRef(self.clone()));
        let ctx = match self.peek_error() {
            Some(e) => ctx.with_error(e),
            None => ctx,
        };
        match lp {
            Some(lp) => lp.common().call_exception_handler(ctx),
            None => crate::exception::default_exception_handler(&ctx),
        }
    }
}

impl TaskHeader {
    fn name(&self) -> String {
        let name = self.name.take();
        let out = name.as_deref().map_or_else(|| format!("Task-{}", self.id), str::to_owned);
        self.name.set(name);
        out
    }

    fn set_name(&self, name: String) {
        self.name.set(Some(name.into_boxed_str()));
    }

    fn cancel(&self) -> bool {
        if self.state.get() != TaskState::Pending {
            return false;
        }
        self.cancel_requested.set(true);
        // Without a kept waker the task is queued or running right now: its
        // body sees the request at (or right after) that poll.
        if let Some(w) = self.waker.take() {
            w.wake_by_ref();
            self.waker.set(Some(w));
        }
        true
    }
}

/// A type-erased handle to a task (what `current_task` and `all_tasks`
/// return). Cloning is cheap; it does not keep the task's future alive.
#[derive(Clone)]
pub struct TaskRef(Rc<dyn TaskAny>);

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
    /// is already done.
    pub fn cancel(&self) -> bool {
        self.h().cancel()
    }

    /// Whether cancellation was requested and the task is not done yet
    /// (once it has ended, [`cancelled`](TaskRef::cancelled) tells).
    pub fn cancelling(&self) -> bool {
        self.h().cancel_requested.get() && self.h().state.get() == TaskState::Pending
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
        self.h().retrieved.set(true);
        self.0.peek_error()
    }

    /// Where the task was created.
    pub fn site(&self) -> &'static Location<'static> {
        self.h().site
    }

    /// Schedules `f` with `call_soon` once the task is done (at once if it
    /// already is).
    pub fn add_done_callback(&self, f: impl FnOnce(&TaskRef) + 'static) {
        if self.done() {
            let me = self.clone();
            if let Some(lp) = self.h().owner.as_ref().and_then(Weak::upgrade) {
                let _ = lp.call_soon(Handle::new(move || f(&me)));
            }
        } else {
            let mut callbacks = self.h().done_callbacks.take();
            callbacks.push(Box::new(f));
            self.h().done_callbacks.set(callbacks);
        }
    }

    /// Whether two handles refer to the same task.
    pub fn ptr_eq(&self, other: &TaskRef) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
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
/// the task, which keeps running.
pub struct Task<T: 'static> {
    cell: Rc<TaskCell<T>>,
}

impl<T: 'static> Task<T> {
    /// A type-erased handle to the same task.
    pub fn as_task_ref(&self) -> TaskRef {
        TaskRef(self.cell.clone())
    }

    /// The task's id.
    pub fn id(&self) -> u64 {
        self.cell.header.id
    }

    /// The task's name.
    pub fn name(&self) -> String {
        self.cell.header.name()
    }

    /// Renames the task.
    pub fn set_name(&self, name: impl Into<String>) {
        self.cell.header.set_name(name.into());
    }

    /// Requests cancellation (see [`TaskRef::cancel`]). Returns `false` if
    /// the task is already done.
    pub fn cancel(&self) -> bool {
        self.cell.header.cancel()
    }

    /// Whether the task ended cancelled.
    pub fn cancelled(&self) -> bool {
        self.cell.header.state.get() == TaskState::Cancelled
    }

    /// Whether the task ended.
    pub fn done(&self) -> bool {
        self.cell.header.state.get() != TaskState::Pending
    }

    /// Whether the task ended with a failure (panic) or cancellation,
    /// without taking the result.
    pub fn failed(&self) -> bool {
        matches!(self.cell.header.state.get(), TaskState::Failed | TaskState::Cancelled)
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
        match self.cell.output.borrow_mut().take() {
            Some(r) => {
                self.cell.header.retrieved.set(true);
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
        let slot = &this.cell.header.join_waker;
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
        let h = &self.cell.header;
        h.handle_alive.set(false);
        if h.state.get() == TaskState::Failed && !h.retrieved.get() {
            let lp = h.owner.as_ref().and_then(Weak::upgrade);
            self.cell.report_unretrieved(lp.as_deref());
        }
    }
}

impl<T: 'static> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_task_ref(), f)
    }
}
