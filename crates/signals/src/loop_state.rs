//! Each loop's signal state: its slot lease (eventfd and subscriptions), the
//! reader that turns wake-ups into callbacks, and the callbacks themselves.
//!
//! # Ownership and close
//!
//! The loop's reader callback holds the only strong reference to the state;
//! this thread's registry holds a weak one, keyed by loop id. So the state
//! lives exactly as long as the reader is registered: when the loop closes
//! (or is dropped), it unregisters every fd reader and drops their
//! callbacks, which drops the state, which drops the lease — unsubscribing
//! every signal (restoring the previous disposition where this loop was
//! the last subscriber), freeing the slot and closing the eventfd. No close hook is
//! needed. For a loop implementation that keeps its readers after `close`,
//! the next `add_signal_handler` on the same thread sweeps the states of
//! closed loops.
//!
//! The state drops too when its last handler is removed: the reader is
//! removed and the lease released, so a loop without signal handlers holds
//! no signal resources.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::rc::{Rc, Weak};

use loop_core::{Loop, WeakLoop};

use crate::sys::{self, SlotLease};
use crate::{Signal, SignalError};

thread_local! {
    /// The signal states of this thread's loops.
    static STATES: RefCell<Vec<Weak<LoopSignals>>> = const { RefCell::new(Vec::new()) };
}

/// A registered callback. `active` turns false when it is removed or
/// replaced, so a run already queued with `call_soon` does nothing.
struct Registration {
    active: Cell<bool>,
    f: RefCell<Box<dyn FnMut()>>,
}

impl Registration {
    fn run(&self) {
        if self.active.get() {
            // A callback never runs nested inside itself (the loop runs
            // callbacks one after another); skipping is the safe answer if
            // it ever were.
            if let Ok(mut f) = self.f.try_borrow_mut() {
                f();
            }
        }
    }
}

/// One loop's signal state.
pub(crate) struct LoopSignals {
    loop_id: u64,
    lp: WeakLoop,
    lease: RefCell<Option<SlotLease>>,
    handlers: RefCell<BTreeMap<Signal, Rc<Registration>>>,
}

impl fmt::Debug for LoopSignals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopSignals")
            .field("loop_id", &self.loop_id)
            .field("signals", &self.handlers.borrow().keys().collect::<Vec<_>>())
            .finish()
    }
}

impl LoopSignals {
    /// This thread's state for `lp`, if it has one.
    fn find(lp: &Loop) -> Option<Rc<LoopSignals>> {
        let id = lp.id();
        STATES
            .try_with(|states| {
                let mut states = states.borrow_mut();
                states.retain(|w| w.strong_count() > 0);
                states
                    .iter()
                    .filter_map(Weak::upgrade)
                    .find(|s| s.loop_id == id && s.lease.borrow().is_some())
            })
            .ok()
            .flatten()
    }

    /// Creates `lp`'s state: leases a slot and registers the reader.
    fn attach(lp: &Loop) -> Result<Rc<LoopSignals>, SignalError> {
        let lease = SlotLease::acquire()?;
        let state = Rc::new(LoopSignals {
            loop_id: lp.id(),
            lp: lp.downgrade(),
            lease: RefCell::new(Some(lease)),
            handlers: RefCell::new(BTreeMap::new()),
        });
        let reader = Rc::clone(&state);
        // On failure the reader closure is dropped, then `state`, which
        // releases the lease.
        let lease = state.lease.borrow();
        let fd = lease.as_ref().map(SlotLease::fd).expect("the lease was just stored");
        lp.add_reader(fd, move || reader.dispatch())?;
        drop(lease);
        let _ = STATES.try_with(|s| s.borrow_mut().push(Rc::downgrade(&state)));
        Ok(state)
    }

