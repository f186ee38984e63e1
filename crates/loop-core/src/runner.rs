//! `Runner` and `run`: asyncio's `asyncio.Runner` and `asyncio.run`, the
//! entry points of a program.

use std::fmt;
use std::future::Future;

use crate::Loop;
use crate::error::{Error, Result};
use crate::exception::ExceptionContext;
use crate::task::TaskRef;

/// Runs `fut` on a new loop and returns its output (asyncio's `run`):
/// [`Runner::new`], [`Runner::run`], [`Runner::close`].
///
/// # Errors
///
/// [`Error::AnotherLoopRunning`] when called from a running loop; the main
/// task's own failure ([`Error::Panicked`], [`Error::Cancelled`]); an OS
/// error if the loop cannot be created; an error of the shutdown.
pub fn run<F>(fut: F) -> Result<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let runner = Runner::new()?;
    let out = runner.run(fut);
    let closed = runner.close();
    let out = out?;
    closed?;
    Ok(out)
}

/// What a [`Runner`] calls around each main task: the hook `loop-signals`
/// uses to turn Ctrl-C into a cancellation of the main task.
pub trait MainTaskHook {
    /// Called with the main task, before the loop runs it. An error cancels
    /// the main task and is [`Runner::run`]'s result.
    ///
    /// # Errors
    ///
    /// Whatever keeps the hook from setting up.
    fn started(&self, lp: &Loop, main: &TaskRef) -> Result<()>;

    /// Called when the loop stopped running the main task, with its error
    /// if it failed; returns the error [`Runner::run`] reports instead, if
    /// any (say [`Error::Interrupted`] for a cancellation the hook caused).
    fn finished(&self, lp: &Loop, error: Option<&Error>) -> Option<Error>;
}

/// Runs several main futures on one loop, then shuts it down (asyncio
/// 3.11's `asyncio.Runner`).
///
/// [`new`](Runner::new) creates a loop and makes it the thread's current
/// loop; each [`run`](Runner::run) runs a future as the main task to
/// completion; [`close`](Runner::close) cancels the tasks still pending and
/// lets them finish (reporting their failures to the exception handler),
/// shuts the default executor down, and closes the loop. Dropping a runner
/// closes it too, ignoring errors.
///
/// ```
/// use loop_core::Runner;
///
/// let runner = Runner::new()?;
/// let a = runner.run(async { 1 })?;
/// let lp = runner.get_loop().clone();
/// let b = runner.run(async move { lp.create_task(async { 2 })?.await })??;
/// runner.close()?;
/// assert_eq!(a + b, 3);
/// # Ok::<(), loop_core::Error>(())
/// ```
pub struct Runner {
    lp: Loop,
    hook: Option<Box<dyn MainTaskHook>>,
}

impl Runner {
    /// A runner on a new loop, which becomes the thread's current loop.
    ///
    /// # Errors
    ///
    /// [`Error::AnotherLoopRunning`] when a loop runs on this thread; an OS
    /// error if the loop cannot be created.
    pub fn new() -> Result<Runner> {
        if crate::get_running_loop().is_ok() {
            return Err(Error::AnotherLoopRunning);
        }
        let lp = crate::new_event_loop()?;
        crate::set_event_loop(Some(lp.clone()));
        Ok(Runner { lp, hook: None })
    }

    /// Calls `hook` around every main task (see [`MainTaskHook`]).
    pub fn with_hook(mut self, hook: impl MainTaskHook + 'static) -> Runner {
        self.hook = Some(Box::new(hook));
        self
    }

    /// The runner's loop.
    pub fn get_loop(&self) -> &Loop {
        &self.lp
    }

    /// Runs `fut` as the main task until it completes, and returns its
    /// output.
    ///
    /// # Errors
    ///
    /// [`Error::AnotherLoopRunning`] inside a running loop,
    /// [`Error::LoopClosed`] after `close`; the main task's failure
    /// ([`Error::Panicked`], [`Error::Cancelled`]), or what the hook made
    /// of it.
    pub fn run<F>(&self, fut: F) -> Result<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        crate::policy::check_can_run(&self.lp)?;
        let task = self.lp.create_task(fut)?;
        if let Some(hook) = &self.hook {
            if let Err(e) = hook.started(&self.lp, &task.as_task_ref()) {
                task.cancel();
                return Err(e);
            }
        }
        let out = self.lp.run_until_complete(task).and_then(|r| r);
        match &self.hook {
            Some(hook) => {
                let replaced = hook.finished(&self.lp, out.as_ref().err());
                match replaced {
                    Some(e) => Err(e),
                    None => out,
                }
            }
            None => out,
        }
    }

    /// Shuts down: cancels leftover tasks and runs them to completion
    /// (reporting failures other than cancellation to the exception
    /// handler: a task whose cleanup — its future's drop — panicked ends
    /// with that panic), shuts the default executor down (waiting at most
    /// [`THREAD_JOIN_TIMEOUT`](crate::THREAD_JOIN_TIMEOUT)), closes the
    /// loop, and clears the thread's current loop (as asyncio's
    /// `Runner.close` does).
    ///
    /// # Errors
    ///
    /// An error running the shutdown (the loop was closed already, the
    /// executor's joining thread could not start).
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        if self.lp.is_closed() {
            return Ok(());
        }
        let finished = finish(&self.lp);
        crate::set_event_loop(None);
        let closed = self.lp.close();
        finished?;
        closed
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if !self.lp.is_running() {
            let _ = self.shutdown();
        }
    }
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner").field("loop", &self.lp).finish_non_exhaustive()
    }
}

/// Cancels leftover tasks, waits for them, reports their failures, shuts the
/// executor down.
fn finish(lp: &Loop) -> Result<()> {
    let leftovers = lp.all_tasks();
    for t in &leftovers {
        t.cancel();
    }
    if !leftovers.is_empty() {
        let pending = leftovers.clone();
        lp.run_until_complete(async move {
            for t in pending {
                crate::helpers::wait_done(&t).await;
            }
        })?;
        // A leftover task fails rather than ending cancelled when its
        // cleanup (its future's drop) panics. One whose handle is gone was
        // reported as it failed ("never retrieved"); the others are
        // reported here, as asyncio.run reports them.
        for t in leftovers {
            if let Some(err) = t.take_unreported_failure() {
                lp.call_exception_handler(
                    ExceptionContext::new("unhandled error during asyncio.run() shutdown")
                        .with_error(err)
                        .with_task(t),
                );
            }
        }
    }
    let lp2 = lp.clone();
    lp.run_until_complete(async move { lp2.shutdown_default_executor().await })??;
    Ok(())
}
