//! The TLS layer: [`TlsTransport`] is the application protocol's transport
//! and, through [`Shim`](super::shim::Shim), the protocol of the transport beneath it
//! (asyncio's `sslproto` design). It drives a rustls in-memory connection:
//! ciphertext from below goes into `read_tls`, plaintext comes out of
//! `reader()` to the application; the application's plaintext goes into
//! `writer()`, ciphertext comes out of `write_tls` and is written below.
//!
//! This file holds the state and the inbound path (handshake, data,
//! close_notify, EOF, loss); `app_face.rs` holds the transport traits the
//! application calls, `outbound.rs` the write path, `shim.rs` the protocol
//! installed beneath.

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::{Rc, Weak};
use std::time::Duration;

use loop_core::{ExceptionContext, Handle, Loop, LoopFuture, TimerHandle};
use rustls::Connection;

use crate::error::{Error, panic_message};
use crate::protocol::{Protocol, StreamProtocolKind, StreamProtocolRef};
use crate::transport::{
    Lifecycle, Living, Lower, Transport, TransportRef, schedule_connection_lost,
};

thread_local! {
    /// Decrypted bytes lent to `data_received` (a nested layer, TLS in
    /// TLS, gets a fresh buffer).
    static PLAIN_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; PLAIN_CHUNK].into_boxed_slice());
}

/// Most plaintext handed to `data_received` at once.
const PLAIN_CHUNK: usize = 64 * 1024;

/// A TLS connection over another transport, as the application sees it.
///
/// Made by the factories' `tls` options and by
/// [`start_tls`](crate::NetExt::start_tls); handed to the application as a
/// [`TransportRef`]. See the [`tls`](crate::tls) module for its semantics.
pub struct TlsTransport {
    pub(super) lp: Loop,
    pub(super) me: Weak<TlsTransport>,
    pub(super) life: Lifecycle,
    pub(super) conn: RefCell<Connection>,
    /// The transport beneath, once attached.
    pub(super) lower: RefCell<Option<Rc<dyn Lower>>>,
    pub(super) app: RefCell<Option<StreamProtocolRef>>,
    /// Call the application's `connection_made` after the handshake
    /// (false for `start_tls`, whose protocol is already connected).
    call_made: bool,
    pub(super) handshaking: Cell<bool>,
    waiter: RefCell<Option<LoopFuture<()>>>,
    handshake_timeout: Duration,
    pub(super) shutdown_timeout: Duration,
    /// The handshake timer, then the shutdown timer.
    pub(super) timer: RefCell<Option<TimerHandle>>,
    /// close_notify was sent: waiting for the peer's.
    pub(super) shutting_down: Cell<bool>,
    pub(super) reading_paused: Cell<bool>,
    /// Ciphertext received while reading was paused, fed on resume.
    pub(super) pending_in: RefCell<Vec<u8>>,
    pub(super) resume_scheduled: Cell<bool>,
    eof_delivered: Cell<bool>,
    /// Application plaintext of this loop iteration, encrypted before the
    /// loop polls (see `outbound.rs`).
    pub(super) plain_out: RefCell<Vec<u8>>,
    pub(super) encrypt_scheduled: Cell<bool>,
    /// Plaintext handed to rustls and not yet written beneath (counted in
    /// `get_write_buffer_size`).
    pub(super) unsent: Cell<usize>,
    /// The end-of-iteration callback that encrypts `plain_out`.
    pub(super) encrypt_handle: Handle,
    /// The layer above, when this transport is itself upgraded (TLS in
    /// TLS).
    pub(crate) owner: crate::transport::Owner,
    /// The server name asked for (client side).
    pub(super) sni: Option<String>,
}

/// What the inbound loop should do next.
enum Flow {
    /// Keep feeding ciphertext.
    More,
    /// Stop: reading is paused or the transport is ending.
    Stop,
    /// The peer sent close_notify and every byte before it was delivered.
    PeerClosed,
}

