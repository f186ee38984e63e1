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
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The loop was closed: nothing can be scheduled on it any more.
    LoopClosed,
    /// The loop is already running (run while running, nested
    /// `run_until_complete`, close while running).
    LoopRunning,
    /// Another event loop is already running on this thread.
    AnotherLoopRunning,
    /// `get_running_loop` was called outside a running loop.
    NoRunningLoop,
    /// An operation was done in a state that does not allow it (asyncio's
    /// `InvalidStateError`), such as setting a future's result twice.
    InvalidState(String),
    /// An argument was out of range or malformed (asyncio's `ValueError`).
    InvalidArgument(String),
    /// A file descriptor could not be watched: it is closed, invalid, or of
    /// a kind the selector cannot poll (a regular file).
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
    Cancelled {
        /// Why it was cancelled: the message passed to `cancel_with`
        /// (`None` for a plain `cancel`).
        message: Option<Arc<str>>,
    },
    /// The program was interrupted by the user (SIGINT, Ctrl-C) while
    /// `tulip::run` ran it (asyncio's `KeyboardInterrupt`): the main task
    /// was cancelled.
    Interrupted,
    /// A deadline passed before the operation completed (asyncio's
    /// `TimeoutError`).
    ///
    /// When the deadline cancelled the operation (a
    /// [`timeout`](crate::timeout) or [`wait_for`](crate::wait_for) drops
    /// its inner future, and cancels the tasks that drop cancels), `source`
    /// is that cancellation (asyncio raises `TimeoutError` *from* the
    /// `CancelledError`): [`Error::Cancelled`], with the message of a
    /// cancelled task's `cancel_with` if it had one. Match it as
    /// `Error::TimedOut { .. }`; build it with [`Error::timed_out`].
    TimedOut {
        /// The cancellation the timeout caused, if it caused one (see
        /// [`std::error::Error::source`]).
        source: Option<Arc<Error>>,
    },
    /// A task or executor job panicked; the payload's message is kept.
    Panicked(String),
    /// The executor was shut down and accepts no new work.
    ExecutorShutdown,
    /// An error from the operating system.
    Io(Arc<io::Error>),
    /// An error set by user code on a loop future (asyncio's
    /// `set_exception`).
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

    /// [`Error::TimedOut`] with no source.
    pub const fn timed_out() -> Self {
        Error::TimedOut { source: None }
    }

    /// Whether this is [`Error::TimedOut`].
    pub fn is_timed_out(&self) -> bool {
        matches!(self, Error::TimedOut { .. })
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

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::LoopClosed => f.write_str("the event loop is closed"),
            Error::LoopRunning => f.write_str("the event loop is already running"),
            Error::AnotherLoopRunning => f.write_str(
                "cannot run the event loop while another loop is running on this thread",
            ),
            Error::NoRunningLoop => f.write_str("no running event loop on this thread"),
            Error::InvalidState(m) => write!(f, "invalid state: {m}"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::InvalidFd { fd, source } => {
                write!(f, "cannot watch file descriptor {fd}: {source}")
            }
            Error::Cancelled { message } => {
                write!(f, "the operation was cancelled{}", MessageSuffix(message.as_deref()))
            }
            Error::Interrupted => f.write_str("interrupted (SIGINT)"),
            Error::TimedOut { .. } => f.write_str("the operation timed out"),
            Error::Panicked(m) => write!(f, "panicked: {m}"),
            Error::ExecutorShutdown => f.write_str("the executor is shut down"),
            Error::Io(e) => std::fmt::Display::fmt(e, f),
            Error::Failed(e) => std::fmt::Display::fmt(e, f),
        }
    }
}

/// Written by hand rather than derived so that each source is the error
/// itself (`source().downcast_ref::<Error>()` finds a timeout's
/// cancellation, `downcast_ref::<io::Error>()` an fd's OS error), not the
/// `Arc` it is shared through.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::InvalidFd { source, .. } => Some(&**source),
            Error::TimedOut { source } => source.as_deref().map(|e| e as _),
            // Transparent: the wrapped error stands for this one.
            Error::Io(e) => e.source(),
            Error::Failed(e) => e.source(),
            _ => None,
        }
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
