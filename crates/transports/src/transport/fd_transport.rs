//! `FdTransport`: the stream transport over one file descriptor — a
//! connected TCP or Unix socket, or one end of a pipe. This file holds its
//! state and lifecycle (start, close, abort, connection lost); the read and
//! write halves live in `reader.rs` and `writer.rs`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

use loop_core::{ExceptionContext, Handle, Loop, LoopFuture};

use super::TransportRef;
use super::flow::FlowControl;
use super::layered::Owner;
use super::lifecycle::{self, Lifecycle, Living, LoopGuard};
use super::write_buffer::WriteBuffer;
use crate::address::Address;
use crate::error::{Error, Result, panic_message};
use crate::protocol::{StreamProtocolKind, StreamProtocolRef};
use crate::sys;

/// What the descriptor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FdKind {
    /// A connected stream socket (TCP or Unix).
    Socket,
    /// The read end of a pipe (or a socket used as one).
    ReadPipe,
    /// The write end of a pipe (or a socket used as one).
    WritePipe,
}

/// How a transport is started.
#[derive(Default)]
pub(crate) struct StartOptions {
    /// Resolved after `connection_made` ran (failed if it panicked).
    pub(crate) waiter: Option<LoopFuture<()>>,
    /// Called once after `connection_lost` (a server's connection count).
    pub(crate) on_lost: Option<Box<dyn FnOnce()>>,
}

/// The transport of a connected stream socket or of a pipe end: what
/// `create_connection`, `create_server`, the Unix variants,
/// `connect_accepted_socket` and the pipe methods hand to protocols.
///
/// Users see it as [`TransportRef`] (`Rc<dyn Transport>`); the concrete
/// type is public so it can be recognised with
/// [`BaseTransport::as_any`](super::BaseTransport::as_any).
pub struct FdTransport {
    pub(super) lp: Loop,
    pub(super) me: Weak<FdTransport>,
    pub(crate) kind: FdKind,
    pub(super) fd: RefCell<Option<OwnedFd>>,
    pub(super) raw: RawFd,
    pub(super) protocol: RefCell<Option<StreamProtocolRef>>,
    /// Starting → open → closing → lost → released (see `lifecycle.rs`).
    pub(super) life: Lifecycle,
    pub(super) eof_received: Cell<bool>,
    /// `write_eof` was called.
    pub(super) eof_written: Cell<bool>,
    /// The write half was actually shut down.
    pub(super) eof_sent: Cell<bool>,
    pub(super) reading_paused: Cell<bool>,
    pub(super) reader_registered: Cell<bool>,
    /// A read that filled the buffer scheduled another (see `reader.rs`).
    pub(super) read_more_scheduled: Cell<bool>,
    pub(super) writer_registered: Cell<bool>,
    pub(super) flush_scheduled: Cell<bool>,
    /// A `sendfile` is sending over this transport: other writes are
    /// refused.
    pub(super) sendfile_active: Cell<bool>,
    pub(super) wbuf: RefCell<WriteBuffer>,
    pub(super) flow: Cell<FlowControl>,
    /// Run before the loop polls: flushes coalesced writes. One handle for
    /// the transport's lifetime, so scheduling it allocates nothing.
    pub(super) flush_handle: Handle,
    pub(super) drain_waiters: RefCell<Vec<Waker>>,
    pub(super) peer: Option<Address>,
    pub(super) local: Option<Address>,
    pub(super) on_lost: RefCell<Option<Box<dyn FnOnce()>>>,
    /// The layer (`start_tls`) that took the transport over, if any.
    pub(super) owner: Owner,
}

impl FdTransport {
    /// A transport over `fd` (already non-blocking) driven by `protocol`.
    pub(crate) fn new(
        lp: &Loop,
        fd: OwnedFd,
        kind: FdKind,
        protocol: StreamProtocolRef,
    ) -> Rc<Self> {
        let (peer, local) = match kind {
            FdKind::Socket => (sys::peername(fd.as_fd()), sys::sockname(fd.as_fd())),
            _ => (None, None),
        };
        let raw = fd.as_raw_fd();
        Rc::new_cyclic(|me: &Weak<FdTransport>| {
            let weak = me.clone();
            FdTransport {
                lp: lp.clone(),
                me: me.clone(),
                kind,
                fd: RefCell::new(Some(fd)),
                raw,
                protocol: RefCell::new(Some(protocol)),
                life: Lifecycle::default(),
                eof_received: Cell::new(false),
                eof_written: Cell::new(false),
                eof_sent: Cell::new(false),
                reading_paused: Cell::new(false),
                reader_registered: Cell::new(false),
                read_more_scheduled: Cell::new(false),
                writer_registered: Cell::new(false),
                flush_scheduled: Cell::new(false),
                sendfile_active: Cell::new(false),
                wbuf: RefCell::new(WriteBuffer::default()),
                flow: Cell::new(FlowControl::default()),
                flush_handle: Handle::repeating(move || {
                    if let Some(t) = weak.upgrade() {
                        t.flush();
                    }
                }),
                drain_waiters: RefCell::new(Vec::new()),
                peer,
                local,
                on_lost: RefCell::new(None),
                owner: Owner::default(),
            }
        })
    }

