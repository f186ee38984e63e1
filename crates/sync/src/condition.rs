//! [`Condition`]: a condition variable over a [`Lock`], possibly shared.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::error::Error;
use crate::lock::{self, Lock, LockGuard};
use crate::waiters::{self, WaiterKey, WaiterList};

/// A condition variable for the tasks of one thread (asyncio's `Condition`).
///
/// A condition owns a reference to a [`Lock`]: a new one
/// ([`new`](Self::new)) or one shared with other conditions
/// ([`with_lock`](Self::with_lock)). Any [`LockGuard`] of that lock is
/// accepted by [`wait`](Self::wait), whichever condition or handle took it.
///
/// `wait` takes the guard by value and gives it back once the task was
/// notified *and* holds the lock again: the lock is released while waiting,
/// and the type system shows that the caller does not hold it meanwhile.
///
/// # Cancellation
///
/// asyncio re-acquires the lock even when `wait()` is cancelled, because
/// Python code keeps running after the `CancelledError` inside its
/// `async with` block. In Rust a cancelled future is dropped, and with it
/// the guard that was moved into it, so there is nobody to hand a
/// re-acquired lock to. What this crate pins instead:
///
/// * a completed [`Wait`] always returns a guard of the re-acquired lock;
/// * a dropped [`Wait`] leaves the lock exactly as if its guard had been
///   released when the wait started: it never stays locked on behalf of the
///   dropped future (a lock already handed to it passes on to the next lock
///   waiter);
/// * a dropped [`Wait`] that had been notified passes the notification on to
///   the next waiter of the condition (as asyncio 3.13 does), so
///   `notify(n)` is never swallowed by cancellation. Waiters must tolerate
///   the resulting spurious wake-up, as condition variables always allow.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use loop_sync::Condition;
/// # futures_lite::future::block_on(async {
/// let cond = Condition::new();
/// let ready = Cell::new(false);
/// let ex = async_executor::LocalExecutor::new();
/// let consumer = ex.spawn(async {
///     let guard = cond.acquire().await;
///     let _guard = cond.wait_for(guard, || ready.get()).await?;
///     Ok::<_, loop_sync::Error>("saw it")
/// });
/// ex.run(async {
///     futures_lite::future::yield_now().await;
///     let _guard = cond.acquire().await;
///     ready.set(true);
///     cond.notify_all()?;
///     drop(_guard);
///     assert_eq!(consumer.await?, "saw it");
///     Ok::<_, loop_sync::Error>(())
/// })
/// .await
/// # }).unwrap();
/// ```
pub struct Condition {
    lock: Rc<Lock>,
    waiters: RefCell<WaiterList>,
}

impl Condition {
    /// A condition with a new lock of its own.
    pub fn new() -> Self {
        Self::with_lock(Rc::new(Lock::new()))
    }

    /// A condition over an existing lock, which other conditions (or other
    /// code) may share: asyncio's `Condition(lock)`.
    pub fn with_lock(lock: Rc<Lock>) -> Self {
        Self { lock, waiters: RefCell::new(WaiterList::new()) }
    }

    /// The lock this condition uses.
    pub fn underlying_lock(&self) -> &Rc<Lock> {
        &self.lock
    }

    /// Acquires the underlying lock; see [`Lock::acquire`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Lock::acquire`].
    pub fn acquire(&self) -> lock::Acquire<'_> {
        self.lock.acquire()
    }

    /// Takes the underlying lock if that is possible without waiting; see
    /// [`Lock::try_acquire`].
    pub fn try_acquire(&self) -> Option<LockGuard<'_>> {
        self.lock.try_acquire()
    }

    /// Releases the underlying lock; see [`Lock::release`].
    ///
    /// # Errors
    ///
    /// [`Error::NotLocked`] if the lock is not locked.
    pub fn release(&self) -> Result<(), Error> {
        self.lock.release()
    }

    /// Whether the underlying lock is locked.
    pub fn locked(&self) -> bool {
        self.lock.locked()
    }

    /// Releases the lock, waits to be notified, re-acquires the lock and
    /// returns its guard.
    ///
    /// The first poll always returns `Pending`: only a notification that
    /// comes after the wait began wakes it.
    ///
    /// # Errors
    ///
    /// [`Error::NotLocked`] (at the first poll) if `guard` is not a current
    /// guard of this condition's lock; the guard is then dropped.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future never leaves the lock held on its behalf and never
    /// loses a notification; the guard moved into it is gone, so the caller
    /// must `acquire` again to hold the lock. See the type's
    /// [Cancellation](Self#cancellation) section.
    pub fn wait<'a>(&'a self, guard: LockGuard<'a>) -> Wait<'a> {
        Wait { cond: self, state: WaitState::Start(guard) }
    }

    /// Waits until `predicate` returns `true`; the predicate is called with
    /// the lock held, first before any waiting.
    ///
    /// # Errors
    ///
    /// [`Error::NotLocked`] if `guard` is not a current guard of this
    /// condition's lock.
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Self::wait).
    pub fn wait_for<'a, F>(&'a self, guard: LockGuard<'a>, predicate: F) -> WaitFor<'a, F>
    where
        F: FnMut() -> bool,
    {
        WaitFor { cond: self, predicate, guard: Some(guard), wait: None }
    }

    /// Wakes up to `n` waiting tasks, in the order they started waiting;
    /// returns how many. Each wakes up only once it holds the lock again,
    /// so the caller should release it.
    ///
    /// # Errors
    ///
    /// [`Error::NotLocked`] if the lock is not locked (asyncio checks the
    /// same thing: that the lock is held, not by whom).
    pub fn notify(&self, n: usize) -> Result<usize, Error> {
        if !self.lock.locked() {
            return Err(Error::NotLocked);
        }
        Ok(self.notify_unchecked(n))
    }

    /// Wakes every waiting task; returns how many.
    ///
    /// # Errors
    ///
    /// [`Error::NotLocked`] if the lock is not locked.
    pub fn notify_all(&self) -> Result<usize, Error> {
        self.notify(usize::MAX)
    }

    fn notify_unchecked(&self, n: usize) -> usize {
        let count = self.waiters.borrow_mut().notify(n);
        waiters::wake_queued(&self.waiters, |w| w);
        count
    }
}

