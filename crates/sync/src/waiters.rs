//! The FIFO list of waiting tasks that every primitive is built on.
//!
//! A [`WaiterList`] is a slab of slots (one per pending future) threaded by
//! two intrusive doubly linked lists of slot indexes:
//!
//! * `waiting`: futures still waiting, in arrival order;
//! * `to_wake`: futures already chosen (their state is final: they *will*
//!   see the notification) whose waker has not been called yet.
//!
//! Choosing a waiter and calling its waker are two steps on purpose: a
//! primitive chooses under its `RefCell` borrow, then drops the borrow and
//! calls [`WaiterList::next_wakeup`] in a loop, so a waker never runs while
//! the primitive is borrowed (a waker that re-entered the primitive would
//! otherwise hit a `RefCell` panic).
//!
//! Slots are reused through a free list: after warm-up, waiting allocates
//! nothing. A slot belongs to exactly one future, which holds its
//! [`WaiterKey`] (not `Clone`) and gives it back with [`WaiterList::remove`]
//! when it completes or is dropped; `remove` reports whether the future had
//! been chosen, so the primitive can pass an unused notification on.

use std::fmt;
use std::task::Waker;

/// "No slot" in the links.
const NIL: u32 = u32::MAX;

/// The handle a pending future keeps for its slot. Deliberately neither
/// `Clone` nor `Copy`: the slot has exactly one owner.
#[derive(Debug)]
pub(crate) struct WaiterKey(u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// On the free list.
    Free,
    /// In `waiting`.
    Waiting,
    /// Chosen, in `to_wake`, waker not called yet.
    Notified,
    /// Chosen and its waker taken (called or about to be).
    Woken,
}

#[derive(Debug)]
struct Slot {
    status: Status,
    waker: Option<Waker>,
    prev: u32,
    next: u32,
}

/// Head and tail of one intrusive list.
#[derive(Debug, Clone, Copy)]
struct Links {
    head: u32,
    tail: u32,
}

impl Links {
    const EMPTY: Self = Self { head: NIL, tail: NIL };
}

/// Which intrusive list an operation works on.
#[derive(Clone, Copy)]
enum Which {
    Waiting,
    ToWake,
}

/// A FIFO of waiting futures; see the module docs.
pub(crate) struct WaiterList {
    slots: Vec<Slot>,
    free: u32,
    waiting: Links,
    to_wake: Links,
    n_waiting: usize,
    n_chosen: usize,
}

impl WaiterList {
    /// An empty list; allocates nothing.
    pub(crate) const fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: NIL,
            waiting: Links::EMPTY,
            to_wake: Links::EMPTY,
            n_waiting: 0,
            n_chosen: 0,
        }
    }

    /// Whether any future is still waiting (not yet chosen).
    #[inline]
    pub(crate) fn has_waiting(&self) -> bool {
        self.n_waiting != 0
    }

    /// How many futures are still waiting (not yet chosen).
    #[inline]
    pub(crate) fn n_waiting(&self) -> usize {
        self.n_waiting
    }

    /// How many futures were chosen but have not given their key back yet.
    #[inline]
    pub(crate) fn n_chosen(&self) -> usize {
        self.n_chosen
    }

    /// Appends a waiting future with its waker; returns its key.
    pub(crate) fn register(&mut self, waker: &Waker) -> WaiterKey {
        let slot =
            Slot { status: Status::Waiting, waker: Some(waker.clone()), prev: NIL, next: NIL };
        let index = if self.free != NIL {
            let i = self.free;
            self.free = self.slots[i as usize].next;
            self.slots[i as usize] = slot;
            i
        } else {
            // u32::MAX is NIL; four billion simultaneous waiters cannot be
            // reached on one thread before memory runs out.
            let i = u32::try_from(self.slots.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("fewer than 2^32 - 1 simultaneous waiters");
            self.slots.push(slot);
            i
        };
        self.link_back(Which::Waiting, index);
        self.n_waiting += 1;
        WaiterKey(index)
    }

    /// Whether the future owning `key` was chosen. If not, remembers `waker`
    /// (when it differs from the stored one).
    pub(crate) fn poll(&mut self, key: &WaiterKey, waker: &Waker) -> bool {
        let slot = &mut self.slots[key.0 as usize];
        match slot.status {
            Status::Waiting => {
                match &mut slot.waker {
                    Some(w) if w.will_wake(waker) => {}
                    w => *w = Some(waker.clone()),
                }
                false
            }
            Status::Notified | Status::Woken => true,
            Status::Free => unreachable!("a key always names a live slot"),
        }
    }

    /// Gives the slot back. Returns whether the future had been chosen: a
    /// chosen future that never acted on it must pass the notification on.
    pub(crate) fn remove(&mut self, key: WaiterKey) -> bool {
        let index = key.0;
        let chosen = match self.slots[index as usize].status {
            Status::Waiting => {
                self.unlink(Which::Waiting, index);
                self.n_waiting -= 1;
                false
            }
            Status::Notified => {
                self.unlink(Which::ToWake, index);
                self.n_chosen -= 1;
                true
            }
            Status::Woken => {
                self.n_chosen -= 1;
                true
            }
            Status::Free => unreachable!("a key always names a live slot"),
        };
        let slot = &mut self.slots[index as usize];
        slot.status = Status::Free;
        slot.waker = None;
        slot.prev = NIL;
        slot.next = self.free;
        self.free = index;
        chosen
    }

    /// Chooses the first waiting future and returns its waker for the caller
    /// to wake once it has dropped its borrow. `None` if nobody waits.
    pub(crate) fn notify_one(&mut self) -> Option<Waker> {
        let index = self.waiting.head;
        if index == NIL {
            return None;
        }
        self.unlink(Which::Waiting, index);
        self.n_waiting -= 1;
        self.n_chosen += 1;
        let slot = &mut self.slots[index as usize];
        slot.status = Status::Woken;
        slot.waker.take()
    }

    /// Chooses up to `n` waiting futures, in FIFO order, and queues their
    /// wakers for [`next_wakeup`](Self::next_wakeup). Returns how many.
    pub(crate) fn notify(&mut self, n: usize) -> usize {
        let mut count = 0;
        while count < n {
            let index = self.waiting.head;
            if index == NIL {
                break;
            }
            self.unlink(Which::Waiting, index);
            self.n_waiting -= 1;
            self.n_chosen += 1;
            self.slots[index as usize].status = Status::Notified;
            self.link_back(Which::ToWake, index);
            count += 1;
        }
        count
    }

    /// Chooses every waiting future; see [`notify`](Self::notify).
    pub(crate) fn notify_all(&mut self) -> usize {
        self.notify(usize::MAX)
    }

    /// The next waker queued by [`notify`](Self::notify), in FIFO order.
    pub(crate) fn next_wakeup(&mut self) -> Option<Waker> {
        let index = self.to_wake.head;
        if index == NIL {
            return None;
        }
        self.unlink(Which::ToWake, index);
        let slot = &mut self.slots[index as usize];
        slot.status = Status::Woken;
        slot.waker.take()
    }

    fn links(&mut self, which: Which) -> &mut Links {
        match which {
            Which::Waiting => &mut self.waiting,
            Which::ToWake => &mut self.to_wake,
        }
    }

    fn link_back(&mut self, which: Which, index: u32) {
        let tail = self.links(which).tail;
        {
            let slot = &mut self.slots[index as usize];
            slot.prev = tail;
            slot.next = NIL;
        }
        if tail == NIL {
            self.links(which).head = index;
        } else {
            self.slots[tail as usize].next = index;
        }
        self.links(which).tail = index;
    }

    fn unlink(&mut self, which: Which, index: u32) {
        let (prev, next) = {
            let slot = &self.slots[index as usize];
            (slot.prev, slot.next)
        };
        if prev == NIL {
            self.links(which).head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.links(which).tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
        let slot = &mut self.slots[index as usize];
        slot.prev = NIL;
        slot.next = NIL;
    }
}

impl fmt::Debug for WaiterList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaiterList")
            .field("waiting", &self.n_waiting)
            .field("chosen", &self.n_chosen)
            .finish()
    }
}

