//! The per-loop slab of live tasks.
//!
//! Every task of a loop that has not ended sits in one slot, which holds the
//! task's only loop-side strong reference: wakers carry the slot and its
//! generation (a [`TaskId`]), not a reference count. A slot is freed when
//! its task ends; its generation then moves on, so ids of the old task go
//! stale. The slab also answers `all_tasks` and drops every pending task's
//! future when the loop closes.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::cell::SCHEDULED;
use super::waker::{self, GENERATION_MASK, LoopKey, MAX_SLOTS, TaskId};
use super::{TaskAny, TaskPtr, TaskRef};
use crate::Loop;
use crate::error::{Error, Result};

#[derive(Default)]
pub(crate) struct TaskSlab {
    slots: RefCell<Slots>,
    /// The loop's registration in the waker registries, once it has had a
    /// task.
    key: Cell<Option<LoopKey>>,
}

struct Slots {
    entries: Vec<Slot>,
    /// The most recently vacated slot; the vacant slots form a list
    /// through [`Slot::Vacant::next`]. [`NO_SLOT`] when none is vacant.
    free: u32,
    len: usize,
}

impl Default for Slots {
    fn default() -> Self {
        Slots { entries: Vec::new(), free: NO_SLOT, len: 0 }
    }
}

/// The end of the vacant-slot list.
const NO_SLOT: u32 = u32::MAX;

/// One slot: 16 bytes. An occupied slot's generation is the one in its
/// task's id ([`TaskHeader::slot`](super::cell::TaskHeader::slot)).
enum Slot {
    Occupied(TaskPtr),
    Vacant {
        /// The generation the slot's next task gets.
        generation: u32,
        /// The next vacant slot.
        next: u32,
    },
}

const _: () = assert!(size_of::<Slot>() == 16);

impl Slots {
    /// The live task `id` names.
    fn task(&self, id: TaskId) -> Option<&TaskPtr> {
        match self.entries.get(id.slot()) {
            Some(Slot::Occupied(t)) if t.header().slot.get() == id => Some(t),
            _ => None,
        }
    }

    /// Empties occupied slot `i` (whose task has id `id`), handing back its
    /// task.
    fn vacate(&mut self, i: usize, id: TaskId) -> Option<TaskPtr> {
        let generation = (id.generation() + 1) & GENERATION_MASK;
        let next = self.free;
        let old = std::mem::replace(&mut self.entries[i], Slot::Vacant { generation, next });
        self.free = u32::try_from(i).unwrap_or(NO_SLOT);
        self.len -= 1;
        match old {
            Slot::Occupied(t) => Some(t),
            Slot::Vacant { .. } => None,
        }
    }
}

impl TaskSlab {
    /// The loop's registration for wake-ups, made on its first task (the
    /// tasks keep it to find their loop again).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] when too many loops have tasks.
    pub(crate) fn register(&self, lp: &Loop) -> Result<LoopKey> {
        match self.key.get() {
            Some(key) => Ok(key),
            None => {
                let key = waker::register_loop(lp)?;
                self.key.set(Some(key));
                Ok(key)
            }
        }
    }

    /// Stores `task` and returns its id. `key` is the loop's registration
    /// ([`register`](Self::register)); the caller records the id in the
    /// task's header before anything looks the task up.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] when the loop has 2^28 live tasks.
    pub(crate) fn insert(&self, key: LoopKey, task: TaskPtr) -> Result<TaskId> {
        let loop_index = key.index;
        let mut s = self.slots.borrow_mut();
        let (slot, generation) = match s.entries.get(s.free as usize) {
            Some(&Slot::Vacant { generation, next }) => {
                let slot = s.free;
                s.free = next;
                s.entries[slot as usize] = Slot::Occupied(task);
                (slot, generation)
            }
            _ => {
                let i = u32::try_from(s.entries.len()).unwrap_or(u32::MAX);
                if i >= MAX_SLOTS {
                    return Err(Error::InvalidState("too many live tasks on this loop".into()));
                }
                s.entries.push(Slot::Occupied(task));
                (i, 0)
            }
        };
        s.len += 1;
        Ok(TaskId::new(loop_index, slot, generation))
    }

    /// The live task `id` names, if any.
    pub(crate) fn get(&self, id: TaskId) -> Option<TaskPtr> {
        self.slots.borrow().task(id).cloned()
    }

    /// Marks task `id` scheduled; returns whether it was not already (so the
    /// caller queues it once). `false` for a stale id or an ended task.
    pub(crate) fn mark_scheduled(&self, id: TaskId) -> bool {
        match self.slots.borrow().task(id) {
            Some(t) => {
                let h = t.header();
                !h.done() && !h.flags.replace(SCHEDULED, true)
            }
            None => false,
        }
    }

    /// Frees task `id`'s slot and hands back the task, to be dropped by the
    /// caller outside the slab's borrow.
    pub(crate) fn remove(&self, id: TaskId) -> Option<TaskPtr> {
        let mut s = self.slots.borrow_mut();
        s.task(id)?;
        s.vacate(id.slot(), id)
    }

    /// Empties the slab, handing back every task to be aborted (loop
    /// close; each in an `Rc` of its own, the shape the loop's close takes).
    pub(crate) fn take_all(&self) -> Vec<Rc<dyn TaskAny>> {
        let mut s = self.slots.borrow_mut();
        let mut out: Vec<Rc<dyn TaskAny>> = Vec::with_capacity(s.len);
        for i in 0..s.entries.len() {
            if let Slot::Occupied(t) = &s.entries[i] {
                let id = t.header().slot.get();
                if let Some(t) = s.vacate(i, id) {
                    out.push(Rc::new(t));
                }
            }
        }
        out
    }

    /// The loop's registration, if it has had a task.
    pub(crate) fn key(&self) -> Option<LoopKey> {
        self.key.get()
    }

    /// Forgets the loop's registration for wake-ups (close or drop).
    pub(crate) fn unregister(&self) {
        if let Some(key) = self.key.take() {
            waker::unregister_loop(key.index);
        }
    }

    /// Number of live tasks.
    pub(crate) fn len(&self) -> usize {
        self.slots.borrow().len
    }

    /// Every live task that is not done.
    pub(crate) fn live(&self) -> Vec<TaskRef> {
        self.slots
            .borrow()
            .entries
            .iter()
            .filter_map(|e| match e {
                Slot::Occupied(t) => Some(TaskRef(t.clone())),
                Slot::Vacant { .. } => None,
            })
            .filter(|t| !t.done())
            .collect()
    }
}
