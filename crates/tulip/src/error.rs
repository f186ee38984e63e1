//! `tulip::Error`: the one error type users see.
//!
//! Each tulip crate keeps its own precise enum ([`loop_core::Error`],
//! [`loop_transports::Error`], [`loop_streams::Error`], [`loop_sync::Error`],
//! [`loop_signals::SignalError`]); every one of them converts into
//! [`Error`] with `?`, so one async block can mix calls into every crate.
//! The original error is kept — match the variant to reach it — and
//! [`Error::kind`] answers the common questions (was it a cancellation, a
//! timeout, an OS error?) without caring which crate it came from.

use std::io;
use std::sync::Arc;

/// Any failure of a tulip crate.
///
/// Each tulip crate keeps its own precise enum; every one converts into
/// this one with `?`, so one async block can mix calls into every crate.
/// The original error is kept (match the variant to reach it), and
/// [`Error::kind`] answers the common questions without caring which crate
/// reported it.
///
/// Conversions normalise what the crates share: a cancellation is always
/// [`Error::Loop`]`(`[`loop_core::Error::Cancelled`]`)` (with its message,
/// if the canceller gave one), whichever crate reported it, and a crate
/// error that travelled through a loop future as
/// [`loop_core::Error::Failed`] is unwrapped back to its own variant.
/// `Display` and `source` are the original error's.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error of the loop, a future or a task: closed or running loop,
    /// cancellation, timeout, panic, a user error set on a future.
    #[error(transparent)]
    Loop(loop_core::Error),
    /// An error of a transport, a connection, a server or a socket
    /// operation.
    #[error(transparent)]
    Transport(loop_transports::Error),
    /// A subprocess could not be started or signalled.
    #[error(transparent)]
    Process(loop_process::Error),
    /// A stream failure: an incomplete read, a limit overrun, a line over
    /// the limit, a second waiting read, a lost connection under `drain`.
    #[error(transparent)]
    Streams(loop_streams::Error),
    /// Misuse of a synchronization primitive, or a queue that is empty, full
    /// or shut down.
    #[error(transparent)]
    Sync(loop_sync::Error),
    /// A signal handler could not be installed or removed.
    #[error(transparent)]
    Signal(loop_signals::SignalError),
}

/// What kind of failure an [`Error`] is, whichever crate reported it: the
/// asyncio exception it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `asyncio.CancelledError`.
    Cancelled,
    /// `KeyboardInterrupt`: Ctrl-C cancelled the main task of
    /// [`run`](crate::run).
    Interrupted,
    /// `TimeoutError`.
    TimedOut,
    /// `RuntimeError("Event loop is closed")`.
    LoopClosed,
    /// `RuntimeError`: the loop (or another loop on this thread) is running.
    LoopRunning,
    /// `RuntimeError("no running event loop")`.
    NoRunningLoop,
    /// `InvalidStateError` (and `RuntimeError`s about an object's state).
    InvalidState,
    /// `ValueError` / `TypeError`: an argument was wrong.
    InvalidArgument,
    /// The transport is closing or closed.
    Closed,
    /// `OSError` and its subclasses ([`Error::io_error`] has the errno).
    Os,
    /// `socket.gaierror`: a name could not be resolved.
    Resolve,
    /// Every address of a connection attempt failed (`OSError` listing them).
    Connect,
    /// `SendfileNotAvailableError`.
    SendfileNotAvailable,
    /// A callback, task or protocol panicked (an exception escaped it).
    Panicked,
    /// `asyncio.QueueEmpty`.
    QueueEmpty,
    /// `asyncio.QueueFull`.
    QueueFull,
    /// `asyncio.QueueShutDown`.
    QueueShutDown,
    /// `asyncio.BrokenBarrierError`.
    BrokenBarrier,
    /// `ProcessLookupError`: the process is gone (a signal to a child that
    /// was already reaped).
    ProcessLookup,
    /// `ssl.SSLError` and its subclasses: a TLS handshake or record failed
    /// (untrusted certificate, name mismatch, an alert from the peer, bytes
    /// that are not TLS, a peer closing mid-handshake).
    Tls,
    /// `asyncio.IncompleteReadError`: EOF before a stream read was complete.
    IncompleteRead,
    /// `asyncio.LimitOverrunError` (and the `ValueError` of `readline` over
    /// the limit): a stream's buffer limit was reached.
    LimitOverrun,
    /// Anything else: an error set by user code, a lock released while not
    /// held, too many loops with signal handlers …
    Other,
}

