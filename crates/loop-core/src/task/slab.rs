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

use super::waker::{self, GENERATION_MASK, MAX_SLOTS, TaskId};
use super::{TaskAny, TaskRef};
use crate::Loop;
use crate::error::{Error, Result};

#[derive(Default)]
pub(crate) struct TaskSlab {
    slots: RefCell<Slots>,
    /// The loop's index in the waker registries, once it has had a task.
    loop_index: Cell<Option<u16>>,
}

#[derive(Default)]
struct Slots {
    entries: Vec<Slot>,
    free: Vec<u32>,
    len: usize,
}

struct Slot {
    task: Option<Rc<dyn TaskAny>>,
    generation: u32,
}

impl TaskSlab {
    /// Stores `task` and returns its id, registering the loop for wake-ups
    /// on its first task.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] when the loop has 2^28 live tasks, or too many
    /// loops have tasks.
    pub(crate) fn insert(&self, lp: &Loop, task: Rc<dyn TaskAny>) -> Result<TaskId> {
        let loop_index = match self.loop_index.get() {
            Some(i) => i,
            None => {
                let i = waker::register_loop(lp)?;
                self.loop_index.set(Some(i));
                i
            }
        };
        let mut s = self.slots.borrow_mut();
        let slot = match s.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(s.entries.len()).unwrap_or(u32::MAX);
                if i >= MAX_SLOTS {
                    return Err(Error::InvalidState("too many live tasks on this loop".into()));
                }
                s.entries.push(Slot { task: None, generation: 0 });
                i
            }
        };
        s.len += 1;
        let entry = &mut s.entries[slot as usize];
        entry.task = Some(task);
        Ok(TaskId::new(loop_index, slot, entry.generation))
    }

    /// The live task `id` names, if any.
    pub(crate) fn get(&self, id: TaskId) -> Option<Rc<dyn TaskAny>> {
        let s = self.slots.borrow();
        match s.entries.get(id.slot()) {
            Some(Slot { task: Some(t), generation }) if *generation == id.generation() => {
                Some(t.clone())
            }
            _ => None,
        }
    }

    /// Marks task `id` scheduled; returns whether it was not already (so the
    /// caller queues it once). `false` for a stale id or an ended task.
    pub(crate) fn mark_scheduled(&self, id: TaskId) -> bool {
        let s = self.slots.borrow();
        match s.entries.get(id.slot()) {
            Some(Slot { task: Some(t), generation }) if *generation == id.generation() => {
                let h = t.header();
                !h.done() && !h.scheduled.replace(true)
            }
            _ => false,
        }
    }

    /// Frees task `id`'s slot and hands back the task, to be dropped by the
    /// caller outside the slab's borrow.
    pub(crate) fn remove(&self, id: TaskId) -> Option<Rc<dyn TaskAny>> {
        let mut s = self.slots.borrow_mut();
        let entry = s.entries.get_mut(id.slot())?;
        if entry.generation != id.generation() {
            return None;
        }
        let task = entry.task.take()?;
        entry.generation = (entry.generation + 1) & GENERATION_MASK;
        s.free.push(u32::try_from(id.slot()).unwrap_or(u32::MAX));
        s.len -= 1;
        Some(task)
    }

    /// Empties the slab, handing back every task, and unregisters the loop
    /// from the waker registries.
    pub(crate) fn take_all(&self) -> Vec<Rc<dyn TaskAny>> {
        let mut s = self.slots.borrow_mut();
        let Slots { entries, free, len } = &mut *s;
        let mut out = Vec::with_capacity(*len);
        for (i, entry) in entries.iter_mut().enumerate() {
            if let Some(t) = entry.task.take() {
                entry.generation = (entry.generation + 1) & GENERATION_MASK;
                free.push(u32::try_from(i).unwrap_or(u32::MAX));
                out.push(t);
            }
        }
        *len = 0;
        out
    }

    /// Forgets the loop's registration for wake-ups (close or drop).
    pub(crate) fn unregister(&self) {
        if let Some(i) = self.loop_index.take() {
            waker::unregister_loop(i);
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
            .filter_map(|e| e.task.clone())
            .map(TaskRef)
            .filter(|t| !t.done())
            .collect()
    }
}
