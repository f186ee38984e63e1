//! `run_with_sigint`: `asyncio.run`, with its Ctrl-C behaviour.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use loop_core::{Error, Loop, MainTaskHook, Runner, TaskRef};

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
/// [`SignalError::Install`] / [`SignalError::Io`] when the SIGINT handler
/// cannot be set up.
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
    let runner = Runner::new()?.with_hook(SigintHook::default());
    let out = runner.run(fut);
    let closed = runner.close();
    let out = out.map_err(signal_error)?;
    closed?;
    Ok(out)
}

/// The loop's error back as ours: the hook's set-up errors travel through
/// the runner as `Failed` and come back as themselves.
fn signal_error(err: Error) -> SignalError {
    match err {
        Error::Interrupted => SignalError::Interrupted,
        Error::Failed(inner) => match inner.downcast_ref::<SignalError>() {
            Some(ours) => ours.clone(),
            None => SignalError::Loop(Error::Failed(inner)),
        },
        other => SignalError::Loop(other),
    }
}

/// The [`MainTaskHook`] behind [`run_with_sigint`]: while a main task runs,
/// the first SIGINT cancels it (and gives SIGINT back at once), and the
/// run's cancellation is then reported as [`Error::Interrupted`]. Installed
/// only when SIGINT has its default disposition (or is ours already).
#[derive(Debug, Default)]
pub struct SigintHook {
    installed: Cell<bool>,
    interrupted: Rc<Cell<bool>>,
}

impl MainTaskHook for SigintHook {
    fn started(&self, lp: &Loop, main: &TaskRef) -> Result<(), Error> {
        self.interrupted.set(false);
        self.installed.set(crate::sys::sigint_is_default_or_ours());
        if !self.installed.get() {
            return Ok(());
        }
        let (main, flag) = (main.clone(), self.interrupted.clone());
        let weak = lp.downgrade();
        lp.add_signal_handler(Signal::SIGINT, move || {
            if main.cancel() {
                flag.set(true);
            }
            // Give SIGINT back at once: the next Ctrl-C terminates.
            if let Some(lp) = weak.upgrade() {
                let _ = lp.remove_signal_handler(Signal::SIGINT);
            }
        })
        .map_err(Error::from)
    }

    fn finished(&self, lp: &Loop, error: Option<&Error>) -> Option<Error> {
        if self.installed.replace(false) {
            if let Err(e) = lp.remove_signal_handler(Signal::SIGINT) {
                return Some(e.into());
            }
        }
        match error {
            Some(e) if e.is_cancelled() && self.interrupted.get() => Some(Error::Interrupted),
            _ => None,
        }
    }
}
