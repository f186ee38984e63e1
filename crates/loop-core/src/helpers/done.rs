//! Waiting for a type-erased task to finish.

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use crate::task::TaskRef;

struct Flag {
    done: bool,
    waker: Option<Waker>,
}

/// Resolves once `task` is done (its done callbacks have been scheduled).
pub(crate) async fn wait_done(task: &TaskRef) {
    if task.done() {
        return;
    }
    let flag = Rc::new(RefCell::new(Flag { done: false, waker: None }));
    let f2 = flag.clone();
    task.add_done_callback(move |_| {
        let mut f = f2.borrow_mut();
        f.done = true;
        if let Some(w) = f.waker.take() {
            w.wake();
        }
    });
    poll_fn(|cx| {
        let mut f = flag.borrow_mut();
        if f.done || task.done() {
            Poll::Ready(())
        } else {
            f.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    })
    .await;
}
