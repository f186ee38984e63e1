//! `DatagramSocketTransport`: the transport of a UDP or Unix datagram
//! socket (what `create_datagram_endpoint` returns).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::{Rc, Weak};

use loop_core::{ExceptionContext, Loop, LoopFuture};

use super::flow::{FlowControl, FlowSignal};
use super::lifecycle::{self, Lifecycle, Living, LoopGuard};
use super::reader::with_read_buffer;
use super::{BaseTransport, DatagramTransport, DatagramTransportRef, ExtraInfo, ExtraKey};
use crate::address::{Address, UnixAddress};
use crate::error::{Error, Result, panic_message};
use crate::protocol::DatagramProtocolRef;
use crate::sys;

/// The transport of a datagram socket (UDP, or Unix `SOCK_DGRAM`).
///
/// `sendto` sends at once when nothing is queued; datagrams the socket
/// refuses are queued whole, with a writer registered until they are sent.
/// Errors of a send or receive (such as an ICMP "port unreachable" reported
/// on a connected socket) go to the protocol's `error_received`, scheduled
/// from the loop; the transport stays open.
pub struct DatagramSocketTransport {
    lp: Loop,
    me: Weak<DatagramSocketTransport>,
    fd: RefCell<Option<OwnedFd>>,
    raw: RawFd,
    protocol: RefCell<Option<DatagramProtocolRef>>,
    /// The connected peer (`getpeername`).
    peer: Option<Address>,
    /// Where `sendto(data, None)` sends, and the only address `sendto`
    /// accepts: the connected peer, or the `remote_addr` of an endpoint
    /// that was not connected (`allow_broadcast`); asyncio's `_address`.
    dest: Option<Address>,
    local: Option<Address>,
    /// Starting → open → closing → lost → released (see `lifecycle.rs`).
    life: Lifecycle,
    reader: Cell<bool>,
    writer: Cell<bool>,
    queue: RefCell<VecDeque<(Vec<u8>, Option<Address>)>>,
    queued: Cell<usize>,
    flow: Cell<FlowControl>,
}

/// Most datagrams read for one readiness event.
const MAX_DATAGRAMS_PER_EVENT: usize = 16;

/// Wraps a datagram socket in a transport and schedules `connection_made`;
/// `waiter` resolves after it ran. `dest` is the fixed destination of a
/// socket that was not connected to its `remote_addr`.
pub(crate) fn start_datagram(
    lp: &Loop,
    fd: OwnedFd,
    dest: Option<Address>,
    protocol: DatagramProtocolRef,
    waiter: LoopFuture<()>,
) -> Result<Rc<DatagramSocketTransport>> {
    let peer = sys::peername(fd.as_fd());
    let local = sys::sockname(fd.as_fd());
    let raw = fd.as_raw_fd();
    let t = Rc::new_cyclic(|me| DatagramSocketTransport {
        lp: lp.clone(),
        me: me.clone(),
        fd: RefCell::new(Some(fd)),
        raw,
        protocol: RefCell::new(Some(protocol)),
        dest: dest.or_else(|| peer.clone()),
        peer,
        local,
        life: Lifecycle::default(),
        reader: Cell::new(false),
        writer: Cell::new(false),
        queue: RefCell::new(VecDeque::new()),
        queued: Cell::new(0),
        flow: Cell::new(FlowControl::default()),
    });
    let g = LoopGuard(t.clone());
    lp.call_soon(move || {
        let t = &g.0;
        t.life.mark_made();
        let handle: DatagramTransportRef = t.clone();
        t.call("connection_made", |p| p.proto.borrow_mut().connection_made(handle));
        if !t.life.is_closing() {
            t.add_reader();
        }
        let _ = waiter.set_result(());
    })?;
    Ok(t)
}

impl DatagramSocketTransport {
    fn call<R>(&self, name: &'static str, f: impl FnOnce(&DatagramProtocolRef) -> R) -> Option<R> {
        let p = self.protocol.borrow().clone()?;
        match catch_unwind(AssertUnwindSafe(|| f(&p))) {
            Ok(r) => Some(r),
            Err(payload) => {
                let err =
                    Error::ProtocolPanicked { callback: name, message: panic_message(&*payload) };
                let ctx =
                    ExceptionContext::new(format!("Fatal error: protocol.{name}() call failed."))
                        .with_error(err.clone().into())
                        .with_protocol(p.name())
                        .with_transport(format!("{self:?}"));
                self.lp.call_exception_handler(ctx);
                if name != "connection_lost" {
                    self.force_close(Some(err));
                }
                None
            }
        }
    }

