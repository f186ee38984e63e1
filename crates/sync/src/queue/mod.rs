//! Queues for producer and consumer tasks: [`Queue`] (FIFO), [`LifoQueue`], [`PriorityQueue`].
//!
//! All three are one type, [`GenericQueue`], over a different [`Store`].
//!
//! # Reservations: fairness and cancellation
//!
//! A `put` that makes an item available while getters wait *reserves* it for
//! the first waiting getter; a `get` that frees a slot while putters wait
//! reserves the slot for the first waiting putter. Reserved items and slots
//! are invisible to everybody else, so:
//!
//! * waiting getters are served in FIFO order, and so are waiting putters of
//!   a bounded queue; a newcomer (`get_nowait`, `put_nowait`, or a fresh
//!   `get`/`put`) never barges past them;
//! * [`qsize`](GenericQueue::qsize) does not count items reserved for a
//!   woken getter, while [`full`](GenericQueue::full) counts them (they take
//!   room until they are taken) and also counts slots reserved for a woken
//!   putter. So `!empty()` means `get_nowait` succeeds and `!full()` means
//!   `put_nowait` succeeds, exactly. (asyncio still counts a reserved item in
//!   `qsize()` until its getter runs.)
//! * a reservation names no particular item: the getter takes the next item
//!   in the queue's order when it runs. If its future is dropped first, the
//!   reservation passes to the next waiting getter or the item becomes
//!   available again: **a cancelled get never loses an item**. Likewise a
//!   dropped putter passes its slot on.
//!
//! # Shutdown (asyncio 3.13)
//!
//! [`shutdown`](GenericQueue::shutdown) makes every `put` fail with
//! [`PutError::ShutDown`] (giving the item back) and wakes every waiter;
//! getters still receive the remaining items, then fail with
//! [`Error::QueueShutDown`]. [`shutdown_immediate`](GenericQueue::shutdown_immediate)
//! also removes the remaining items (returning them, so nothing is dropped
//! unseen) and counts them as done for [`join`](GenericQueue::join).

mod futures;
mod store;

use std::cell::RefCell;
use std::fmt;

pub use self::futures::{Get, Join, Put};
pub use self::store::{Fifo, Lifo, Priority, Store};
use crate::error::{Error, PutError};
use crate::waiters::{self, WaiterList};

/// A first in, first out queue (asyncio's `Queue`).
///
/// # Examples
///
/// ```
/// use loop_sync::Queue;
/// # futures_lite::future::block_on(async {
/// let queue = Queue::new(2); // at most 2 items; 0 means unbounded
/// queue.put("a").await?;
/// queue.put_nowait("b")?;
/// assert!(queue.full());
/// assert_eq!(queue.get().await?, "a");
/// assert_eq!(queue.get_nowait()?, "b");
/// # Ok::<(), loop_sync::Error>(())
/// # }).unwrap();
/// ```
pub type Queue<T> = GenericQueue<Fifo<T>>;

/// A last in, first out queue (asyncio's `LifoQueue`).
///
/// # Examples
///
/// ```
/// use loop_sync::LifoQueue;
/// let queue = LifoQueue::new(0);
/// for x in [1, 2, 3] {
///     queue.put_nowait(x)?;
/// }
/// assert_eq!(queue.get_nowait()?, 3);
/// # Ok::<(), loop_sync::Error>(())
/// ```
pub type LifoQueue<T> = GenericQueue<Lifo<T>>;

/// A queue that hands out its lowest item first (asyncio's `PriorityQueue`);
/// equal items come out in the order they were put.
///
/// Use `(priority, data)` tuples, or `std::cmp::Reverse` for highest first.
/// The items' `Ord` must not use the queue itself.
///
/// # Examples
///
/// ```
/// use loop_sync::PriorityQueue;
/// let queue = PriorityQueue::new(0);
/// for job in [(2, "later"), (1, "soon"), (3, "last")] {
///     queue.put_nowait(job)?;
/// }
/// assert_eq!(queue.get_nowait()?, (1, "soon"));
/// # Ok::<(), loop_sync::Error>(())
/// ```
pub type PriorityQueue<T> = GenericQueue<Priority<T>>;

/// A queue for the tasks of one thread, ordered by its [`Store`]; use it
/// through the aliases [`Queue`], [`LifoQueue`] and [`PriorityQueue`].
///
/// See the [module docs](self) for the fairness, cancellation and shutdown
/// rules.
pub struct GenericQueue<S> {
    state: RefCell<State<S>>,
}

pub(crate) struct State<S> {
    items: S,
    /// 0 means unbounded.
    maxsize: usize,
    /// Items reserved for chosen getters that have not run yet.
    reserved_items: usize,
    /// Slots reserved for chosen putters that have not run yet.
    reserved_slots: usize,
    /// Items put and not yet marked done.
    unfinished: usize,
    shutdown: bool,
    getters: WaiterList,
    putters: WaiterList,
    joiners: WaiterList,
    /// Some waiter was chosen: its waker must be called once the borrow ends.
    must_wake: bool,
}

