//! The crate's error type: asyncio's exceptions as one Rust enum.

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

/// A failure reported by the loop, a loop future or a task.
///
/// asyncio's exception names map to variants: `CancelledError` →
/// [`Error::Cancelled`], `TimeoutError` → [`Error::TimedOut`],
/// `InvalidStateError` → [`Error::InvalidState`], `ValueError` →
/// [`Error::InvalidArgument`], and the `RuntimeError`s about loop state to
/// [`Error::LoopClosed`], [`Error::LoopRunning`], [`Error::NoRunningLoop`].
///
/// The error is cheap to clone (OS errors and user errors are shared behind
/// an [`Arc`]) so that a loop future's outcome can be observed by several
/// awaiters, and it is `Send + Sync` so it composes with `anyhow`-style code.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The loop was closed: nothing can be scheduled on it any more.
    #[error("the event loop is closed")]
    LoopClosed,
    /// The loop is already running (run while running, nested
    /// `run_until_complete`, close while running).
    #[error("the event loop is already running")]
    LoopRunning,
    /// Another event loop is already running on this thread.
    #[error("cannot run the event loop while another loop is running on this thread")]
    AnotherLoopRunning,
    /// `get_running_loop` was called outside a running loop.
    #[error("no running event loop on this thread")]
    NoRunningLoop,
    /// An operation was done in a state that does not allow it (asyncio's
    /// `InvalidStateError`), such as setting a future's result twice.
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// An argument was out of range or malformed (asyncio's `ValueError`).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A file descriptor could not be watched: it is closed, invalid, or of
    /// a kind the selector cannot poll (a regular file).
    #[error("cannot watch file descriptor {fd}: {source}")]
    InvalidFd {
        /// The descriptor that was refused.
        fd: RawFd,
        /// Why the selector refused it.
        source: Arc<io::Error>,
    },
    /// The awaited future or task was cancelled (asyncio's
    /// `CancelledError`), with the message given to `cancel_with`, if any
    /// (asyncio's `cancel(msg)`, whose `CancelledError` carries `msg`).
    ///
    /// Match it as `Error::Cancelled { .. }`; build it with
    /// [`Error::cancelled`] or [`Error::cancelled_with`]; read the message
    /// with [`Error::cancel_message`].
    #[error("the operation was cancelled{}", MessageSuffix(message.as_deref()))]
    Cancelled {
        /// Why it was cancelled: the message passed to `cancel_with`
        /// (`None` for a plain `cancel`).
        message: Option<Arc<str>>,
    },
    /// The program was interrupted by the user (SIGINT, Ctrl-C) while
    /// `tulip::run` ran it (asyncio's `KeyboardInterrupt`): the main task
    /// was cancelled.
    #[error("interrupted (SIGINT)")]
    Interrupted,
    /// A deadline passed before the operation completed (asyncio's
    /// `TimeoutError`).
    #[error("the operation timed out")]
    TimedOut,
    /// A task or executor job panicked; the payload's message is kept.
    #[error("panicked: {0}")]
    Panicked(String),
    /// The executor was shut down and accepts no new work.
    #[error("the executor is shut down")]
    ExecutorShutdown,
    /// An error from the operating system.
    #[error(transparent)]
    Io(Arc<io::Error>),
    /// An error set by user code on a loop future (asyncio's
    /// `set_exception`).
    #[error(transparent)]
    Failed(Arc<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// Wraps any error as [`Error::Failed`] (asyncio's `set_exception`).
    pub fn failed(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Failed(Arc::from(err.into()))
    }

    /// [`Error::Cancelled`] without a message (a plain `cancel()`).
    pub const fn cancelled() -> Self {
        Error::Cancelled { message: None }
    }

    /// [`Error::Cancelled`] carrying `message` (asyncio's
    /// `CancelledError(msg)`).
    pub fn cancelled_with(message: impl Into<Arc<str>>) -> Self {
        Error::Cancelled { message: Some(message.into()) }
    }

    /// Whether this is [`Error::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled { .. })
    }

    /// The cancellation's message, if this is [`Error::Cancelled`] and the
    /// canceller gave one.
    pub fn cancel_message(&self) -> Option<&str> {
        match self {
            Error::Cancelled { message } => message.as_deref(),
            _ => None,
        }
    }

    /// Whether this is [`Error::Panicked`].
    pub fn is_panic(&self) -> bool {
        matches!(self, Error::Panicked(_))
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        Error::Io(Arc::new(err))
    }
}

/// `": message"`, or nothing.
struct MessageSuffix<'a>(Option<&'a str>);

impl std::fmt::Display for MessageSuffix<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(m) => write!(f, ": {m}"),
            None => Ok(()),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Extracts a readable message from a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}
