//! Transports under a layer: what `start_tls` does to the transport it
//! upgrades, and the access a layer (TLS) has to the transport beneath it.
//!
//! # How an upgraded transport is made unusable
//!
//! When a layer takes a transport over (`start_tls`, or a TLS option on a
//! factory), the transport records the layer as its *owner*. From then on,
//! through its public face (the `TransportRef` the application still holds):
//!
//! * `write`, `writelines` and `write_eof` fail with
//!   [`Error::InvalidState`] — no plaintext can slip past the layer;
//! * `close`, `abort`, `pause_reading` and `resume_reading` act on the
//!   owner instead (closing the old handle closes the TLS connection
//!   properly, with close_notify);
//! * `set_protocol` is ignored (the layer is the protocol);
//! * queries (`is_closing`, `extra_info`, `get_write_buffer_size`, …) keep
//!   working.
//!
//! The layer itself drives the transport through [`Lower`], which bypasses
//! the owner check. A transport type from outside this crate cannot be
//! guarded this way: the layer drives it through its public methods and
//! the old handle stays usable — do not use it.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::{Transport, TransportRef};
use crate::error::{Error, Result};
use crate::protocol::StreamProtocolRef;

/// The layer that took a transport over, if one did.
#[derive(Default)]
pub(crate) struct Owner(RefCell<Option<Weak<dyn Transport>>>);

impl Owner {
    /// The owning layer, while it is alive.
    pub(crate) fn get(&self) -> Option<TransportRef> {
        self.0.borrow().as_ref().and_then(Weak::upgrade)
    }

    /// Whether a layer took the transport over (even if it is gone now).
    pub(crate) fn is_owned(&self) -> bool {
        self.0.borrow().is_some()
    }

    pub(crate) fn set(&self, owner: Weak<dyn Transport>) {
        *self.0.borrow_mut() = Some(owner);
    }
}

impl std::fmt::Debug for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_owned() { "owned" } else { "free" })
    }
}

/// The error of a write through the public face of an upgraded transport.
pub(crate) fn upgraded() -> Error {
    Error::InvalidState(
        "this transport was upgraded by start_tls: use the transport start_tls returned".into(),
    )
}

/// What a layer does with the transport beneath it, bypassing the owner
/// check of the transport's public face.
pub(crate) trait Lower {
    /// Takes the transport over: `shim` becomes its protocol and `owner`
    /// its owner.
    fn adopt(&self, owner: Weak<dyn Transport>, shim: StreamProtocolRef);
    /// Sends bytes (one vectored write).
    fn write(&self, bufs: &[&[u8]]) -> Result<()>;
    /// Closes after flushing.
    fn close(&self);
    /// Closes at once.
    fn abort(&self);
    /// Stops receiving.
    fn pause_reading(&self);
    /// Receives again.
    fn resume_reading(&self);
    /// Sets the water marks.
    fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()>;
    /// Flushes at the end of this iteration, after the callbacks already
    /// registered to run then (the layer's own encryption among them).
    fn flush_soon(&self);
    /// The public face, for queries.
    fn face(&self) -> TransportRef;
}

/// A transport type this crate does not know: driven through its public
/// methods.
pub(crate) struct Foreign(pub(crate) TransportRef);

impl Lower for Foreign {
    fn adopt(&self, _owner: Weak<dyn Transport>, shim: StreamProtocolRef) {
        self.0.set_protocol(shim);
    }
    fn write(&self, bufs: &[&[u8]]) -> Result<()> {
        self.0.writelines(bufs)
    }
    fn close(&self) {
        self.0.close();
    }
    fn abort(&self) {
        self.0.abort();
    }
    fn pause_reading(&self) {
        self.0.pause_reading();
    }
    fn resume_reading(&self) {
        self.0.resume_reading();
    }
    fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        self.0.set_write_buffer_limits(high, low)
    }
    fn flush_soon(&self) {
        // A foreign transport flushes as it does.
    }
    fn face(&self) -> TransportRef {
        self.0.clone()
    }
}

/// Whether a layer already took `t` over (a transport of this crate that
/// `start_tls` upgraded): it cannot be upgraded a second time.
pub(crate) fn is_upgraded(t: &TransportRef) -> bool {
    if let Some(fd) = t.as_any().downcast_ref::<super::FdTransport>() {
        return fd.owner.is_owned();
    }
    if let Some(tls) = t.as_any().downcast_ref::<crate::tls::TlsTransport>() {
        return tls.owner.is_owned();
    }
    false
}

/// The [`Lower`] access to `t`: its own when it is one of this crate's
/// transports, its public methods otherwise.
pub(crate) fn lower_of(t: &TransportRef) -> Rc<dyn Lower> {
    if let Some(fd) = t.as_any().downcast_ref::<super::FdTransport>() {
        if let Some(rc) = fd.me.upgrade() {
            return Rc::new(FdLower(rc));
        }
    }
    if let Some(tls) = t.as_any().downcast_ref::<crate::tls::TlsTransport>() {
        if let Some(l) = tls.as_lower() {
            return l;
        }
    }
    Rc::new(Foreign(t.clone()))
}

/// An [`FdTransport`](super::FdTransport) under a layer.
pub(crate) struct FdLower(pub(crate) Rc<super::FdTransport>);
