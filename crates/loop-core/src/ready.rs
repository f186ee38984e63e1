//! The ready queue: callbacks and task runnables waiting for the next batch.
//!
//! Callbacks and tasks share one FIFO queue, so they interleave exactly as in
//! asyncio. A task is queued by its [`TaskId`] (the loop's
//! [`LoopCommon`](crate::LoopCommon) makes sure at most once at a time).

use std::cell::RefCell;
use std::collections::VecDeque;

use async_task::Runnable;

use crate::handle::Handle;
use crate::task::TaskId;

/// One unit of work on the ready queue.
pub(crate) enum Ready {
    Callback(Handle),
    /// A step of one of the loop's tasks.
    Task(TaskId),
    /// A step of a task spawned from another thread
    /// ([`RemoteLoop::spawn`](crate::RemoteLoop::spawn)).
    Runnable(Runnable),
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