impl TlsTransport {
    /// A TLS layer for `app`, not yet attached to a transport. `waiter`
    /// resolves when the handshake completes (fails if it does not).
    pub(crate) fn new(
        lp: &Loop,
        mut conn: Connection,
        app: StreamProtocolRef,
        call_made: bool,
        timeouts: (Duration, Duration),
        sni: Option<String>,
        waiter: Option<LoopFuture<()>>,
    ) -> Rc<Self> {
        // Ciphertext is handed below as soon as it is made, so rustls'
        // outgoing buffer never needs a limit (a limit would cut large
        // writes short).
        conn.set_buffer_limit(None);
        Rc::new_cyclic(|me| TlsTransport {
            lp: lp.clone(),
            me: me.clone(),
            life: Lifecycle::default(),
            conn: RefCell::new(conn),
            lower: RefCell::new(None),
            app: RefCell::new(Some(app)),
            call_made,
            handshaking: Cell::new(true),
            waiter: RefCell::new(waiter),
            handshake_timeout: timeouts.0,
            shutdown_timeout: timeouts.1,
            timer: RefCell::new(None),
            shutting_down: Cell::new(false),
            reading_paused: Cell::new(false),
            pending_in: RefCell::new(Vec::new()),
            resume_scheduled: Cell::new(false),
            eof_delivered: Cell::new(false),
            plain_out: RefCell::new(Vec::new()),
            encrypt_scheduled: Cell::new(false),
            unsent: Cell::new(0),
            encrypt_handle: {
                let weak = me.clone();
                Handle::repeating(move || {
                    if let Some(me) = weak.upgrade() {
                        me.on_before_poll();
                    }
                })
            },
            owner: crate::transport::Owner::default(),
            sni,
        })
    }

    /// The protocol to install on the transport beneath.
    pub(crate) fn shim(self: &Rc<Self>) -> super::shim::Shim {
        super::shim::Shim(self.clone())
    }

    /// Takes `lower` over and starts the handshake (the client sends its
    /// hello) with its timer. Reading beneath is resumed, as asyncio's
    /// `start_tls` does: the previous protocol may have paused it (a
    /// stream reader over its limit), and the handshake must read.
    pub(crate) fn attach(self: &Rc<Self>, lower: Rc<dyn Lower>) {
        let owner: Weak<dyn Transport> = self.me.clone();
        let shim = self.shim();
        lower.adopt(owner, StreamProtocolRef::streaming(Rc::new(RefCell::new(shim))));
        *self.lower.borrow_mut() = Some(lower.clone());
        if self.life.is_closing() {
            return self.abort_lower();
        }
        lower.resume_reading();
        let weak = self.me.clone();
        let timer = self.lp.call_later(self.handshake_timeout, move || {
            if let Some(me) = weak.upgrade() {
                me.on_handshake_timeout();
            }
        });
        match timer {
            Ok(t) => *self.timer.borrow_mut() = Some(t),
            Err(e) => return self.fail(e.into()),
        }
        self.pump_out();
    }

    pub(super) fn lower(&self) -> Option<Rc<dyn Lower>> {
        self.lower.borrow().clone()
    }

    pub(super) fn abort_lower(&self) {
        if let Some(l) = self.lower() {
            l.abort();
        }
    }

    pub(super) fn cancel_timer(&self) {
        if let Some(t) = self.timer.borrow_mut().take() {
            t.cancel();
        }
    }

    /// Ciphertext from below.
    pub(super) fn on_data(&self, data: &[u8]) {
        if self.life.is_losing() {
            return;
        }
        if !self.pending_in.borrow().is_empty() {
            self.pending_in.borrow_mut().extend_from_slice(data);
            return self.pause_lower_if_paused();
        }
        self.process(data);
    }

    /// Feeds `input` to rustls, delivering what comes out, until it is
    /// consumed or delivery must stop (the rest is kept for later).
    pub(super) fn process(&self, mut input: &[u8]) {
        loop {
            match self.deliver_plaintext() {
                Flow::More => {}
                Flow::Stop => {
                    if !input.is_empty() && !self.life.is_losing() {
                        self.pending_in.borrow_mut().extend_from_slice(input);
                        self.pause_lower_if_paused();
                    }
                    return;
                }
                Flow::PeerClosed => return self.on_close_notify(),
            }
            if input.is_empty() {
                return;
            }
            let read = self.conn.borrow_mut().read_tls(&mut input);
            if let Err(e) = read {
                let err = rustls::Error::General(format!("reading TLS records: {e}"));
                return self.tls_failed(err);
            }
            if let Err(e) = self.process_new_packets() {
                return self.tls_failed(e);
            }
            self.pump_out();
            if self.handshaking.get() && !self.conn.borrow().is_handshaking() {
                self.handshake_done();
            }
        }
    }