/// Where a future built on one [`WaiterList`] stands.
pub(crate) enum Step {
    /// Not polled yet.
    Start,
    /// Queued with this key.
    Queued(WaiterKey),
    /// Completed: further polls return `Pending`, like a fused future.
    Done,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Start => "start",
            Step::Queued(_) => "queued",
            Step::Done => "done",
        })
    }
}

/// Calls every waker queued in the list that `list` picks out of the
/// `RefCell`, borrowing it only to take each waker, never while waking.
pub(crate) fn wake_queued<S>(cell: &std::cell::RefCell<S>, list: fn(&mut S) -> &mut WaiterList) {
    loop {
        let waker = list(&mut cell.borrow_mut()).next_wakeup();
        match waker {
            Some(w) => w.wake(),
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn fifo_choice_and_slot_reuse() {
        let mut l = WaiterList::new();
        let (c1, w1) = counting();
        let (_c2, w2) = counting();
        let k1 = l.register(&w1);
        let k2 = l.register(&w2);
        assert_eq!(l.n_waiting(), 2);
        l.notify_one().unwrap().wake();
        assert_eq!(c1.0.load(Ordering::SeqCst), 1);
        assert!(l.poll(&k1, &w1));
        assert!(!l.poll(&k2, &w2));
        assert!(l.remove(k1));
        assert!(!l.remove(k2));
        assert_eq!((l.n_waiting(), l.n_chosen()), (0, 0));
        let k3 = l.register(&w1);
        assert_eq!(l.slots.len(), 2, "slots are reused");
        assert!(!l.remove(k3));
    }

    #[test]
    fn notify_queues_wakers_and_remove_unlinks_from_to_wake() {
        let mut l = WaiterList::new();
        let (c, w) = counting();
        let keys: Vec<_> = (0..4).map(|_| l.register(&w)).collect();
        assert_eq!(l.notify(3), 3);
        assert_eq!(l.n_waiting(), 1);
        let mut keys = keys.into_iter();
        // The first chosen one is dropped before its waker runs.
        assert!(l.remove(keys.next().unwrap()));
        let mut woken = 0;
        while let Some(w) = l.next_wakeup() {
            w.wake();
            woken += 1;
        }
        assert_eq!(woken, 2);
        assert_eq!(c.0.load(Ordering::SeqCst), 2);
        let rest: Vec<_> = keys.collect();
        assert_eq!(rest.len(), 3);
        let chosen: Vec<bool> = rest.into_iter().map(|k| l.remove(k)).collect();
        assert_eq!(chosen, [true, true, false]);
        assert_eq!((l.n_waiting(), l.n_chosen()), (0, 0));
        assert_eq!(l.notify_all(), 0);
    }
}
