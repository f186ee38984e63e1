//! The crate's error type: asyncio's stream exceptions as one enum, wrapping
//! the transport's and the loop's errors.

use std::io;

/// A failure of a stream operation.
///
/// asyncio's exceptions map to variants: `IncompleteReadError` →
/// [`Error::IncompleteRead`], `LimitOverrunError` →
/// [`Error::LimitOverrun`], the `ValueError` of `readline` over the limit →
/// [`Error::LineTooLong`], other `ValueError`s → [`Error::InvalidArgument`],
/// the `RuntimeError` of a second concurrent read →
/// [`Error::ConcurrentRead`], the `ConnectionResetError` of `drain` →
/// [`Error::ConnectionLost`]. Errors of the transport (OS errors, a closed
/// transport, a failed connection attempt) arrive as
/// [`Error::Transport`], errors of the loop as [`Error::Loop`].
///
/// Cheap to clone, so the exception stored in a reader can be returned to
/// every later read, as asyncio re-raises it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// EOF came before the read was complete (asyncio's
    /// `IncompleteReadError`). The bytes read so far were taken from the
    /// buffer and are here.
    #[error("{} bytes read on a total of {} expected bytes", partial.len(), expected_text(*expected))]
    IncompleteRead {
        /// The bytes read before EOF.
        partial: Vec<u8>,
        /// How many bytes `readexactly` wanted; `None` for `readuntil`
        /// (the separator never came).
        expected: Option<usize>,
    },
    /// `readuntil` reached the buffer limit without finding the separator,
    /// or found it past the limit (asyncio's `LimitOverrunError`). The data
    /// stays in the buffer: it can be read again, with `read` or
    /// `readexactly`.
    #[error("separator not found within the limit ({consumed} bytes to consume)")]
    LimitOverrun {
        /// How many bytes must be consumed to get past the scanned data (the
        /// separator's position when it was found past the limit).
        consumed: usize,
    },
    /// `readline` met a line longer than the limit (asyncio raises
    /// `ValueError`). Like asyncio it dropped the data: the whole line with
    /// its newline when the newline was in the buffer, otherwise everything
    /// buffered (the rest of that line is what the next `readline` returns).
    #[error("line longer than the limit: {discarded} bytes discarded")]
    LineTooLong {
        /// How many bytes were dropped from the buffer.
        discarded: usize,
    },
    /// A second task started waiting on a reader while another one was
    /// already waiting for data (asyncio's `RuntimeError`).
    #[error("{method}() called while another task is already waiting for incoming data")]
    ConcurrentRead {
        /// The read method that was refused.
        method: &'static str,
    },
    /// An argument was out of range or malformed (asyncio's `ValueError`):
    /// a zero limit, an empty separator, an empty list of separators.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The call is not allowed in the reader's current state
    /// (`feed_data` after `feed_eof`, a second `set_transport`).
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// The connection was lost: `drain` or `wait_closed` after the
    /// transport closed without an error (asyncio's
    /// `ConnectionResetError('Connection lost')`).
    #[error("connection lost")]
    ConnectionLost,
    /// An error from the transport: an OS error, a closed transport
    /// ([`loop_transports::Error::Closed`] for a write after `close`), a
    /// failed connection attempt, an invalid transport option.
    #[error(transparent)]
    Transport(loop_transports::Error),
    /// An error from the event loop (no running loop, closed loop, a
    /// cancelled task …).
    #[error(transparent)]
    Loop(loop_core::Error),
}

fn expected_text(expected: Option<usize>) -> String {
    expected.map_or_else(|| "undefined".to_owned(), |n| n.to_string())
}

impl Error {
    /// The OS error behind this error, if there is one.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::Transport(e) => e.io_error(),
            Error::Loop(loop_core::Error::Io(e)) => Some(e),
            _ => None,
        }
    }

    /// Whether this is a cancellation (of the loop or of the transport).
    pub fn is_cancelled(&self) -> bool {
        match self {
            Error::Transport(e) => e.is_cancelled(),
            Error::Loop(e) => e.is_cancelled(),
            _ => false,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    /// The `io::ErrorKind` this error maps to for the `futures-io` traits.
    fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::IncompleteRead { .. } => io::ErrorKind::UnexpectedEof,
            Error::LimitOverrun { .. } | Error::LineTooLong { .. } => io::ErrorKind::InvalidData,
            Error::ConcurrentRead { .. } => io::ErrorKind::ResourceBusy,
            Error::InvalidArgument(_) => io::ErrorKind::InvalidInput,
            Error::ConnectionLost => io::ErrorKind::ConnectionReset,
            Error::Transport(loop_transports::Error::Closed) => io::ErrorKind::BrokenPipe,
            _ => self.io_error().map_or(io::ErrorKind::Other, io::Error::kind),
        }
    }
}

impl From<loop_transports::Error> for Error {
    fn from(err: loop_transports::Error) -> Self {
        Error::Transport(err)
    }
}

impl From<loop_core::Error> for Error {
    fn from(err: loop_core::Error) -> Self {
        if let loop_core::Error::Failed(inner) = &err {
            if let Some(ours) = inner.downcast_ref::<Error>() {
                return ours.clone();
            }
            if let Some(theirs) = inner.downcast_ref::<loop_transports::Error>() {
                return Error::Transport(theirs.clone());
            }
        }
        Error::Loop(err)
    }
}

/// Into the loop's error, so `?` works in code returning
/// [`loop_core::Error`] (the facade's `tulip::Error`). A transport or loop
/// error is unwrapped; every other variant travels as
/// [`loop_core::Error::Failed`] and comes back out intact with
/// [`Error::from`].
impl From<Error> for loop_core::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::Loop(e) => e,
            Error::Transport(e) => e.into(),
            other => loop_core::Error::failed(other),
        }
    }
}

/// Into `std::io::Error`, for the `futures-io` traits. The kind says what
/// happened (`UnexpectedEof`, `ConnectionReset`, `BrokenPipe`, the OS
/// error's own kind …); the error itself is kept as the source
/// ([`io::Error::get_ref`]), the original OS error included.
impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        io::Error::new(err.io_kind(), err)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
