//! [`Semaphore`] and [`BoundedSemaphore`]: counters of permits, handed out in FIFO order.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::Error;
use crate::waiters::{Step, WaiterList};

/// A counting semaphore for the tasks of one thread (asyncio's `Semaphore`).
///
/// [`acquire`](Self::acquire) takes a permit (waiting while there is none)
/// and returns a [`SemaphoreGuard`] that gives it back on drop;
/// [`release`](Self::release) adds a permit.
///
/// # Fairness
///
/// asyncio 3.13's algorithm. Permits go to waiters in FIFO order. A release
/// while tasks wait hands the permit to the first waiter directly (and
/// wakes it) instead of raising the counter. A waiter woken this way keeps
/// its priority until it has run: while any task is queued or woken and not
/// yet run, [`locked`](Self::locked) is true and a newcomer (including
/// [`try_acquire`](Self::try_acquire), and a task that just gave its permit
/// back) queues behind it, even if [`value`](Self::value) is above zero.
/// When the woken waiter runs it takes its permit and wakes as many queued
/// tasks as there are free permits.
///
/// # Cancellation
///
/// Dropping an [`Acquire`] future removes it from the queue; if a permit was
/// already handed to it, the permit is given back and passes on to the next
/// waiter. No starvation, no lost wake-up.
///
/// # Examples
///
/// ```
/// use loop_sync::Semaphore;
/// # futures_lite::future::block_on(async {
/// let sem = Semaphore::new(2)?;
/// let a = sem.acquire().await;
/// let _b = sem.acquire().await;
/// assert!(sem.locked());
/// drop(a);
/// assert_eq!(sem.value(), 1);
/// # Ok::<(), loop_sync::Error>(())
/// # }).unwrap();
/// ```
pub struct Semaphore {
    value: Cell<usize>,
    /// `Some(initial value)` for a [`BoundedSemaphore`].
    bound: Option<usize>,
    waiters: RefCell<WaiterList>,
}

impl Semaphore {
    /// A semaphore with `value` permits (asyncio's default is 1; so is
    /// [`Default`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `value` is negative.
    pub fn new(value: isize) -> Result<Self, Error> {
        let value = usize::try_from(value)
            .map_err(|_| Error::InvalidArgument("semaphore initial value must be >= 0"))?;
        Ok(Self::with_bound(value, None))
    }

    fn with_bound(value: usize, bound: Option<usize>) -> Self {
        Self { value: Cell::new(value), bound, waiters: RefCell::new(WaiterList::new()) }
    }

    /// Waits for a permit and returns a guard that gives it back on drop.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future before it completes gives up its
    /// place in the queue; a permit already handed to it passes on to the
    /// next waiter (or back to the counter).
    #[inline]
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire { sem: self, step: Step::Start }
    }

    /// Takes a permit if one is free and no task is queued for one or woken
    /// and not yet run (asyncio: `not sem.locked()`).
    #[inline]
    pub fn try_acquire(&self) -> Option<SemaphoreGuard<'_>> {
        if self.locked() {
            return None;
        }
        self.value.set(self.value.get() - 1);
        Some(SemaphoreGuard { sem: self })
    }

    /// Adds a permit, handing it to the first waiter if there is one.
    ///
    /// The counter saturates at `usize::MAX`.
    #[inline]
    pub fn release(&self) {
        // Unbounded: `release_checked` cannot fail.
        let _ = self.release_checked();
    }

    /// Whether [`acquire`](Self::acquire) would have to wait: no free
    /// permit, or a task queued or woken and not yet run, which goes first
    /// (asyncio 3.13's `locked()`).
    pub fn locked(&self) -> bool {
        if self.value.get() == 0 {
            return true;
        }
        // A borrow fails only inside this semaphore's own methods, which
        // never call out while borrowed: treat it as locked.
        self.waiters.try_borrow().map_or(true, |w| w.has_waiting() || w.n_chosen() > 0)
    }

    /// The number of free permits: neither held nor handed to a woken
    /// waiter. It may be above zero while [`locked`](Self::locked) is true.
    pub fn value(&self) -> usize {
        self.value.get()
    }

    /// asyncio's `while self._value > 0: self._wake_up_next()`: hands free
    /// permits to queued tasks, in FIFO order, and wakes them. Run by a
    /// woken waiter when it takes its permit, and by a dropped one.
    fn wake_while_free(&self) {
        loop {
            let next = {
                let mut waiters = self.waiters.borrow_mut();
                if self.value.get() == 0 {
                    return;
                }
                let Some(w) = waiters.notify_one() else { return };
                self.value.set(self.value.get() - 1);
                w
            };
            next.wake();
        }
    }

    #[inline]
    fn release_checked(&self) -> Result<(), Error> {
        if self.bound.is_none() && !self.waiters.borrow().has_waiting() {
            self.value.set(self.value.get().saturating_add(1));
            return Ok(());
        }
        self.release_slow()
    }

    /// `release_checked` with a bound to check or waiters to serve.
    fn release_slow(&self) -> Result<(), Error> {
        let next = {
            let mut waiters = self.waiters.borrow_mut();
            if let Some(bound) = self.bound {
                // Permits handed to chosen waiters that have not run yet
                // are out of the counter but not held yet either.
                if self.value.get().saturating_add(waiters.n_chosen()) >= bound {
                    return Err(Error::ReleasedTooOften);
                }
            }
            waiters.notify_one()
        };
        match next {
            Some(waker) => waker.wake(),
            None => self.value.set(self.value.get().saturating_add(1)),
        }
        Ok(())
    }
}

