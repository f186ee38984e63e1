//! The item stores that give a queue its order: [`Fifo`], [`Lifo`], [`Priority`].

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;

mod sealed {
    /// Keeps [`Store`](super::Store) implementable only by this crate.
    pub trait Sealed {}
}

/// The order in which a [`GenericQueue`](super::GenericQueue) hands out
/// its items. Implemented by [`Fifo`], [`Lifo`] and [`Priority`] only
/// (sealed).
pub trait Store: sealed::Sealed {
    /// The type of the queue's items.
    type Item;

    /// An empty store.
    #[doc(hidden)]
    fn empty() -> Self;
    /// Adds an item.
    #[doc(hidden)]
    fn push(&mut self, item: Self::Item);
    /// Removes the next item in this store's order.
    #[doc(hidden)]
    fn pop(&mut self) -> Option<Self::Item>;
    /// The number of items.
    #[doc(hidden)]
    fn count(&self) -> usize;
    /// Removes every item, in the order `pop` would have returned them.
    #[doc(hidden)]
    fn drain_in_order(&mut self) -> Vec<Self::Item>;
}

/// First in, first out: the store of [`Queue`](crate::Queue).
pub struct Fifo<T>(VecDeque<T>);

impl<T> sealed::Sealed for Fifo<T> {}

impl<T> Store for Fifo<T> {
    type Item = T;

    fn empty() -> Self {
        Self(VecDeque::new())
    }
    #[inline]
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    #[inline]
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    #[inline]
    fn count(&self) -> usize {
        self.0.len()
    }
    fn drain_in_order(&mut self) -> Vec<T> {
        self.0.drain(..).collect()
    }
}

/// Last in, first out: the store of [`LifoQueue`](crate::LifoQueue).
pub struct Lifo<T>(Vec<T>);

impl<T> sealed::Sealed for Lifo<T> {}

impl<T> Store for Lifo<T> {
    type Item = T;

    fn empty() -> Self {
        Self(Vec::new())
    }
    #[inline]
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    #[inline]
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    #[inline]
    fn count(&self) -> usize {
        self.0.len()
    }
    fn drain_in_order(&mut self) -> Vec<T> {
        self.0.drain(..).rev().collect()
    }
}

/// Lowest first, and first in, first out among equal items: the store of
/// [`PriorityQueue`](crate::PriorityQueue).
///
/// asyncio's `PriorityQueue` (a `heapq`) leaves the order of equal items
/// undefined; this store pins it by tagging each item with its arrival
/// number.
pub struct Priority<T> {
    heap: BinaryHeap<Entry<T>>,
    next_seq: u64,
}

/// An item and its arrival number, ordered so that `BinaryHeap` (a max-heap)
/// pops the lowest item, and among equal items the earliest.
struct Entry<T> {
    item: T,
    seq: u64,
}

impl<T: Ord> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.item.cmp(&self.item).then_with(|| other.seq.cmp(&self.seq))
    }
}

impl<T: Ord> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T: Ord> Eq for Entry<T> {}

impl<T: Ord> sealed::Sealed for Priority<T> {}

impl<T: Ord> Store for Priority<T> {
    type Item = T;

    fn empty() -> Self {
        Self { heap: BinaryHeap::new(), next_seq: 0 }
    }
    #[inline]
    fn push(&mut self, item: T) {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        self.heap.push(Entry { item, seq });
    }
    #[inline]
    fn pop(&mut self) -> Option<T> {
        self.heap.pop().map(|e| e.item)
    }
    #[inline]
    fn count(&self) -> usize {
        self.heap.len()
    }
    fn drain_in_order(&mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.heap.len());
        while let Some(e) = self.heap.pop() {
            out.push(e.item);
        }
        out
    }
}

impl<T> fmt::Debug for Fifo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fifo").field("len", &self.0.len()).finish()
    }
}

impl<T> fmt::Debug for Lifo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lifo").field("len", &self.0.len()).finish()
    }
}

impl<T> fmt::Debug for Priority<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Priority").field("len", &self.heap.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders() {
        let mut f = Fifo::empty();
        let mut l = Lifo::empty();
        let mut p = Priority::empty();
        for x in [3, 1, 2] {
            f.push(x);
            l.push(x);
            p.push(x);
        }
        assert_eq!(f.drain_in_order(), [3, 1, 2]);
        assert_eq!(l.drain_in_order(), [2, 1, 3]);
        assert_eq!(p.drain_in_order(), [1, 2, 3]);
    }

    #[test]
    fn priority_is_fifo_among_equals() {
        #[derive(Debug)]
        struct ByKey(u8, &'static str);
        impl PartialEq for ByKey {
            fn eq(&self, o: &Self) -> bool {
                self.0 == o.0
            }
        }
        impl Eq for ByKey {}
        impl PartialOrd for ByKey {
            fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
                Some(self.cmp(o))
            }
        }
        impl Ord for ByKey {
            fn cmp(&self, o: &Self) -> Ordering {
                self.0.cmp(&o.0)
            }
        }
        let mut p = Priority::empty();
        for (k, v) in [(2, "a"), (1, "b"), (2, "c"), (1, "d"), (2, "e")] {
            p.push(ByKey(k, v));
        }
        let order: Vec<_> = std::iter::from_fn(|| p.pop()).map(|e| e.1).collect();
        assert_eq!(order, ["b", "d", "a", "c", "e"]);
    }
}
