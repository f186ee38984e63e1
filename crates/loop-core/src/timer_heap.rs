//! The timer heap: scheduled callbacks ordered by `(deadline, sequence)`.
//!
//! Equal deadlines run in the order they were scheduled (asyncio leaves this
//! undefined; we pin it). Cancellation is lazy and O(1): a cancelled entry
//! stays in the heap until it reaches the top or until cancelled entries
//! outnumber live ones, when the heap is rebuilt without them.

use std::cell::Cell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::rc::Rc;
use std::time::Instant;

use crate::handle::{Handle, TimerHandle};

/// Below this many scheduled timers the heap is never purged (asyncio's
/// `_MIN_SCHEDULED_TIMER_HANDLES`).
pub(crate) const MIN_TIMERS_TO_PURGE: usize = 100;

/// The heap is purged once more than this fraction of its entries are
/// cancelled (asyncio's `_MIN_CANCELLED_TIMER_HANDLES_FRACTION`).
pub(crate) const CANCELLED_FRACTION_TO_PURGE: f64 = 0.5;

struct Entry {
    when: Instant,
    seq: u64,
    timer: TimerHandle,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.when, self.seq).cmp(&(other.when, other.seq))
    }
}

/// A min-heap of timers with lazy cancellation.
pub(crate) struct TimerHeap {
    heap: BinaryHeap<Reverse<Entry>>,
    next_seq: u64,
    /// Cancelled entries still in the heap; timer handles increment it when
    /// cancelled while in the heap.
    cancelled: Rc<Cell<usize>>,
}

impl TimerHeap {
    pub(crate) fn new() -> Self {
        TimerHeap { heap: BinaryHeap::new(), next_seq: 0, cancelled: Rc::new(Cell::new(0)) }
    }

    /// The count of cancelled entries, for [`Handle::timer`]: a timer's
    /// handle counts its own cancellation while it is in the heap.
    pub(crate) fn cancelled_counter(&self) -> Rc<Cell<usize>> {
        self.cancelled.clone()
    }

