//! Each loop's signal state: its slot lease (eventfd and subscriptions), the
//! reader that turns wake-ups into callbacks, and the callbacks themselves.
//!
//! # Ownership and close
//!
//! The state lives in the loop's extension slot for [`LoopSignals`]
//! ([`loop_core::LoopExtension`]); the reader registered for the lease's
//! eventfd finds it there through a weak loop handle, so nothing else keeps
//! it alive. When the loop closes (or is dropped unclosed), the loop calls
//! the state's close hook, which releases the lease — unsubscribing every
//! signal (restoring the previous disposition where this loop was the last
//! subscriber), freeing the slot and closing the eventfd — and drops the
//! callbacks.
//!
//! The state goes too when its last handler is removed: the reader is
//! removed, the lease released and the slot emptied, so a loop without
//! signal handlers holds no signal resources.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use loop_core::{Loop, LoopExtension, WeakLoop};

use crate::sys::{self, SlotLease};
use crate::{Signal, SignalError};

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
    /// Creates `lp`'s state: leases a slot and registers the reader, which
    /// finds the state in the loop's extension slot.
    fn attach(lp: &Loop) -> Result<LoopSignals, SignalError> {
        let lease = SlotLease::acquire()?;
        let weak = lp.downgrade();
        // On failure the lease is dropped here, which releases it.
        lp.add_reader(lease.fd(), move || {
            if let Some(lp) = weak.upgrade() {
                if let Some(state) = lp.extension::<LoopSignals>() {
                    state.dispatch(&lp);
                }
            }
        })?;
        Ok(LoopSignals {
            loop_id: lp.id(),
            lp: lp.downgrade(),
            lease: RefCell::new(Some(lease)),
            handlers: RefCell::new(BTreeMap::new()),
        })
    }

    /// The reader: consumes the wake-up and schedules, with `call_soon`,
    /// one run of the callback of each signal received (in signal-number
    /// order).
    fn dispatch(&self, lp: &Loop) {
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

    /// Unregisters the reader, releases the lease, drops the callbacks and
    /// empties the loop's slot.
    fn detach(&self) {
        self.release();
        if let Some(lp) = self.lp.upgrade() {
            lp.remove_extension::<LoopSignals>();
        }
    }

    /// Unregisters the reader, releases the lease and drops the callbacks.
    fn release(&self) {
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
    }
}

impl LoopExtension for LoopSignals {
    /// The loop is closing: give every signal back and free the slot.
    fn on_close(&self) {
        self.release();
    }
}

/// `add_signal_handler` for `lp`.
pub(crate) fn add_handler(lp: &Loop, sig: Signal, f: Box<dyn FnMut()>) -> Result<(), SignalError> {
    sys::check_catchable(sig)?;
    if lp.is_closed() {
        return Err(loop_core::Error::LoopClosed.into());
    }
    let state = lp.extension_or_try_insert_with(|| LoopSignals::attach(lp))?;
    state.add(sig, f)
}

/// `remove_signal_handler` for `lp`.
pub(crate) fn remove_handler(lp: &Loop, sig: Signal) -> Result<bool, SignalError> {
    sys::check_number(sig)?;
    match lp.extension::<LoopSignals>() {
        Some(state) => state.remove(sig),
        None => Ok(false),
    }
}
