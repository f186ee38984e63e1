//! The crate's error types: [`Error`] and, for queue puts that hand the item back, [`PutError`].

use std::fmt;

/// What went wrong in a synchronization primitive.
///
/// Each variant maps to the exception asyncio raises in the same situation
/// (see the variant docs). Misuse is reported, never answered with a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The lock is not held: `release` of an unlocked [`Lock`](crate::Lock),
    /// or [`Condition`](crate::Condition) `wait`/`notify` without holding its
    /// lock (asyncio: `RuntimeError`).
    #[error("the lock is not acquired")]
    NotLocked,
    /// A [`BoundedSemaphore`](crate::BoundedSemaphore) was released more
    /// often than it was acquired (asyncio: `ValueError`).
    #[error("bounded semaphore released too many times")]
    ReleasedTooOften,
    /// An argument is out of range, for example a negative semaphore value or
    /// a barrier of zero parties (asyncio: `ValueError`).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// `get_nowait` on a queue with no item available (asyncio: `QueueEmpty`).
    #[error("queue is empty")]
    QueueEmpty,
    /// `put_nowait` on a full queue (asyncio: `QueueFull`). Queue methods
    /// return the item with [`PutError::Full`]; this variant is what it
    /// converts to.
    #[error("queue is full")]
    QueueFull,
    /// The queue was shut down (asyncio 3.13: `QueueShutDown`).
    #[error("queue is shut down")]
    QueueShutDown,
    /// `task_done` was called more times than items were put (asyncio:
    /// `ValueError`).
    #[error("task_done() called more times than items were put")]
    TaskDoneTooOften,
    /// The barrier was aborted, or reset while this task waited in it
    /// (asyncio: `BrokenBarrierError`).
    #[error("barrier is broken")]
    BrokenBarrier,
}

/// A failed queue put, carrying the item back so that nothing is lost.
///
/// Converts into [`Error::QueueFull`] or [`Error::QueueShutDown`] with `?`
/// when the item is not needed any more.
#[derive(Clone, PartialEq, Eq)]
pub enum PutError<T> {
    /// The queue is full (`put_nowait` only): asyncio's `QueueFull`.
    Full(T),
    /// The queue was shut down: asyncio's `QueueShutDown`.
    ShutDown(T),
}

impl<T> PutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(item) | Self::ShutDown(item) => item,
        }
    }

    /// The matching [`Error`] variant, without the item.
    pub fn kind(&self) -> Error {
        match self {
            Self::Full(_) => Error::QueueFull,
            Self::ShutDown(_) => Error::QueueShutDown,
        }
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind(), f)
    }
}

impl<T> std::error::Error for PutError<T> {}

impl<T> From<PutError<T>> for Error {
    fn from(e: PutError<T>) -> Self {
        e.kind()
    }
}
