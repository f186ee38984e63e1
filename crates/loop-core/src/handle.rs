//! `Handle` and `TimerHandle`: scheduled callbacks that can be cancelled.
//!
//! A handle is one reference-counted allocation that holds both the
//! callback's closure and its state, so `call_soon` costs exactly one
//! allocation. The loop's ready queue and the user hold clones of the same
//! `Rc`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::Instant;

/// State shared by every kind of callback cell.
struct Header {
    cancelled: Cell<bool>,
    /// Set while a timer handle sits in a loop's timer heap.
    in_heap: Cell<bool>,
    site: &'static Location<'static>,
}

/// The type-erased face of a callback cell.
trait Callback {
    fn header(&self) -> &Header;
    /// Runs the callback; a one-shot callback runs at most once.
    fn call(&self);
    /// Drops the closure (and everything it captured) early.
    fn release(&self);
}

/// A callback that runs at most once.
struct Once<F> {
    header: Header,
    f: Cell<Option<F>>,
}

impl<F: FnOnce()> Callback for Once<F> {
    fn header(&self) -> &Header {
        &self.header
    }
    fn call(&self) {
        if let Some(f) = self.f.take() {
            f();
        }
    }
    fn release(&self) {
        drop(self.f.take());
    }
}

/// A timer's one-shot callback. Its cancellation, while it sits in its
/// loop's timer heap, is counted there (the count drives purging), however
/// it is cancelled: through [`TimerHandle::cancel`] or through the
/// [`Handle`] that [`TimerHandle::handle`] lends.
struct Timed<F> {
    header: Header,
    f: Cell<Option<F>>,
    /// The owning heap's count of cancelled entries it still holds.
    cancelled_in_heap: Rc<Cell<usize>>,
}

impl<F: FnOnce()> Callback for Timed<F> {
    fn header(&self) -> &Header {
        &self.header
    }
    fn call(&self) {
        if let Some(f) = self.f.take() {
            f();
        }
    }
    fn release(&self) {
        // Called once, when the handle is cancelled.
        if self.header.in_heap.get() {
            self.cancelled_in_heap.set(self.cancelled_in_heap.get() + 1);
        }
        drop(self.f.take());
    }
}

/// A callback that may run many times (fd watchers).
struct Repeating<F> {
    header: Header,
    f: RefCell<Option<F>>,
}

impl<F: FnMut()> Callback for Repeating<F> {
    fn header(&self) -> &Header {
        &self.header
    }
    fn call(&self) {
        // A repeating callback never runs nested inside itself (the loop runs
        // callbacks one after another), so the borrow cannot fail; if it were
        // ever re-entered, skipping the nested run is the safe answer.
        if let Ok(mut slot) = self.f.try_borrow_mut() {
            if let Some(f) = slot.as_mut() {
                f();
            }
        }
    }
    fn release(&self) {
        if let Ok(mut slot) = self.f.try_borrow_mut() {
            drop(slot.take());
        }
    }
}

/// A callback scheduled on an event loop (asyncio's `asyncio.Handle`).
///
/// Returned by `call_soon`; cancelling it before it runs prevents the run.
/// Cancelling after the run, or twice, does nothing. Clones share the same
/// callback.
#[derive(Clone)]
pub struct Handle {
    cell: Rc<dyn Callback>,
}

impl Handle {
    /// Wraps a one-shot callback. The caller's location is recorded for
    /// debug reports.
    #[track_caller]
    pub(crate) fn new(f: impl FnOnce() + 'static) -> Self {
        Handle {
            cell: Rc::new(Once { header: Header::new(Location::caller()), f: Cell::new(Some(f)) }),
        }
    }

    /// Wraps a timer's one-shot callback, whose cancellation while it is in
    /// its loop's heap is counted in `cancelled_in_heap` (see [`Timed`]).
    #[track_caller]
    pub(crate) fn timer(f: impl FnOnce() + 'static, cancelled_in_heap: Rc<Cell<usize>>) -> Self {
        Handle {
            cell: Rc::new(Timed {
                header: Header::new(Location::caller()),
                f: Cell::new(Some(f)),
                cancelled_in_heap,
            }),
        }
    }

    /// Wraps a callback that runs every time the handle is run, until
    /// cancelled: the form fd watchers take, and one a caller can schedule
    /// again and again without an allocation per call
    /// ([`Loop::call_before_poll_handle`](crate::Loop::call_before_poll_handle)).
    #[track_caller]
    pub fn repeating(f: impl FnMut() + 'static) -> Self {
        Handle {
            cell: Rc::new(Repeating {
                header: Header::new(Location::caller()),
                f: RefCell::new(Some(f)),
            }),
        }
    }

