//! Waiting for a task to finish without taking its output, and letting go
//! of a task whose failure somebody else already answered for.

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use crate::task::{Task, TaskRef};

struct Flag {
    done: bool,
    waker: Option<Waker>,
}

/// Resolves once `task` is done (its done callbacks have been scheduled).
///
/// This is the mechanism for a type-erased [`TaskRef`], which has only done
/// callbacks; helpers that own typed [`Task`]s use `TaskSet` instead, which
/// is woken synchronously when a task finishes.
pub(crate) async fn wait_done(task: &TaskRef) {
    if task.done() {
        return;
    }
    let flag = Rc::new(RefCell::new(Flag { done: false, waker: None }));
    let f2 = flag.clone();
    task.add_done_callback(move |_| {
        let waker = {
            let mut f = f2.borrow_mut();
            f.done = true;
            f.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    });
    poll_fn(|cx| {
        let mut f = flag.borrow_mut();
        if f.done || task.done() {
            Poll::Ready(())
        } else {
            match &f.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => f.waker = Some(cx.waker().clone()),
            }
            Poll::Pending
        }
    })
    .await;
}

/// Detaches `task` and discards its outcome once it is done, marking a
/// failure as retrieved so the loop does not report "Task exception was
/// never retrieved" for it.
///
/// asyncio does the same when a helper has already answered its caller:
/// `gather` after its first error propagated. The task keeps running;
/// nothing is cancelled.
pub(crate) fn retrieve_when_done<T: 'static>(task: Task<T>) {
    let erased = task.as_task_ref();
    let mut task = task;
    // The callback owns the handle until the task is done, so the task is
    // never "failed with its handle dropped"; `try_take` marks the failure
    // retrieved before the handle goes.
    erased.add_done_callback(move |_| {
        let _ = task.try_take();
    });
}
