//! Single-thread async synchronization primitives with asyncio's semantics.
//!
//! `loop-sync` provides asyncio's synchronization primitives for the tasks of
//! one thread: [`Lock`], [`Event`], [`Condition`], [`Semaphore`],
//! [`BoundedSemaphore`], [`Barrier`] and the queues [`Queue`],
//! [`LifoQueue`] and [`PriorityQueue`]. It builds on no event loop at all:
//! the primitives only use [`std::task::Waker`]s, so they work on tulip's
//! loop and on any other executor (`async-executor`, tokio's current-thread
//! runtime with a `LocalSet`, `futures_lite::future::block_on`, …).
//!
//! Names and behaviour follow asyncio (Python 3.12+, plus `Barrier` from
//! 3.11 and queue shutdown from 3.13); errors are the typed [`Error`]; the
//! scoped guards [`LockGuard`] and [`SemaphoreGuard`] play the part of
//! `async with`.
//!
//! # Semantics pinned here
//!
//! * **FIFO, no barging.** [`Lock`] and the semaphores hand a released
//!   lock or permit directly to the first waiter; the queues reserve an item
//!   (or a free slot) for the first waiting getter (or putter). A newcomer,
//!   including the `try_*`/`*_nowait` methods, never takes what a queued
//!   task was promised.
//! * **Cancellation never loses a wake-up.** Dropping a future is Rust's
//!   cancellation. A dropped future leaves its queue; if it had already been
//!   chosen, what it was given (the lock, a permit, a notification, a queue
//!   reservation) passes on to the next waiter. A queue item is removed only
//!   when a `get` completes, so a cancelled get never loses one.
//! * **[`Condition::wait`]** takes the guard by value and returns it once
//!   the lock is held again; see [`Condition`]'s *Cancellation* section for
//!   what a dropped wait guarantees.
//! * **Misuse is an error, not a panic**: releasing an unlocked lock,
//!   over-releasing a bounded semaphore, `task_done` too often, a negative
//!   semaphore value, a zero-party barrier.
//! * **Polling a future again after it completed returns `Pending`**, as a
//!   fused future does, instead of panicking.
//!
//! # Examples
//!
//! A producer and a consumer sharing a bounded queue and a lock, on a local
//! executor:
//!
//! ```
//! use loop_sync::{Lock, Queue};
//! use async_executor::LocalExecutor;
//! use futures_lite::future;
//!
//! let queue = Queue::new(2);
//! let lock = Lock::new();
//! let ex = LocalExecutor::new();
//! let consumer = ex.spawn(async {
//!     let mut sum = 0;
//!     while let Ok(n) = queue.get().await {
//!         let _guard = lock.acquire().await;
//!         sum += n;
//!         queue.task_done()?;
//!     }
//!     Ok::<_, loop_sync::Error>(sum)
//! });
//! let sum = future::block_on(ex.run(async {
//!     for n in 1..=10 {
//!         queue.put(n).await?; // waits while 2 items are queued
//!     }
//!     queue.join().await; // every item was processed
//!     queue.shutdown(); // the consumer's next get fails
//!     consumer.await
//! }))?;
//! assert_eq!(sum, 55);
//! # Ok::<(), loop_sync::Error>(())
//! ```
//!
//! # Implementation
//!
//! Everything is single-threaded: state sits in `Cell`s and `RefCell`s, and
//! no primitive is `Sync`, so there is no atomic operation on any path of
//! this crate (the executor's wakers may use some). Uncontended operations
//! neither allocate nor touch a waiter list: acquiring a free [`Lock`] is a
//! flag check and a store.
//!
//! Every primitive queues its pending futures in one internal waiter list: a
//! slab of slots threaded by intrusive FIFO links, reused through a free
//! list, so waiting allocates only when the number of simultaneous waiters
//! reaches a new high. Each pending future owns one slot; the primitive
//! *chooses* waiters under its borrow and calls their wakers only after the
//! borrow ends, so a waker can never observe (or re-enter) a primitive in the
//! middle of an update.
//!
//! Nothing here runs a thread, a timer or an event loop; time-outs come from
//! the executor (drop the future when the time is up: every future here is
//! cancel-safe as documented).

#![forbid(unsafe_code)]

pub mod barrier;
pub mod condition;
mod error;
pub mod event;
pub mod lock;
pub mod queue;
pub mod semaphore;
mod waiters;

pub use barrier::Barrier;
pub use condition::Condition;
pub use error::{Error, PutError};
pub use event::Event;
pub use lock::{Lock, LockGuard};
pub use queue::{GenericQueue, LifoQueue, PriorityQueue, Queue};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreGuard};

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
