//! `Loop`: the user-facing, clonable handle to an event loop.
//!
//! It wraps the `Rc`-shared loop machinery and offers the generic methods
//! (closures instead of boxed handles, typed tasks). Upper crates extend it
//! through extension traits.

use std::fmt;
use std::future::Future;
use std::os::fd::AsFd;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::exception::{ExceptionContext, ExceptionHandler};
use crate::executor::Executor;
use crate::future::LoopFuture;
use crate::handle::{Handle, TimerHandle};
use crate::inner::LoopInner;
use crate::remote::RemoteLoop;
use crate::task::{self, Task, TaskFactory, TaskRef};

/// A handle to an event loop (what asyncio code calls `loop`).
///
/// Cheap to clone (`Rc`); `!Send`: a loop belongs to one thread. Use
/// [`remote`](Loop::remote) for a handle other threads can use.
#[derive(Clone)]
pub struct Loop {
    rc: Rc<LoopInner>,
}

/// A weak reference to a loop, that does not keep it alive.
#[derive(Clone)]
pub struct WeakLoop {
    weak: Weak<LoopInner>,
}

impl WeakLoop {
    /// The loop, if it still exists.
    pub fn upgrade(&self) -> Option<Loop> {
        self.weak.upgrade().map(|rc| Loop { rc })
    }

    /// Whether this refers to `lp` (without upgrading).
    pub(crate) fn points_to(&self, lp: &Loop) -> bool {
        std::ptr::eq(self.weak.as_ptr(), Rc::as_ptr(&lp.rc))
    }
}

impl fmt::Debug for WeakLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WeakLoop")
    }
}

impl Loop {
    /// A new loop on the default driver ([`EpollDriver`]) and the system's
    /// monotonic clock (asyncio's `new_event_loop()` /
    /// `SelectorEventLoop()`).
    ///
    /// # Errors
    ///
    /// The OS refused the driver's resources (out of fds).
    ///
    /// [`EpollDriver`]: crate::driver::EpollDriver
    pub fn new() -> Result<Loop> {
        let driver = crate::driver::EpollDriver::new()?;
        Ok(Loop::with_driver(Box::new(driver), None))
    }

    /// A new loop over any [`Driver`](crate::driver::Driver), on `clock`
    /// (`None`: the system's monotonic clock). This is the whole seam a
    /// backend plugs into; see [`crate::driver`].
    pub fn with_driver(
        driver: Box<dyn crate::driver::Driver>,
        clock: Option<Rc<dyn crate::driver::Clock>>,
    ) -> Loop {
        let rc = LoopInner::new(driver, clock);
        rc.common().set_self_ref(Rc::downgrade(&rc));
        Loop { rc }
    }

    /// The handle of a loop known to exist.
    pub(crate) fn from_rc(rc: Rc<LoopInner>) -> Loop {
        Loop { rc }
    }

    pub(crate) fn inner(&self) -> &LoopInner {
        &self.rc
    }

    /// A weak reference to the loop.
    pub fn downgrade(&self) -> WeakLoop {
        WeakLoop { weak: Rc::downgrade(&self.rc) }
    }

    pub(crate) fn downgrade_rc(&self) -> Weak<LoopInner> {
        Rc::downgrade(&self.rc)
    }

    /// Whether two handles refer to the same loop.
    pub fn ptr_eq(&self, other: &Loop) -> bool {
        Rc::ptr_eq(&self.rc, &other.rc)
    }

    /// The loop's process-unique id.
    pub fn id(&self) -> u64 {
        self.rc.common().id()
    }

    pub(crate) fn common(&self) -> &crate::common::LoopCommon {
        self.rc.common()
    }

    // ----- time and scheduling -----

    /// The loop's current time (monotonic).
    pub fn time(&self) -> Instant {
        self.rc.time()
    }

