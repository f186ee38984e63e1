//! The crate's error type: every way a transport, a connection or a socket
//! operation can fail, as one enum.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::address::Address;

/// A failure reported by a transport, a protocol callback, a connection
/// attempt, a server or a socket operation.
///
/// asyncio's exceptions map to variants: `ConnectionError`s and other
/// `OSError`s → [`Error::Io`] (or [`Error::Connect`] when every address of a
/// connection attempt failed), `SendfileNotAvailableError` →
/// [`Error::SendfileNotAvailable`], `ValueError` → [`Error::InvalidArgument`],
/// `RuntimeError`/`InvalidStateError` → [`Error::InvalidState`],
/// `CancelledError` → [`Error::Cancelled`] (a cancellation that carries a
/// message stays the loop's `Cancelled { message }`, in [`Error::Loop`]).
/// Errors from the loop itself are carried as [`Error::Loop`].
///
/// Cheap to clone (the OS error is shared behind an [`Arc`]), so one
/// failure can be handed to a protocol's `connection_lost` and to the
/// exception handler.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the operating system.
    #[error(transparent)]
    Io(Arc<io::Error>),
    /// An error from the event loop (closed loop, refused fd, …).
    #[error(transparent)]
    Loop(loop_core::Error),
    /// The operation was cancelled.
    #[error("the operation was cancelled")]
    Cancelled,
    /// The transport is closing or closed: it accepts no more data.
    #[error("the transport is closed")]
    Closed,
    /// An argument was out of range or malformed (asyncio's `ValueError`).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The call is not allowed in the object's current state (write after
    /// `write_eof`, `write_eof` twice, a second `serve_forever`, …).
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// This transport cannot do that (writing to a read pipe, …).
    #[error("not supported by this transport: {0}")]
    Unsupported(&'static str),
    /// A socket passed to a socket operation is in blocking mode; these
    /// operations need a non-blocking socket.
    #[error("the socket must be non-blocking")]
    BlockingSocket,
    /// A host name could not be resolved.
    #[error("cannot resolve {host:?} (port {port}): {source}")]
    Resolve {
        /// The name that failed.
        host: String,
        /// The port or service that was asked for.
        port: u16,
        /// What the resolver said.
        source: Arc<io::Error>,
    },
    /// Every address of a connection attempt failed; each failure is kept.
    /// [`io_error`](Error::io_error) gives the first one, as asyncio raises
    /// the first address's `OSError`.
    #[error("{0}")]
    Connect(ConnectError),
    /// Binding a socket to an address failed (asyncio's `OSError` "error
    /// while attempting to bind on address …"). The OS error is kept as
    /// is, errno included.
    #[error("error while attempting to bind on address {addr}: {source}")]
    Bind {
        /// The address that could not be bound.
        addr: Address,
        /// What the OS said.
        source: Arc<io::Error>,
    },
    /// `sendfile(2)` cannot be used here and the read/write fallback was not
    /// allowed (asyncio's `SendfileNotAvailableError`).
    #[error("sendfile is not available: {0}")]
    SendfileNotAvailable(String),
    /// The transport is busy sending a file with
    /// [`sendfile`](crate::NetExt::sendfile): `write`, `writelines`,
    /// `write_eof` and a second `sendfile` are refused until it returns, so
    /// no other bytes can land among the file's (asyncio's `RuntimeError`
    /// "sendfile is in progress").
    #[error("unable to write: sendfile is in progress")]
    SendfileInProgress,
    /// The TLS handshake failed: the peer's certificate is not trusted or
    /// does not match the server name, the peer sent an alert, or it sent
    /// bytes that are not TLS. rustls' error says which; the application
    /// protocol never got `connection_made`.
    #[error("TLS handshake failed: {0}")]
    TlsHandshake(rustls::Error),
    /// A TLS failure after the handshake (a corrupt record, an alert from
    /// the peer).
    #[error("TLS error: {0}")]
    Tls(rustls::Error),
    /// The TLS handshake did not complete in time (asyncio's
    /// `ssl_handshake_timeout`, 60 s by default).
    #[error("the TLS handshake did not complete within {0:?}")]
    TlsHandshakeTimeout(Duration),
    /// The peer did not answer close_notify in time (asyncio's
    /// `ssl_shutdown_timeout`, 30 s by default): the connection was
    /// aborted.
    #[error("the TLS shutdown did not complete within {0:?}")]
    TlsShutdownTimeout(Duration),
    /// The peer closed the connection before the TLS handshake completed.
    #[error("the peer closed the connection during the TLS handshake")]
    TlsHandshakeEof,
    /// A TLS configuration could not be built (no system root
    /// certificates, an unusable certificate store, …).
    #[error("TLS configuration: {0}")]
    TlsConfig(String),
    /// A protocol callback panicked; the transport was closed.
    #[error("protocol callback {callback} panicked: {message}")]
    ProtocolPanicked {
        /// Which callback (`data_received`, `connection_made`, …).
        callback: &'static str,
        /// The panic's message.
        message: String,
    },
}

