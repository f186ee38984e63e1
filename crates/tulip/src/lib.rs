//! tulip: Python asyncio's event-loop model, in Rust.
//!
//! This crate re-exports every tulip crate: [`core`] (the loop: callbacks,
//! timers, futures, tasks), [`sync`] (locks, events, queues …), [`signals`]
//! (Unix signal handlers on the loop), [`transports`] (protocols and
//! transports: TCP, Unix sockets, UDP, pipes, socket operations, DNS), and —
//! as they land — streams and subprocesses. Import
//! [`prelude`] to get the loop type, its extension traits and the helpers in
//! scope, so code reads like asyncio.
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

pub use loop_core as core;
pub use loop_signals as signals;
pub use loop_sync as sync;
pub use loop_transports as transports;

pub use loop_core::{
    Error, EventLoop, ExceptionContext, Handle, Loop, LoopFuture, RemoteLoop, Result,
    SelectorEventLoop, Task, TaskRef, TimerHandle, current_task, get_event_loop, get_running_loop,
    new_event_loop, set_event_loop, sleep,
};

/// Runs `fut` on a new loop and returns its output (asyncio's `run`).
///
/// Like [`loop_core::run`] — new loop, run to completion, cancel leftover
/// tasks, shut the executor down, close — and, like `asyncio.run`, Ctrl-C
/// aware: while it runs, the first SIGINT cancels the main task (the call
/// then fails with [`Error::Interrupted`], asyncio's `KeyboardInterrupt`)
/// and a second one terminates the process. SIGINT's previous disposition is restored afterwards; a SIGINT
/// that was ignored or handled by other code is left alone.
///
/// # Errors
///
/// [`Error::AnotherLoopRunning`] inside a running loop;
/// [`Error::Interrupted`] after Ctrl-C; the main future's own failure
/// ([`Error::Panicked`]).
pub fn run<F>(fut: F) -> Result<F::Output>
where
    F: std::future::Future + 'static,
    F::Output: 'static,
{
    loop_signals::run_with_sigint(fut).map_err(Into::into)
}

/// The names most programs need, in one import.
pub mod prelude {
    pub use loop_core::{
        Error, Handle, Loop, LoopFuture, RemoteLoop, Result, ReturnWhen, Task, TaskGroup, TaskRef,
        TimerHandle, as_completed, cancel_on_drop, current_task, gather, gather_return_exceptions,
        get_event_loop, get_running_loop, new_event_loop, shield, sleep, sleep_until, timeout,
        timeout_at, wait, wait_for,
    };
    pub use loop_signals::{Signal, SignalExt};
    pub use loop_transports::{
        BaseProtocol, BaseTransport, BufferedProtocol, DatagramProtocol, DatagramTransport, NetExt,
        Protocol, ReadTransport, SockExt, Transport, TransportRef, WriteTransport,
    };
}

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
