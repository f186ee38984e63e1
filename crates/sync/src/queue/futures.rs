//! The futures of the queues: [`Put`], [`Get`] and [`Join`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{GenericQueue, Store};
use crate::error::{Error, PutError};
use crate::waiters::Step;

/// The future returned by [`GenericQueue::put`].
///
/// Polling it again after it completed returns `Pending`.
#[must_use = "futures do nothing unless polled"]
pub struct Put<'a, S: Store> {
    queue: &'a GenericQueue<S>,
    item: Option<S::Item>,
    step: Step,
}

impl<'a, S: Store> Put<'a, S> {
    pub(super) fn new(queue: &'a GenericQueue<S>, item: S::Item) -> Self {
        Self { queue, item: Some(item), step: Step::Start }
    }
}

// The item is never pinned: it is only moved.
impl<S: Store> Unpin for Put<'_, S> {}

impl<S: Store> Future for Put<'_, S> {
    type Output = Result<(), PutError<S::Item>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let wake = {
            let mut s = this.queue.state().borrow_mut();
            match std::mem::replace(&mut this.step, Step::Done) {
                Step::Start => {
                    if s.is_shutdown() {
                        return Poll::Ready(
                            this.item.take().map_or(Ok(()), |i| Err(PutError::ShutDown(i))),
                        );
                    }
                    if s.full() {
                        this.step = Step::Queued(s.putters().register(cx.waker()));
                        return Poll::Pending;
                    }
                }
                Step::Queued(key) => {
                    if !s.putters().poll(&key, cx.waker()) {
                        this.step = Step::Queued(key);
                        return Poll::Pending;
                    }
                    s.putters().remove(key);
                    if s.is_shutdown() {
                        return Poll::Ready(
                            this.item.take().map_or(Ok(()), |i| Err(PutError::ShutDown(i))),
                        );
                    }
                    // A slot was reserved for us.
                    s.unreserve_slot();
                }
                Step::Done => return Poll::Pending,
            }
            match this.item.take() {
                Some(item) => s.push(item),
                None => return Poll::Ready(Ok(())),
            }
            s.take_must_wake()
        };
        if wake {
            this.queue.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: Store> Drop for Put<'_, S> {
    fn drop(&mut self) {
        if let Step::Queued(key) = std::mem::replace(&mut self.step, Step::Done) {
            let wake = {
                let mut s = self.queue.state().borrow_mut();
                if s.putters().remove(key) {
                    // Chosen but never ran: pass the reserved slot on.
                    s.unreserve_slot();
                    s.choose_putters();
                }
                s.take_must_wake()
            };
            if wake {
                self.queue.wake();
            }
        }
        // The item, if still here, was not put and is dropped with us.
    }
}

impl<S: Store> fmt::Debug for Put<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put").field("step", &self.step).finish_non_exhaustive()
    }
}

/// The future returned by [`GenericQueue::get`].
///
/// Polling it again after it completed returns `Pending`.
#[must_use = "futures do nothing unless polled"]
pub struct Get<'a, S: Store> {
    queue: &'a GenericQueue<S>,
    step: Step,
}

impl<'a, S: Store> Get<'a, S> {
    pub(super) fn new(queue: &'a GenericQueue<S>) -> Self {
        Self { queue, step: Step::Start }
    }
}

impl<S: Store> Future for Get<'_, S> {
    type Output = Result<S::Item, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (item, wake) = {
            let mut s = this.queue.state().borrow_mut();
            match std::mem::replace(&mut this.step, Step::Done) {
                Step::Start => {}
                Step::Queued(key) => {
                    if !s.getters().poll(&key, cx.waker()) {
                        this.step = Step::Queued(key);
                        return Poll::Pending;
                    }
                    s.getters().remove(key);
                    // An item was reserved for us (unless shutdown voided it).
                    s.unreserve_item();
                }
                Step::Done => return Poll::Pending,
            }
            match s.pop() {
                Some(item) => (item, s.take_must_wake()),
                None if s.is_shutdown() => return Poll::Ready(Err(Error::QueueShutDown)),
                None => {
                    this.step = Step::Queued(s.getters().register(cx.waker()));
                    return Poll::Pending;
                }
            }
        };
        if wake {
            this.queue.wake();
        }
        Poll::Ready(Ok(item))
    }
}

impl<S: Store> Drop for Get<'_, S> {
    fn drop(&mut self) {
        if let Step::Queued(key) = std::mem::replace(&mut self.step, Step::Done) {
            let wake = {
                let mut s = self.queue.state().borrow_mut();
                if s.getters().remove(key) {
                    // Chosen but never ran: the item stays in the queue and
                    // its reservation passes to the next getter, if any.
                    s.unreserve_item();
                    s.choose_getters();
                }
                s.take_must_wake()
            };
            if wake {
                self.queue.wake();
            }
        }
    }
}

impl<S: Store> fmt::Debug for Get<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get").field("step", &self.step).finish_non_exhaustive()
    }
}

/// The future returned by [`GenericQueue::join`].
///
/// Polling it again after it completed returns `Pending`.
#[must_use = "futures do nothing unless polled"]
pub struct Join<'a, S: Store> {
    queue: &'a GenericQueue<S>,
    step: Step,
}

impl<'a, S: Store> Join<'a, S> {
    pub(super) fn new(queue: &'a GenericQueue<S>) -> Self {
        Self { queue, step: Step::Start }
    }
}

impl<S: Store> Future for Join<'_, S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut s = this.queue.state().borrow_mut();
        match std::mem::replace(&mut this.step, Step::Done) {
            Step::Start if s.unfinished() == 0 => Poll::Ready(()),
            Step::Start => {
                this.step = Step::Queued(s.joiners().register(cx.waker()));
                Poll::Pending
            }
            Step::Queued(key) => {
                if s.joiners().poll(&key, cx.waker()) {
                    s.joiners().remove(key);
                    Poll::Ready(())
                } else {
                    this.step = Step::Queued(key);
                    Poll::Pending
                }
            }
            Step::Done => Poll::Pending,
        }
    }
}

impl<S: Store> Drop for Join<'_, S> {
    fn drop(&mut self) {
        if let Step::Queued(key) = std::mem::replace(&mut self.step, Step::Done) {
            // Joiners are woken all at once: nothing to pass on.
            self.queue.state().borrow_mut().joiners().remove(key);
        }
    }
}

impl<S: Store> fmt::Debug for Join<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join").field("step", &self.step).finish_non_exhaustive()
    }
}
