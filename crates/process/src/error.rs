//! The crate's error type: every way spawning, signalling or talking to a
//! child can fail, as one enum.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// A failure of a subprocess operation.
///
/// asyncio's exceptions map to variants: `FileNotFoundError` from
/// `create_subprocess_exec` → [`Error::ProgramNotFound`] (or
/// [`Error::Cwd`] when the working directory is the culprit), other
/// `OSError`s from spawning → [`Error::Spawn`], `ProcessLookupError` →
/// [`Error::ProcessLookup`], `ValueError` → [`Error::InvalidArgument`].
/// Failures of a pipe are the transports' ([`Error::Transport`]), those of
/// a [`Process`](crate::Process)'s readers the streams'
/// ([`Error::Stream`]); the loop's own ([`Error::Loop`]) include
/// cancellation.
///
/// OS errors are kept as the OS reported them (errno included) behind an
/// [`Arc`], so the error is cheap to clone.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The program to run does not exist (`ENOENT` from `exec`, or not
    /// found on `PATH`).
    #[error("cannot run {program:?}: program not found: {source}")]
    ProgramNotFound {
        /// The program, as given.
        program: String,
        /// The OS error (`ENOENT`).
        source: Arc<io::Error>,
    },
    /// The working directory given in the options does not exist, is not
    /// a directory or cannot be entered.
    #[error("cannot run {program:?} in {cwd:?}: {source}")]
    Cwd {
        /// The program, as given.
        program: String,
        /// The working directory that was refused.
        cwd: PathBuf,
        /// The OS error reported by the spawn.
        source: Arc<io::Error>,
    },
    /// Spawning failed for another reason: `exec` refused the program
    /// (`EACCES`, `ENOEXEC`, `E2BIG` …), or `fork`, changing user, group or
    /// session failed. Nothing was left running.
    #[error("cannot run {program:?}: {source}")]
    Spawn {
        /// The program, as given.
        program: String,
        /// The OS error, as the child reported it.
        source: Arc<io::Error>,
    },
    /// The child has exited and been reaped: no signal was sent, so no
    /// other process can receive it (asyncio's `ProcessLookupError`).
    #[error("process {pid} has exited")]
    ProcessLookup {
        /// The pid the child had.
        pid: u32,
    },
    /// An argument was malformed (asyncio's `ValueError`): a NUL byte in a
    /// program, argument, environment entry or directory, an `=` in an
    /// environment name, a stdio mode that does not apply, a signal number
    /// that does not exist.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A [`Process`](crate::Process) was asked to use a pipe it does not
    /// hold: the child's stream `fd` (0 stdin, 1 stdout, 2 stderr) was not
    /// spawned as [`Stdio::Pipe`](crate::Stdio::Pipe), or its stream was
    /// taken out of the `Process` — for example `communicate` with input
    /// and no stdin pipe (asyncio silently drops the input).
    #[error("the child's {} is not a pipe held by this Process", stream_name(*fd))]
    NoPipe {
        /// The child's descriptor: 0, 1 or 2.
        fd: i32,
    },
    /// A stream of a [`Process`](crate::Process) failed: the error stored
    /// in a reader, a write after `close` …
    #[error(transparent)]
    Stream(loop_streams::Error),
    /// Another OS error (opening a pidfd, creating a pipe, starting a
    /// watcher thread).
    #[error(transparent)]
    Io(Arc<io::Error>),
    /// A pipe transport failed.
    #[error(transparent)]
    Transport(loop_transports::Error),
    /// An error of the loop: closed, cancelled, a failed task.
    #[error(transparent)]
    Loop(loop_core::Error),
}

impl Error {
    /// Whether this is a cancellation.
    pub fn is_cancelled(&self) -> bool {
        match self {
            Error::Loop(e) => e.is_cancelled(),
            Error::Transport(e) => e.is_cancelled(),
            Error::Stream(e) => e.is_cancelled(),
            _ => false,
        }
    }

    /// The OS error behind this error, if there is one: the original
    /// `io::Error`, errno included.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::ProgramNotFound { source, .. }
            | Error::Cwd { source, .. }
            | Error::Spawn { source, .. } => Some(source),
            Error::Io(e) => Some(e),
            Error::Transport(e) => e.io_error(),
            Error::Stream(e) => e.io_error(),
            Error::Loop(loop_core::Error::Io(e)) => Some(e),
            _ => None,
        }
    }

    /// The OS error number (`errno`) behind this error, if there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.io_error().and_then(io::Error::raw_os_error)
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
            loop_core::Error::Failed(inner) => match inner.downcast_ref::<Error>() {
                Some(ours) => ours.clone(),
                None => Error::Loop(loop_core::Error::Failed(inner)),
            },
            other => Error::Loop(other),
        }
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
            other => Error::Stream(other),
        }
    }
}

impl From<Error> for loop_core::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::Loop(e) => e,
            Error::Io(e) => loop_core::Error::Io(e),
            other => loop_core::Error::failed(other),
        }
    }
}

fn stream_name(fd: i32) -> String {
    match fd {
        0 => "stdin".to_owned(),
        1 => "stdout".to_owned(),
        2 => "stderr".to_owned(),
        other => format!("fd {other}"),
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
