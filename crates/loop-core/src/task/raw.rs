//! loop-core's only `unsafe` code, behind safe interfaces: the
//! refcount-free task waker ([`waker`]) and the in-place polling of a
//! task's pinned future ([`StageCell`]).
//!
//! The crate denies `unsafe_code`; this module alone allows it. Each block
//! says why it holds, and it holds by the types of this module's interface
//! (a `Pin<&Self>` receiver, a private field, an `Unpin` bound), not by
//! something callers elsewhere must remember not to do.

use std::cell::RefCell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::waker::{TaskId, wake};
use crate::error::{Error, Result};

// ----- the task waker -----

/// The waker of task `id`: the id itself in the data word and a static
/// vtable. No allocation, no reference count (see [`super::waker`]).
pub(super) fn waker(id: TaskId) -> Waker {
    // SAFETY: the `RawWaker` contract asks that the vtable functions be
    // sound to call with this data pointer, from any thread, any number of
    // times, and that clone return an equivalent waker. The data pointer is
    // never dereferenced: it is an integer (the id) carried in a pointer, so
    // any value is valid. `clone_raw` copies it with the same vtable;
    // `drop_raw` does nothing (nothing is owned); `wake_raw` decodes the
    // integer and reaches the task only through `waker::wake`, which goes
    // through thread-safe registries (a `thread_local!` for the owning
    // thread, an `RwLock` plus `Weak` handles otherwise) and tolerates ids
    // whose task or loop is gone.
    unsafe { Waker::from_raw(raw(id)) }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, wake_raw, wake_raw, drop_raw);

fn raw(id: TaskId) -> RawWaker {
    RawWaker::new(std::ptr::without_provenance(id.to_bits() as usize), &VTABLE)
}

fn clone_raw(data: *const ()) -> RawWaker {
    raw(TaskId::from_bits(data.addr() as u64))
}

fn wake_raw(data: *const ()) {
    wake(TaskId::from_bits(data.addr() as u64));
}

fn drop_raw(_: *const ()) {}

// ----- the task's future, polled in place -----

/// Where a task is in its life. The error is boxed so that a stage is no
/// bigger than the future or the output it holds.
enum Stage<F, T> {
    Running(F),
    Succeeded(T),
    Failed(Box<Error>),
    /// The future was dropped and the outcome not stored yet, or the
    /// outcome was taken.
    Consumed,
}

/// A task's future while it runs and its outcome once it ended, in one
/// place (so the two never take memory at the same time).
///
/// Once the cell is pinned its future never moves: nothing in this
/// interface moves a running future out — it is polled through
/// [`poll`](Self::poll), which takes `Pin<&Self>`, and leaves only by
/// being dropped in place; only a finished outcome is ever moved out
/// ([`take_output`](Self::take_output)), and `&mut F` is lent only for an
/// `Unpin` future ([`with_unstarted`](Self::with_unstarted)).
pub(crate) struct StageCell<F, T> {
    stage: RefCell<Stage<F, T>>,
}

/// What one [`StageCell::poll`] did.
pub(crate) enum Step<O> {
    /// The cell is borrowed: a re-entrant step (treat as spurious).
    Busy,
    /// There is no future any more (the task ended).
    Ended,
    /// The future is still pending.
    Pending,
    /// The future completed, or panicked; it has been dropped.
    Ready(std::thread::Result<O>),
}

impl<F: Future, T> StageCell<F, T> {
    pub(crate) fn new(fut: F) -> Self {
        StageCell { stage: RefCell::new(Stage::Running(fut)) }
    }

    /// Polls the future once, catching a panic. A future that completes or
    /// panics is dropped in place at once (a panic of its destructor is
    /// ignored: the outcome stands).
    pub(crate) fn poll(self: Pin<&Self>, cx: &mut Context<'_>) -> Step<F::Output> {
        let Ok(mut stage) = self.stage.try_borrow_mut() else { return Step::Busy };
        let Stage::Running(fut) = &mut *stage else { return Step::Ended };
        // SAFETY: `self` is pinned, so the `RefCell` and the `Stage` in it
        // stay at this address until the cell is dropped. The future in
        // `Stage::Running` is never moved out: this type's interface only
        // drops it in place (the stage is overwritten, here, in
        // `drop_future` and in `set_outcome`), moves out of the stage only
        // when it is finished (`take_output`), and lends `&mut F` only when
        // `F: Unpin` (`with_unstarted`). So the future stays where it is
        // until it is dropped, as `Pin` requires.
        let fut = unsafe { Pin::new_unchecked(fut) };
        let polled = catch_unwind(AssertUnwindSafe(|| fut.poll(cx)));
        let out = match polled {
            Ok(Poll::Pending) => return Step::Pending,
            Ok(Poll::Ready(out)) => Ok(out),
            Err(payload) => Err(payload),
        };
        // Dropping the finished future may itself panic; the outcome stands.
        let _ = catch_unwind(AssertUnwindSafe(|| *stage = Stage::Consumed));
        Step::Ready(out)
    }

    /// Drops the future in place (cancellation), returning its destructor's
    /// panic if it panicked. Does nothing when there is no future (or the
    /// cell is borrowed by a running step).
    pub(crate) fn drop_future(&self) -> std::thread::Result<()> {
        if let Ok(mut stage) = self.stage.try_borrow_mut() {
            if matches!(*stage, Stage::Running(_)) {
                return catch_unwind(AssertUnwindSafe(|| *stage = Stage::Consumed));
            }
        }
        Ok(())
    }

    /// Stores the task's outcome (dropping the future in place if it is
    /// still there).
    pub(crate) fn set_outcome(&self, outcome: Result<T>) {
        let new = match outcome {
            Ok(v) => Stage::Succeeded(v),
            Err(e) => Stage::Failed(Box::new(e)),
        };
        *self.stage.borrow_mut() = new;
    }

    /// The stored failure, if the task failed (or was cancelled).
    pub(crate) fn peek_error(&self) -> Option<Error> {
        match &*self.stage.try_borrow().ok()? {
            Stage::Failed(e) => Some((**e).clone()),
            _ => None,
        }
    }

    /// Takes the outcome if the task ended and it was not taken yet.
    pub(crate) fn take_output(&self) -> Option<Result<T>> {
        let mut stage = self.stage.try_borrow_mut().ok()?;
        // Only a finished stage is moved out of (never a running future).
        if !matches!(*stage, Stage::Succeeded(_) | Stage::Failed(_)) {
            return None;
        }
        match std::mem::replace(&mut *stage, Stage::Consumed) {
            Stage::Succeeded(v) => Some(Ok(v)),
            Stage::Failed(e) => Some(Err(*e)),
            _ => None,
        }
    }
}

impl<F: Future + Unpin, T> StageCell<F, T> {
    /// Runs `f` on the future while the task has not ended (a task
    /// factory's body is put in place after the task was registered). Only
    /// for an `Unpin` future, which may move even while pinned.
    pub(crate) fn with_unstarted(&self, f: impl FnOnce(&mut F)) {
        if let Stage::Running(fut) = &mut *self.stage.borrow_mut() {
            f(fut);
        }
    }
}
