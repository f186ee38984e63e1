//! `run_with_sigint`: `asyncio.run`, with its Ctrl-C behaviour.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use loop_core::{Error, ExceptionContext, Loop, TaskRef};

use crate::{Signal, SignalError, SignalExt};

/// Runs `fut` on a new loop and returns its output, like
/// [`loop_core::run`], and turns Ctrl-C into a cancellation of `fut`
/// (asyncio's `asyncio.run`, which raises `KeyboardInterrupt`).
///
/// The sequence is `loop_core::run`'s: create a loop and make it the
/// thread's current loop, run `fut` as the main task, cancel the tasks still
/// pending and wait for them, shut the default executor down, close the
/// loop. While the main task runs, a SIGINT handler is installed on the
/// loop:
///
/// * the **first SIGINT** cancels the main task and restores the previous
///   SIGINT disposition at once, so a **second Ctrl-C terminates the
///   process** (asyncio raises `KeyboardInterrupt` at once on the second);
/// * if the main task ends cancelled because of it, the result is
///   [`SignalError::Interrupted`]; if it had already finished, its output is
///   returned as usual;
/// * afterwards SIGINT's disposition is what it was before: the handler is
///   removed before the shutdown sequence, so a Ctrl-C while leftover tasks
///   are being cancelled terminates the process.
///
/// Like asyncio, the handler is installed only when SIGINT has its default
/// disposition (or is already handled by loops of this crate, which then
/// all get it). A SIGINT handler set by other code, or an inherited
/// `SIG_IGN` (a background job of a shell), is left alone, and `fut` runs
/// exactly as with `loop_core::run`.
///
/// The cancellation happens when the loop gets control: Rust cannot
/// interrupt code that blocks the loop's thread, as Python's
/// `KeyboardInterrupt` does between bytecodes.
///
/// # Errors
///
/// [`SignalError::Interrupted`] when SIGINT cancelled the main task;
/// [`SignalError::Loop`] with the errors of `loop_core::run`
/// ([`AnotherLoopRunning`](Error::AnotherLoopRunning) when called from a
/// running loop, the main task's [`Panicked`](Error::Panicked) or
/// [`Cancelled`](Error::Cancelled), an OS error creating the loop);
/// [`SignalError::Install`] / [`SignalError::Io`] /
/// [`SignalError::TooManyLoops`] when the SIGINT handler cannot be set up.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use loop_signals::{SignalError, run_with_sigint};
///
/// let out = run_with_sigint(async {
///     loop_core::sleep(Duration::from_millis(1)).await?;
///     Ok::<_, loop_core::Error>(42)
/// });
/// match out {
///     Ok(answer) => assert_eq!(answer?, 42),
///     // Ctrl-C was pressed while the main task slept.
///     Err(SignalError::Interrupted) => eprintln!("interrupted"),
///     Err(other) => return Err(other.into()),
/// }
/// # Ok::<(), loop_core::Error>(())
/// ```
pub fn run_with_sigint<F>(fut: F) -> Result<F::Output, SignalError>
where
    F: Future + 'static,
    F::Output: 'static,
{
    if loop_core::get_running_loop().is_ok() {
        return Err(Error::AnotherLoopRunning.into());
    }
    let lp = loop_core::new_event_loop()?;
    loop_core::set_event_loop(Some(lp.clone()));
    let out = run_main(&lp, fut);
    let finished = finish(&lp);
    loop_core::set_event_loop(None);
    let closed = lp.close();
    let out = out?;
    finished?;
    closed?;
    Ok(out)
}

/// Runs the main task with the SIGINT handler installed.
fn run_main<F>(lp: &Loop, fut: F) -> Result<F::Output, SignalError>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let task = lp.create_task(fut)?;
    let interrupted = Rc::new(Cell::new(false));
    let installed = crate::sys::sigint_is_default_or_ours();
    if installed {
        let (main, flag) = (task.as_task_ref(), interrupted.clone());
        let weak = lp.downgrade();
        let set_up = lp.add_signal_handler(Signal::SIGINT, move || {
            if main.cancel() {
                flag.set(true);
            }
            // Give SIGINT back at once: the next Ctrl-C terminates.
            if let Some(lp) = weak.upgrade() {
                let _ = lp.remove_signal_handler(Signal::SIGINT);
            }
        });
        if let Err(err) = set_up {
            task.cancel();
            return Err(err);
        }
    }
    let out = lp.run_until_complete(task);
    if installed {
        lp.remove_signal_handler(Signal::SIGINT)?;
    }
    match out {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) | Err(err) if err.is_cancelled() && interrupted.get() => {
            Err(SignalError::Interrupted)
        }
        Ok(Err(err)) | Err(err) => Err(err.into()),
    }
}

/// `loop_core::run`'s shutdown: cancels leftover tasks, waits for them,
/// reports their failures, shuts the default executor down.
fn finish(lp: &Loop) -> Result<(), Error> {
    let leftovers = lp.all_tasks();
    for t in &leftovers {
        t.cancel();
    }
    if !leftovers.is_empty() {
        let (l2, pending) = (lp.clone(), leftovers.clone());
        lp.run_until_complete(async move {
            for t in pending {
                wait_done(&l2, &t).await;
            }
        })?;
        for t in leftovers {
            if let Some(err) = t.exception() {
                if !err.is_cancelled() {
                    lp.call_exception_handler(
                        ExceptionContext::new("unhandled error during run_with_sigint() shutdown")
                            .with_error(err)
                            .with_task(t),
                    );
                }
            }
        }
    }
    let l2 = lp.clone();
    lp.run_until_complete(async move { l2.shutdown_default_executor().await })??;
    Ok(())
}

/// Resolves once `task` is done.
async fn wait_done(lp: &Loop, task: &TaskRef) {
    if task.done() {
        return;
    }
    let done = lp.create_future::<()>();
    let d2 = done.clone();
    task.add_done_callback(move |_| {
        let _ = d2.set_result(());
    });
    let _ = done.await;
}
