//! The event loop of tulip: asyncio's loop model in Rust.
//!
//! `loop-core` provides the loop itself — the selector, the FIFO ready
//! queue shared by callbacks and tasks, the timer heap, [`Handle`] and
//! [`TimerHandle`], loop futures ([`LoopFuture`]) and tasks ([`Task`]), fd
//! watching, the executor for blocking work, exception handling, debug mode,
//! and the task helpers (`sleep`, …). It builds on nothing but the OS
//! (through `rustix`) and a few small crates; every other tulip crate builds
//! on it, through the user-facing [`Loop`] handle only.
//!
//! # Implementation
//!
//! A [`Loop`] runs on the thread that created it. It owns the ready queue,
//! the `(deadline, sequence)` binary heap of timers, the task slab and the
//! queue of calls from other threads ([`RemoteLoop`]), and drives a
//! [`driver::Driver`] — the one pluggable part: the default
//! [`driver::EpollDriver`] is a level-triggered epoll selector (one
//! `epoll_pwait` per iteration) with an eventfd for wake-ups from other
//! threads. A task is one allocation
//! (header, future, output) kept in a per-loop slab; its waker is its slot
//! id (no reference count) and puts it on the same ready queue as
//! `call_soon`. The default executor is a bounded thread pool the loop
//! starts lazily.
//!
//! The crate denies `unsafe_code`; its two `unsafe` blocks (a task's waker
//! and the in-place poll of a task's pinned future) live in one module,
//! `task/raw.rs`, each with the proof that it holds.
//!
//! # Limits
//!
//! One per process: at most [`MAX_LOOPS_WITH_TASKS`] (65,535) loops may
//! have tasks at the same time — a task's waker is one word that carries a
//! 16-bit loop index. A loop takes an index with its first task and gives
//! it back when it closes; creating a task on one loop too many fails with
//! [`Error::InvalidState`]. Per loop, at most 2^28 tasks may be alive at
//! once. Nothing else is bounded per process (signal handlers, for one,
//! work on any number of loops).
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use loop_core::{Loop, sleep};
//!
//! let lp = Loop::new()?;
//! let l2 = lp.clone();
//! lp.call_soon(|| println!("Hello World"))?;
//! let answer = lp.run_until_complete(async move {
//!     sleep(Duration::from_millis(1)).await?;
//!     let task = l2.create_task(async { 6 * 7 })?;
//!     task.await
//! })??;
//! assert_eq!(answer, 42);
//! lp.close()?;
//! # Ok::<(), loop_core::Error>(())
//! ```

#![deny(unsafe_code)]

mod blocking;
mod common;
pub mod driver;
mod error;
mod exception;
mod executor;
mod extension;
mod future;
mod handle;
mod helpers;
mod inner;
mod loop_handle;
mod policy;
mod ready;
mod remote;
mod runner;
mod task;
mod timer_heap;

#[cfg(feature = "test-util")]
pub mod test_util;

pub use blocking::ExecutorFuture;
pub use common::{DEBUG_ENV_VAR, DEFAULT_SLOW_CALLBACK_DURATION};
pub use error::{Error, Result};
pub use exception::{ExceptionContext, ExceptionHandler, default_exception_handler};
pub use executor::{Executor, Job, THREAD_JOIN_TIMEOUT, ThreadPoolExecutor};
pub use extension::LoopExtension;
pub use future::{CallbackId, LoopFuture};
pub use handle::{Handle, TimerHandle};
pub use helpers::*;
pub use loop_handle::{Loop, WeakLoop};
pub use policy::{
    DefaultEventLoopPolicy, EventLoopPolicy, get_event_loop, get_event_loop_policy,
    get_running_loop, new_event_loop, set_event_loop, set_event_loop_policy,
};
pub use remote::{RemoteLoop, RemoteTask};
pub use runner::{MainTaskHook, Runner, run};
/// How many loops of one process may have tasks at the same time (see
/// [Limits](crate#limits)).
pub const MAX_LOOPS_WITH_TASKS: usize = task::MAX_LOOPS;

pub use task::{LocalBoxFuture, Task, TaskFactory, TaskRef, current_task};

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
