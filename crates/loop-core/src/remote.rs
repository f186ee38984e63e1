//! The thread-safe face of a loop: `RemoteLoop` and its queue.
//!
//! Other threads cannot touch a loop (it is `!Send`); they push work onto a
//! `concurrent-queue` and wake the loop's selector. The loop drains the
//! queue on its own thread at every iteration.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use async_task::Runnable;
use concurrent_queue::ConcurrentQueue;
use futures_lite::FutureExt as _;

use crate::error::{Error, Result, panic_message};
use crate::task::TaskId;

/// Work sent to a loop from another thread.
#[non_exhaustive]
pub(crate) enum RemoteItem {
    /// A callback to run on the loop (`call_soon_threadsafe`).
    Call(Box<dyn FnOnce() + Send + 'static>),
    /// A runnable of a task spawned with [`RemoteLoop::spawn`], woken.
    Task(Runnable),
    /// A wake-up, from another thread, of one of the loop's own tasks: the
    /// loop hands it to `LoopCommon::wake_task`.
    WakeTask(TaskId),
    /// A request to stop the loop.
    Stop,
}

impl fmt::Debug for RemoteItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RemoteItem::Call(_) => "Call",
            RemoteItem::Task(_) => "Task",
            RemoteItem::WakeTask(_) => "WakeTask",
            RemoteItem::Stop => "Stop",
        })
    }
}

struct Shared {
    queue: ConcurrentQueue<RemoteItem>,
    wake: Box<dyn Fn() + Send + Sync>,
    /// The tasks spawned with [`RemoteLoop::spawn`] whose futures still
    /// exist: their wakers, so that closing the loop can free them.
    spawned: Mutex<Spawned>,
}

/// The wakers of live [`RemoteLoop::spawn`] tasks, by key (a slab).
#[derive(Default)]
struct Spawned {
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Spawned {
    fn insert(&mut self) -> usize {
        match self.free.pop() {
            Some(key) => key,
            None => {
                self.wakers.push(None);
                self.wakers.len() - 1
            }
        }
    }

    fn remove(&mut self, key: usize) {
        if let Some(slot) = self.wakers.get_mut(key) {
            if slot.take().is_some() {
                self.free.push(key);
            }
        }
    }
}

impl Shared {
    fn spawned(&self) -> std::sync::MutexGuard<'_, Spawned> {
        // Every critical section leaves the slab consistent.
        self.spawned.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Lives inside a spawned task's future: forgets the task's waker when the
/// future is dropped (it completed, or it was cancelled).
struct Unregister {
    shared: std::sync::Weak<Shared>,
    key: usize,
}

impl Drop for Unregister {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.spawned().remove(self.key);
        }
    }
}

/// The receiving end a loop implementation drains (one per loop).
pub(crate) struct RemoteQueue {
    shared: Arc<Shared>,
}

impl RemoteQueue {
    /// A queue whose pushes call `wake` (which must wake the loop's
    /// selector; it should coalesce repeated wake-ups itself).
    pub(crate) fn new(wake: impl Fn() + Send + Sync + 'static) -> Self {
        RemoteQueue {
            shared: Arc::new(Shared {
                queue: ConcurrentQueue::unbounded(),
                wake: Box::new(wake),
                spawned: Mutex::default(),
            }),
        }
    }

    /// The sending end, for other threads.
    pub(crate) fn remote(&self) -> RemoteLoop {
        RemoteLoop { shared: self.shared.clone() }
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.shared.queue.is_empty()
    }

    /// Takes one queued item.
    pub(crate) fn pop(&self) -> Option<RemoteItem> {
        self.shared.queue.pop().ok()
    }

    /// Refuses further pushes (loop close) and drops what is queued, on the
    /// calling (loop) thread; then frees the spawned tasks still waiting:
    /// woken, each one's schedule finds the queue closed and drops it (its
    /// `RemoteTask` resolves to `Cancelled`).
    pub(crate) fn close(&self) {
        self.shared.queue.close();
        while self.shared.queue.pop().is_ok() {}
        let waiting = std::mem::take(&mut self.shared.spawned().wakers);
        for w in waiting.into_iter().flatten() {
            w.wake();
        }
    }
}

impl fmt::Debug for RemoteQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteQueue").field("len", &self.shared.queue.len()).finish()
    }
}

/// A `Send + Sync` handle to a loop, for other threads (asyncio's
/// `call_soon_threadsafe` and `run_coroutine_threadsafe`).
///
/// Every call fails with [`Error::LoopClosed`] once the loop is closed;
/// nothing crashes.
#[derive(Clone)]
pub struct RemoteLoop {
    shared: Arc<Shared>,
}

impl RemoteLoop {
    /// Pushes an item and wakes the loop.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`] when the loop is closed; the item is handed
    /// back to the caller's thread and dropped there.
    pub(crate) fn push(&self, item: RemoteItem) -> Result<()> {
        self.try_push(item).map_err(|item| {
            // A non-Send task's runnable must not be dropped on a foreign
            // thread (its future would be dropped here); leak it instead.
            if let RemoteItem::Task(r) = item {
                std::mem::forget(r);
            }
            Error::LoopClosed
        })
    }