impl Default for Semaphore {
    /// A semaphore with one permit, like asyncio's `Semaphore()`.
    fn default() -> Self {
        Self::with_bound(1, None)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Semaphore");
        d.field("value", &self.value.get());
        if let Some(bound) = self.bound {
            d.field("bound", &bound);
        }
        if let Ok(w) = self.waiters.try_borrow() {
            d.field("waiters", &w.n_waiting());
        }
        d.finish()
    }
}

/// A semaphore whose [`release`](Self::release) refuses to go above the
/// initial value (asyncio's `BoundedSemaphore`).
///
/// Fairness and cancellation are those of [`Semaphore`].
///
/// # Examples
///
/// ```
/// use loop_sync::{BoundedSemaphore, Error};
/// let sem = BoundedSemaphore::new(1)?;
/// let guard = sem.try_acquire().unwrap();
/// guard.forget(); // keep the permit, release by hand
/// sem.release()?;
/// assert_eq!(sem.release(), Err(Error::ReleasedTooOften));
/// # Ok::<(), Error>(())
/// ```
pub struct BoundedSemaphore {
    sem: Semaphore,
}

impl BoundedSemaphore {
    /// A bounded semaphore with `value` permits, which is also its bound.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `value` is negative.
    pub fn new(value: isize) -> Result<Self, Error> {
        let value = usize::try_from(value)
            .map_err(|_| Error::InvalidArgument("semaphore initial value must be >= 0"))?;
        Ok(Self { sem: Semaphore::with_bound(value, Some(value)) })
    }

    /// Waits for a permit; see [`Semaphore::acquire`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Semaphore::acquire`].
    pub fn acquire(&self) -> Acquire<'_> {
        self.sem.acquire()
    }

    /// Takes a permit if one is free and nobody is queued for it.
    pub fn try_acquire(&self) -> Option<SemaphoreGuard<'_>> {
        self.sem.try_acquire()
    }

    /// Gives a permit back, handing it to the first waiter if there is one.
    ///
    /// # Errors
    ///
    /// [`Error::ReleasedTooOften`] if every permit is already free (counting
    /// those handed to waiters that have not run yet).
    pub fn release(&self) -> Result<(), Error> {
        self.sem.release_checked()
    }

    /// Whether [`acquire`](Self::acquire) would have to wait.
    pub fn locked(&self) -> bool {
        self.sem.locked()
    }

    /// The number of free permits.
    pub fn value(&self) -> usize {
        self.sem.value()
    }

    /// The initial value, which `release` never exceeds.
    pub fn bound(&self) -> usize {
        self.sem.bound.unwrap_or_default()
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BoundedSemaphore").field(&self.sem).finish()
    }
}

/// A permit of a [`Semaphore`] or [`BoundedSemaphore`], given back on drop.
#[must_use = "the permit is given back as soon as the guard is dropped"]
pub struct SemaphoreGuard<'a> {
    sem: &'a Semaphore,
}

impl SemaphoreGuard<'_> {
    /// Gives up the guard but keeps the permit taken, to be given back
    /// later with `release()` (asyncio's plain `acquire()` / `release()`),
    /// or never.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphoreGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // A bounded semaphore refuses only if it was also released by hand
        // for this permit; the guard then has nothing left to give back.
        let _ = self.sem.release_checked();
    }
}

impl fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreGuard").finish_non_exhaustive()
    }
}

/// The future returned by [`Semaphore::acquire`] and
/// [`BoundedSemaphore::acquire`].
///
/// Polling it again after it completed returns `Pending`.
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    step: Step,
}

impl<'a> Future for Acquire<'a> {
    type Output = SemaphoreGuard<'a>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphoreGuard<'a>> {
        let this = self.get_mut();
        let sem = this.sem;
        match std::mem::replace(&mut this.step, Step::Done) {
            Step::Start => {
                if let Some(guard) = sem.try_acquire() {
                    return Poll::Ready(guard);
                }
                this.step = Step::Queued(sem.waiters.borrow_mut().register(cx.waker()));
                Poll::Pending
            }
            Step::Queued(key) => {
                let mut waiters = sem.waiters.borrow_mut();
                if waiters.poll(&key, cx.waker()) {
                    // A permit was handed to us by `release_checked`.
                    waiters.remove(key);
                    drop(waiters);
                    // Tasks that queued behind us while we were woken but
                    // had not run get the permits freed meanwhile.
                    sem.wake_while_free();
                    Poll::Ready(SemaphoreGuard { sem })
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
            let handed_over = self.sem.waiters.borrow_mut().remove(key);
            if handed_over {
                // We own a permit we will never use: give it back.
                self.sem.value.set(self.sem.value.get().saturating_add(1));
            }
            // As asyncio's `finally`: pass free permits on to the tasks
            // queued behind.
            self.sem.wake_while_free();
        }
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire").field("step", &self.step).finish_non_exhaustive()
    }
}
