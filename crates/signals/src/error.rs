//! The crate's error type.

use std::io;
use std::sync::Arc;

use crate::Signal;

/// A failure of a signal operation.
///
/// asyncio raises `ValueError` for an invalid or uncatchable signal
/// ([`SignalError::InvalidSignal`]) and `RuntimeError` when the handler
/// cannot be set up ([`SignalError::Install`]); `KeyboardInterrupt` out of
/// `asyncio.run` is [`SignalError::Interrupted`]. Cheap to clone, `Send +
/// Sync`; it converts into [`loop_core::Error`] so `?` works in code that
/// returns the loop's error type.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// The signal number does not exist on this system, cannot be caught
    /// (`SIGKILL`, `SIGSTOP`), is a fault signal (`SIGSEGV`, `SIGBUS`,
    /// `SIGFPE`, `SIGILL`), or the OS refused it (asyncio's `ValueError`).
    #[error("invalid signal {signal}: {reason}")]
    InvalidSignal {
        /// The signal that was refused.
        signal: Signal,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The OS handler could not be installed or restored (asyncio's
    /// `RuntimeError`).
    #[error("cannot set the handler of {signal}: {source}")]
    Install {
        /// The signal whose disposition could not be changed.
        signal: Signal,
        /// The OS error.
        source: Arc<io::Error>,
    },
    /// [`run_with_sigint`](crate::run_with_sigint): SIGINT (Ctrl-C)
    /// cancelled the main task (asyncio's `KeyboardInterrupt`).
    #[error("interrupted by SIGINT")]
    Interrupted,
    /// Another OS error (creating the wake-up descriptor, sending a signal).
    #[error(transparent)]
    Io(Arc<io::Error>),
    /// An error of the loop (closed, running, a task's failure …).
    #[error(transparent)]
    Loop(#[from] loop_core::Error),
}

impl SignalError {
    pub(crate) fn install(signal: Signal, source: io::Error) -> Self {
        SignalError::Install { signal, source: Arc::new(source) }
    }
}

impl From<io::Error> for SignalError {
    fn from(err: io::Error) -> Self {
        SignalError::Io(Arc::new(err))
    }
}

impl From<SignalError> for loop_core::Error {
    /// [`SignalError::Loop`] unwraps, [`SignalError::InvalidSignal`] becomes
    /// [`InvalidArgument`](loop_core::Error::InvalidArgument),
    /// [`SignalError::Io`] [`Io`](loop_core::Error::Io),
    /// [`SignalError::Interrupted`]
    /// [`Interrupted`](loop_core::Error::Interrupted); the rest is wrapped as
    /// [`Failed`](loop_core::Error::Failed).
    fn from(err: SignalError) -> Self {
        match err {
            SignalError::Loop(e) => e,
            SignalError::InvalidSignal { .. } => loop_core::Error::InvalidArgument(err.to_string()),
            SignalError::Io(e) => loop_core::Error::Io(e),
            SignalError::Interrupted => loop_core::Error::Interrupted,
            other => loop_core::Error::failed(other),
        }
    }
}