    /// Pushes an item and wakes the loop; hands the item back when the loop
    /// is closed.
    fn try_push(&self, item: RemoteItem) -> Result<(), RemoteItem> {
        match self.shared.queue.push(item) {
            Ok(()) => {
                (self.shared.wake)();
                Ok(())
            }
            Err(err) => Err(err.into_inner()),
        }
    }

    /// Schedules `f` to run on the loop's thread, waking the loop if it is
    /// blocked in its selector.
    ///
    /// `f` joins the same FIFO queue as `call_soon`: a call made before a
    /// `call_soon` — on the loop's own thread, or on a thread that
    /// provably finished before (joined, or synchronised with the loop's
    /// thread) — runs before that callback, as in asyncio. Calls racing
    /// with the loop's thread are ordered when the loop next looks at its
    /// queue.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`] when the loop is closed.
    pub fn call_soon_threadsafe(&self, f: impl FnOnce() + Send + 'static) -> Result<()> {
        self.push(RemoteItem::Call(Box::new(f)))
    }

    /// Asks the loop to stop, from any thread.
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`] when the loop is closed.
    pub fn stop(&self) -> Result<()> {
        self.push(RemoteItem::Stop)
    }

    /// Whether the loop was closed.
    pub fn is_closed(&self) -> bool {
        self.shared.queue.is_closed()
    }

    /// Runs a `Send` future as a task on the loop, from any thread (asyncio's
    /// `run_coroutine_threadsafe`). Await the returned [`RemoteTask`] (from
    /// any executor) for the output. If the loop closes first, the future
    /// is dropped (on the loop's thread, even while it waits for a wake-up)
    /// and the `RemoteTask` resolves to [`Error::Cancelled`].
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`] when the loop is closed.
    pub fn spawn<F>(&self, fut: F) -> Result<RemoteTask<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if self.is_closed() {
            return Err(Error::LoopClosed);
        }
        let me = self.clone();
        let key = self.shared.spawned().insert();
        let unregister = Unregister { shared: Arc::downgrade(&self.shared), key };
        let fut = async move {
            let _unregister = unregister;
            fut.await
        };
        let body = AssertUnwindSafe(fut).catch_unwind();
        let (runnable, task) = async_task::spawn(body, move |r| {
            // The loop closed: nothing will ever run this task. Its future is
            // `Send`, so dropping it here, on whatever thread woke it, is
            // fine, and it resolves the `RemoteTask` (as cancelled) instead
            // of leaving its awaiter hanging.
            if let Err(RemoteItem::Task(r)) = me.try_push(RemoteItem::Task(r)) {
                drop(r);
            }
        });
        if let Some(slot) = self.shared.spawned().wakers.get_mut(key) {
            *slot = Some(runnable.waker());
        }
        runnable.schedule();
        Ok(RemoteTask { task: Some(task.fallible()) })
    }
}

/// A [`RemoteLoop`] that does not keep the loop's queue alive (the waker
/// registry's entry for a loop).
pub(crate) struct WeakRemote {
    shared: std::sync::Weak<Shared>,
}

impl WeakRemote {
    pub(crate) fn upgrade(&self) -> Option<RemoteLoop> {
        self.shared.upgrade().map(|shared| RemoteLoop { shared })
    }
}

impl RemoteLoop {
    pub(crate) fn downgrade(&self) -> WeakRemote {
        WeakRemote { shared: Arc::downgrade(&self.shared) }
    }
}

impl fmt::Debug for RemoteLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteLoop").field("closed", &self.is_closed()).finish()
    }
}

type CaughtOutput<T> = std::thread::Result<T>;

/// The output of a future spawned with [`RemoteLoop::spawn`]. `Send`; await
/// it from any executor. Dropping it detaches the task.
///
/// It resolves to [`Error::Panicked`] if the future panicked, and to
/// [`Error::Cancelled`] if the loop closed before the future completed.
pub struct RemoteTask<T> {
    /// Fallible: the task resolves to `None` when its future was dropped
    /// before completing (the loop closed first).
    task: Option<async_task::FallibleTask<CaughtOutput<T>>>,
}

impl<T> RemoteTask<T> {
    /// Cancels the task: its future is dropped on the loop's thread at the
    /// next opportunity.
    pub fn cancel(mut self) {
        if let Some(t) = self.task.take() {
            drop(t);
        }
    }
}

impl<T> Future for RemoteTask<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let Some(task) = self.task.as_mut() else {
            return Poll::Ready(Err(Error::cancelled()));
        };
        match task.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(out) => {
                self.task = None;
                Poll::Ready(match out {
                    Some(out) => out.map_err(|p| Error::Panicked(panic_message(&*p))),
                    // Dropped unfinished by its closed loop.
                    None => Err(Error::cancelled()),
                })
            }
        }
    }
}

impl<T> Drop for RemoteTask<T> {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.detach();
        }
    }
}

impl<T> fmt::Debug for RemoteTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteTask").field("pending", &self.task.is_some()).finish()
    }
}
