//! A task's single allocation: header, future and output together.
//!
//! [`TaskCell`] lives in one pinned `Rc` (`Pin<Rc<…>>`, so its future
//! cannot move by construction), shared by the loop's slab and any
//! [`TaskRef`] (as a [`TaskPtr`]) and by the typed [`Task<T>`](super::Task)
//! handle (as `Pin<Rc<dyn TaskOutput<T>>>`). Its [`StageCell`] holds the
//! future while the task runs and the output once it ended, so the two never
//! take memory at the same time. Polling wraps the future with cancellation,
//! panic catching and `current_task` bookkeeping.

use std::cell::Cell;
use std::future::Future;
use std::ops::Deref;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::raw::{StageCell, Step};
use super::waker::{self, LoopKey, TaskId};
use super::{CURRENT_TASK, TaskRef};
use crate::error::{Error, Result, panic_message};
use crate::exception::ExceptionContext;
use crate::handle::Handle;
use crate::inner::LoopInner;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TaskState {
    Pending,
    Succeeded,
    Failed,
    Cancelled,
}

/// Bits of [`TaskHeader::flags`]: cancellation was requested.
pub(crate) const CANCEL_REQUESTED: u8 = 1;
/// The `Task<T>` handle has not been dropped.
pub(crate) const HANDLE_ALIVE: u8 = 2;
/// The failure was observed (or reported).
pub(crate) const RETRIEVED: u8 = 4;
/// Queued on the loop's ready queue (so it is queued at most once).
pub(crate) const SCHEDULED: u8 = 8;

/// A task's boolean flags, one byte.
pub(crate) struct Flags(Cell<u8>);

impl Flags {
    pub(crate) fn get(&self, flag: u8) -> bool {
        self.0.get() & flag != 0
    }

    pub(crate) fn set(&self, flag: u8, on: bool) {
        let bits = self.0.get();
        self.0.set(if on { bits | flag } else { bits & !flag });
    }

    /// Sets `flag` and returns whether it was set before.
    pub(crate) fn replace(&self, flag: u8, on: bool) -> bool {
        let was = self.get(flag);
        self.set(flag, on);
        was
    }
}

/// A callback waiting for a task to finish.
pub(crate) type TaskDoneCallback = Box<dyn FnOnce(&TaskRef)>;

/// The type-independent part of a task.
pub(crate) struct TaskHeader {
    pub(crate) id: u64,
    // Fields are `Cell`s (take and put back) rather than `RefCell`s, and
    // small: a header is allocated for every task, so its size is memory
    // traffic on the spawn path.
    /// The name and done callbacks, boxed: most tasks have neither, and
    /// an allocation of at most 128 bytes stays in the allocator's cheapest
    /// bins.
    extras: Cell<Option<Box<Extras>>>,
    pub(crate) state: Cell<TaskState>,
    /// [`CANCEL_REQUESTED`], [`HANDLE_ALIVE`], [`RETRIEVED`], [`SCHEDULED`].
    pub(crate) flags: Flags,
    /// The serial of the loop's registration ([`LoopKey`]); the loop index
    /// is in `slot`. The loop is found again through the registry rather
    /// than a `Weak` (16 bytes less per task).
    loop_serial: u32,
    /// The task's id: its loop and its slot in the loop's slab.
    pub(crate) slot: Cell<TaskId>,
    /// Whoever awaits the `Task<T>`.
    pub(crate) join_waker: Cell<Option<Waker>>,
    pub(crate) site: &'static Location<'static>,
}

impl TaskHeader {
    pub(crate) fn new(
        id: u64,
        name: Option<String>,
        site: &'static Location<'static>,
        key: LoopKey,
    ) -> Self {
        TaskHeader {
            id,
            extras: Cell::new(
                name.map(|n| {
                    Box::new(Extras { name: Some(n.into_boxed_str()), ..Extras::default() })
                }),
            ),
            state: Cell::new(TaskState::Pending),
            flags: Flags(Cell::new(HANDLE_ALIVE)),
            loop_serial: key.serial,
            slot: Cell::new(TaskId::NONE),
            join_waker: Cell::new(None),
            site,
        }
    }

    /// The task's loop, while it is open and alive (on its thread).
    pub(crate) fn owner(&self) -> Option<Rc<LoopInner>> {
        let index = u16::try_from(self.slot.get().loop_index()).ok()?;
        waker::local_loop(LoopKey { index, serial: self.loop_serial })
    }

    pub(crate) fn done(&self) -> bool {
        self.state.get() != TaskState::Pending
    }

    /// Whether this task belongs to `lp`.
    pub(crate) fn belongs_to(&self, lp: &crate::Loop) -> bool {
        lp.common().tasks.key().is_some_and(|k| {
            usize::from(k.index) == self.slot.get().loop_index() && k.serial == self.loop_serial
        })
    }

    /// Runs `f` on the extras, creating them if needed.
    fn with_extras<R>(&self, f: impl FnOnce(&mut Extras) -> R) -> R {
        let mut extras = self.extras.take().unwrap_or_default();
        let out = f(&mut extras);
        self.extras.set(Some(extras));
        out
    }

