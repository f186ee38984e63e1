//! `tulip::run` is Ctrl-C aware like `asyncio.run`: a SIGINT while it runs
//! cancels the main task and the call fails with `Error::Interrupted`.
//!
//! This file holds a single test: it sends its own process a real SIGINT,
//! which must not reach any other test. Without the handler `tulip::run`
//! installs, the signal would kill the test process (and fail the test).

use std::time::Duration;

use tulip::prelude::*;

/// Gives SIGINT its default disposition: a process started in the
/// background by a non-interactive shell inherits it ignored, and
/// `tulip::run`, like `asyncio.run`, then leaves it alone.
fn default_sigint() {
    use nix::sys::signal::{SigHandler, Signal as NixSignal, signal};
    // SAFETY: SIG_DFL is not a handler, so nothing runs in signal context;
    // this test binary has one test, and no other thread handles SIGINT.
    unsafe { signal(NixSignal::SIGINT, SigHandler::SigDfl) }.expect("SIGINT can be reset");
}

#[test]
fn ctrl_c_during_run_is_reported_as_interrupted() {
    default_sigint();
    let dropped = std::rc::Rc::new(std::cell::Cell::new(false));
    let d2 = dropped.clone();
    let out = tulip::run(async move {
        struct Flag(std::rc::Rc<std::cell::Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let _flag = Flag(d2);
        tulip::signals::kill(std::process::id(), Signal::SIGINT)?;
        // The signal must interrupt this hour-long wait; if it does not,
        // the timeout ends it and the assertion below fails.
        timeout(tulip_tests::EVENT_TIMEOUT, sleep(Duration::from_secs(3600))).await??;
        Ok::<(), Error>(())
    });
    assert_eq!(out.as_ref().err().map(Error::kind), Some(ErrorKind::Interrupted), "{out:?}");
    // The loop's own variant stays matchable through the facade's error.
    assert!(matches!(out, Err(Error::Loop(tulip::event_loop::Error::Interrupted))), "{out:?}");
    assert!(dropped.get(), "the main task's future was dropped (cancelled)");
}