    /// rustls' `process_new_packets`. Once our close_notify is sent,
    /// rustls 0.23 meets a record that fails to parse or decrypt with a
    /// debug assertion (it would send a fatal alert after close_notify;
    /// rustls issue 959) where a release build returns the error: in a
    /// debug build that panic is turned into the error, and the connection
    /// (whose rustls state is failed either way) ends the same way.
    fn process_new_packets(&self) -> Result<(), rustls::Error> {
        let process = || self.conn.borrow_mut().process_new_packets().map(drop);
        if !self.shutting_down.get() {
            return process();
        }
        catch_unwind(AssertUnwindSafe(process)).unwrap_or_else(|_| {
            Err(rustls::Error::General("a record after close_notify could not be processed".into()))
        })
    }

    fn pause_lower_if_paused(&self) {
        if self.reading_paused.get() {
            if let Some(l) = self.lower() {
                l.pause_reading();
            }
        }
    }

    /// Hands decrypted bytes to the application until there are none,
    /// reading is paused, or the transport ends. While closing, decrypted
    /// bytes are dropped (asyncio does the same).
    fn deliver_plaintext(&self) -> Flow {
        loop {
            if self.life.is_losing() {
                return Flow::Stop;
            }
            let discard = self.life.is_closing();
            if self.handshaking.get() && !discard {
                return Flow::More;
            }
            if self.reading_paused.get() && !discard {
                return Flow::Stop;
            }
            let app = if discard { None } else { self.app.borrow().clone() };
            let got = match app.as_ref().map(|a| &a.kind) {
                Some(StreamProtocolKind::Buffered(p)) => self.read_into_buffered(p),
                streaming => {
                    let p = match streaming {
                        Some(StreamProtocolKind::Streaming(p)) => Some(p),
                        _ => None,
                    };
                    self.read_into_streaming(p)
                }
            };
            match got {
                Ok(true) => {}
                Ok(false) => return Flow::More,
                Err(Flow::PeerClosed) => return Flow::PeerClosed,
                Err(_) => return Flow::Stop,
            }
        }
    }