    /// Schedules `connection_made` (then starts reading). `opts.waiter` is
    /// resolved after `connection_made` returned.
    pub(crate) fn start(self: &Rc<Self>, opts: StartOptions) -> Result<()> {
        *self.on_lost.borrow_mut() = opts.on_lost;
        let guard = LoopGuard(self.clone());
        let waiter = opts.waiter;
        let started = self.lp.call_soon(move || {
            let me = &guard.0;
            me.life.mark_made();
            let t: TransportRef = me.clone() as Rc<FdTransport>;
            me.call_protocol("connection_made", |p| match &p.kind {
                StreamProtocolKind::Streaming(p) => p.borrow_mut().connection_made(t),
                StreamProtocolKind::Buffered(p) => p.borrow_mut().connection_made(t),
            });
            if !me.life.is_closing() {
                match me.kind {
                    FdKind::Socket | FdKind::ReadPipe if !me.reading_paused.get() => {
                        me.add_reader()
                    }
                    // A write pipe watches for readability to notice the
                    // reader going away (EPOLLERR/EPOLLHUP).
                    FdKind::WritePipe => me.add_reader(),
                    _ => {}
                }
            }
            if let Some(w) = waiter {
                let _ = match me.life.failure() {
                    Some(e) => w.set_exception(e.into()),
                    None => w.set_result(()),
                };
            }
        });
        if let Err(e) = started {
            // The loop is closed: nothing will ever run; release the fd now.
            self.life.begin_lost();
            lifecycle::release(&**self);
            return Err(e.into());
        }
        Ok(())
    }

    /// Runs `f` with the borrowed fd, if still open.
    pub(crate) fn with_fd<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> Option<R> {
        let g = self.fd.borrow();
        g.as_ref().map(|fd| f(fd.as_fd()))
    }

    /// Calls the protocol, catching a panic: a panic is reported to the
    /// exception handler and closes the transport. `None` when there is no
    /// protocol or it panicked.
    pub(super) fn call_protocol<R>(
        &self,
        callback: &'static str,
        f: impl FnOnce(&StreamProtocolRef) -> R,
    ) -> Option<R> {
        let proto = self.protocol.borrow().clone()?;
        match catch_unwind(AssertUnwindSafe(|| f(&proto))) {
            Ok(r) => Some(r),
            Err(payload) => {
                let err = Error::ProtocolPanicked { callback, message: panic_message(&*payload) };
                self.report(format!("Fatal error: protocol.{callback}() call failed."), &err);
                if callback != "connection_lost" {
                    self.force_close(Some(err));
                }
                None
            }
        }
    }

    /// Hands a failure to the loop's exception handler, with context.
    pub(super) fn report(&self, message: String, err: &Error) {
        let mut ctx = ExceptionContext::new(message)
            .with_error(err.clone().into())
            .with_transport(format!("{self:?}"));
        if let Some(p) = self.protocol.borrow().as_ref() {
            ctx = ctx.with_protocol(p.name());
        }
        self.lp.call_exception_handler(ctx);
    }

    /// A read or write failed: report it (unless it is an ordinary
    /// disconnect) and close without flushing.
    pub(super) fn fatal_error(&self, err: Error, message: &str) {
        let quiet = matches!(
            err.kind(),
            Some(
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::NotConnected
                    | std::io::ErrorKind::TimedOut
            )
        );
        if !quiet {
            self.report(message.to_owned(), &err);
        }
        self.force_close(Some(err));
    }

    pub(super) fn add_reader(&self) {
        if self.reader_registered.get() || self.life.is_losing() {
            return;
        }
        let Some(me) = self.me.upgrade() else { return };
        let me = LoopGuard(me);
        match self.with_fd(|fd| self.lp.add_reader_edge(fd, move || me.0.on_readable())) {
            Some(Ok(())) => self.reader_registered.set(true),
            Some(Err(e)) => {
                self.fatal_error(e.into(), "Cannot watch the transport's file descriptor")
            }
            None => {}
        }
    }

    pub(super) fn remove_reader(&self) {
        if self.reader_registered.replace(false) {
            self.with_fd(|fd| self.lp.remove_reader(fd));
        }
    }

    pub(super) fn add_writer(&self) {
        if self.writer_registered.get() || self.life.is_losing() {
            return;
        }
        let Some(me) = self.me.upgrade() else { return };
        let me = LoopGuard(me);
        match self.with_fd(|fd| self.lp.add_writer_edge(fd, move || me.0.on_writable())) {
            Some(Ok(())) => self.writer_registered.set(true),
            Some(Err(e)) => {
                self.fatal_error(e.into(), "Cannot watch the transport's file descriptor")
            }
            None => {}
        }
    }

    pub(super) fn remove_writer(&self) {
        if self.writer_registered.replace(false) {
            self.with_fd(|fd| self.lp.remove_writer(fd));
        }
    }

