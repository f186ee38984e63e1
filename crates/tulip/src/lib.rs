//! tulip: Python asyncio's event-loop model, in Rust.
//!
//! This crate re-exports every tulip crate: [`event_loop`] (the loop: callbacks,
//! timers, futures, tasks), [`sync`] (locks, events, queues …), [`signals`]
//! (Unix signal handlers on the loop), [`transports`] (protocols and
//! transports: TCP, Unix sockets, UDP, pipes, socket operations, DNS), and —
//! as they land — streams and subprocesses. [`per_core`] runs one loop per
//! core, all serving one address. Import
//! [`prelude`] to get the loop type, its extension traits and the helpers in
//! scope, so code reads like asyncio.
//!
//! # Errors
//!
//! Every crate keeps its own precise error enum, and each converts into
//! [`Error`], the one type a program needs: `?` works across crates in one
//! async block, [`Error::kind`] tells a cancellation, a timeout or an OS
//! error apart whichever crate reported it, and the crate's own error stays
//! reachable by matching the variant. The prelude's `Error` and `Result`
//! are these; the transports' error, which protocol callbacks receive, is
//! [`TransportError`](prelude::TransportError) there.
//!
//! # Examples
//!
//! ```
//! use tulip::prelude::*;
//! use std::time::Duration;
//!
//! let out = tulip::run(async {
//!     let lp = get_running_loop()?;
//!     let t = lp.create_task(async {
//!         sleep(Duration::from_millis(1)).await?;
//!         Ok::<_, Error>("done")
//!     })?;
//!     t.await?
//! });
//! assert_eq!(out.unwrap().unwrap(), "done");
//! ```

#![forbid(unsafe_code)]

mod error;
pub mod per_core;

pub use loop_core as event_loop;
pub use loop_process as process;
pub use loop_signals as signals;
pub use loop_streams as streams;
pub use loop_sync as sync;
pub use loop_transports as transports;

pub use error::{Error, ErrorKind, Result};
pub use loop_core::{
    ExceptionContext, Handle, Loop, LoopFuture, RemoteLoop, Task, TaskRef, TimerHandle,
    current_task, get_event_loop, get_running_loop, new_event_loop, set_event_loop, sleep,
};
pub use per_core::{LoopContext, LoopGroup};

/// Runs `fut` on a new loop and returns its output (asyncio's `run`).
///
/// Like [`loop_core::run`] — new loop, run to completion, cancel leftover
/// tasks, shut the executor down, close — and, like `asyncio.run`, Ctrl-C
/// aware: while it runs, the first SIGINT cancels the main task (the call
/// then fails with [`ErrorKind::Interrupted`], asyncio's
/// `KeyboardInterrupt`) and a second one terminates the process. SIGINT's
/// previous disposition is restored afterwards; a SIGINT that was ignored or
/// handled by other code is left alone.
///
/// # Errors
///
/// [`ErrorKind::LoopRunning`] inside a running loop;
/// [`ErrorKind::Interrupted`] after Ctrl-C; the main future's own failure
/// ([`ErrorKind::Panicked`], [`ErrorKind::Cancelled`]).
pub fn run<F>(fut: F) -> Result<F::Output>
where
    F: std::future::Future + 'static,
    F::Output: 'static,
{
    loop_signals::run_with_sigint(fut).map_err(Error::from)
}

/// The names most programs need, in one import.
pub mod prelude {
    pub use crate::per_core::{LoopContext, LoopGroup};
    pub use crate::{Error, ErrorKind, Result};
    pub use loop_core::{
        Handle, Loop, LoopFuture, RemoteLoop, ReturnWhen, Task, TaskGroup, TaskRef, TimerHandle,
        as_completed, cancel_on_drop, current_task, gather, gather_return_exceptions,
        get_event_loop, get_running_loop, new_event_loop, shield, sleep, sleep_until, timeout,
        timeout_at, wait, wait_for,
    };
    pub use loop_process::{Process, ProcessExt, SubprocessProtocol, SubprocessTransport};
    pub use loop_signals::{Signal, SignalExt};
    pub use loop_streams::{
        StreamReader, StreamWriter, open_connection, open_unix_connection, start_server,
        start_unix_server,
    };
    /// The transports' error: what `connection_lost` and `error_received`
    /// receive. It converts into [`Error`] with `?`.
    pub use loop_transports::Error as TransportError;
    pub use loop_transports::{
        BaseProtocol, BaseTransport, BufferedProtocol, DatagramProtocol, DatagramTransport, NetExt,
        Protocol, ReadTransport, SockExt, Transport, TransportRef, WriteTransport,
    };
    pub use loop_transports::{TlsAccept, TlsConnect, TlsRole};
}

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