impl Default for Condition {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Condition");
        d.field("lock", &self.lock);
        if let Ok(w) = self.waiters.try_borrow() {
            d.field("waiters", &w.n_waiting());
        }
        d.finish()
    }
}

enum WaitState<'a> {
    /// Not polled yet: still holds the caller's guard.
    Start(LockGuard<'a>),
    /// Lock released, queued on the condition.
    Waiting(WaiterKey),
    /// Notified, re-acquiring the lock.
    Reacquiring(lock::Acquire<'a>),
    Done,
}

/// The future returned by [`Condition::wait`].
///
/// Polling it again after it completed returns `Pending`.
#[must_use = "futures do nothing unless polled"]
pub struct Wait<'a> {
    cond: &'a Condition,
    state: WaitState<'a>,
}

impl<'a> Future for Wait<'a> {
    type Output = Result<LockGuard<'a>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let cond = this.cond;
        loop {
            match std::mem::replace(&mut this.state, WaitState::Done) {
                WaitState::Start(guard) => {
                    if !std::ptr::eq(guard.lock(), &*cond.lock) || !guard.is_current() {
                        return Poll::Ready(Err(Error::NotLocked));
                    }
                    let key = cond.waiters.borrow_mut().register(cx.waker());
                    this.state = WaitState::Waiting(key);
                    // Releases the lock, handing it to the next lock waiter.
                    drop(guard);
                    return Poll::Pending;
                }
                WaitState::Waiting(key) => {
                    let mut waiters = cond.waiters.borrow_mut();
                    if waiters.poll(&key, cx.waker()) {
                        waiters.remove(key);
                        drop(waiters);
                        this.state = WaitState::Reacquiring(cond.lock.acquire());
                    } else {
                        this.state = WaitState::Waiting(key);
                        return Poll::Pending;
                    }
                }
                WaitState::Reacquiring(mut acquire) => {
                    return match Pin::new(&mut acquire).poll(cx) {
                        Poll::Ready(guard) => Poll::Ready(Ok(guard)),
                        Poll::Pending => {
                            this.state = WaitState::Reacquiring(acquire);
                            Poll::Pending
                        }
                    };
                }
                // Polled after completion, like a fused future.
                WaitState::Done => return Poll::Pending,
            }
        }
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let cond = self.cond;
        match std::mem::replace(&mut self.state, WaitState::Done) {
            WaitState::Waiting(key) => {
                let notified = cond.waiters.borrow_mut().remove(key);
                if notified {
                    cond.notify_unchecked(1);
                }
            }
            WaitState::Reacquiring(acquire) => {
                // The notification was consumed but will never be acted on.
                cond.notify_unchecked(1);
                // Passes the lock on if it was already handed to us.
                drop(acquire);
            }
            WaitState::Start(_) | WaitState::Done => {}
        }
    }
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            WaitState::Start(_) => "start",
            WaitState::Waiting(_) => "waiting",
            WaitState::Reacquiring(_) => "reacquiring",
            WaitState::Done => "done",
        };
        f.debug_struct("Wait").field("state", &state).finish()
    }
}

/// The future returned by [`Condition::wait_for`].
///
/// Polling it again after it completed returns `Pending`.
#[must_use = "futures do nothing unless polled"]
pub struct WaitFor<'a, F> {
    cond: &'a Condition,
    predicate: F,
    guard: Option<LockGuard<'a>>,
    wait: Option<Wait<'a>>,
}

// The predicate is never pinned: it is only called through `&mut`.
impl<F> Unpin for WaitFor<'_, F> {}

impl<'a, F: FnMut() -> bool> Future for WaitFor<'a, F> {
    type Output = Result<LockGuard<'a>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            let guard = if let Some(wait) = &mut this.wait {
                match Pin::new(wait).poll(cx) {
                    Poll::Ready(Ok(guard)) => {
                        this.wait = None;
                        guard
                    }
                    Poll::Ready(Err(e)) => {
                        this.wait = None;
                        return Poll::Ready(Err(e));
                    }
                    Poll::Pending => return Poll::Pending,
                }
            } else {
                match this.guard.take() {
                    Some(guard) => {
                        if !std::ptr::eq(guard.lock(), &*this.cond.lock) || !guard.is_current() {
                            return Poll::Ready(Err(Error::NotLocked));
                        }
                        guard
                    }
                    // Polled after completion, like a fused future.
                    None => return Poll::Pending,
                }
            };
            if (this.predicate)() {
                return Poll::Ready(Ok(guard));
            }
            this.wait = Some(this.cond.wait(guard));
        }
    }
}

impl<F> fmt::Debug for WaitFor<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitFor").field("wait", &self.wait).finish_non_exhaustive()
    }
}
