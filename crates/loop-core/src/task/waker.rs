//! Task ids and the refcount-free task waker.
//!
//! A [`TaskId`] packs `(loop index, slab slot, generation)` into one word,
//! and a task's [`Waker`] is nothing but that word and a static vtable:
//! cloning copies it, dropping does nothing, and waking looks the task up
//! again. On the loop's own thread (found through a thread-local registry
//! keyed by loop index) a wake-up goes straight to the loop's ready queue;
//! from any other thread it goes through the loop's remote queue (found
//! through a process-wide registry, touched only on that path and when a
//! loop registers or unregisters).
//!
//! A waker outliving its task is harmless: the slot is empty or holds a newer
//! generation, and waking does nothing. Generations are
//! [`GENERATION_BITS`] wide, so a waker kept across 2^20 reuses of one slot
//! (or a loop index reused by a later loop) may wake an unrelated task; that
//! only causes a spurious poll, which every future must tolerate anyway.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::{Rc, Weak};
use std::sync::RwLock;
use std::task::Waker;

use crate::Loop;
use crate::error::{Error, Result};
use crate::inner::LoopInner;
use crate::remote::{RemoteItem, WeakRemote};

/// Bits of a [`TaskId`] holding the slot's generation.
pub(crate) const GENERATION_BITS: u32 = 20;
/// Bits of a [`TaskId`] holding the slab slot.
pub(crate) const SLOT_BITS: u32 = 28;
/// Bits of a [`TaskId`] holding the loop index (the rest of the word).
const LOOP_BITS: u32 = 64 - SLOT_BITS - GENERATION_BITS;
pub(crate) const GENERATION_MASK: u32 = (1 << GENERATION_BITS) - 1;
/// The most slots a loop's slab may hold (live tasks at once).
pub(crate) const MAX_SLOTS: u32 = 1 << SLOT_BITS;
/// The most loops that may have tasks at the same time. The last loop
/// index is never handed out: ids under it are [`TaskId::NONE`] and the
/// [`TaskId::reserved`] markers.
pub(crate) const MAX_LOOPS: usize = (1 << LOOP_BITS) - 1;

// The id travels in a waker's data pointer.
const _: () = assert!(usize::BITS >= 64, "tulip's task wakers need 64-bit pointers");

/// Identifies one task of one loop: what the loop's ready queue holds for a
/// task.
/// Copy; it does not keep the task alive, and a stale id is ignored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TaskId(u64);

impl TaskId {
    pub(crate) fn new(loop_index: u16, slot: u32, generation: u32) -> TaskId {
        debug_assert!(slot < MAX_SLOTS && generation <= GENERATION_MASK);
        TaskId(
            (u64::from(loop_index) << (SLOT_BITS + GENERATION_BITS))
                | (u64::from(slot) << GENERATION_BITS)
                | u64::from(generation),
        )
    }

    /// An id no task has (the slot does not exist).
    pub(crate) const NONE: TaskId = TaskId(u64::MAX);

    /// Marker `n` (below 2^20), an id no task has (its loop index is never
    /// handed out) and different from [`NONE`](Self::NONE), for queues that
    /// interleave task ids with other work.
    pub(crate) const fn reserved(n: u64) -> TaskId {
        TaskId(u64::MAX - 1 - n)
    }

    pub(crate) fn loop_index(self) -> usize {
        (self.0 >> (SLOT_BITS + GENERATION_BITS)) as usize
    }

    pub(crate) fn slot(self) -> usize {
        ((self.0 >> GENERATION_BITS) & u64::from(MAX_SLOTS - 1)) as usize
    }

    pub(crate) fn generation(self) -> u32 {
        (self.0 & u64::from(GENERATION_MASK)) as u32
    }

    /// The task's waker: no allocation, no reference count (made in
    /// [`raw`](super::raw), the crate's one module with `unsafe` code).
    pub(crate) fn waker(self) -> Waker {
        super::raw::waker(self)
    }

    /// The id as one word (what a waker carries).
    pub(super) const fn to_bits(self) -> u64 {
        self.0
    }

    /// The id a waker's word carries.
    pub(super) const fn from_bits(bits: u64) -> TaskId {
        TaskId(bits)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskId")
            .field("loop", &self.loop_index())
            .field("slot", &self.slot())
            .field("generation", &self.generation())
            .finish()
    }
}

/// A loop's registration for task wake-ups: its loop index and a serial
/// telling this registration from earlier and later ones of the same index
/// on this thread (an index is reused once its loop closed).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct LoopKey {
    pub(crate) index: u16,
    pub(crate) serial: u32,
}

