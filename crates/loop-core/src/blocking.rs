//! The bridge between blocking work on other threads and loop futures: a
//! one-shot channel whose receiver is a future woken by the sender's thread.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result, panic_message};
use crate::executor::Executor;

struct Slot<T> {
    value: Option<Result<T>>,
    waker: Option<Waker>,
    sender_gone: bool,
}

type Shared<T> = Arc<Mutex<Slot<T>>>;

fn lock<T>(s: &Shared<T>) -> std::sync::MutexGuard<'_, Slot<T>> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// The sending half of a one-shot channel.
pub(crate) struct Sender<T> {
    shared: Shared<T>,
}

impl<T> Sender<T> {
    pub(crate) fn send(self, value: T) {
        self.complete(Ok(value));
    }

    fn complete(&self, value: Result<T>) {
        let waker = {
            let mut slot = lock(&self.shared);
            slot.value = Some(value);
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = lock(&self.shared);
            slot.sender_gone = true;
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// A one-shot channel; the receiver is a future.
pub(crate) fn oneshot<T>() -> (Sender<T>, ExecutorFuture<T>) {
    let shared = Arc::new(Mutex::new(Slot { value: None, waker: None, sender_gone: false }));
    (Sender { shared: shared.clone() }, ExecutorFuture { inner: Inner::Waiting(shared) })
}

enum Inner<T> {
    Waiting(Shared<T>),
    Failed(Option<Error>),
}

/// The result of blocking work run on an executor (see
/// [`Loop::run_in_executor`](crate::Loop::run_in_executor)).
///
/// # Cancel safety
///
/// Dropping it does not stop the job (a thread cannot be interrupted); the
/// result is discarded.
pub struct ExecutorFuture<T> {
    inner: Inner<T>,
}

impl<T> ExecutorFuture<T> {
    pub(crate) fn failed(e: Error) -> Self {
        ExecutorFuture { inner: Inner::Failed(Some(e)) }
    }
}

impl<T> Future for ExecutorFuture<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        match &mut this.inner {
            Inner::Failed(e) => Poll::Ready(Err(e.take().unwrap_or(Error::cancelled()))),
            Inner::Waiting(shared) => {
                let mut slot = lock(shared);
                if let Some(v) = slot.value.take() {
                    return Poll::Ready(v);
                }
                if slot.sender_gone {
                    return Poll::Ready(Err(Error::cancelled()));
                }
                match &slot.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => slot.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl<T> fmt::Debug for ExecutorFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExecutorFuture")
    }
}

/// Runs `f` on `executor`; a panic in `f` becomes [`Error::Panicked`].
pub(crate) fn submit<T, F>(executor: &dyn Executor, f: F) -> ExecutorFuture<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = oneshot();
    let job = Box::new(move || {
        let out =
            catch_unwind(AssertUnwindSafe(f)).map_err(|p| Error::Panicked(panic_message(&*p)));
        tx.complete(out);
    });
    match executor.execute(job) {
        Ok(()) => rx,
        Err(e) => ExecutorFuture::failed(e),
    }
}