    /// Releases the states of closed or dropped loops of this thread (for
    /// loop implementations that keep readers after `close`).
    fn sweep_closed() {
        let stale: Vec<Rc<LoopSignals>> = STATES
            .try_with(|states| {
                let mut states = states.borrow_mut();
                states.retain(|w| w.strong_count() > 0);
                states
                    .iter()
                    .filter_map(Weak::upgrade)
                    .filter(|s| s.lp.upgrade().is_none_or(|lp| lp.is_closed()))
                    .collect()
            })
            .unwrap_or_default();
        for state in stale {
            state.detach();
        }
    }

    /// The reader: consumes the wake-up and schedules, with `call_soon`,
    /// one run of the callback of each signal received (in signal-number
    /// order).
    fn dispatch(&self) {
        let Some(lp) = self.lp.upgrade() else { return };
        let pending = match &*self.lease.borrow() {
            Some(lease) => lease.take_pending(),
            None => return,
        };
        let mut bits = pending;
        while bits != 0 {
            let n = bits.trailing_zeros() as i32 + 1;
            bits &= bits - 1;
            let reg = self.handlers.borrow().get(&Signal::from_raw(n)).cloned();
            if let Some(reg) = reg {
                // Fails only once the loop is closed, when nothing may run.
                let _ = lp.call_soon(move || reg.run());
            }
        }
    }

    fn add(&self, sig: Signal, f: Box<dyn FnMut()>) -> Result<(), SignalError> {
        let subscribed = match &*self.lease.borrow() {
            Some(lease) => lease.subscribe(sig),
            None => Err(loop_core::Error::LoopClosed.into()),
        };
        if let Err(err) = subscribed {
            if self.handlers.borrow().is_empty() {
                self.detach();
            }
            return Err(err);
        }
        let reg = Rc::new(Registration { active: Cell::new(true), f: RefCell::new(f) });
        let old = self.handlers.borrow_mut().insert(sig, reg);
        if let Some(old) = old {
            old.active.set(false);
        }
        Ok(())
    }

    fn remove(&self, sig: Signal) -> Result<bool, SignalError> {
        let Some(reg) = self.handlers.borrow_mut().remove(&sig) else {
            return Ok(false);
        };
        reg.active.set(false);
        let unsubscribed = match &*self.lease.borrow() {
            Some(lease) => lease.unsubscribe(sig),
            None => Ok(()),
        };
        if self.handlers.borrow().is_empty() {
            self.detach();
        }
        // The callback (and whatever it captured) drops here, after every
        // borrow is released.
        drop(reg);
        unsubscribed.map(|()| true)
    }

    /// Unregisters the reader, releases the lease and drops the callbacks.
    fn detach(&self) {
        let lease = self.lease.borrow_mut().take();
        if let Some(lease) = &lease {
            if let Some(lp) = self.lp.upgrade() {
                // Fails only if the loop is closed: its readers are gone.
                let _ = lp.remove_reader(lease.fd());
            }
        }
        drop(lease);
        let handlers = std::mem::take(&mut *self.handlers.borrow_mut());
        for reg in handlers.values() {
            reg.active.set(false);
        }
        drop(handlers);
        let me: *const LoopSignals = self;
        let _ = STATES.try_with(|s| s.borrow_mut().retain(|w| !std::ptr::eq(w.as_ptr(), me)));
    }
}

/// `add_signal_handler` for `lp`.
pub(crate) fn add_handler(lp: &Loop, sig: Signal, f: Box<dyn FnMut()>) -> Result<(), SignalError> {
    sys::check_catchable(sig)?;
    if lp.is_closed() {
        return Err(loop_core::Error::LoopClosed.into());
    }
    LoopSignals::sweep_closed();
    let state = match LoopSignals::find(lp) {
        Some(state) => state,
        None => LoopSignals::attach(lp)?,
    };
    state.add(sig, f)
}

/// `remove_signal_handler` for `lp`.
pub(crate) fn remove_handler(lp: &Loop, sig: Signal) -> Result<bool, SignalError> {
    sys::check_number(sig)?;
    match LoopSignals::find(lp) {
        Some(state) => state.remove(sig),
        None => Ok(false),
    }
}
