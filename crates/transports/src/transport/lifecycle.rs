//! The life of a transport, written once for every kind (stream, datagram,
//! TLS): one explicit [`Phase`], the transitions between phases, and the
//! machinery every transport needs at the end of its life — scheduling
//! `connection_lost` exactly once, releasing resources exactly once, and
//! releasing them too when the loop closes under a pending callback.
//!
//! ```text
//!            connection_made            close() / abort() / fatal error
//! Starting ─────────────────► Open ───────────────────────────────────► Closing
//!     │                                                                    │
//!     └──── abort() before connection_made ──► Closing                     │
//!                                                  flushed, or at once     │
//! Closing ◄────────────────────────────────────────────────────────────────┘
//!    │ schedule_connection_lost (call_soon)
//!    ▼
//!  Lost ── connection_lost delivered (only if connection_made was) ──► Released
//! ```
//!
//! * Phases only move forward; every transition method reports whether it
//!   moved, so "exactly once" is decided in one place.
//! * `connection_made` is recorded separately ([`Lifecycle::mark_made`]):
//!   a transport aborted before its start callback ran still delivers
//!   `connection_made` first (callbacks run in FIFO order), and
//!   `connection_lost` is delivered only to a protocol that got
//!   `connection_made`.
//! * `Released` means the OS resources are gone (fd closed, registrations
//!   removed) and the protocol is dropped, breaking the transport ↔
//!   protocol cycle. It is reached after `connection_lost`, or at once when
//!   the loop is closed and no callback can run any more.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use loop_core::Loop;

use crate::error::Error;

/// Where a transport is in its life. Ordered: phases only move forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Created; `connection_made` is scheduled but has not run.
    Starting,
    /// `connection_made` ran; data flows.
    Open,
    /// `close()`, `abort()`, a fatal error (or a write pipe's `write_eof`):
    /// nothing more is accepted; buffered data may still be flushed.
    Closing,
    /// `connection_lost` is scheduled (it runs on the loop, never inside a
    /// transport method).
    Lost,
    /// Resources released and the protocol dropped.
    Released,
}

/// A transport's lifecycle state: its [`Phase`], whether the protocol got
/// `connection_made`, and the error that ended it (if one did).
#[derive(Debug)]
pub(crate) struct Lifecycle {
    phase: Cell<Phase>,
    made: Cell<bool>,
    failure: RefCell<Option<Error>>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            phase: Cell::new(Phase::Starting),
            made: Cell::new(false),
            failure: RefCell::new(None),
        }
    }
}

impl Lifecycle {
    /// The current phase.
    pub(crate) fn phase(&self) -> Phase {
        self.phase.get()
    }

    fn advance(&self, to: Phase) -> bool {
        if self.phase.get() >= to {
            return false;
        }
        self.phase.set(to);
        true
    }

    /// Records that `connection_made` is being delivered; `Starting` moves
    /// to `Open` (a transport closed meanwhile stays closing).
    pub(crate) fn mark_made(&self) {
        self.made.set(true);
        if self.phase.get() == Phase::Starting {
            self.phase.set(Phase::Open);
        }
    }

    /// Whether the protocol got `connection_made`.
    pub(crate) fn made(&self) -> bool {
        self.made.get()
    }

    /// Moves to `Closing`; `false` if the transport already was closing
    /// (or further).
    pub(crate) fn begin_close(&self) -> bool {
        self.advance(Phase::Closing)
    }

    /// Moves to `Lost`; `false` if `connection_lost` was already scheduled.
    pub(crate) fn begin_lost(&self) -> bool {
        self.advance(Phase::Lost)
    }

    /// Moves to `Released`; `false` if the resources were already
    /// released.
    pub(crate) fn begin_release(&self) -> bool {
        self.advance(Phase::Released)
    }

    /// Closing or further: no more data accepted.
    pub(crate) fn is_closing(&self) -> bool {
        self.phase.get() >= Phase::Closing
    }

    /// `connection_lost` is scheduled or ran: the resources are about to
    /// go, or are gone.
    pub(crate) fn is_losing(&self) -> bool {
        self.phase.get() >= Phase::Lost
    }

    /// The resources are released.
    pub(crate) fn is_released(&self) -> bool {
        self.phase.get() == Phase::Released
    }

    /// Keeps the first error that ended the transport.
    pub(crate) fn record_failure(&self, err: &Error) {
        self.failure.borrow_mut().get_or_insert_with(|| err.clone());
    }

    /// The error that ended the transport, if one did.
    pub(crate) fn failure(&self) -> Option<Error> {
        self.failure.borrow().clone()
    }
}

/// What a transport provides so the shared end-of-life machinery can run
/// it.
pub(crate) trait Living: 'static {
    /// The transport's lifecycle state.
    fn life(&self) -> &Lifecycle;
    /// The loop it runs on.
    fn event_loop(&self) -> &Loop;
    /// Calls the protocol's `connection_lost(err)` (catching a panic).
    fn deliver_connection_lost(&self, err: Option<Error>);
    /// Releases the OS resources and drops the protocol. Called once.
    fn release_resources(&self);
}

/// Releases `t`'s resources, once.
pub(crate) fn release<T: Living + ?Sized>(t: &T) {
    if t.life().begin_release() {
        t.release_resources();
    }
}

/// Schedules `connection_lost(err)` once, from the loop; releases the
/// resources after it ran (or at once if the loop is closed).
pub(crate) fn schedule_connection_lost<T: Living>(t: &Rc<T>, err: Option<Error>) {
    if !t.life().begin_lost() {
        return;
    }
    let guard = LoopGuard(t.clone());
    if t.event_loop().call_soon(move || deliver_lost(&guard.0, err)).is_err() {
        release(&**t);
    }
}

fn deliver_lost<T: Living>(t: &Rc<T>, err: Option<Error>) {
    if t.life().made() {
        t.deliver_connection_lost(err);
    }
    release(&**t);
}

/// Holds a transport inside a loop callback. If the loop drops the
/// callback because the loop was closed, the transport is released (fd
/// closed, protocol dropped): otherwise the protocol ↔ transport cycle
/// would keep both alive, and the fd open, forever.
pub(crate) struct LoopGuard<T: Living>(pub(crate) Rc<T>);

impl<T: Living> Drop for LoopGuard<T> {
    fn drop(&mut self) {
        if self.0.event_loop().is_closed() {
            release(&*self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_only_move_forward_and_each_transition_happens_once() {
        let l = Lifecycle::default();
        assert_eq!(l.phase(), Phase::Starting);
        l.mark_made();
        assert_eq!(l.phase(), Phase::Open);
        assert!(l.made());
        assert!(l.begin_close());
        assert!(!l.begin_close(), "closing twice is a no-op");
        assert!(l.is_closing() && !l.is_losing());
        assert!(l.begin_lost());
        assert!(!l.begin_lost(), "connection_lost is scheduled once");
        assert!(!l.begin_close(), "no way back");
        assert!(l.begin_release());
        assert!(!l.begin_release(), "released once");
        assert!(l.is_released());
    }

    #[test]
    fn closed_before_made_stays_closing_but_records_made() {
        let l = Lifecycle::default();
        assert!(l.begin_close());
        l.mark_made();
        assert!(l.made());
        assert_eq!(l.phase(), Phase::Closing);
    }

    #[test]
    fn the_first_failure_is_kept() {
        let l = Lifecycle::default();
        l.record_failure(&Error::Closed);
        l.record_failure(&Error::Cancelled);
        assert!(matches!(l.failure(), Some(Error::Closed)));
    }
}
