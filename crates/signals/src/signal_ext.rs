//! `SignalExt`: asyncio's `add_signal_handler` / `remove_signal_handler`
//! as methods of [`Loop`].

use loop_core::Loop;

use crate::loop_state;
use crate::{Signal, SignalError};

/// Signal handling methods of the loop (asyncio's `loop.add_signal_handler`
/// and `loop.remove_signal_handler`). Implemented for [`Loop`]; bring it into
/// scope (the `tulip` prelude does) to call them as loop methods.
///
/// # Semantics
///
/// * The callback runs **on the loop**, as an ordinary callback scheduled
///   with `call_soon` after the signal wakes the loop (a loop blocked in its
///   selector wakes up). It may use the loop freely; a panic in it goes to
///   the loop's exception handler like any callback's.
/// * **Every loop** of the process that has a handler for a signal gets one
///   callback run per delivery: loops on different threads do not steal
///   each other's signals.
/// * Deliveries that arrive before the loop has consumed the previous one
///   **coalesce**: a burst yields at least one run, possibly fewer runs than
///   signals, never zero. Signals received together run in signal-number
///   order.
/// * Adding a handler for a signal that already has one on this loop
///   **replaces** it. Once a handler is removed or replaced, it never runs
///   again, even if a run was already queued.
/// * When no loop of the process handles a signal any more, its disposition
///   goes back to **the one it had before** the first handler was added
///   (the whole `sigaction`: handler, flags and mask). In a normal program
///   that is `SIG_DFL` — for SIGINT the default interrupt behaviour: Ctrl-C
///   terminates the process. The Rust runtime starts programs with
///   `SIGPIPE` ignored, so removing a `SIGPIPE` handler leaves it ignored
///   and a later write to a closed pipe fails with `EPIPE` instead of
///   killing the process. *Deliberate difference from asyncio*, whose
///   `remove_signal_handler` always sets `SIG_DFL` (SIGINT:
///   `default_int_handler`): a Rust program would otherwise die on its next
///   write to a closed pipe or socket.
/// * **Closing the loop removes its handlers** (as if
///   `remove_signal_handler` were called for each), and so does dropping it.
///
/// # Examples
///
/// ```
/// use loop_core::Loop;
/// use loop_signals::{Signal, SignalExt};
///
/// let lp = Loop::new()?;
/// let l2 = lp.clone();
/// lp.add_signal_handler(Signal::SIGUSR2, move || {
///     println!("got SIGUSR2");
///     l2.stop();
/// })?;
/// loop_signals::kill(std::process::id(), Signal::SIGUSR2)?;
/// lp.run_forever()?;
/// assert!(lp.remove_signal_handler(Signal::SIGUSR2)?);
/// assert!(!lp.remove_signal_handler(Signal::SIGUSR2)?);
/// lp.close()?;
/// # Ok::<(), loop_signals::SignalError>(())
/// ```
///
/// Sealed: implemented for [`Loop`] only, so methods can be added without
/// breaking anyone:
///
/// ```compile_fail,E0277
/// struct MyLoop;
/// impl loop_signals::SignalExt for MyLoop {}
/// ```
pub trait SignalExt: sealed::Sealed {
    /// Runs `f` on this loop every time `sig` is delivered to the process
    /// (asyncio's `add_signal_handler`). Replaces this loop's previous
    /// handler of `sig`.
    ///
    /// # Errors
    ///
    /// [`SignalError::InvalidSignal`] for a number that is not a signal of
    /// this system, for `SIGKILL` and `SIGSTOP`, for the fault signals
    /// (`SIGSEGV`, `SIGBUS`, `SIGFPE`, `SIGILL`) and for a signal the OS
    /// refuses; [`SignalError::Install`] if the OS handler cannot be
    /// installed; [`SignalError::Io`] if the wake-up descriptor
    /// cannot be created; [`SignalError::Loop`] with
    /// [`LoopClosed`](loop_core::Error::LoopClosed) after `close`.
    fn add_signal_handler(
        &self,
        sig: impl Into<Signal>,
        f: impl FnMut() + 'static,
    ) -> Result<(), SignalError>;

    /// Removes this loop's handler of `sig` (asyncio's
    /// `remove_signal_handler`). Returns `false` if there was none (also
    /// after `close`, which removed them all). Where no other loop handles
    /// `sig`, its disposition goes back to the one it had before the first
    /// handler was added (`SIG_DFL` in a normal program, `SIG_IGN` for a
    /// Rust program's `SIGPIPE`); asyncio always sets `SIG_DFL` — see the
    /// trait's semantics.
    ///
    /// # Errors
    ///
    /// [`SignalError::InvalidSignal`] for a number that is not a signal of
    /// this system; [`SignalError::Install`] if the previous disposition
    /// cannot be restored (the handler is removed anyway).
    fn remove_signal_handler(&self, sig: impl Into<Signal>) -> Result<bool, SignalError>;
}

impl SignalExt for Loop {
    fn add_signal_handler(
        &self,
        sig: impl Into<Signal>,
        f: impl FnMut() + 'static,
    ) -> Result<(), SignalError> {
        loop_state::add_handler(self, sig.into(), Box::new(f))
    }

    fn remove_signal_handler(&self, sig: impl Into<Signal>) -> Result<bool, SignalError> {
        loop_state::remove_handler(self, sig.into())
    }
}

/// The seal of [`SignalExt`]: only [`Loop`] implements it.
mod sealed {
    pub trait Sealed {}
    impl Sealed for loop_core::Loop {}
}