impl Error {
    /// Whether this is [`Error::Cancelled`] (or the loop's cancellation).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled | Error::Loop(loop_core::Error::Cancelled { .. }))
    }

    /// The OS error behind this error, if there is one: the original
    /// `io::Error`, errno included. For [`Error::Connect`], the first
    /// address's error (every one is in
    /// [`ConnectError::attempts`]).
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::Io(e) => Some(e),
            Error::Resolve { source, .. } | Error::Bind { source, .. } => Some(source),
            Error::Connect(c) => c.attempts.first().map(|(_, e)| &**e),
            _ => None,
        }
    }

    pub(crate) fn bind(addr: &Address, source: io::Error) -> Self {
        Error::Bind { addr: addr.clone(), source: Arc::new(source) }
    }

    /// The OS error number (`errno`) behind this error, if there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.io_error().and_then(io::Error::raw_os_error)
    }

    /// The OS error kind, if this error came from the OS.
    pub fn kind(&self) -> Option<io::ErrorKind> {
        self.io_error().map(io::Error::kind)
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        Error::Io(Arc::new(err))
    }
}

impl From<rustix::io::Errno> for Error {
    fn from(err: rustix::io::Errno) -> Self {
        Error::Io(Arc::new(err.into()))
    }
}

impl From<loop_core::Error> for Error {
    fn from(err: loop_core::Error) -> Self {
        match err {
            // A cancellation with a message stays the loop's error, which
            // carries the message.
            loop_core::Error::Cancelled { message: None } => Error::Cancelled,
            loop_core::Error::Io(e) => Error::Io(e),
            loop_core::Error::Failed(inner) => match inner.downcast_ref::<Error>() {
                Some(ours) => ours.clone(),
                None => Error::Loop(loop_core::Error::Failed(inner)),
            },
            other => Error::Loop(other),
        }
    }
}

impl From<Error> for loop_core::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::Cancelled => loop_core::Error::cancelled(),
            Error::Loop(e) => e,
            Error::Io(e) => loop_core::Error::Io(e),
            other => loop_core::Error::failed(other),
        }
    }
}

/// The failures of a connection attempt over every address a name resolved
/// to, in the order the addresses were tried.
#[derive(Debug, Clone)]
pub struct ConnectError {
    /// The host that was asked for.
    pub host: String,
    /// The port that was asked for.
    pub port: u16,
    /// Each address tried and why it failed.
    pub attempts: Vec<(Address, Arc<io::Error>)>,
}

impl ConnectError {
    /// The failure of connecting to one address that needed no name
    /// resolution (a Unix socket path).
    pub(crate) fn single(addr: &Address, err: io::Error) -> Self {
        ConnectError { host: addr.to_string(), port: 0, attempts: vec![(addr.clone(), err.into())] }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot connect to {}", self.host)?;
        if self.port != 0 || self.attempts.iter().any(|(a, _)| matches!(a, Address::Inet(_))) {
            write!(f, ":{}", self.port)?;
        }
        if self.attempts.is_empty() {
            return f.write_str(": no address to try");
        }
        f.write_str(": ")?;
        for (i, (addr, err)) in self.attempts.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if self.port != 0 || addr.to_string() != self.host {
                write!(f, "{addr}: ")?;
            }
            write!(f, "{err}")?;
        }
        Ok(())
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
