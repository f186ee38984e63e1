//! The per-loop registry of live tasks (for `all_tasks`).
//!
//! A slab of weak references: O(1) insert and remove, no hashing, and the
//! registry never keeps a task alive.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::{TaskAny, TaskRef};

#[derive(Default)]
pub(crate) struct TaskRegistry {
    slots: RefCell<Slots>,
}

#[derive(Default)]
struct Slots {
    entries: Vec<Option<Weak<dyn TaskAny>>>,
    free: Vec<u32>,
    len: usize,
}

impl TaskRegistry {
    /// Registers a task and returns its slot.
    pub(crate) fn insert(&self, task: &Rc<dyn TaskAny>) -> u32 {
        let mut s = self.slots.borrow_mut();
        s.len += 1;
        let weak = Rc::downgrade(task);
        match s.free.pop() {
            Some(i) => {
                s.entries[i as usize] = Some(weak);
                i
            }
            None => {
                s.entries.push(Some(weak));
                // More than four billion live tasks would exhaust memory
                // long before the slot numbers.
                u32::try_from(s.entries.len() - 1).unwrap_or(u32::MAX)
            }
        }
    }

    /// Forgets the task in `slot` (no-op for an unknown slot).
    pub(crate) fn remove(&self, slot: u32) {
        let mut s = self.slots.borrow_mut();
        if let Some(entry) = s.entries.get_mut(slot as usize) {
            if entry.take().is_some() {
                s.free.push(slot);
                s.len -= 1;
            }
        }
    }

    /// Number of registered tasks.
    pub(crate) fn len(&self) -> usize {
        self.slots.borrow().len
    }

    /// Every registered task that still exists and is not done.
    pub(crate) fn live(&self) -> Vec<TaskRef> {
        self.slots
            .borrow()
            .entries
            .iter()
            .flatten()
            .filter_map(Weak::upgrade)
            .map(TaskRef)
            .filter(|t| !t.done())
            .collect()
    }
}
