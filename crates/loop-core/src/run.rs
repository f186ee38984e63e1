//! `run`: asyncio's `asyncio.run`, the entry point of a program.

use std::future::Future;

use crate::Loop;
use crate::error::{Error, Result};

/// Runs `fut` on a new loop and returns its output (asyncio's `run`).
///
/// Creates a loop, makes it the thread's current loop, runs `fut` to
/// completion, then cancels every task still pending and lets them finish,
/// shuts the default executor down, and closes the loop.
///
/// # Errors
///
/// [`Error::AnotherLoopRunning`] when called from a running loop; the
/// output's own failure ([`Error::Panicked`], [`Error::Cancelled`]);
/// an OS error if the loop cannot be created.
pub fn run<F>(fut: F) -> Result<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    if crate::get_running_loop().is_ok() {
        return Err(Error::AnotherLoopRunning);
    }
    let lp = crate::new_event_loop()?;
    crate::set_event_loop(Some(lp.clone()));
    let out = lp.run_until_complete(fut);
    let finished = finish(&lp);
    crate::set_event_loop(None);
    let closed = lp.close();
    let out = out?;
    finished?;
    closed?;
    Ok(out)
}

/// Cancels leftover tasks, waits for them, shuts the executor down.
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
        for t in leftovers {
            if let Some(err) = t.exception() {
                if !err.is_cancelled() {
                    lp.call_exception_handler(
                        crate::ExceptionContext::new(
                            "unhandled error during tulip::run() shutdown",
                        )
                        .with_error(err)
                        .with_task(t),
                    );
                }
            }
        }
    }
    let lp2 = lp.clone();
    lp.run_until_complete(async move { lp2.shutdown_default_executor().await })??;
    Ok(())
}