    /// Schedules `f` to run on the next iteration, after everything already
    /// scheduled (FIFO), `call_soon_threadsafe` calls made before included.
    /// Never runs `f` before returning.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`] after `close`.
    #[track_caller]
    pub fn call_soon(&self, f: impl FnOnce() + 'static) -> Result<Handle> {
        let h = Handle::new(f);
        self.rc.call_soon(h.clone())?;
        Ok(h)
    }

    /// Schedules `f` to run `delay` from now. There is no upper bound on
    /// `delay` as long as the deadline is representable.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `now + delay` overflows the clock;
    /// [`Error::LoopClosed`] after `close`.
    #[track_caller]
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + 'static) -> Result<TimerHandle> {
        let when = self.time().checked_add(delay).ok_or_else(|| {
            Error::InvalidArgument(format!("delay {delay:?} overflows the loop's clock"))
        })?;
        self.rc.call_at(when, f)
    }

    /// Schedules `f` to run at `when` on the loop's clock.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`] after `close`.
    #[track_caller]
    pub fn call_at(&self, when: Instant, f: impl FnOnce() + 'static) -> Result<TimerHandle> {
        self.rc.call_at(when, f)
    }

    /// Schedules `f` to run at the end of the current iteration, after the
    /// current batch of callbacks and before the loop polls again (outside
    /// a batch: at the end of the next iteration). Transports use it to
    /// coalesce the writes of one batch into one syscall.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`] after `close`.
    #[track_caller]
    pub fn call_before_poll(&self, f: impl FnOnce() + 'static) -> Result<Handle> {
        let h = Handle::new(f);
        self.rc.call_before_poll(h.clone())?;
        Ok(h)
    }

    /// [`call_before_poll`](Loop::call_before_poll) for a
    /// [`Handle::repeating`] made once and scheduled many times (no
    /// allocation per call). A cancelled handle does not run.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`] after `close`.
    pub fn call_before_poll_handle(&self, handle: &Handle) -> Result<()> {
        self.rc.call_before_poll(handle.clone())
    }

    /// The `Send + Sync` handle for other threads.
    pub fn remote(&self) -> RemoteLoop {
        self.rc.remote()
    }

    /// Schedules `f` from any thread; shorthand for
    /// `self.remote().call_soon_threadsafe(f)`.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`] after `close`.
    pub fn call_soon_threadsafe(&self, f: impl FnOnce() + Send + 'static) -> Result<()> {
        self.remote().call_soon_threadsafe(f)
    }

    // ----- fd watching -----

    /// Calls `f` every time `fd` is readable, replacing any reader of `fd`.
    /// Remove the reader before closing the fd.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidFd`] for an fd the driver cannot watch (a regular
    /// file); [`Error::LoopClosed`] after `close`.
    #[track_caller]
    pub fn add_reader(&self, fd: impl AsFd, f: impl FnMut() + 'static) -> Result<()> {
        self.rc.add_reader(fd.as_fd(), Handle::repeating(f), false)
    }

    /// Like [`add_reader`](Loop::add_reader), edge-triggered: `f` is called
    /// when `fd` *becomes* readable, and may not be called again until new
    /// data arrives. `f` must consume readiness itself — read until the OS
    /// says `EAGAIN`, or until a short read on a stream socket or pipe, or
    /// [`call_soon`](Loop::call_soon) itself to read more next iteration
    /// (which keeps one busy fd from starving the others). `f` may also be
    /// called when `fd` is not ready, and must then get `EAGAIN` and return.
    ///
    /// Not in asyncio: tulip's transports use it on their own fds, because
    /// with thousands of connections, telling the kernel that a reported fd
    /// need not be polled again saves a large share of the loop's CPU time.
    /// Readiness that exists when the callback is added is reported. While
    /// an fd also has a level-triggered callback, both are called as level
    /// callbacks. Replaces (and cancels) any reader of `fd`, of either kind.
    ///
    /// # Errors
    ///
    /// As [`add_reader`](Loop::add_reader).
    #[track_caller]
    pub fn add_reader_edge(&self, fd: impl AsFd, f: impl FnMut() + 'static) -> Result<()> {
        self.rc.add_reader(fd.as_fd(), Handle::repeating(f), true)
    }

    /// Stops watching `fd` for reading; returns whether it was watched
    /// (`false` after `close`, which dropped every watch, as in asyncio).
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for a driver's refusal.
    pub fn remove_reader(&self, fd: impl AsFd) -> Result<bool> {
        self.rc.remove_reader(fd.as_fd())
    }

    /// Calls `f` every time `fd` is writable, replacing any writer of `fd`.
    ///
    /// # Errors
    ///
    /// As [`add_reader`](Loop::add_reader).
    #[track_caller]
    pub fn add_writer(&self, fd: impl AsFd, f: impl FnMut() + 'static) -> Result<()> {
        self.rc.add_writer(fd.as_fd(), Handle::repeating(f), false)
    }

    /// Like [`add_writer`](Loop::add_writer), edge-triggered: `f` is called
    /// when `fd` *becomes* writable and must write until the OS refuses
    /// (`EAGAIN`) or it has nothing left; see
    /// [`add_reader_edge`](Loop::add_reader_edge).
    ///
    /// # Errors
    ///
    /// As [`add_reader`](Loop::add_reader).
    #[track_caller]
    pub fn add_writer_edge(&self, fd: impl AsFd, f: impl FnMut() + 'static) -> Result<()> {
        self.rc.add_writer(fd.as_fd(), Handle::repeating(f), true)
    }

    /// Stops watching `fd` for writing; returns whether it was watched
    /// (`false` after `close`, as in asyncio).
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for a driver's refusal.
    pub fn remove_writer(&self, fd: impl AsFd) -> Result<bool> {
        self.rc.remove_writer(fd.as_fd())
    }

    // ----- lifecycle -----

    /// Runs the loop until [`stop`](Loop::stop). While it runs, it is this
    /// thread's running loop ([`get_running_loop`](crate::get_running_loop)).
    ///
    /// # Errors
    ///
    /// [`Error::LoopRunning`] if this loop is already running,
    /// [`Error::AnotherLoopRunning`] if another loop runs on this thread,
    /// [`Error::LoopClosed`] if closed.
    pub fn run_forever(&self) -> Result<()> {
        let _running = crate::policy::enter_running(self)?;
        self.rc.run_forever()
    }

    /// Runs the loop until `fut` completes and returns its output (asyncio's
    /// `run_until_complete`). `fut` runs as a task.
    ///
    /// # Errors
    ///
    /// As [`run_forever`](Loop::run_forever); [`Error::Panicked`] if `fut`
    /// panicked; [`Error::Cancelled`] if its task was cancelled;
    /// [`Error::InvalidState`] if the loop was stopped before `fut`
    /// completed. A [`Task`] or [`LoopFuture`] of another loop (which this
    /// loop can never complete) resolves at once to
    /// `Err(`[`Error::InvalidArgument`]`)`, as its own output.
    #[track_caller]
    pub fn run_until_complete<F>(&self, fut: F) -> Result<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        if self.is_closed() {
            return Err(Error::LoopClosed);
        }
        crate::policy::check_can_run(self)?;
        let mut task = self.create_task(fut)?;
        let active = Rc::new(std::cell::Cell::new(true));
        let (lp, flag) = (self.downgrade(), active.clone());
        task.add_done_callback(move |_| {
            if flag.get() {
                if let Some(lp) = lp.upgrade() {
                    lp.stop();
                }
            }
        });
        let ran = self.run_forever();
        active.set(false);
        ran?;
        if !task.done() {
            return Err(Error::InvalidState(
                "event loop stopped before the future completed".into(),
            ));
        }
        task.try_take()
    }

    /// Asks the loop to stop: the current batch finishes, then
    /// `run_forever` returns. Called before `run_forever`, the next run
    /// polls once without blocking, runs one batch, and returns.
    pub fn stop(&self) {
        self.rc.stop();
    }

    /// Whether the loop is running.
    pub fn is_running(&self) -> bool {
        self.rc.is_running()
    }

    /// Whether the loop is closed.
    pub fn is_closed(&self) -> bool {
        self.rc.is_closed()
    }

    /// Closes the loop (asyncio's `close`): pending callbacks, timers and fd
    /// watches are dropped (their closures released, even where the user
    /// kept the handle), tasks still pending end cancelled and their futures
    /// are dropped, the default executor is shut down without waiting, and
    /// the driver releases its OS resources — the loop owns no fd
    /// afterwards, whatever handles still exist. Idempotent.
    ///
    /// # Errors
    ///
    /// [`Error::LoopRunning`] while the loop runs.
    pub fn close(&self) -> Result<()> {
        self.rc.close()
    }

    // ----- futures and tasks -----

    /// A new pending future bound to this loop (asyncio's `create_future`).
    pub fn create_future<T: 'static>(&self) -> LoopFuture<T> {
        LoopFuture::new(self)
    }

    /// Runs `fut` as a task on this loop (asyncio's `create_task`). The task
    /// is scheduled now and first polled on the next iteration.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`] after `close`.
    #[track_caller]
    pub fn create_task<F>(&self, fut: F) -> Result<Task<F::Output>>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        task::spawn(self, None, fut, std::panic::Location::caller())
    }

    /// [`create_task`](Loop::create_task) with a name.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`] after `close`.
    #[track_caller]
    pub fn create_named_task<F>(&self, name: impl Into<String>, fut: F) -> Result<Task<F::Output>>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        task::spawn(self, Some(name.into()), fut, std::panic::Location::caller())
    }

    /// Sets (or removes) the task factory.
    pub fn set_task_factory(&self, factory: Option<TaskFactory>) {
        self.common().set_task_factory(factory);
    }

    /// The task factory, if set.
    pub fn task_factory(&self) -> Option<TaskFactory> {
        self.common().task_factory()
    }

    /// Every task of this loop that is not done (asyncio's `all_tasks`).
    pub fn all_tasks(&self) -> Vec<TaskRef> {
        self.common().all_tasks()
    }

    // ----- executor -----

    /// Runs blocking `f` on the default executor and resolves to its result
    /// (asyncio's `run_in_executor(None, f)`). The loop never blocks.
    ///
    /// The future resolves to [`Error::LoopClosed`] after `close`, to
    /// [`Error::ExecutorShutdown`] if the default executor was shut down,
    /// and to [`Error::Panicked`] if `f` panicked.
    pub fn run_in_executor<T, F>(&self, f: F) -> crate::blocking::ExecutorFuture<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.is_closed() {
            return crate::blocking::ExecutorFuture::failed(Error::LoopClosed);
        }
        match self.common().default_executor() {
            Ok(ex) => crate::blocking::submit(&*ex, f),
            Err(e) => crate::blocking::ExecutorFuture::failed(e),
        }
    }

    /// Runs blocking `f` on `executor` (asyncio's `run_in_executor(ex, f)`).
    ///
    /// The future resolves to [`Error::LoopClosed`] after `close` (`f` is
    /// not run), as in asyncio.
    pub fn run_in<T, F>(&self, executor: &dyn Executor, f: F) -> crate::blocking::ExecutorFuture<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.is_closed() {
            return crate::blocking::ExecutorFuture::failed(Error::LoopClosed);
        }
        crate::blocking::submit(executor, f)
    }

    /// Replaces the default executor.
    pub fn set_default_executor(&self, executor: Arc<dyn Executor>) {
        self.common().set_default_executor(executor);
    }

    /// Shuts the default executor down and waits (off the loop thread, with
    /// the loop running) for its threads to finish, at most
    /// [`THREAD_JOIN_TIMEOUT`](crate::THREAD_JOIN_TIMEOUT) (300 s). Later
    /// `run_in_executor` calls fail with [`Error::ExecutorShutdown`].
    ///
    /// asyncio's `shutdown_default_executor()` waits without limit unless
    /// given a timeout, and `asyncio.run` gives it 300 s; this form always
    /// has that limit. For another limit, or none, use
    /// [`shutdown_default_executor_timeout`](Loop::shutdown_default_executor_timeout).
    ///
    /// # Errors
    ///
    /// As [`shutdown_default_executor_timeout`](Loop::shutdown_default_executor_timeout).
    ///
    /// # Cancel safety
    ///
    /// Cancelling the wait does not undo the shutdown.
    pub async fn shutdown_default_executor(&self) -> Result<()> {
        self.shutdown_default_executor_timeout(Some(crate::THREAD_JOIN_TIMEOUT)).await
    }

    /// Shuts the default executor down and waits for its threads to finish
    /// for at most `timeout` (`None`: without limit), asyncio 3.12's
    /// `shutdown_default_executor(timeout)`. When the threads have not
    /// joined in time it warns (a `tracing` warning, asyncio's
    /// `RuntimeWarning`) and returns; the threads finish on their own.
    ///
    /// # Errors
    ///
    /// An OS error if the joining thread could not be started;
    /// [`Error::NoRunningLoop`] if a timeout must be armed outside a
    /// running loop.
    ///
    /// # Cancel safety
    ///
    /// Cancelling the wait does not undo the shutdown.
    pub async fn shutdown_default_executor_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        let Some(ex) = self.common().take_default_executor() else {
            return Ok(());
        };
        let (tx, rx) = crate::blocking::oneshot();
        std::thread::Builder::new().name("tulip-executor-shutdown".into()).spawn(move || {
            ex.shutdown(true);
            tx.send(());
        })?;
        let Some(limit) = timeout else {
            return rx.await;
        };
        match crate::helpers::timeout(limit, rx).await {
            Ok(joined) => joined,
            Err(Error::TimedOut { .. }) => {
                tracing::warn!(
                    target: "tulip",
                    loop_id = self.id(),
                    "the default executor did not finish joining its threads within {limit:?}"
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    // ----- errors and debug -----

    /// Sets (or, with `None`, removes) the exception handler.
    pub fn set_exception_handler(&self, handler: Option<ExceptionHandler>) {
        self.common().set_exception_handler(handler);
    }

    /// The custom exception handler, if set.
    pub fn exception_handler(&self) -> Option<ExceptionHandler> {
        self.common().exception_handler()
    }

    /// Reports a failure to the exception handler.
    pub fn call_exception_handler(&self, ctx: ExceptionContext) {
        self.common().call_exception_handler(ctx);
    }

    /// The default handler (logs through `tracing`), for custom handlers
    /// that want to fall back to it.
    pub fn default_exception_handler(&self, ctx: &ExceptionContext) {
        crate::exception::default_exception_handler(ctx);
    }

    /// Whether debug mode is on.
    pub fn get_debug(&self) -> bool {
        self.common().debug()
    }

    /// Turns debug mode on or off.
    pub fn set_debug(&self, on: bool) {
        self.common().set_debug(on);
    }

    /// The slow-callback threshold (debug mode).
    pub fn slow_callback_duration(&self) -> Duration {
        self.common().slow_callback_duration()
    }

    /// Sets the slow-callback threshold (debug mode).
    pub fn set_slow_callback_duration(&self, d: Duration) {
        self.common().set_slow_callback_duration(d);
    }
}

impl fmt::Debug for Loop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loop")
            .field("id", &self.id())
            .field("running", &self.is_running())
            .field("closed", &self.is_closed())
            .finish()
    }
}