impl<S: Store> State<S> {
    /// Items available to a newcomer.
    #[inline]
    pub(crate) fn available(&self) -> usize {
        self.items.count() - self.reserved_items
    }

    /// Whether a newcomer's put must wait. Items reserved for getters still
    /// take room until they are taken, so a getter's cancellation never
    /// pushes the queue over its bound.
    #[inline]
    pub(crate) fn full(&self) -> bool {
        self.maxsize != 0 && self.items.count() + self.reserved_slots >= self.maxsize
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown
    }

    /// Adds an item (the caller checked for room) and reserves it for a
    /// waiting getter if there is one.
    #[inline]
    pub(crate) fn push(&mut self, item: S::Item) {
        self.items.push(item);
        self.unfinished += 1;
        self.choose_getters();
    }

    /// Takes the next available item, reserving the freed slot for a
    /// waiting putter if there is one.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<S::Item> {
        if self.available() == 0 {
            return None;
        }
        let item = self.items.pop();
        self.choose_putters();
        item
    }

    /// Hands available items to waiting getters, first come first served.
    pub(crate) fn choose_getters(&mut self) {
        while !self.shutdown && self.getters.has_waiting() && self.available() > 0 {
            self.getters.notify(1);
            self.reserved_items += 1;
            self.must_wake = true;
        }
    }

    /// Hands free slots to waiting putters, first come first served.
    pub(crate) fn choose_putters(&mut self) {
        while !self.shutdown && self.putters.has_waiting() && !self.full() {
            self.putters.notify(1);
            self.reserved_slots += 1;
            self.must_wake = true;
        }
    }

    /// A chosen getter consumes (or gives up) its reservation.
    pub(crate) fn unreserve_item(&mut self) {
        // Shutdown voided every reservation.
        if !self.shutdown {
            self.reserved_items -= 1;
        }
    }

    /// A chosen putter consumes (or gives up) its reservation.
    pub(crate) fn unreserve_slot(&mut self) {
        if !self.shutdown {
            self.reserved_slots -= 1;
        }
    }

    pub(crate) fn getters(&mut self) -> &mut WaiterList {
        &mut self.getters
    }

    pub(crate) fn putters(&mut self) -> &mut WaiterList {
        &mut self.putters
    }

    pub(crate) fn joiners(&mut self) -> &mut WaiterList {
        &mut self.joiners
    }

    pub(crate) fn unfinished(&self) -> usize {
        self.unfinished
    }

    /// Whether wakers were queued; clears the flag.
    #[inline]
    pub(crate) fn take_must_wake(&mut self) -> bool {
        std::mem::replace(&mut self.must_wake, false)
    }
}

impl<S: Store> GenericQueue<S> {
    /// A queue holding at most `maxsize` items; **0 means unbounded**
    /// (asyncio: `maxsize <= 0`; a negative size cannot be expressed here).
    pub fn new(maxsize: usize) -> Self {
        Self {
            state: RefCell::new(State {
                items: S::empty(),
                maxsize,
                reserved_items: 0,
                reserved_slots: 0,
                unfinished: 0,
                shutdown: false,
                getters: WaiterList::new(),
                putters: WaiterList::new(),
                joiners: WaiterList::new(),
                must_wake: false,
            }),
        }
    }

    /// The bound given to [`new`](Self::new); 0 means unbounded.
    pub fn maxsize(&self) -> usize {
        self.state.borrow().maxsize
    }

    /// The number of items in the queue, not counting those already
    /// reserved for a woken getter.
    pub fn qsize(&self) -> usize {
        self.state.borrow().available()
    }

    /// Whether [`get_nowait`](Self::get_nowait) would fail.
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether [`put_nowait`](Self::put_nowait) would fail for lack of room
    /// (never for an unbounded queue). Items reserved for woken getters and
    /// slots reserved for woken putters count as taken.
    pub fn full(&self) -> bool {
        self.state.borrow().full()
    }

