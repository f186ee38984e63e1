//! `TaskSet`: owns a batch of tasks and reports, in completion order, which
//! ones finished — without taking their outputs.
//!
//! This is the one "wait for a task without consuming it" mechanism behind
//! `gather`, `wait` and `as_completed`. Each task gets its own waker (an
//! `Arc` holding the task's index); registering it is a poll of the
//! `Task<T>` while the task is not done, which cannot yield the output. When
//! a task finishes it wakes its waker synchronously, the index is queued and
//! the owner's waker is woken, so the owner re-examines only the tasks that
//! finished: O(1) work per completion instead of a scan of the whole set.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use crate::task::Task;

/// Indices of tasks that woke, and the waker of whoever polls the set.
#[derive(Default)]
struct WakeQueue {
    inner: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    woken: VecDeque<usize>,
    owner: Option<Waker>,
}

impl WakeQueue {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The critical sections cannot panic; a poisoned lock holds valid
        // data anyway.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The waker a task in the set is registered with.
struct ChildWaker {
    index: usize,
    queue: Arc<WakeQueue>,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let owner = {
            let mut q = self.queue.lock();
            q.woken.push_back(self.index);
            q.owner.take()
        };
        if let Some(w) = owner {
            w.wake();
        }
    }
}

struct Slot<T: 'static> {
    task: Option<Task<T>>,
    waker: Option<Waker>,
    reported: bool,
}

/// A batch of owned tasks, reported done one by one.
pub(crate) struct TaskSet<T: 'static> {
    slots: Vec<Slot<T>>,
    queue: Arc<WakeQueue>,
    /// Tasks not reported done yet.
    unreported: usize,
    /// Every slot before this index is empty.
    first_held: usize,
}

impl<T: 'static> TaskSet<T> {
    /// Takes ownership of `tasks`; their indices are their input positions.
    pub(crate) fn new(tasks: impl IntoIterator<Item = Task<T>>) -> Self {
        let slots: Vec<Slot<T>> = tasks
            .into_iter()
            .map(|t| Slot { task: Some(t), waker: None, reported: false })
            .collect();
        // Every task is examined at the first poll: done ones are reported
        // (in input order), the others get their waker registered.
        let queue = WakeQueue::default();
        queue.lock().woken.extend(0..slots.len());
        TaskSet { unreported: slots.len(), slots, queue: Arc::new(queue), first_held: 0 }
    }

    /// Number of positions (tasks given to `new`).
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Number of tasks not reported done yet.
    pub(crate) fn unreported(&self) -> usize {
        self.unreported
    }

    /// Reports the next task that finished and was not reported before (its
    /// index), `Ready(None)` once every task was reported or taken, or
    /// `Pending` with `cx`'s waker registered.
    pub(crate) fn poll_done(&mut self, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        loop {
            let next = {
                let mut q = self.queue.lock();
                let next = q.woken.pop_front();
                if next.is_none() {
                    // Registered under the same lock that an empty queue
                    // was observed with, so no wake-up can slip between.
                    match &q.owner {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => q.owner = Some(cx.waker().clone()),
                    }
                }
                next
            };
            let Some(i) = next else { break };
            let queue = &self.queue;
            let slot = &mut self.slots[i];
            if slot.reported {
                continue;
            }
            let Some(task) = slot.task.as_mut() else { continue };
            if task.done() {
                slot.reported = true;
                self.unreported -= 1;
                return Poll::Ready(Some(i));
            }
            let waker = slot.waker.get_or_insert_with(|| {
                Waker::from(Arc::new(ChildWaker { index: i, queue: queue.clone() }))
            });
            // The task is not done, so this poll only stores `waker` as the
            // task's join waker and returns `Pending`: the output stays put.
            let _ = Pin::new(task).poll(&mut Context::from_waker(waker));
        }
        if self.unreported == 0 { Poll::Ready(None) } else { Poll::Pending }
    }

    /// The task at `index`, unless it was taken.
    pub(crate) fn get(&self, index: usize) -> Option<&Task<T>> {
        self.slots.get(index).and_then(|s| s.task.as_ref())
    }

    /// The task at `index`, mutably (to take its output).
    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut Task<T>> {
        self.slots.get_mut(index).and_then(|s| s.task.as_mut())
    }

    /// Removes the task at `index` from the set.
    pub(crate) fn take(&mut self, index: usize) -> Option<Task<T>> {
        let slot = self.slots.get_mut(index)?;
        let task = slot.task.take()?;
        if !slot.reported {
            slot.reported = true;
            self.unreported -= 1;
        }
        Some(task)
    }

    /// Removes the first task (by input position) still in the set.
    pub(crate) fn take_first(&mut self) -> Option<Task<T>> {
        while self.first_held < self.slots.len() {
            let i = self.first_held;
            if self.slots[i].task.is_some() {
                return self.take(i);
            }
            self.first_held += 1;
        }
        None
    }

    /// Removes every task still in the set, in input order.
    pub(crate) fn take_all(&mut self) -> Vec<Task<T>> {
        let mut out = Vec::with_capacity(self.slots.len());
        for i in 0..self.slots.len() {
            out.extend(self.take(i));
        }
        out
    }

    /// Requests cancellation of every task still in the set that is not
    /// done.
    pub(crate) fn cancel_pending(&self) {
        for task in self.slots.iter().filter_map(|s| s.task.as_ref()) {
            task.cancel();
        }
    }
}

impl<T: 'static> Drop for TaskSet<T> {
    fn drop(&mut self) {
        // Tasks that finish later still wake their (orphaned) child waker;
        // make sure that no longer wakes the old owner.
        self.queue.lock().owner = None;
    }
}

impl<T: 'static> fmt::Debug for TaskSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSet")
            .field("len", &self.slots.len())
            .field("unreported", &self.unreported)
            .finish()
    }
}