    fn add_reader(&self) {
        let Some(me) = self.me.upgrade() else { return };
        let g = LoopGuard(me);
        if self
            .with_fd(|fd| self.lp.add_reader(fd, move || g.0.on_readable()))
            .is_some_and(|r| r.is_ok())
        {
            self.reader.set(true);
        }
    }

    /// Receives up to [`MAX_DATAGRAMS_PER_EVENT`] datagrams per readiness
    /// event (fewer polls under load).
    fn on_readable(&self) {
        with_read_buffer(|buf| {
            for _ in 0..MAX_DATAGRAMS_PER_EVENT {
                if self.life.is_losing() || !self.reader.get() {
                    return;
                }
                let Some(r) = self.fd.borrow().as_ref().map(|fd| sys::recvfrom(fd.as_fd(), buf))
                else {
                    return;
                };
                match r {
                    Ok((n, from)) => {
                        let from = from
                            .or_else(|| self.peer.clone())
                            .unwrap_or(Address::Unix(UnixAddress::Unnamed));
                        let data = &buf[..n];
                        self.call("datagram_received", |p| {
                            p.proto.borrow_mut().datagram_received(data, from)
                        });
                    }
                    Err(e) if sys::would_block(&e) => return,
                    Err(e) => {
                        self.call("error_received", |p| {
                            p.proto.borrow_mut().error_received(e.into())
                        });
                        return;
                    }
                }
            }
        });
    }

    fn send_one(&self, data: &[u8], addr: Option<&Address>) -> std::io::Result<usize> {
        let g = self.fd.borrow();
        let Some(fd) = g.as_ref() else { return Err(std::io::ErrorKind::NotConnected.into()) };
        match addr.or(self.dest.as_ref()) {
            Some(a) if self.peer.is_none() => sys::sendto(fd.as_fd(), data, a),
            _ => sys::send(fd.as_fd(), data),
        }
    }

    /// Reports a send error to the protocol, from the loop.
    fn schedule_error(&self, e: std::io::Error) {
        let Some(me) = self.me.upgrade() else { return };
        let err: Error = e.into();
        let _ = self.lp.call_soon(move || {
            if !me.life.is_losing() {
                me.call("error_received", |p| p.proto.borrow_mut().error_received(err));
            }
        });
    }

    fn on_writable(&self) {
        loop {
            let front = self.queue.borrow_mut().pop_front();
            let Some((data, addr)) = front else { break };
            match self.send_one(&data, addr.as_ref()) {
                Ok(_) => self.queued.set(self.queued.get() - data.len()),
                Err(e) if sys::would_block(&e) => {
                    self.queue.borrow_mut().push_front((data, addr));
                    break;
                }
                Err(e) => {
                    self.queued.set(self.queued.get() - data.len());
                    self.call("error_received", |p| p.proto.borrow_mut().error_received(e.into()));
                }
            }
        }
        self.flow_check();
        if self.queue.borrow().is_empty() {
            if self.writer.replace(false) {
                self.with_fd(|fd| self.lp.remove_writer(fd));
            }
            if self.life.is_closing() {
                self.schedule_lost(None);
            }
        }
    }

    fn flow_check(&self) {
        let mut fc = self.flow.get();
        let s = fc.update(self.queued.get());
        self.flow.set(fc);
        match s {
            Some(FlowSignal::Pause) => {
                self.call("pause_writing", |p| p.proto.borrow_mut().pause_writing());
            }
            Some(FlowSignal::Resume) => {
                self.call("resume_writing", |p| p.proto.borrow_mut().resume_writing());
            }
            None => {}
        }
    }

    fn force_close(&self, err: Option<Error>) {
        if self.life.is_losing() {
            return;
        }
        if let Some(e) = &err {
            self.life.record_failure(e);
        }
        self.queue.borrow_mut().clear();
        self.queued.set(0);
        self.life.begin_close();
        self.unwatch();
        self.schedule_lost(err);
    }

