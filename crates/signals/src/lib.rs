//! Unix signal handlers that run as callbacks on the loop.
//!
//! `loop-signals` gives the loop asyncio's `add_signal_handler` and
//! `remove_signal_handler`, through the [`SignalExt`] extension trait of
//! [`loop_core::Loop`], and [`run_with_sigint`], `asyncio.run` with its
//! Ctrl-C behaviour (SIGINT cancels the main task). [`Signal`] names the
//! signals, [`kill`] sends one, [`SignalError`] is the crate's error. It
//! builds on `loop-core`'s public [`Loop`](loop_core::Loop) handle only (timers, `call_soon`, fd
//! readers), and on `nix` and `rustix` for the system calls.
//!
//! # Semantics
//!
//! A signal's callback runs on the loop as an ordinary callback; every loop
//! with a handler for a signal gets it (loops on different threads do not
//! steal each other's signals); a burst yields at least one run; removing
//! the last handler of a signal restores the disposition the signal had
//! before (`SIG_DFL` in a normal program; a Rust program's ignored
//! `SIGPIPE` stays ignored); closing a loop removes
//! its handlers. [`SignalExt`] states the rules in full.
//!
//! # Implementation
//!
//! One process-wide OS handler serves every loop. It is async-signal-safe:
//! it walks a lock-free list of subscribers (one slot of atomics per loop
//! with handlers; the list grows as needed and reuses released slots, so
//! there is no limit on how many loops may have handlers), sets the signal's
//! pending bit in each subscribing slot, and writes to that slot's eventfd
//! with `write(2)` — no allocation, no lock, `errno` preserved. Each loop
//! owns its eventfd and watches it with the loop's ordinary reader API; the
//! reader, on the loop's thread, swaps the pending bits out and schedules
//! the callbacks with `call_soon`. The write wakes a loop blocked in its
//! selector. Installing and restoring dispositions (`sigaction`, with
//! `SA_RESTART`) happens on the calling thread under a mutex that also
//! counts each signal's subscribers. The per-loop state lives in the loop's
//! extension slot, so closing the loop releases the slot, closes the eventfd
//! and restores the dispositions.
//!
//! # Examples
//!
//! asyncio's "Set signal handlers for SIGINT and SIGTERM", with the process
//! sending itself SIGTERM:
//!
//! ```
//! use loop_core::Loop;
//! use loop_signals::{Signal, SignalExt};
//!
//! let lp = Loop::new()?;
//! for sig in [Signal::SIGINT, Signal::SIGTERM] {
//!     let l2 = lp.clone();
//!     lp.add_signal_handler(sig, move || {
//!         println!("got signal {sig}: exit");
//!         l2.stop();
//!     })?;
//! }
//! println!("pid {}: send SIGINT or SIGTERM to exit.", std::process::id());
//! lp.call_soon(|| {
//!     let _ = loop_signals::kill(std::process::id(), Signal::SIGTERM);
//! })?;
//! lp.run_forever()?;
//! // Closing the loop removes its handlers: SIGINT and SIGTERM have their
//! // default disposition again.
//! lp.close()?;
//! # Ok::<(), loop_signals::SignalError>(())
//! ```

#![deny(unsafe_code)]

mod error;
mod loop_state;
mod run;
mod signal;
mod signal_ext;
#[allow(unsafe_code)]
mod sys;

pub use error::SignalError;
pub use run::{SigintHook, run_with_sigint};
pub use signal::Signal;
pub use signal_ext::SignalExt;

/// Sends `sig` to the process `pid` (`kill(2)`, Python's `os.kill`);
/// `kill(std::process::id(), sig)` signals this process.
///
/// # Errors
///
/// [`SignalError::InvalidSignal`] for a number that is not a signal of this
/// system; [`SignalError::Io`] with an `InvalidInput` error for a `pid` of
/// 0 or above `i32::MAX` (0 and negative values would signal process groups,
/// which this function does not do); [`SignalError::Io`] with the OS error
/// (no such process, not permitted).
pub fn kill(pid: u32, sig: impl Into<Signal>) -> Result<(), SignalError> {
    let sig = sig.into();
    sys::check_number(sig)?;
    let pid = i32::try_from(pid).ok().filter(|&p| p > 0).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("pid {pid} does not name one process"),
        )
    })?;
    sys::kill(pid, sig)?;
    Ok(())
}

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
