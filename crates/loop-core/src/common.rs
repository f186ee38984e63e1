//! `LoopCommon`: per-loop state every implementation keeps the same way.
//!
//! The task slab (and stepping tasks), the task factory, the exception handler, debug
//! settings and the default executor do not depend on how a loop polls, so
//! they live here, apart from the scheduling machinery of
//! [`LoopInner`](crate::inner::LoopInner).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::exception::{ExceptionContext, ExceptionHandler, default_exception_handler};
use crate::executor::{Executor, ThreadPoolExecutor};
use crate::inner::LoopInner;
use crate::task::{TaskAny, TaskFactory, TaskId, TaskRef, TaskSlab};

/// The environment variable that turns debug mode on for new loops (like
/// `PYTHONASYNCIODEBUG`): any value other than empty or `0`.
pub const DEBUG_ENV_VAR: &str = "TULIP_DEBUG";

/// Callbacks that run longer than this are reported in debug mode (asyncio's
/// `slow_callback_duration` default).
pub const DEFAULT_SLOW_CALLBACK_DURATION: Duration = Duration::from_millis(100);

static NEXT_LOOP_ID: AtomicU64 = AtomicU64::new(1);

/// Per-loop state shared by all implementations: see the module docs.
pub(crate) struct LoopCommon {
    id: u64,
    self_ref: RefCell<Option<Weak<LoopInner>>>,
    debug: Cell<bool>,
    slow_callback_duration: Cell<Duration>,
    exception_handler: RefCell<Option<ExceptionHandler>>,
    task_factory: RefCell<Option<TaskFactory>>,
    pub(crate) tasks: TaskSlab,
    executor: RefCell<Option<Arc<dyn Executor>>>,
    executor_shutdown_called: Cell<bool>,
    pub(crate) extensions: RefCell<crate::extension::Extensions>,
}

impl LoopCommon {
    /// Fresh state; debug mode follows [`DEBUG_ENV_VAR`].
    pub(crate) fn new() -> Self {
        let debug = std::env::var_os(DEBUG_ENV_VAR).is_some_and(|v| !v.is_empty() && v != "0");
        LoopCommon {
            id: NEXT_LOOP_ID.fetch_add(1, Ordering::Relaxed),
            self_ref: RefCell::new(None),
            debug: Cell::new(debug),
            slow_callback_duration: Cell::new(DEFAULT_SLOW_CALLBACK_DURATION),
            exception_handler: RefCell::new(None),
            task_factory: RefCell::new(None),
            tasks: TaskSlab::default(),
            executor: RefCell::new(None),
            executor_shutdown_called: Cell::new(false),
            extensions: RefCell::default(),
        }
    }