    /// Runs `f` on the socket while it is open.
    fn with_fd<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> Option<R> {
        self.fd.borrow().as_ref().map(|fd| f(fd.as_fd()))
    }

    fn unwatch(&self) {
        if self.reader.replace(false) {
            self.with_fd(|fd| self.lp.remove_reader(fd));
        }
        if self.writer.replace(false) {
            self.with_fd(|fd| self.lp.remove_writer(fd));
        }
    }

    fn schedule_lost(&self, err: Option<Error>) {
        if let Some(me) = self.me.upgrade() {
            lifecycle::schedule_connection_lost(&me, err);
        }
    }
}

impl Living for DatagramSocketTransport {
    fn life(&self) -> &Lifecycle {
        &self.life
    }

    fn event_loop(&self) -> &Loop {
        &self.lp
    }

    fn deliver_connection_lost(&self, err: Option<Error>) {
        self.call("connection_lost", |p| p.proto.borrow_mut().connection_lost(err));
    }

    fn release_resources(&self) {
        self.unwatch();
        drop(self.fd.borrow_mut().take());
        drop(self.protocol.borrow_mut().take());
        self.queue.borrow_mut().clear();
    }
}

impl BaseTransport for DatagramSocketTransport {
    fn close(&self) {
        if !self.life.begin_close() {
            return;
        }
        if self.reader.replace(false) {
            self.with_fd(|fd| self.lp.remove_reader(fd));
        }
        if self.queue.borrow().is_empty() {
            self.schedule_lost(None);
        }
    }

    fn is_closing(&self) -> bool {
        self.life.is_closing()
    }

    fn extra_info(&self, key: ExtraKey) -> Option<ExtraInfo> {
        match key {
            ExtraKey::PeerName => self.peer.clone().map(ExtraInfo::Address),
            ExtraKey::SockName => self.local.clone().map(ExtraInfo::Address),
            ExtraKey::Socket if self.fd.borrow().is_some() => Some(ExtraInfo::Fd(self.raw)),
            _ => None,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn get_loop(&self) -> Loop {
        self.lp.clone()
    }
}

impl DatagramTransport for DatagramSocketTransport {
    fn sendto(&self, data: &[u8], addr: Option<&Address>) -> Result<()> {
        if self.life.is_closing() {
            return Err(Error::Closed);
        }
        match (&self.dest, addr) {
            (Some(dest), Some(a)) if a != dest => {
                return Err(Error::invalid(format!("invalid address: must be None or {dest}")));
            }
            (None, None) => {
                return Err(Error::invalid("an address is required on an unconnected socket"));
            }
            (_, Some(a)) => a.check()?,
            _ => {}
        }
        if self.queue.borrow().is_empty() {
            match self.send_one(data, addr) {
                Ok(_) => return Ok(()),
                Err(e) if sys::would_block(&e) => {}
                Err(e) => {
                    self.schedule_error(e);
                    return Ok(());
                }
            }
        }
        self.queue.borrow_mut().push_back((data.to_vec(), addr.cloned()));
        self.queued.set(self.queued.get() + data.len());
        if !self.writer.get() {
            if let Some(me) = self.me.upgrade() {
                let g = LoopGuard(me);
                if self
                    .with_fd(|fd| self.lp.add_writer(fd, move || g.0.on_writable()))
                    .is_some_and(|r| r.is_ok())
                {
                    self.writer.set(true);
                }
            }
        }
        Ok(())
    }

    fn abort(&self) {
        self.force_close(None);
    }

    fn get_write_buffer_size(&self) -> usize {
        self.queued.get()
    }

    fn set_protocol(&self, protocol: DatagramProtocolRef) {
        if !self.life.is_released() {
            *self.protocol.borrow_mut() = Some(protocol);
        }
    }

    fn get_protocol(&self) -> Option<DatagramProtocolRef> {
        self.protocol.borrow().clone()
    }
}

impl fmt::Debug for DatagramSocketTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatagramSocketTransport")
            .field("fd", &self.raw)
            .field("local", &self.local)
            .field("peer", &self.peer)
            .field("phase", &self.life.phase())
            .finish()
    }
}
