//! [`Lock`]: asyncio's mutual-exclusion lock, handed out in FIFO order.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::Error;
use crate::waiters::{Step, WaiterList};

/// A mutual-exclusion lock for the tasks of one thread (asyncio's `Lock`).
///
/// Like asyncio's, the lock is not owned by a task: any code may call
/// [`release`](Self::release). The idiomatic use is the scoped
/// [`LockGuard`] that [`acquire`](Self::acquire) returns and that releases
/// on drop (asyncio's `async with lock:`).
///
/// # Fairness
///
/// The lock is handed out in strict FIFO order. A release with tasks waiting
/// does not unlock: it hands the lock to the first waiter directly, so a
/// newcomer (an `acquire` or [`try_acquire`](Self::try_acquire) made while
/// anyone waits) can never barge past the queue. As a consequence
/// [`locked`](Self::locked) stays `true` from the release until the chosen
/// waiter has run, where asyncio briefly reports `false` (but also refuses
/// the newcomer).
///
/// # Cancellation
///
/// Dropping an [`Acquire`] future removes it from the queue. If the lock had
/// already been handed to it, the drop releases it again, which hands it to
/// the next waiter: a cancelled waiter never swallows the wake-up.
///
/// # Examples
///
/// ```
/// use loop_sync::Lock;
/// # futures_lite::future::block_on(async {
/// let lock = Lock::new();
/// {
///     let _guard = lock.acquire().await;
///     assert!(lock.locked());
/// } // released here
/// assert!(!lock.locked());
/// # });
/// ```
pub struct Lock {
    locked: Cell<bool>,
    /// Bumped by every release, so a guard can tell whether the holding it
    /// stands for is still the current one (see [`LockGuard`]).
    epoch: Cell<u64>,
    waiters: RefCell<WaiterList>,
}

impl Lock {
    /// A new, unlocked lock. Allocates nothing.
    pub const fn new() -> Self {
        Self {
            locked: Cell::new(false),
            epoch: Cell::new(0),
            waiters: RefCell::new(WaiterList::new()),
        }
    }

    /// Waits for the lock and returns a guard that releases it on drop.
    ///
    /// Uncontended, the first poll takes the lock without allocating.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future before it completes gives up its
    /// place in the queue; if the lock had already been handed to it, the
    /// lock passes on to the next waiter (or becomes unlocked).
    #[inline]
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire { lock: self, step: Step::Start }
    }

    /// Takes the lock if that is possible without waiting.
    ///
    /// Returns `None` when the lock is held, which includes the moment
    /// between a release and the chosen waiter running: `try_acquire` never
    /// barges past queued waiters.
    #[inline]
    pub fn try_acquire(&self) -> Option<LockGuard<'_>> {
        if self.locked.get() {
            None
        } else {
            self.locked.set(true);
            Some(LockGuard::new(self))
        }
    }

    /// Releases the lock, whoever holds it (asyncio's `release()`).
    ///
    /// If tasks wait, the first one gets the lock. Use this with a guard
    /// given up by [`LockGuard::forget`]; a live guard whose holding was
    /// released this way does nothing when it is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::NotLocked`] if the lock is not locked.
    #[inline]
    pub fn release(&self) -> Result<(), Error> {
        if self.locked.get() {
            self.unlock();
            Ok(())
        } else {
            Err(Error::NotLocked)
        }
    }

    /// Whether the lock is held (or handed to a waiter that has not run yet).
    #[inline]
    pub fn locked(&self) -> bool {
        self.locked.get()
    }

    /// Ends the current holding: hands the lock to the first waiter, or
    /// unlocks. The caller has checked that the lock is locked.
    #[inline]
    fn unlock(&self) {
        self.epoch.set(self.epoch.get().wrapping_add(1));
        if self.waiters.borrow().has_waiting() {
            self.hand_over();
        } else {
            self.locked.set(false);
        }
    }

    /// The contended half of `unlock`: the first waiter gets the lock.
    fn hand_over(&self) {
        let next = self.waiters.borrow_mut().notify_one();
        match next {
            // Handed over: stays locked.
            Some(waker) => waker.wake(),
            None => self.locked.set(false),
        }
    }
}

impl Default for Lock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Lock");
        d.field("locked", &self.locked.get());
        if let Ok(w) = self.waiters.try_borrow() {
            d.field("waiters", &w.n_waiting());
        }
        d.finish()
    }
}

/// Holds a [`Lock`] and releases it when dropped (asyncio's `async with`).
///
/// The guard remembers which holding it stands for: if the lock was
/// released by [`Lock::release`] meanwhile (and perhaps taken by someone
/// else), dropping the guard does nothing rather than releasing a holding
/// that is not its own.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
    epoch: u64,
}

impl<'a> LockGuard<'a> {
    #[inline]
    fn new(lock: &'a Lock) -> Self {
        Self { lock, epoch: lock.epoch.get() }
    }

    /// The lock this guard holds.
    pub fn lock(&self) -> &'a Lock {
        self.lock
    }

    /// Gives up the guard but keeps the lock locked, to be released later
    /// with [`Lock::release`] (asyncio's plain `acquire()` / `release()`).
    pub fn forget(self) {
        std::mem::forget(self);
    }

    /// Whether this guard's holding is the lock's current one.
    #[inline]
    pub(crate) fn is_current(&self) -> bool {
        self.lock.locked.get() && self.lock.epoch.get() == self.epoch
    }
}

impl Drop for LockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.is_current() {
            self.lock.unlock();
        }
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").field("current", &self.is_current()).finish()
    }
}

/// The future returned by [`Lock::acquire`].
///
/// Polling it again after it completed returns `Pending`.
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    lock: &'a Lock,
    step: Step,
}

impl<'a> Future for Acquire<'a> {
    type Output = LockGuard<'a>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard<'a>> {
        let this = self.get_mut();
        let lock = this.lock;
        match std::mem::replace(&mut this.step, Step::Done) {
            Step::Start => {
                if !lock.locked.get() {
                    lock.locked.set(true);
                    return Poll::Ready(LockGuard::new(lock));
                }
                this.step = Step::Queued(lock.waiters.borrow_mut().register(cx.waker()));
                Poll::Pending
            }
            Step::Queued(key) => {
                let mut waiters = lock.waiters.borrow_mut();
                if waiters.poll(&key, cx.waker()) {
                    // The lock was handed to us by `unlock`; it is locked.
                    waiters.remove(key);
                    Poll::Ready(LockGuard::new(lock))
                } else {
                    this.step = Step::Queued(key);
                    Poll::Pending
                }
            }
            Step::Done => Poll::Pending,
        }
    }
}

impl Drop for Acquire<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Step::Queued(key) = std::mem::replace(&mut self.step, Step::Done) {
            let handed_over = self.lock.waiters.borrow_mut().remove(key);
            if handed_over {
                // We own the lock but will never use it: pass it on.
                self.lock.unlock();
            }
        }
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire").field("step", &self.step).finish_non_exhaustive()
    }
}