    /// A process-unique id for the loop.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn set_self_ref(&self, weak: Weak<LoopInner>) {
        *self.self_ref.borrow_mut() = Some(weak);
    }

    pub(crate) fn self_ref(&self) -> Option<Weak<LoopInner>> {
        self.self_ref.borrow().clone()
    }

    /// Whether debug mode is on.
    pub(crate) fn debug(&self) -> bool {
        self.debug.get()
    }

    /// Turns debug mode on or off.
    pub(crate) fn set_debug(&self, on: bool) {
        self.debug.set(on);
    }

    /// The slow-callback threshold used in debug mode.
    pub(crate) fn slow_callback_duration(&self) -> Duration {
        self.slow_callback_duration.get()
    }

    /// Sets the slow-callback threshold used in debug mode.
    pub(crate) fn set_slow_callback_duration(&self, d: Duration) {
        self.slow_callback_duration.set(d);
    }

    /// The custom exception handler, if one is set.
    pub(crate) fn exception_handler(&self) -> Option<ExceptionHandler> {
        self.exception_handler.borrow().clone()
    }

    /// Sets (or, with `None`, removes) the custom exception handler.
    pub(crate) fn set_exception_handler(&self, handler: Option<ExceptionHandler>) {
        *self.exception_handler.borrow_mut() = handler;
    }

    /// Reports a failure: to the custom handler if set, else to
    /// [`default_exception_handler`]. A panicking custom handler is caught
    /// and both failures go to the default handler, as asyncio does.
    pub(crate) fn call_exception_handler(&self, ctx: ExceptionContext) {
        let handler = self.exception_handler();
        let lp = self.self_ref().and_then(|w| w.upgrade()).map(crate::Loop::from_rc);
        match (handler, lp) {
            (Some(handler), Some(lp)) => {
                let r =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&lp, &ctx)));
                if let Err(payload) = r {
                    let msg = crate::error::panic_message(&*payload);
                    default_exception_handler(
                        &ExceptionContext::new("Unhandled error in exception handler")
                            .with_error(crate::Error::Panicked(msg)),
                    );
                    default_exception_handler(&ctx);
                }
            }
            _ => default_exception_handler(&ctx),
        }
    }

    /// The task factory, if one is set.
    pub(crate) fn task_factory(&self) -> Option<TaskFactory> {
        self.task_factory.borrow().clone()
    }

    /// Sets (or, with `None`, removes) the task factory.
    pub(crate) fn set_task_factory(&self, factory: Option<TaskFactory>) {
        *self.task_factory.borrow_mut() = factory;
    }

    /// Every task of this loop that is not done yet.
    pub(crate) fn all_tasks(&self) -> Vec<TaskRef> {
        self.tasks.live()
    }

    /// Runs one step of task `task` (what the loop does when the task's turn
    /// on its ready queue comes): polls its future once, or ends it if it
    /// was cancelled, and frees its slot once it ended. A stale id (the task
    /// ended, or the loop closed) does nothing. Panics of the task are
    /// caught and become its outcome.
    pub(crate) fn run_task(&self, task: TaskId) {
        let Some(t) = self.tasks.get(task) else { return };
        if t.step(&t, &task.waker()) {
            let slot = self.tasks.remove(task);
            // Dropped outside the slab's borrow: it may be the last reference.
            drop(slot);
        }
    }

    /// Wakes task `task`: queues it with `lp.schedule_task` unless it is
    /// already queued, has ended, or the id is stale. `lp` is the loop this
    /// state belongs to. Loops call it for
    /// [`RemoteItem::WakeTask`](crate::RemoteItem::WakeTask).
    pub(crate) fn wake_task(&self, lp: &LoopInner, task: TaskId) {
        if self.tasks.mark_scheduled(task) {
            lp.schedule_task(task);
        }
    }

    /// The task `task` names, if it is live (for reports).
    pub(crate) fn task(&self, task: TaskId) -> Option<TaskRef> {
        self.tasks.get(task).map(TaskRef)
    }

    /// Ends every live task cancelled, dropping its future here, on the loop
    /// thread, and forgets the loop's registration for task wake-ups. Loops
    /// call it when they close (after refusing new work); dropping a
    /// `LoopCommon` does it too. Done callbacks of the ended tasks are
    /// offered to the (closed) loop, which drops them.
    pub(crate) fn release_tasks(&self) {
        // Dropping a future may end or wake other tasks: repeat until empty.
        loop {
            let all: Vec<Rc<dyn TaskAny>> = self.tasks.take_all();
            if all.is_empty() {
                break;
            }
            for t in &all {
                t.abort(t);
            }
            drop(all);
        }
        self.tasks.unregister();
    }

    /// The default executor, created on first use (bounded: asyncio's
    /// `min(32, cpus + 4)` worker threads, started lazily).
    ///
    /// # Errors
    ///
    /// [`Error::ExecutorShutdown`](crate::Error::ExecutorShutdown) after
    /// [`shutdown_default_executor`](crate::Loop::shutdown_default_executor).
    pub(crate) fn default_executor(&self) -> crate::Result<Arc<dyn Executor>> {
        if self.executor_shutdown_called.get() {
            return Err(crate::Error::ExecutorShutdown);
        }
        let mut slot = self.executor.borrow_mut();
        Ok(slot.get_or_insert_with(|| Arc::new(ThreadPoolExecutor::with_default_size())).clone())
    }

    /// Replaces the default executor.
    pub(crate) fn set_default_executor(&self, executor: Arc<dyn Executor>) {
        *self.executor.borrow_mut() = Some(executor);
        self.executor_shutdown_called.set(false);
    }

    /// Takes the default executor out for shutdown; later uses fail with
    /// [`Error::ExecutorShutdown`](crate::Error::ExecutorShutdown).
    pub(crate) fn take_default_executor(&self) -> Option<Arc<dyn Executor>> {
        self.executor_shutdown_called.set(true);
        self.executor.borrow_mut().take()
    }

    /// Shuts the default executor down without waiting (loop close).
    pub(crate) fn shutdown_executor_nowait(&self) {
        if let Some(ex) = self.take_default_executor() {
            ex.shutdown(false);
        }
        // Break any reference cycle through the user's handlers.
        self.exception_handler.borrow_mut().take();
        self.task_factory.borrow_mut().take();
    }
}

impl Drop for LoopCommon {
    fn drop(&mut self) {
        self.release_tasks();
    }
}

impl Default for LoopCommon {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LoopCommon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopCommon")
            .field("id", &self.id)
            .field("debug", &self.debug.get())
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}