    pub(crate) fn name(&self) -> String {
        let extras = self.extras.take();
        let name = extras.as_ref().and_then(|e| e.name.as_deref());
        let out = name.map_or_else(|| format!("Task-{}", self.id), str::to_owned);
        self.extras.set(extras);
        out
    }

    pub(crate) fn set_name(&self, name: String) {
        self.with_extras(|e| e.name = Some(name.into_boxed_str()));
    }

    pub(crate) fn add_done_callback(&self, cb: TaskDoneCallback) {
        self.with_extras(|e| e.done_callbacks.push(cb));
    }

    /// The error a cancelled end of this task carries: `Cancelled`, with
    /// the first cancel request's message.
    pub(crate) fn cancelled_error(&self) -> Error {
        let extras = self.extras.take();
        let message = extras.as_ref().and_then(|e| e.cancel_message.clone());
        self.extras.set(extras);
        Error::Cancelled { message }
    }

    fn take_done_callbacks(&self) -> Vec<TaskDoneCallback> {
        let mut extras = self.extras.take();
        let out = extras.as_mut().map(|e| std::mem::take(&mut e.done_callbacks));
        self.extras.set(extras);
        out.unwrap_or_default()
    }

    /// Requests cancellation and wakes the task so that its next step ends
    /// it. A task queued or running right now is not queued twice: the
    /// queued step, or the one after the running step, sees the request.
    /// The first request's message is the one the task ends with (later
    /// requests find the cancellation already on its way).
    pub(crate) fn cancel(&self, message: Option<Arc<str>>) -> bool {
        if self.done() {
            return false;
        }
        if !self.flags.replace(CANCEL_REQUESTED, true) {
            if let Some(m) = message {
                self.with_extras(|e| e.cancel_message = Some(m));
            }
        }
        if let Some(lp) = self.owner() {
            lp.common().wake_task(&lp, self.slot.get());
            super::note_cancelled(|| lp.common().task(self.slot.get()));
        }
        true
    }
}

/// The rarely used parts of a header.
#[derive(Default)]
struct Extras {
    name: Option<Box<str>>,
    done_callbacks: Vec<TaskDoneCallback>,
    /// The message of the first cancel request, if it had one.
    cancel_message: Option<Arc<str>>,
}

/// What the loop's slab, [`TaskRef`] and the loop's step see of a task.
pub(crate) trait TaskCore {
    fn header(&self) -> &TaskHeader;
    /// The failure, if the task failed or was cancelled.
    fn peek_error(&self) -> Option<Error>;
    /// Runs one step (polls the future once, or ends a cancelled task);
    /// returns whether the task has ended. `me` is this task.
    fn step(self: Pin<&Self>, me: &TaskPtr, waker: &Waker) -> bool;
    /// Drops the future and ends the task cancelled (loop close).
    fn abort(&self, me: &TaskPtr);
    /// Reports a failure nobody observed (once).
    fn report_unretrieved(&self, me: &TaskPtr);
}

/// Typed access to a task's output, for [`Task<T>`](super::Task).
pub(crate) trait TaskOutput<T>: TaskCore {
    /// Takes the output if the task ended and it was not taken yet.
    fn take_output(&self) -> Option<Result<T>>;
}

/// A type-erased, pinned task: what the slab and [`TaskRef`] hold.
#[derive(Clone)]
pub(crate) struct TaskPtr(pub(crate) Pin<Rc<dyn TaskCore>>);

impl TaskPtr {
    /// Runs one step of the task (see [`TaskCore::step`]).
    pub(crate) fn step(&self, me: &TaskPtr, waker: &Waker) -> bool {
        self.0.as_ref().step(me, waker)
    }

    /// Whether both point to the same task.
    pub(crate) fn ptr_eq(&self, other: &TaskPtr) -> bool {
        std::ptr::addr_eq(&*self.0 as *const dyn TaskCore, &*other.0 as *const dyn TaskCore)
    }
}

impl Deref for TaskPtr {
    type Target = dyn TaskCore;
    fn deref(&self) -> &(dyn TaskCore + 'static) {
        &*self.0
    }
}

/// A task as the slab hands it out when its loop closes, to be aborted:
/// the shape [`LoopCommon::release_tasks`](crate::common::LoopCommon)
/// consumes (`Rc<dyn TaskAny>`, `t.abort(t)`).
pub(crate) trait TaskAny {
    /// Drops the task's future and ends it cancelled.
    fn abort(&self, me: &Rc<dyn TaskAny>);
}

impl TaskAny for TaskPtr {
    fn abort(&self, _: &Rc<dyn TaskAny>) {
        self.0.abort(self);
    }
}

pin_project_lite::pin_project! {
    /// A task: its header and its future or outcome, in one allocation.
    pub(crate) struct TaskCell<F, T> {
        pub(crate) header: TaskHeader,
        #[pin]
        stage: StageCell<F, T>,
    }
}