    /// Cancels the callback: it will not run. The closure is dropped now.
    /// Cancelling a handle that already ran, or cancelling twice, is a no-op.
    pub fn cancel(&self) {
        let header = self.cell.header();
        if !header.cancelled.replace(true) {
            self.cell.release();
        }
    }

    /// Whether [`cancel`](Handle::cancel) was called.
    pub fn cancelled(&self) -> bool {
        self.cell.header().cancelled.get()
    }

    /// Runs the callback unless it was cancelled. A one-shot handle runs at
    /// most once.
    ///
    /// # Panics
    ///
    /// Propagates a panic of the callback; the loop catches it and reports
    /// it to its exception handler.
    pub(crate) fn run(&self) {
        if !self.cancelled() {
            self.cell.call();
        }
    }

    /// Where the handle was created (the caller of `call_soon` and friends).
    pub fn site(&self) -> &'static Location<'static> {
        self.cell.header().site
    }

    /// Whether two handles share the same callback.
    pub fn ptr_eq(&self, other: &Handle) -> bool {
        Rc::ptr_eq(&self.cell, &other.cell)
    }
}

impl Header {
    fn new(site: &'static Location<'static>) -> Self {
        Header { cancelled: Cell::new(false), in_heap: Cell::new(false), site }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let site = self.site();
        f.debug_struct("Handle")
            .field("cancelled", &self.cancelled())
            .field("created_at", &format_args!("{}:{}", site.file(), site.line()))
            .finish()
    }
}

/// A callback scheduled for a point in time (asyncio's `TimerHandle`).
///
/// Returned by `call_later` and `call_at`. Cancelling it before it fires
/// prevents the run and lets the loop reclaim its slot in the timer heap.
#[derive(Clone)]
pub struct TimerHandle {
    handle: Handle,
    when: Instant,
}

impl TimerHandle {
    /// The timer handle of `handle` (made with [`Handle::timer`], so that
    /// its cancellation is counted by its heap), due at `when`.
    pub(crate) fn new(handle: Handle, when: Instant) -> Self {
        TimerHandle { handle, when }
    }

    /// When the callback is due, on the loop's clock.
    pub fn when(&self) -> Instant {
        self.when
    }

    /// Cancels the timer: the callback will not run. A no-op after the run
    /// or when already cancelled. The same as cancelling
    /// [`handle`](TimerHandle::handle).
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    /// Whether [`cancel`](TimerHandle::cancel) was called.
    pub fn cancelled(&self) -> bool {
        self.handle.cancelled()
    }

    /// The underlying callback handle (what the loop runs when due).
    /// Cancelling it cancels the timer, exactly as
    /// [`cancel`](TimerHandle::cancel) does.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    pub(crate) fn set_in_heap(&self, in_heap: bool) {
        self.handle.cell.header().in_heap.set(in_heap);
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle")
            .field("when", &self.when)
            .field("cancelled", &self.cancelled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_runs_once() {
        let n = Rc::new(Cell::new(0));
        let n2 = n.clone();
        let h = Handle::new(move || n2.set(n2.get() + 1));
        h.run();
        h.run();
        assert_eq!(n.get(), 1);
    }

    #[test]
    fn cancel_prevents_run_and_drops_closure() {
        let token = Rc::new(());
        let t2 = token.clone();
        let h = Handle::new(move || drop(t2));
        assert_eq!(Rc::strong_count(&token), 2);
        h.cancel();
        h.cancel();
        assert!(h.cancelled());
        assert_eq!(Rc::strong_count(&token), 1, "closure released on cancel");
        h.run();
    }

    #[test]
    fn repeating_runs_each_time_until_cancelled() {
        let n = Rc::new(Cell::new(0));
        let n2 = n.clone();
        let h = Handle::repeating(move || n2.set(n2.get() + 1));
        h.run();
        h.run();
        h.cancel();
        h.run();
        assert_eq!(n.get(), 2);
    }

    #[test]
    fn timer_cancel_counts_only_while_in_heap() {
        let counter = Rc::new(Cell::new(0));
        let t = TimerHandle::new(Handle::timer(|| {}, counter.clone()), Instant::now());
        t.set_in_heap(true);
        t.cancel();
        t.cancel();
        t.handle().cancel();
        assert_eq!(counter.get(), 1);
        let t2 = TimerHandle::new(Handle::timer(|| {}, counter.clone()), Instant::now());
        t2.cancel();
        assert_eq!(counter.get(), 1, "not in heap: not counted");
        let t3 = TimerHandle::new(Handle::timer(|| {}, counter.clone()), Instant::now());
        t3.set_in_heap(true);
        t3.handle().cancel();
        assert_eq!(counter.get(), 2, "cancelled through its Handle: counted too");
    }
}
