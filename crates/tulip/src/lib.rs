//! tulip: Python asyncio's event-loop model, in Rust.
//!
//! This crate re-exports every tulip crate: [`core`] (the loop: callbacks,
//! timers, futures, tasks), [`sync`] (locks, events, queues …), and — as
//! they land — transports, streams, subprocesses and signals. Import
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
pub use loop_sync as sync;

pub use loop_core::{
    Error, EventLoop, ExceptionContext, Handle, Loop, LoopFuture, RemoteLoop, Result,
    SelectorEventLoop, Task, TaskRef, TimerHandle, current_task, get_event_loop, get_running_loop,
    new_event_loop, run, set_event_loop, sleep,
};

/// The names most programs need, in one import.
pub mod prelude {
    pub use loop_core::{
        Error, Handle, Loop, LoopFuture, RemoteLoop, Result, Task, TaskRef, TimerHandle,
        current_task, get_event_loop, get_running_loop, new_event_loop, sleep, sleep_until,
    };
}
