//! The ready queue: callbacks and task runnables waiting for the next batch.
//!
//! Callbacks and tasks share one FIFO queue, so they interleave exactly as in
//! asyncio. A task is queued by its [`TaskId`] (the loop's
//! [`LoopCommon`](crate::LoopCommon) makes sure at most once at a time).
//!
//! The order is kept in one queue of 8-byte ids, the queue most of a busy
//! loop's entries go through: a task's own id, or a marker
//! ([`TaskId::reserved`]) standing for the next item of one of the side
//! queues, which hold the callbacks, runnables and remote closures in their
//! own FIFO order.

use std::cell::RefCell;
use std::collections::VecDeque;

use async_task::Runnable;

use crate::handle::Handle;
use crate::task::TaskId;

/// A `call_soon_threadsafe` callback.
pub(crate) type RemoteCall = Box<dyn FnOnce() + Send + 'static>;

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
    Remote(RemoteCall),
}

/// Markers in [`Queues::order`]: the next item of a side queue.
const CALLBACK: TaskId = TaskId::reserved(0);
const RUNNABLE: TaskId = TaskId::reserved(1);
const REMOTE: TaskId = TaskId::reserved(2);

#[derive(Default)]
struct Queues {
    /// Task ids and markers, in the order their work was queued.
    order: VecDeque<TaskId>,
    callbacks: VecDeque<Handle>,
    runnables: VecDeque<Runnable>,
    remote: VecDeque<RemoteCall>,
}

/// The loop-thread-only FIFO of ready work.
#[derive(Default)]
pub(crate) struct ReadyQueue {
    queues: RefCell<Queues>,
}

impl ReadyQueue {
    pub(crate) fn push(&self, item: Ready) {
        let mut q = self.queues.borrow_mut();
        let id = match item {
            Ready::Task(id) => id,
            Ready::Callback(h) => {
                q.callbacks.push_back(h);
                CALLBACK
            }
            Ready::Runnable(r) => {
                q.runnables.push_back(r);
                RUNNABLE
            }
            Ready::Remote(f) => {
                q.remote.push_back(f);
                REMOTE
            }
        };
        q.order.push_back(id);
    }

    pub(crate) fn pop(&self) -> Option<Ready> {
        let mut q = self.queues.borrow_mut();
        let id = q.order.pop_front()?;
        // A marker and its item are always queued and taken together.
        Some(match id {
            CALLBACK => Ready::Callback(q.callbacks.pop_front()?),
            RUNNABLE => Ready::Runnable(q.runnables.pop_front()?),
            REMOTE => Ready::Remote(q.remote.pop_front()?),
            id => Ready::Task(id),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.queues.borrow().order.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queues.borrow().order.is_empty()
    }

    /// Drops everything queued (loop close), outside the borrow so that
    /// destructors may schedule more work. Callbacks are cancelled, not just
    /// dropped: a `Handle` the user kept would otherwise keep the closure
    /// (and everything it captured) alive after close.
    pub(crate) fn clear(&self) {
        let q = std::mem::take(&mut *self.queues.borrow_mut());
        for h in &q.callbacks {
            h.cancel();
        }
        drop(q);
    }
}