impl<F, T> TaskCell<F, T>
where
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    pub(crate) fn new(header: TaskHeader, fut: F) -> Self {
        TaskCell { header, stage: StageCell::new(fut) }
    }

    /// Drops the future of a cancelled task and returns how the task ends:
    /// `Cancelled`, or `Panicked` if the future's drop — the task's cleanup
    /// — panicked (asyncio: an exception raised while handling the
    /// cancellation is the task's outcome, not `CancelledError`).
    fn drop_for_cancel(&self) -> Error {
        match self.stage.drop_future() {
            Ok(()) => self.header.cancelled_error(),
            Err(payload) => Error::Panicked(panic_message(&*payload)),
        }
    }

    /// Records the outcome, wakes the awaiter, schedules done callbacks and
    /// reports a failure nobody can observe any more.
    fn finish(&self, me: &TaskPtr, result: Result<T>) {
        let h = &self.header;
        if h.done() {
            return;
        }
        let state = match &result {
            Ok(_) => TaskState::Succeeded,
            Err(Error::Cancelled { .. }) => TaskState::Cancelled,
            Err(_) => TaskState::Failed,
        };
        self.stage.set_outcome(result);
        h.state.set(state);
        // Taken out of the cell first: the waker runs with nothing borrowed.
        if let Some(w) = h.join_waker.take() {
            w.wake();
        }
        let callbacks = h.take_done_callbacks();
        if !callbacks.is_empty() {
            let lp = h.owner();
            let me = TaskRef(me.clone());
            for cb in callbacks {
                let me = me.clone();
                let handle = Handle::new(move || cb(&me));
                // A closed loop drops pending callbacks anyway.
                if let Some(lp) = &lp {
                    let _ = lp.call_soon(handle);
                }
            }
        }
        if state == TaskState::Failed && !h.flags.get(HANDLE_ALIVE) {
            self.report_unretrieved(me);
        }
    }
}

impl<F, T> TaskCell<F, T>
where
    F: Future<Output = Result<T>> + Unpin + 'static,
    T: 'static,
{
    /// Runs `f` on the future while the task has not started yet (a task
    /// factory's body is put in place after the task was registered).
    pub(crate) fn with_unstarted_future(&self, f: impl FnOnce(&mut F)) {
        self.stage.with_unstarted(f);
    }
}

impl<F, T> TaskCore for TaskCell<F, T>
where
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    fn header(&self) -> &TaskHeader {
        &self.header
    }

    fn peek_error(&self) -> Option<Error> {
        if let Some(e) = self.stage.peek_error() {
            return Some(e);
        }
        match self.header.state.get() {
            TaskState::Cancelled => Some(self.header.cancelled_error()),
            _ => None,
        }
    }

    fn step(self: Pin<&Self>, me: &TaskPtr, waker: &Waker) -> bool {
        let h = &self.header;
        h.flags.set(SCHEDULED, false);
        if h.done() {
            return true;
        }
        if h.flags.get(CANCEL_REQUESTED) {
            let outcome = self.drop_for_cancel();
            self.finish(me, Err(outcome));
            return true;
        }
        let prev = CURRENT_TASK.with(|c| c.replace(Some(TaskRef(me.clone()))));
        let mut cx = Context::from_waker(waker);
        let polled = self.project_ref().stage.poll(&mut cx);
        CURRENT_TASK.with(|c| c.set(prev));
        let outcome = match polled {
            // A re-entrant step (nothing runs a task inside its own poll):
            // treat it as a spurious wake-up.
            Step::Busy => return false,
            Step::Ended => return true,
            // A cancel during this poll already queued the next step.
            Step::Pending => return false,
            // A cancel requested during the last step still ends the task
            // cancelled, as asyncio's "cancelled right before coro stops"
            // (a failure, though, stands).
            Step::Ready(Ok(Ok(_))) if h.flags.get(CANCEL_REQUESTED) => Err(h.cancelled_error()),
            Step::Ready(Ok(out)) => out,
            Step::Ready(Err(payload)) => Err(Error::Panicked(panic_message(&*payload))),
        };
        self.finish(me, outcome);
        true
    }

    fn abort(&self, me: &TaskPtr) {
        let outcome = self.drop_for_cancel();
        self.finish(me, Err(outcome));
    }

    fn report_unretrieved(&self, me: &TaskPtr) {
        let h = &self.header;
        if h.flags.replace(RETRIEVED, true) {
            return;
        }
        let ctx = ExceptionContext::new("Task exception was never retrieved")
            .with_task(TaskRef(me.clone()));
        let ctx = match self.peek_error() {
            Some(e) => ctx.with_error(e),
            None => ctx,
        };
        match h.owner() {
            Some(lp) => lp.common().call_exception_handler(ctx),
            None => crate::exception::default_exception_handler(&ctx),
        }
    }
}

impl<F, T> TaskOutput<T> for TaskCell<F, T>
where
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    fn take_output(&self) -> Option<Result<T>> {
        self.stage.take_output()
    }
}

pin_project_lite::pin_project! {
    /// A plain task's future: the user's future, its output wrapped in `Ok`.
    pub(crate) struct OkFuture<F> {
        #[pin]
        pub(crate) fut: F,
    }
}

impl<F: Future> Future for OkFuture<F> {
    type Output = Result<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().fut.poll(cx).map(Ok)
    }
}
