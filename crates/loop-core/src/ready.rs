//! The ready queue: callbacks and task runnables waiting for the next batch.
//!
//! Callbacks and tasks share one FIFO queue, so they interleave exactly as in
//! asyncio. Task wakers running on the loop's own thread find the queue
//! through a thread-local registry keyed by loop id; wakers on other threads
//! go through the loop's remote queue instead.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use async_task::Runnable;

use crate::handle::Handle;

/// One unit of work on the ready queue.
pub(crate) enum Ready {
    Callback(Handle),
    Task(Runnable),
    /// A `call_soon_threadsafe` callback, run as it came (no second
    /// allocation).
    Remote(Box<dyn FnOnce() + Send + 'static>),
}

/// The loop-thread-only FIFO of ready work.
#[derive(Default)]
pub(crate) struct ReadyQueue {
    items: RefCell<VecDeque<Ready>>,
}

impl ReadyQueue {
    pub(crate) fn push(&self, item: Ready) {
        self.items.borrow_mut().push_back(item);
    }

    pub(crate) fn pop(&self) -> Option<Ready> {
        self.items.borrow_mut().pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.borrow().len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.borrow().is_empty()
    }

    /// Drops everything queued (loop close), outside the borrow so that
    /// destructors may schedule more work. Callbacks are cancelled, not just
    /// dropped: a `Handle` the user kept would otherwise keep the closure
    /// (and everything it captured) alive after close.
    pub(crate) fn clear(&self) {
        let items = std::mem::take(&mut *self.items.borrow_mut());
        for item in items {
            if let Ready::Callback(h) = &item {
                h.cancel();
            }
            drop(item);
        }
    }
}

thread_local! {
    /// Ready queues of the loops created on this thread, by loop id.
    static LOCAL_QUEUES: RefCell<Vec<(u64, Rc<ReadyQueue>)>> = const { RefCell::new(Vec::new()) };
}

/// Registers a loop's ready queue for same-thread task wake-ups.
pub(crate) fn register_local(id: u64, queue: Rc<ReadyQueue>) {
    let _ = LOCAL_QUEUES.try_with(|q| q.borrow_mut().push((id, queue)));
}

/// Forgets a loop's ready queue (close or drop).
pub(crate) fn unregister_local(id: u64) {
    let _ = LOCAL_QUEUES.try_with(|q| q.borrow_mut().retain(|(i, _)| *i != id));
}

/// Pushes `runnable` onto loop `id`'s ready queue if that loop lives on this
/// thread; gives it back otherwise.
pub(crate) fn try_push_local(id: u64, runnable: Runnable) -> Result<(), Runnable> {
    let mut runnable = Some(runnable);
    let _ = LOCAL_QUEUES.try_with(|q| {
        if let Ok(q) = q.try_borrow() {
            if let Some((_, queue)) = q.iter().find(|(i, _)| *i == id) {
                if let Some(r) = runnable.take() {
                    queue.push(Ready::Task(r));
                }
            }
        }
    });
    match runnable {
        None => Ok(()),
        Some(r) => Err(r),
    }
}