impl Error {
    /// What kind of failure this is (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        use loop_core::Error as C;
        use loop_transports::Error as T;
        match self {
            Error::Loop(e) => match e {
                C::Cancelled { .. } => ErrorKind::Cancelled,
                C::Interrupted => ErrorKind::Interrupted,
                C::TimedOut { .. } => ErrorKind::TimedOut,
                C::LoopClosed => ErrorKind::LoopClosed,
                C::LoopRunning | C::AnotherLoopRunning => ErrorKind::LoopRunning,
                C::NoRunningLoop => ErrorKind::NoRunningLoop,
                C::InvalidState(_) => ErrorKind::InvalidState,
                C::InvalidArgument(_) | C::InvalidFd { .. } => ErrorKind::InvalidArgument,
                C::Panicked(_) => ErrorKind::Panicked,
                C::Io(_) => ErrorKind::Os,
                _ => ErrorKind::Other,
            },
            Error::Transport(e) => match e {
                T::Io(_) | T::Bind { .. } => ErrorKind::Os,
                T::Closed => ErrorKind::Closed,
                T::InvalidArgument(_) | T::BlockingSocket => ErrorKind::InvalidArgument,
                T::InvalidState(_) | T::Unsupported(_) | T::SendfileInProgress => {
                    ErrorKind::InvalidState
                }
                T::Resolve { .. } => ErrorKind::Resolve,
                T::Connect(_) => ErrorKind::Connect,
                T::SendfileNotAvailable(_) => ErrorKind::SendfileNotAvailable,
                T::ProtocolPanicked { .. } => ErrorKind::Panicked,
                T::TlsHandshake(_) | T::Tls(_) | T::TlsHandshakeEof => ErrorKind::Tls,
                T::TlsHandshakeTimeout(_) | T::TlsShutdownTimeout(_) => ErrorKind::TimedOut,
                T::TlsConfig(_) => ErrorKind::InvalidArgument,
                _ => ErrorKind::Other,
            },
            Error::Process(e) => match e {
                loop_process::Error::ProcessLookup { .. } => ErrorKind::ProcessLookup,
                loop_process::Error::InvalidArgument(_) | loop_process::Error::NoPipe { .. } => {
                    ErrorKind::InvalidArgument
                }
                loop_process::Error::ProgramNotFound { .. }
                | loop_process::Error::Cwd { .. }
                | loop_process::Error::Spawn { .. }
                | loop_process::Error::Io(_) => ErrorKind::Os,
                _ => ErrorKind::Other,
            },
            Error::Streams(e) => match e {
                loop_streams::Error::IncompleteRead { .. } => ErrorKind::IncompleteRead,
                loop_streams::Error::LimitOverrun { .. }
                | loop_streams::Error::LineTooLong { .. } => ErrorKind::LimitOverrun,
                loop_streams::Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
                loop_streams::Error::InvalidState(_)
                | loop_streams::Error::ConcurrentRead { .. } => ErrorKind::InvalidState,
                loop_streams::Error::ConnectionLost => ErrorKind::Closed,
                _ => ErrorKind::Other,
            },
            Error::Sync(e) => match e {
                loop_sync::Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
                loop_sync::Error::QueueEmpty => ErrorKind::QueueEmpty,
                loop_sync::Error::QueueFull => ErrorKind::QueueFull,
                loop_sync::Error::QueueShutDown => ErrorKind::QueueShutDown,
                loop_sync::Error::BrokenBarrier => ErrorKind::BrokenBarrier,
                loop_sync::Error::ReleasedTooOften | loop_sync::Error::TaskDoneTooOften => {
                    ErrorKind::InvalidArgument
                }
                _ => ErrorKind::Other,
            },
            Error::Signal(e) => match e {
                loop_signals::SignalError::InvalidSignal { .. } => ErrorKind::InvalidArgument,
                loop_signals::SignalError::Install { .. } | loop_signals::SignalError::Io(_) => {
                    ErrorKind::Os
                }
                _ => ErrorKind::Other,
            },
        }
    }

    /// Whether this is a cancellation (asyncio's `CancelledError`).
    pub fn is_cancelled(&self) -> bool {
        self.kind() == ErrorKind::Cancelled
    }

    /// Whether a deadline passed (asyncio's `TimeoutError`).
    pub fn is_timed_out(&self) -> bool {
        self.kind() == ErrorKind::TimedOut
    }

    /// The operating system's error behind this one, errno included, if the
    /// OS was the cause (for a failed connection attempt: the first
    /// address's error, as asyncio raises it).
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::Loop(loop_core::Error::Io(e))
            | Error::Loop(loop_core::Error::InvalidFd { source: e, .. })
            | Error::Signal(loop_signals::SignalError::Io(e))
            | Error::Signal(loop_signals::SignalError::Install { source: e, .. }) => Some(e),
            Error::Transport(e) => e.io_error(),
            Error::Streams(e) => e.io_error(),
            Error::Process(e) => e.io_error(),
            _ => None,
        }
    }

    /// The errno of [`io_error`](Error::io_error), if there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.io_error().and_then(io::Error::raw_os_error)
    }

    /// Wraps any error as a user failure ([`loop_core::Error::Failed`],
    /// asyncio's `set_exception` with an exception of your own).
    pub fn failed(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Loop(loop_core::Error::failed(err))
    }
}