    /// Schedules `handle` (made with [`Handle::timer`] and this heap's
    /// [`cancelled_counter`](Self::cancelled_counter)) at `when` and returns
    /// its timer handle.
    pub(crate) fn push(&mut self, when: Instant, handle: Handle) -> TimerHandle {
        let timer = TimerHandle::new(handle, when);
        timer.set_in_heap(true);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Entry { when, seq, timer: timer.clone() }));
        timer
    }

    /// Number of entries in the heap, cancelled ones included.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Number of cancelled entries still in the heap.
    #[cfg(test)]
    pub(crate) fn cancelled_len(&self) -> usize {
        self.cancelled.get()
    }

    /// Rebuilds the heap without cancelled entries when they dominate it.
    pub(crate) fn purge_if_needed(&mut self) {
        let len = self.heap.len();
        let cancelled = self.cancelled.get();
        if len > MIN_TIMERS_TO_PURGE
            && (cancelled as f64) > (len as f64) * CANCELLED_FRACTION_TO_PURGE
        {
            let entries = std::mem::take(&mut self.heap).into_vec();
            let live: Vec<_> = entries
                .into_iter()
                .filter(|Reverse(e)| {
                    let keep = !e.timer.cancelled();
                    if !keep {
                        e.timer.set_in_heap(false);
                    }
                    keep
                })
                .collect();
            self.heap = BinaryHeap::from(live);
            self.cancelled.set(0);
        }
    }

    /// Drops cancelled entries at the top, then returns the earliest live
    /// deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if !top.timer.cancelled() {
                return Some(top.when);
            }
            self.pop_top();
        }
        None
    }

    /// Moves every live timer due at or before `now` to `out`, in
    /// `(deadline, sequence)` order.
    pub(crate) fn pop_due(&mut self, now: Instant, mut out: impl FnMut(Handle)) {
        while let Some(Reverse(top)) = self.heap.peek() {
            if top.when > now {
                break;
            }
            let timer = self.pop_top();
            if !timer.cancelled() {
                out(timer.handle().clone());
            }
        }
    }

    fn pop_top(&mut self) -> TimerHandle {
        let Reverse(entry) = self.heap.pop().expect("pop_top on a non-empty heap");
        entry.timer.set_in_heap(false);
        if entry.timer.cancelled() {
            self.cancelled.set(self.cancelled.get().saturating_sub(1));
        }
        entry.timer
    }

    /// Drops every entry (loop close).
    pub(crate) fn clear(&mut self) {
        for Reverse(e) in self.heap.drain() {
            e.timer.set_in_heap(false);
            e.timer.handle().cancel();
        }
        self.cancelled.set(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn noop(heap: &TimerHeap) -> Handle {
        Handle::timer(|| {}, heap.cancelled_counter())
    }

    #[test]
    fn equal_deadlines_pop_in_schedule_order() {
        let mut heap = TimerHeap::new();
        let t0 = Instant::now();
        let order = Rc::new(std::cell::RefCell::new(Vec::new()));
        for i in 0..10 {
            let o = order.clone();
            let h = Handle::timer(move || o.borrow_mut().push(i), heap.cancelled_counter());
            heap.push(t0, h);
        }
        heap.pop_due(t0, |h| h.run());
        assert_eq!(*order.borrow(), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn not_due_stays() {
        let mut heap = TimerHeap::new();
        let t0 = Instant::now();
        let h = noop(&heap);
        heap.push(t0 + Duration::from_millis(5), h);
        let mut n = 0;
        heap.pop_due(t0, |_| n += 1);
        assert_eq!(n, 0);
        assert_eq!(heap.next_deadline(), Some(t0 + Duration::from_millis(5)));
    }

    #[test]
    fn cancelled_entries_are_purged() {
        let mut heap = TimerHeap::new();
        let t0 = Instant::now();
        let timers: Vec<_> = (0..1000)
            .map(|i| {
                let h = noop(&heap);
                heap.push(t0 + Duration::from_secs(i), h)
            })
            .collect();
        for t in &timers[..600] {
            t.cancel();
        }
        assert_eq!(heap.cancelled_len(), 600);
        heap.purge_if_needed();
        assert_eq!(heap.len(), 400);
        assert_eq!(heap.cancelled_len(), 0);
        // Cancelling after the purge does not count a handle no longer held.
        timers[0].cancel();
        assert_eq!(heap.cancelled_len(), 0);
    }

    #[test]
    fn clear_cancels_every_entry_and_releases_its_closure() {
        let mut heap = TimerHeap::new();
        let t0 = Instant::now();
        let token = Rc::new(());
        let timers: Vec<_> = (0..5)
            .map(|i| {
                let tk = token.clone();
                let h = Handle::timer(move || drop(tk), heap.cancelled_counter());
                heap.push(t0 + Duration::from_secs(i), h)
            })
            .collect();
        timers[1].cancel();
        heap.clear();
        assert_eq!((heap.len(), heap.cancelled_len()), (0, 0));
        assert_eq!(Rc::strong_count(&token), 1, "every closure released");
        assert!(timers.iter().all(TimerHandle::cancelled));
        assert_eq!(heap.next_deadline(), None);
        // Cancelling a cleared timer counts nothing.
        timers[0].cancel();
        assert_eq!(heap.cancelled_len(), 0);
    }

    #[test]
    fn cancelled_top_is_skipped_for_deadline() {
        let mut heap = TimerHeap::new();
        let t0 = Instant::now();
        let (ha, hb) = (noop(&heap), noop(&heap));
        let a = heap.push(t0, ha);
        heap.push(t0 + Duration::from_secs(1), hb);
        a.cancel();
        assert_eq!(heap.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(heap.cancelled_len(), 0);
        assert_eq!(heap.len(), 1);
    }
}