/// One registered loop of this thread.
struct LocalLoop {
    serial: u32,
    lp: Weak<LoopInner>,
}

thread_local! {
    /// The loops of this thread that have tasks, by loop index.
    static LOCAL_LOOPS: RefCell<Vec<Option<LocalLoop>>> = const { RefCell::new(Vec::new()) };
    /// The serial of this thread's next registration.
    static NEXT_SERIAL: Cell<u32> = const { Cell::new(0) };
}

/// The loop registered under `key` on this thread, if it is still
/// registered (not closed) and alive.
pub(crate) fn local_loop(key: LoopKey) -> Option<Rc<LoopInner>> {
    LOCAL_LOOPS
        .try_with(|l| {
            let l = l.try_borrow().ok()?;
            let entry = l.get(usize::from(key.index))?.as_ref()?;
            if entry.serial != key.serial {
                return None;
            }
            entry.lp.upgrade()
        })
        .ok()
        .flatten()
}

/// The remote queues of every loop that has tasks, by loop index.
static REMOTES: RwLock<LoopIndices> =
    RwLock::new(LoopIndices { remotes: Vec::new(), free: VecDeque::new() });

struct LoopIndices {
    remotes: Vec<Option<WeakRemote>>,
    /// Freed indices, reused oldest first so that stale wakers of a closed
    /// loop rarely meet a new loop under the same index.
    free: VecDeque<u16>,
}

/// Wakes task `id` from whatever thread this is.
pub(super) fn wake(id: TaskId) {
    let idx = id.loop_index();
    let local = LOCAL_LOOPS.try_with(|l| {
        let l = l.try_borrow().ok()?;
        l.get(idx)?.as_ref().map(|e| e.lp.upgrade())
    });
    match local {
        // This thread owns the loop.
        Ok(Some(Some(lp))) => lp.common().wake_task(&lp, id),
        // Owned, but the loop is being dropped: its tasks are going away.
        Ok(Some(None)) => {}
        // Another thread's loop (or this thread is exiting).
        _ => {
            let remote = {
                let reg = REMOTES.read().unwrap_or_else(|e| e.into_inner());
                reg.remotes.get(idx).and_then(|r| r.as_ref()?.upgrade())
            };
            if let Some(remote) = remote {
                // A closed loop has no tasks left to wake.
                let _ = remote.push(RemoteItem::WakeTask(id));
            }
        }
    }
}

/// Gives `lp` a loop index for its task ids and registers it for wake-ups.
///
/// # Errors
///
/// [`Error::InvalidState`] when too many loops have tasks at once.
pub(crate) fn register_loop(lp: &Loop) -> Result<LoopKey> {
    let remote = lp.remote().downgrade();
    let idx = {
        let mut reg = REMOTES.write().unwrap_or_else(|e| e.into_inner());
        match reg.free.pop_front() {
            Some(i) => {
                reg.remotes[usize::from(i)] = Some(remote);
                i
            }
            None if reg.remotes.len() < MAX_LOOPS => {
                reg.remotes.push(Some(remote));
                u16::try_from(reg.remotes.len() - 1).unwrap_or(u16::MAX)
            }
            None => {
                return Err(Error::InvalidState(format!(
                    "too many event loops with tasks at once (at most {MAX_LOOPS}; see \
                     loop_core::MAX_LOOPS_WITH_TASKS)"
                )));
            }
        }
    };
    let serial = NEXT_SERIAL.try_with(|n| n.replace(n.get().wrapping_add(1))).unwrap_or(0);
    let entry = LocalLoop { serial, lp: lp.downgrade_rc() };
    let _ = LOCAL_LOOPS.try_with(|l| {
        let mut l = l.borrow_mut();
        let i = usize::from(idx);
        if l.len() <= i {
            l.resize_with(i + 1, || None);
        }
        l[i] = Some(entry);
    });
    Ok(LoopKey { index: idx, serial })
}

/// Forgets loop index `idx` (loop closed or dropped), on the loop's thread.
pub(crate) fn unregister_loop(idx: u16) {
    let _ = LOCAL_LOOPS.try_with(|l| {
        if let Some(slot) = l.borrow_mut().get_mut(usize::from(idx)) {
            *slot = None;
        }
    });
    let mut reg = REMOTES.write().unwrap_or_else(|e| e.into_inner());
    if let Some(slot) = reg.remotes.get_mut(usize::from(idx)) {
        if slot.take().is_some() {
            reg.free.push_back(idx);
        }
    }
}