impl From<loop_core::Error> for Error {
    fn from(err: loop_core::Error) -> Self {
        if let loop_core::Error::Failed(inner) = &err {
            // A crate error that travelled through a future comes back as
            // itself.
            if let Some(e) = inner.downcast_ref::<Error>() {
                return e.clone();
            }
            if let Some(e) = inner.downcast_ref::<loop_transports::Error>() {
                return e.clone().into();
            }
            if let Some(e) = inner.downcast_ref::<loop_streams::Error>() {
                return e.clone().into();
            }
            if let Some(e) = inner.downcast_ref::<loop_process::Error>() {
                return e.clone().into();
            }
            if let Some(e) = inner.downcast_ref::<loop_sync::Error>() {
                return Error::Sync(*e);
            }
            if let Some(e) = inner.downcast_ref::<loop_signals::SignalError>() {
                return e.clone().into();
            }
        }
        Error::Loop(err)
    }
}

impl From<loop_transports::Error> for Error {
    fn from(err: loop_transports::Error) -> Self {
        match err {
            loop_transports::Error::Loop(e) => e.into(),
            loop_transports::Error::Cancelled => Error::Loop(loop_core::Error::cancelled()),
            other => Error::Transport(other),
        }
    }
}

impl From<loop_streams::Error> for Error {
    fn from(err: loop_streams::Error) -> Self {
        match err {
            loop_streams::Error::Transport(e) => e.into(),
            loop_streams::Error::Loop(e) => e.into(),
            other => Error::Streams(other),
        }
    }
}

impl From<loop_process::Error> for Error {
    fn from(err: loop_process::Error) -> Self {
        match err {
            loop_process::Error::Transport(e) => e.into(),
            loop_process::Error::Loop(e) => e.into(),
            loop_process::Error::Stream(e) => e.into(),
            other => Error::Process(other),
        }
    }
}

impl From<loop_sync::Error> for Error {
    fn from(err: loop_sync::Error) -> Self {
        Error::Sync(err)
    }
}

impl<T> From<loop_sync::PutError<T>> for Error {
    fn from(err: loop_sync::PutError<T>) -> Self {
        Error::Sync(err.kind())
    }
}

impl From<loop_signals::SignalError> for Error {
    fn from(err: loop_signals::SignalError) -> Self {
        match err {
            loop_signals::SignalError::Loop(e) => e.into(),
            loop_signals::SignalError::Interrupted => Error::Loop(loop_core::Error::Interrupted),
            other => Error::Signal(other),
        }
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        Error::Loop(loop_core::Error::Io(Arc::new(err)))
    }
}

impl From<Error> for loop_core::Error {
    /// Back into the loop's error, for code that returns
    /// `loop_core::Result` (a task body, a loop future's outcome): loop
    /// errors unwrap, everything else travels as
    /// [`Failed`](loop_core::Error::Failed) and comes back as itself when
    /// converted into [`Error`] again.
    fn from(err: Error) -> Self {
        match err {
            Error::Loop(e) => e,
            other => loop_core::Error::failed(other),
        }
    }
}

impl From<Error> for loop_transports::Error {
    /// Back into the transports' error (for code that returns
    /// `loop_transports::Result`).
    fn from(err: Error) -> Self {
        match err {
            Error::Transport(e) => e,
            Error::Loop(e) => e.into(),
            other => loop_core::Error::from(other).into(),
        }
    }
}

impl From<Error> for loop_streams::Error {
    /// Back into the streams' error (for code that returns
    /// `loop_streams::Result`, such as a `start_server` callback).
    fn from(err: Error) -> Self {
        match err {
            Error::Streams(e) => e,
            Error::Transport(e) => loop_streams::Error::Transport(e),
            Error::Loop(e) => e.into(),
            other => loop_core::Error::from(other).into(),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