    /// Closes at once with `err` (abort, fatal error): drops buffered data
    /// and schedules `connection_lost`.
    pub(super) fn force_close(&self, err: Option<Error>) {
        if self.life.is_losing() {
            return;
        }
        if let Some(e) = &err {
            self.life.record_failure(e);
        }
        if let Ok(mut wb) = self.wbuf.try_borrow_mut() {
            wb.clear();
        }
        self.remove_writer();
        self.life.begin_close();
        self.remove_reader();
        self.schedule_connection_lost(err);
    }

    pub(super) fn schedule_connection_lost(&self, err: Option<Error>) {
        if let Some(me) = self.me.upgrade() {
            lifecycle::schedule_connection_lost(&me, err);
        }
    }

    /// Unregisters, closes the fd, drops the protocol (breaking the
    /// transport ↔ protocol cycle) and tells the server. Called once, by
    /// the lifecycle.
    fn release_now(&self) {
        self.remove_reader();
        self.remove_writer();
        drop(self.fd.borrow_mut().take());
        drop(self.protocol.borrow_mut().take());
        if let Ok(mut wb) = self.wbuf.try_borrow_mut() {
            wb.clear();
        }
        self.flush_handle.cancel();
        self.wake_drain_waiters();
        let hook = self.on_lost.borrow_mut().take();
        if let Some(hook) = hook {
            hook();
        }
    }

    pub(super) fn wake_drain_waiters(&self) {
        let waiters = std::mem::take(&mut *self.drain_waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }

    /// Resolves once the write buffer is empty (or the transport is gone).
    ///
    /// # Errors
    ///
    /// When the transport closed before draining: the error that closed it
    /// (the OS error of a failed read or write, with its errno), or
    /// [`Error::Closed`] after `close()` / `abort()`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: nothing is lost by dropping the future.
    pub async fn wait_drained(&self) -> Result<()> {
        std::future::poll_fn(|cx| {
            if self.life.is_losing() || self.fd.borrow().is_none() {
                return Poll::Ready(Err(self.lost_error()));
            }
            if self.wbuf.borrow().is_empty() {
                return Poll::Ready(Ok(()));
            }
            let mut w = self.drain_waiters.borrow_mut();
            if !w.iter().any(|x| x.will_wake(cx.waker())) {
                w.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    /// Whether `connection_lost` is scheduled or ran: the fd is about to be
    /// closed, or is.
    pub(crate) fn is_losing(&self) -> bool {
        self.life.is_losing()
    }

    /// Why the transport can take no more data: the error that closed it
    /// (an OS error keeps its errno), or [`Error::Closed`].
    pub(crate) fn lost_error(&self) -> Error {
        self.life.failure().unwrap_or(Error::Closed)
    }

    /// Waits until the socket can take more data, through the transport's
    /// own writer registration (what `sendfile` waits on while the write
    /// buffer is empty). The transport removes that registration before it
    /// closes its fd, and wakes this wait then.
    ///
    /// # Errors
    ///
    /// [`lost_error`](Self::lost_error) once the transport is losing its
    /// connection.
    pub(crate) async fn wait_writable(&self) -> Result<()> {
        let mut registered = false;
        std::future::poll_fn(|cx| {
            if self.life.is_losing() {
                return Poll::Ready(Err(self.lost_error()));
            }
            if !registered {
                // With an empty buffer, `on_writable` removes the writer and
                // wakes the drain waiters as soon as the socket is writable.
                self.add_writer();
                registered = true;
            } else if !self.writer_registered.get() {
                return Poll::Ready(Ok(()));
            }
            let mut w = self.drain_waiters.borrow_mut();
            if !w.iter().any(|x| x.will_wake(cx.waker())) {
                w.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    /// Delivers a flow-control signal.
    pub(super) fn signal_protocol(&self, pause: bool) {
        let name = if pause { "pause_writing" } else { "resume_writing" };
        self.call_protocol(name, |p| match (&p.kind, pause) {
            (StreamProtocolKind::Streaming(p), true) => p.borrow_mut().pause_writing(),
            (StreamProtocolKind::Streaming(p), false) => p.borrow_mut().resume_writing(),
            (StreamProtocolKind::Buffered(p), true) => p.borrow_mut().pause_writing(),
            (StreamProtocolKind::Buffered(p), false) => p.borrow_mut().resume_writing(),
        });
    }
}

impl Living for FdTransport {
    fn life(&self) -> &Lifecycle {
        &self.life
    }

    fn event_loop(&self) -> &Loop {
        &self.lp
    }

    fn deliver_connection_lost(&self, err: Option<Error>) {
        self.call_protocol("connection_lost", |p| match &p.kind {
            StreamProtocolKind::Streaming(p) => p.borrow_mut().connection_lost(err),
            StreamProtocolKind::Buffered(p) => p.borrow_mut().connection_lost(err),
        });
    }

    fn release_resources(&self) {
        self.release_now();
    }
}

impl fmt::Debug for FdTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("FdTransport");
        d.field("kind", &self.kind).field("fd", &self.raw);
        if let Some(p) = &self.peer {
            d.field("peer", &format_args!("{p}"));
        }
        d.field("phase", &self.life.phase()).finish()
    }
}
