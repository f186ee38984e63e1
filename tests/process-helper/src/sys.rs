//! The one signal call the helper makes.

/// Sets SIGTERM's disposition to "ignore".
pub(crate) fn ignore_sigterm() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: `SIG_IGN` runs no code in this process, so no handler can
    // break a signal-safety rule; the helper is single-threaded and nothing
    // else reads SIGTERM's disposition.
    let r = unsafe { signal(Signal::SIGTERM, SigHandler::SigIgn) };
    if let Err(e) = r {
        eprintln!("tulip-process-helper: cannot ignore SIGTERM: {e}");
        std::process::exit(4);
    }
}