    /// Puts an item, waiting for room if the queue is full. Waiting putters
    /// are served in FIFO order.
    ///
    /// # Errors
    ///
    /// [`PutError::ShutDown`], with the item, if the queue is (or gets) shut
    /// down before the item is in.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped before it completes, the item was **not**
    /// put (it is dropped with the future), and a slot already reserved for
    /// it passes to the next waiting putter.
    pub fn put(&self, item: S::Item) -> Put<'_, S> {
        Put::new(self, item)
    }

    /// Puts an item if there is room right now.
    ///
    /// # Errors
    ///
    /// [`PutError::Full`] if the queue is full, [`PutError::ShutDown`] if it
    /// is shut down; both give the item back.
    pub fn put_nowait(&self, item: S::Item) -> Result<(), PutError<S::Item>> {
        let wake = {
            let mut s = self.state.borrow_mut();
            if s.shutdown {
                return Err(PutError::ShutDown(item));
            }
            if s.full() {
                return Err(PutError::Full(item));
            }
            s.push(item);
            s.take_must_wake()
        };
        if wake {
            self.wake();
        }
        Ok(())
    }

    /// Removes and returns the next item, waiting for one if the queue is
    /// empty. Waiting getters are served in FIFO order.
    ///
    /// # Errors
    ///
    /// [`Error::QueueShutDown`] if the queue is shut down and has no item
    /// for this getter.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an item is removed only when the future completes. If
    /// an item was already reserved for it, dropping the future passes the
    /// reservation to the next getter or leaves the item in the queue.
    pub fn get(&self) -> Get<'_, S> {
        Get::new(self)
    }

    /// Removes and returns the next item if one is available right now.
    ///
    /// # Errors
    ///
    /// [`Error::QueueEmpty`] if there is none, or [`Error::QueueShutDown`]
    /// if there is none and the queue is shut down.
    pub fn get_nowait(&self) -> Result<S::Item, Error> {
        let (item, wake) = {
            let mut s = self.state.borrow_mut();
            match s.pop() {
                Some(item) => (item, s.take_must_wake()),
                None if s.shutdown => return Err(Error::QueueShutDown),
                None => return Err(Error::QueueEmpty),
            }
        };
        if wake {
            self.wake();
        }
        Ok(item)
    }

    /// Marks one item as processed, for [`join`](Self::join).
    ///
    /// # Errors
    ///
    /// [`Error::TaskDoneTooOften`] if every item put was already marked.
    pub fn task_done(&self) -> Result<(), Error> {
        {
            let mut s = self.state.borrow_mut();
            if s.unfinished == 0 {
                return Err(Error::TaskDoneTooOften);
            }
            s.unfinished -= 1;
            if s.unfinished != 0 {
                return Ok(());
            }
            s.joiners.notify_all();
        }
        self.wake();
        Ok(())
    }

    /// Waits until every item put has been marked with
    /// [`task_done`](Self::task_done) (returns at once if so).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future only removes it from the waiters.
    pub fn join(&self) -> Join<'_, S> {
        Join::new(self)
    }

    /// Shuts the queue down (asyncio 3.13 `shutdown()`): puts fail from now
    /// on, every waiting putter and getter wakes up, and getters fail once
    /// the remaining items are gone. Calling it again does nothing more.
    pub fn shutdown(&self) {
        self.state.borrow_mut().begin_shutdown();
        self.wake();
    }

    /// Shuts the queue down and removes every remaining item, which counts
    /// as done for [`join`](Self::join) (asyncio 3.13
    /// `shutdown(immediate=True)`). Returns the removed items, in the order
    /// the queue would have handed them out.
    pub fn shutdown_immediate(&self) -> Vec<S::Item> {
        let items = {
            let mut s = self.state.borrow_mut();
            s.begin_shutdown();
            let items = s.items.drain_in_order();
            s.unfinished = s.unfinished.saturating_sub(items.len());
            if s.unfinished == 0 {
                s.joiners.notify_all();
            }
            items
        };
        self.wake();
        items
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutdown(&self) -> bool {
        self.state.borrow().shutdown
    }

    pub(crate) fn state(&self) -> &RefCell<State<S>> {
        &self.state
    }

    /// Calls the wakers of every chosen waiter, outside any borrow.
    pub(crate) fn wake(&self) {
        waiters::wake_queued(&self.state, |s| &mut s.getters);
        waiters::wake_queued(&self.state, |s| &mut s.putters);
        waiters::wake_queued(&self.state, |s| &mut s.joiners);
    }
}

impl<S> State<S> {
    fn begin_shutdown(&mut self) {
        self.shutdown = true;
        // Every waiter is woken and re-checks; reservations are void.
        self.reserved_items = 0;
        self.reserved_slots = 0;
        self.getters.notify_all();
        self.putters.notify_all();
        self.must_wake = false;
    }
}

impl<S: Store> Default for GenericQueue<S> {
    /// An unbounded queue.
    fn default() -> Self {
        Self::new(0)
    }
}

impl<S: Store> fmt::Debug for GenericQueue<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("GenericQueue");
        if let Ok(s) = self.state.try_borrow() {
            d.field("qsize", &s.available())
                .field("maxsize", &s.maxsize)
                .field("unfinished", &s.unfinished)
                .field("getters", &s.getters.n_waiting())
                .field("putters", &s.putters.n_waiting())
                .field("shutdown", &s.shutdown);
        }
        d.finish()
    }
}