    /// One read for a [`Protocol`] (or, with `None`, into the void).
    /// `Ok(true)` when bytes were delivered, `Ok(false)` when there were
    /// none.
    fn read_into_streaming(
        &self,
        p: Option<&Rc<RefCell<dyn Protocol>>>,
    ) -> std::result::Result<bool, Flow> {
        let deliver = |buf: &mut [u8]| {
            let r = self.conn.borrow_mut().reader().read(buf);
            match r {
                Ok(0) => Err(Flow::PeerClosed),
                Ok(n) => {
                    if let Some(p) = p {
                        let data = &buf[..n];
                        self.call_app("data_received", |_| p.borrow_mut().data_received(data));
                    }
                    Ok(true)
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(false),
                Err(_) => Err(Flow::PeerClosed),
            }
        };
        PLAIN_BUF.with(|cell| match cell.try_borrow_mut() {
            Ok(mut g) => deliver(&mut g[..]),
            Err(_) => deliver(&mut vec![0u8; PLAIN_CHUNK][..]),
        })
    }

    /// One read straight into a [`BufferedProtocol`](crate::BufferedProtocol)'s
    /// buffer.
    fn read_into_buffered(
        &self,
        p: &Rc<RefCell<dyn crate::protocol::BufferedProtocol>>,
    ) -> std::result::Result<bool, Flow> {
        let outcome = self.call_app("get_buffer", |_| {
            let mut g = p.borrow_mut();
            let buf = g.get_buffer(PLAIN_CHUNK);
            if buf.is_empty() {
                return Err(None);
            }
            let r = self.conn.borrow_mut().reader().read(buf);
            match r {
                Ok(0) => Err(Some(Flow::PeerClosed)),
                Ok(n) => {
                    g.buffer_updated(n);
                    Ok(true)
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(false),
                Err(_) => Err(Some(Flow::PeerClosed)),
            }
        });
        match outcome {
            Some(Ok(b)) => Ok(b),
            Some(Err(Some(f))) => Err(f),
            Some(Err(None)) => {
                self.fail(Error::invalid("get_buffer() returned an empty buffer"));
                Err(Flow::Stop)
            }
            None => Err(Flow::Stop),
        }
    }

    /// The handshake completed: the application's `connection_made`, then
    /// the waiter.
    fn handshake_done(&self) {
        self.handshaking.set(false);
        self.cancel_timer();
        self.life.mark_made();
        if self.call_made {
            if let Some(me) = self.me.upgrade() {
                let t: TransportRef = me;
                self.call_app("connection_made", |p| match &p.kind {
                    StreamProtocolKind::Streaming(p) => p.borrow_mut().connection_made(t),
                    StreamProtocolKind::Buffered(p) => p.borrow_mut().connection_made(t),
                });
            }
        }
        if let Some(w) = self.waiter.borrow_mut().take() {
            let _ = match self.life.failure() {
                Some(e) => w.set_exception(e.into()),
                None => w.set_result(()),
            };
        }
    }

    /// The peer sent close_notify (and everything before it was
    /// delivered).
    fn on_close_notify(&self) {
        if self.handshaking.get() {
            return self.fail(Error::TlsHandshakeEof);
        }
        if self.shutting_down.get() {
            // Our close_notify was answered: the shutdown is complete.
            self.cancel_timer();
            if let Some(l) = self.lower() {
                l.close();
            }
            return;
        }
        self.deliver_eof();
        self.start_shutdown();
    }

    /// `eof_received` once; TLS cannot stay half-open, so its answer is
    /// not used (as in asyncio).
    fn deliver_eof(&self) {
        if self.life.is_closing() || self.eof_delivered.replace(true) {
            return;
        }
        self.call_app("eof_received", |p| match &p.kind {
            StreamProtocolKind::Streaming(p) => p.borrow_mut().eof_received(),
            StreamProtocolKind::Buffered(p) => p.borrow_mut().eof_received(),
        });
    }

    /// Sends close_notify after everything written, then waits (at most
    /// the shutdown timeout) for the peer's before closing below.
    pub(super) fn start_shutdown(&self) {
        self.life.begin_close();
        if self.shutting_down.replace(true) {
            return;
        }
        // The plaintext written before close() goes first.
        self.encrypt_queued();
        self.conn.borrow_mut().send_close_notify();
        self.pump_out();
        let Some(lower) = self.lower() else { return };
        if self.conn.borrow().wants_read() && !self.eof_delivered.get() {
            lower.resume_reading();
            let weak = self.me.clone();
            let timeout = self.shutdown_timeout;
            match self.lp.call_later(timeout, move || {
                if let Some(me) = weak.upgrade() {
                    me.life.record_failure(&Error::TlsShutdownTimeout(timeout));
                    me.abort_lower();
                }
            }) {
                Ok(t) => *self.timer.borrow_mut() = Some(t),
                Err(_) => lower.close(),
            }
        } else {
            // The peer closed first: nothing to wait for.
            lower.close();
        }
    }

    fn on_handshake_timeout(&self) {
        if self.handshaking.get() {
            self.fail(Error::TlsHandshakeTimeout(self.handshake_timeout));
        }
    }

    /// rustls failed: send its alert, then close below.
    pub(super) fn tls_failed(&self, e: rustls::Error) {
        let err = if self.handshaking.get() { Error::TlsHandshake(e) } else { Error::Tls(e) };
        tracing::debug!(error = %err, "TLS failure");
        self.life.record_failure(&err);
        self.fail_waiter(&err);
        self.life.begin_close();
        self.pump_out();
        if let Some(l) = self.lower() {
            l.close();
        }
        self.start_close_timer();
    }

    /// Aborts if the lower transport has not closed after the shutdown
    /// timeout (an alert the peer never reads).
    fn start_close_timer(&self) {
        self.cancel_timer();
        let weak = self.me.clone();
        if let Ok(t) = self.lp.call_later(self.shutdown_timeout, move || {
            if let Some(me) = weak.upgrade() {
                me.abort_lower();
            }
        }) {
            *self.timer.borrow_mut() = Some(t);
        }
    }

    /// Ends the connection with `err`: nothing more is sent.
    pub(super) fn fail(&self, err: Error) {
        self.life.record_failure(&err);
        self.fail_waiter(&err);
        self.life.begin_close();
        self.cancel_timer();
        self.abort_lower();
    }

    pub(super) fn fail_waiter(&self, err: &Error) {
        if let Some(w) = self.waiter.borrow_mut().take() {
            let _ = w.set_exception(err.clone().into());
        }
    }

    /// The transport beneath sent EOF.
    pub(super) fn on_lower_eof(&self) {
        if self.handshaking.get() {
            self.life.record_failure(&Error::TlsHandshakeEof);
            return;
        }
        // A TCP EOF without close_notify (or after it): the application
        // sees EOF; the connection then closes.
        self.deliver_eof();
    }

    /// The transport beneath is gone: the application's
    /// `connection_lost`, once.
    pub(super) fn on_lower_lost(&self, err: Option<Error>) {
        self.cancel_timer();
        if let Some(e) = &err {
            self.life.record_failure(e);
        }
        if self.handshaking.get() {
            let e = self.life.failure().unwrap_or(Error::TlsHandshakeEof);
            self.life.record_failure(&e);
            self.fail_waiter(&e);
        }
        self.life.begin_close();
        if !self.call_made {
            // start_tls: the protocol was connected by the transport
            // beneath, so it learns of the loss even when the handshake
            // failed (else a stream reader would wait forever).
            self.life.mark_made();
        }
        if let Some(me) = self.me.upgrade() {
            schedule_connection_lost(&me, self.life.failure());
        }
    }

    /// Calls the application protocol, catching a panic: reported to the
    /// exception handler, and the connection is aborted.
    pub(super) fn call_app<R>(
        &self,
        callback: &'static str,
        f: impl FnOnce(&StreamProtocolRef) -> R,
    ) -> Option<R> {
        let proto = self.app.borrow().clone()?;
        match catch_unwind(AssertUnwindSafe(|| f(&proto))) {
            Ok(r) => Some(r),
            Err(payload) => {
                let err = Error::ProtocolPanicked { callback, message: panic_message(&*payload) };
                let ctx = ExceptionContext::new(format!(
                    "Fatal error: protocol.{callback}() call failed."
                ))
                .with_error(err.clone().into())
                .with_protocol(proto.name())
                .with_transport("TlsTransport");
                self.lp.call_exception_handler(ctx);
                if callback != "connection_lost" {
                    self.fail(err);
                }
                None
            }
        }
    }

    /// Delivers a flow-control signal from below to the application.
    pub(super) fn signal_app(&self, pause: bool) {
        let name = if pause { "pause_writing" } else { "resume_writing" };
        if self.handshaking.get() {
            return;
        }
        self.call_app(name, |p| match (&p.kind, pause) {
            (StreamProtocolKind::Streaming(p), true) => p.borrow_mut().pause_writing(),
            (StreamProtocolKind::Streaming(p), false) => p.borrow_mut().resume_writing(),
            (StreamProtocolKind::Buffered(p), true) => p.borrow_mut().pause_writing(),
            (StreamProtocolKind::Buffered(p), false) => p.borrow_mut().resume_writing(),
        });
    }
}

impl Living for TlsTransport {
    fn life(&self) -> &Lifecycle {
        &self.life
    }

    fn event_loop(&self) -> &Loop {
        &self.lp
    }

    fn deliver_connection_lost(&self, err: Option<Error>) {
        self.call_app("connection_lost", |p| match &p.kind {
            StreamProtocolKind::Streaming(p) => p.borrow_mut().connection_lost(err),
            StreamProtocolKind::Buffered(p) => p.borrow_mut().connection_lost(err),
        });
    }

    fn release_resources(&self) {
        self.cancel_timer();
        if let Some(w) = self.waiter.borrow_mut().take() {
            let _ = w.set_exception(self.life.failure().unwrap_or(Error::Closed).into());
        }
        drop(self.app.borrow_mut().take());
        if let Some(l) = self.lower.borrow_mut().take() {
            // Normally already gone; when the loop closed under us, make
            // sure the fd goes too.
            l.abort();
        }
        *self.pending_in.borrow_mut() = Vec::new();
        *self.plain_out.borrow_mut() = Vec::new();
        self.encrypt_handle.cancel();
    }
}
