//! [`Event`]: a flag that tasks can wait for.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::waiters::{self, Step, WaiterList};

/// A flag that tasks can wait for (asyncio's `Event`).
///
/// [`set`](Self::set) wakes every task waiting at that moment: each of their
/// [`wait`](Self::wait) futures completes, even if the flag is cleared again
/// before the task runs (as in asyncio). A `wait` that starts while the flag
/// is set completes at once.
///
/// # Examples
///
/// ```
/// use loop_sync::Event;
/// # futures_lite::future::block_on(async {
/// let event = Event::new();
/// let ex = async_executor::LocalExecutor::new();
/// let waiter = ex.spawn(async { event.wait().await; "woken" });
/// ex.run(async {
///     futures_lite::future::yield_now().await; // let the waiter block
///     event.set();
///     assert_eq!(waiter.await, "woken");
/// })
/// .await;
/// # });
/// ```
pub struct Event {
    flag: Cell<bool>,
    waiters: RefCell<WaiterList>,
}

impl Event {
    /// A new event, not set. Allocates nothing.
    pub const fn new() -> Self {
        Self { flag: Cell::new(false), waiters: RefCell::new(WaiterList::new()) }
    }

    /// Sets the flag and wakes every waiting task.
    pub fn set(&self) {
        if self.flag.replace(true) {
            return;
        }
        self.waiters.borrow_mut().notify_all();
        waiters::wake_queued(&self.waiters, |w| w);
    }

    /// Clears the flag: later [`wait`](Self::wait)s block until the next
    /// [`set`](Self::set).
    pub fn clear(&self) {
        self.flag.set(false);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.flag.get()
    }

    /// Waits until the flag is set (returns at once if it is).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future only removes it from the waiters.
    pub fn wait(&self) -> Wait<'_> {
        Wait { event: self, step: Step::Start }
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Event");
        d.field("set", &self.flag.get());
        if let Ok(w) = self.waiters.try_borrow() {
            d.field("waiters", &w.n_waiting());
        }
        d.finish()
    }
}

/// The future returned by [`Event::wait`].
///
/// Polling it again after it completed returns `Pending`.
#[must_use = "futures do nothing unless polled"]
pub struct Wait<'a> {
    event: &'a Event,
    step: Step,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let event = this.event;
        let mut waiters = event.waiters.borrow_mut();
        match std::mem::replace(&mut this.step, Step::Done) {
            Step::Start if event.flag.get() => Poll::Ready(()),
            Step::Start => {
                this.step = Step::Queued(waiters.register(cx.waker()));
                Poll::Pending
            }
            Step::Queued(key) => {
                if waiters.poll(&key, cx.waker()) {
                    waiters.remove(key);
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

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Step::Queued(key) = std::mem::replace(&mut self.step, Step::Done) {
            // `set` wakes everybody: there is nothing to pass on.
            self.event.waiters.borrow_mut().remove(key);
        }
    }
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait").field("step", &self.step).finish_non_exhaustive()
    }
}
