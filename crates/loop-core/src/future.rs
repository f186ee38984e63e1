//! `LoopFuture`: asyncio's `Future`, a result that will exist later.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::loop_handle::{Loop, WeakLoop};

/// An id returned by [`LoopFuture::add_done_callback`], to remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId(u64);

type DoneCallback<T> = Box<dyn FnOnce(&LoopFuture<T>)>;

enum State<T: 'static> {
    Pending { wakers: Vec<Waker>, callbacks: Vec<(CallbackId, DoneCallback<T>)>, next_id: u64 },
    Done(Result<T>),
}

struct Inner<T: 'static> {
    state: RefCell<State<T>>,
    owner: WeakLoop,
}

/// A future whose outcome is set by code, not computed (asyncio's
/// `asyncio.Future`, made by [`Loop::create_future`]).
///
/// Clones share the outcome. Awaiting it (for `T: Clone`) yields a clone of
/// the result, or the error it was failed or cancelled with; awaiting it
/// pending while another loop runs yields [`Error::InvalidArgument`] (as
/// asyncio refuses a future attached to a different loop). Done callbacks
/// are scheduled with `call_soon` when the outcome is set, never called
/// inline.
pub struct LoopFuture<T: 'static> {
    inner: Rc<Inner<T>>,
}

impl<T: 'static> Clone for LoopFuture<T> {
    fn clone(&self) -> Self {
        LoopFuture { inner: self.inner.clone() }
    }
}

impl<T: 'static> LoopFuture<T> {
    pub(crate) fn new(lp: &Loop) -> Self {
        LoopFuture {
            inner: Rc::new(Inner {
                state: RefCell::new(State::Pending {
                    wakers: Vec::new(),
                    callbacks: Vec::new(),
                    next_id: 0,
                }),
                owner: lp.downgrade(),
            }),
        }
    }

    /// The loop this future belongs to, if it still exists.
    pub fn get_loop(&self) -> Option<Loop> {
        self.inner.owner.upgrade()
    }

    /// Whether the outcome is set.
    pub fn done(&self) -> bool {
        matches!(*self.inner.state.borrow(), State::Done(_))
    }

    /// Whether the future was cancelled.
    pub fn cancelled(&self) -> bool {
        matches!(*self.inner.state.borrow(), State::Done(Err(Error::Cancelled { .. })))
    }

    /// Marks the future done with `value`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the outcome is already set.
    pub fn set_result(&self, value: T) -> Result<()> {
        self.complete(Ok(value))
    }

    /// Marks the future failed with `error` (asyncio's `set_exception`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the outcome is already set.
    pub fn set_exception(&self, error: Error) -> Result<()> {
        self.complete(Err(error))
    }

    /// Cancels the future: its awaiters see [`Error::Cancelled`]. Returns
    /// `false` if it is already done.
    pub fn cancel(&self) -> bool {
        self.complete(Err(Error::cancelled())).is_ok()
    }

    /// Cancels the future with a message (asyncio's `cancel(msg)`): its
    /// awaiters see [`Error::Cancelled`] carrying `message`. Returns `false`
    /// if it is already done.
    pub fn cancel_with(&self, message: impl Into<std::sync::Arc<str>>) -> bool {
        self.complete(Err(Error::cancelled_with(message))).is_ok()
    }

    /// The error the future failed with, `None` after success.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] while pending.
    pub fn exception(&self) -> Result<Option<Error>> {
        match &*self.inner.state.borrow() {
            State::Pending { .. } => Err(Error::InvalidState("future is not done".into())),
            State::Done(Ok(_)) => Ok(None),
            State::Done(Err(e)) => Ok(Some(e.clone())),
        }
    }

    /// Schedules `f` (with `call_soon`) once the future is done; at once if
    /// it already is. Returns an id for
    /// [`remove_done_callback`](LoopFuture::remove_done_callback).
    pub fn add_done_callback(&self, f: impl FnOnce(&LoopFuture<T>) + 'static) -> CallbackId {
        let mut state = self.inner.state.borrow_mut();
        match &mut *state {
            State::Pending { callbacks, next_id, .. } => {
                let id = CallbackId(*next_id);
                *next_id += 1;
                callbacks.push((id, Box::new(f)));
                id
            }
            State::Done(_) => {
                drop(state);
                self.schedule_callback(Box::new(f));
                CallbackId(u64::MAX)
            }
        }
    }

    /// Removes a done callback that has not been scheduled yet; returns how
    /// many were removed (0 or 1).
    pub fn remove_done_callback(&self, id: CallbackId) -> usize {
        match &mut *self.inner.state.borrow_mut() {
            State::Pending { callbacks, .. } => {
                let before = callbacks.len();
                callbacks.retain(|(i, _)| *i != id);
                before - callbacks.len()
            }
            State::Done(_) => 0,
        }
    }

    fn schedule_callback(&self, f: DoneCallback<T>) {
        if let Some(lp) = self.get_loop() {
            let me = self.clone();
            // On a closed loop the callback is dropped, as close drops every
            // pending callback.
            let _ = lp.inner().call_soon(Handle::new(move || f(&me)));
        }
    }

    fn complete(&self, outcome: Result<T>) -> Result<()> {
        let old = {
            let mut state = self.inner.state.borrow_mut();
            if let State::Done(_) = &*state {
                return Err(Error::InvalidState("future already done".into()));
            }
            std::mem::replace(&mut *state, State::Done(outcome))
        };
        if let State::Pending { wakers, callbacks, .. } = old {
            for w in wakers {
                w.wake();
            }
            for (_, cb) in callbacks {
                self.schedule_callback(cb);
            }
        }
        Ok(())
    }
}

impl<T: Clone + 'static> LoopFuture<T> {
    /// The outcome: the value, or the error the future failed with.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] while pending; otherwise the future's error.
    pub fn result(&self) -> Result<T> {
        match &*self.inner.state.borrow() {
            State::Pending { .. } => Err(Error::InvalidState("future is not done".into())),
            State::Done(r) => r.clone(),
        }
    }
}

impl<T: Clone + 'static> Future for LoopFuture<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        match &mut *self.inner.state.borrow_mut() {
            State::Done(r) => Poll::Ready(r.clone()),
            // asyncio refuses to await a future of another loop.
            State::Pending { .. }
                if crate::policy::another_loop_runs(|lp| self.inner.owner.points_to(lp)) =>
            {
                Poll::Ready(Err(Error::InvalidArgument(
                    "the awaited future belongs to another event loop than the running one".into(),
                )))
            }
            State::Pending { wakers, .. } => {
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl<T: 'static> fmt::Debug for LoopFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &*self.inner.state.borrow() {
            State::Pending { .. } => "pending",
            State::Done(Ok(_)) => "finished",
            State::Done(Err(Error::Cancelled { .. })) => "cancelled",
            State::Done(Err(_)) => "failed",
        };
        f.debug_struct("LoopFuture").field("state", &state).finish()
    }
}
