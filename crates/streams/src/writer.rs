//! `StreamWriter`: asyncio's writer — `write`, `drain`, `close`,
//! `wait_closed` — over a transport, with write flow control taken from the
//! protocol's `pause_writing` / `resume_writing`.

use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Context, Poll};

use loop_transports::{ExtraInfo, TransportRef};

use crate::error::{Error, Result};
use crate::feed::Feed;
use crate::flow::Flow;
use crate::protocol::StreamReaderProtocol;

/// The connection's current transport, shared by the reader and every
/// writer of a pair; replaced by [`StreamWriter::start_tls`]. Closes the
/// transport when the last handle to the connection goes.
pub(crate) struct Link(RefCell<TransportRef>);

impl Link {
    pub(crate) fn new(transport: TransportRef) -> Self {
        Link(RefCell::new(transport))
    }

    /// The current transport.
    pub(crate) fn get(&self) -> TransportRef {
        self.0.borrow().clone()
    }

    /// Runs `f` on the current transport without cloning it.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&TransportRef) -> R) -> R {
        f(&self.0.borrow())
    }

    /// Makes `transport` the current one.
    pub(crate) fn replace(&self, transport: TransportRef) {
        let old = std::mem::replace(&mut *self.0.borrow_mut(), transport);
        drop(old);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.0.get_mut().close();
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Link")
    }
}

/// The progress of one `drain` across polls.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DrainState {
    /// Yielded once to let a closing transport report its loss.
    yielded_closing: bool,
    /// Yielded once to let the transport flush and deliver `pause_writing`.
    yielded_flush: bool,
    /// The resume count seen when the drain started waiting.
    waiting_since: Option<u64>,
}

/// The writing half of a connection (asyncio's `StreamWriter`).
///
/// Cheap to clone: clones write to the same transport and may `drain` at
/// the same time. `write` never blocks: bytes go to the transport's buffer;
/// `drain` is where a writer waits for the peer to keep up.
///
/// # Closing
///
/// [`close`](StreamWriter::close) closes the transport (buffered bytes are
/// sent first). A connection whose reader and writers are all dropped is
/// closed the same way, so a forgotten connection does not leak (asyncio's
/// writer does this when it is garbage-collected).
///
/// # Flow control
///
/// The transport calls `pause_writing` when its buffer goes over the
/// high-water mark (64 KiB by default) and `resume_writing` when it drains
/// to the low-water mark; [`drain`](StreamWriter::drain) waits between the
/// two. The transport delivers `pause_writing` when it flushes — at the end
/// of the loop iteration, not inside `write` as asyncio does — so `drain`
/// yields once to the loop when the buffer is over the high-water mark and
/// no pause has been delivered yet, then waits for `resume_writing` like
/// asyncio. Set the marks with
/// [`WriteTransport::set_write_buffer_limits`](loop_transports::WriteTransport::set_write_buffer_limits) on
/// [`transport`](StreamWriter::transport).
///
/// # TLS
///
/// A pair made with a factory's `with_tls` option reads and writes
/// plaintext over TLS from the start; [`start_tls`](StreamWriter::start_tls)
/// upgrades a live plain (or TLS) connection in place, for this writer,
/// its clones and the reader alike. Over TLS the write buffer and the
/// water marks count ciphertext, and [`write_eof`](StreamWriter::write_eof)
/// is refused (TLS has no half-close).
pub struct StreamWriter {
    /// The transport, shared with the reader and the clones (`start_tls`
    /// replaces it for all of them).
    pub(crate) link: Rc<Link>,
    flow: Rc<Flow>,
    pub(crate) reader: Option<Rc<Feed>>,
    /// `AsyncWrite` progress of this handle (not shared with clones).
    pub(crate) io_write: DrainState,
    pub(crate) io_flush: DrainState,
}

impl StreamWriter {
    /// A writer over `transport`, whose flow control (and reader, if any)
    /// is `protocol`'s — `protocol` must be the transport's protocol
    /// (asyncio's `StreamWriter(transport, protocol, reader, loop)`).
    pub fn new(transport: TransportRef, protocol: &StreamReaderProtocol) -> Self {
        StreamWriter {
            link: Rc::new(Link::new(transport)),
            flow: protocol.flow().clone(),
            reader: protocol.feed().cloned(),
            io_write: DrainState::default(),
            io_flush: DrainState::default(),
        }
    }

    pub(crate) fn link(&self) -> Rc<Link> {
        self.link.clone()
    }

    /// The transport (asyncio's `writer.transport`): after
    /// [`start_tls`](StreamWriter::start_tls), the TLS one.
    pub fn transport(&self) -> TransportRef {
        self.link.get()
    }

    /// Queues `data` for sending. Never blocks; follow with
    /// [`drain`](StreamWriter::drain) to wait while the peer is slow.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] with [`loop_transports::Error::Closed`] once
    /// the writer is closed or the connection is lost,
    /// [`loop_transports::Error::InvalidState`] after `write_eof`.
    pub fn write(&self, data: &[u8]) -> Result<()> {
        Ok(self.link.with(|t| t.write(data))?)
    }

    /// Queues several buffers (sent with one vectored write when possible).
    ///
    /// # Errors
    ///
    /// As [`write`](StreamWriter::write).
    pub fn writelines(&self, bufs: &[&[u8]]) -> Result<()> {
        Ok(self.link.with(|t| t.writelines(bufs))?)
    }

    /// Closes the write half once buffered bytes are sent; the peer reads
    /// EOF and this side can still read.
    ///
    /// # Errors
    ///
    /// As [`WriteTransport::write_eof`](loop_transports::WriteTransport::write_eof): called twice, after `close`, or
    /// on a transport that cannot.
    pub fn write_eof(&self) -> Result<()> {
        Ok(self.link.with(|t| t.write_eof())?)
    }

    /// Whether [`write_eof`](StreamWriter::write_eof) is supported.
    pub fn can_write_eof(&self) -> bool {
        self.link.with(|t| t.can_write_eof())
    }

    /// Closes the transport: buffered bytes are sent first, then the
    /// connection ends. Idempotent. Await
    /// [`wait_closed`](StreamWriter::wait_closed) to know when it is done.
    pub fn close(&self) {
        self.link.with(|t| t.close());
    }

    /// Whether the transport is closing or closed.
    pub fn is_closing(&self) -> bool {
        self.link.with(|t| t.is_closing())
    }

    /// Transport information by asyncio's name (`"peername"`,
    /// `"sockname"`, `"socket"`, …); `None` when unknown.
    pub fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        self.link.with(|t| t.get_extra_info(name))
    }

    /// Waits until the connection is closed (by either side).
    ///
    /// # Errors
    ///
    /// The transport's error when the connection was lost with one (a
    /// reset, …), as asyncio re-raises it.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only observes.
    pub async fn wait_closed(&self) -> Result<()> {
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    fn poll_closed(&self, cx: &Context<'_>) -> Poll<Result<()>> {
        match self.flow.lost() {
            Some(None) => Poll::Ready(Ok(())),
            Some(Some(e)) => Poll::Ready(Err(e.into())),
            None => {
                self.flow.register(cx);
                Poll::Pending
            }
        }
    }

    /// Waits until it is appropriate to write more (asyncio's `drain`):
    /// returns at once unless the transport paused writing, otherwise when
    /// it resumes.
    ///
    /// # Errors
    ///
    /// The reader's exception, if the reader of this connection has one;
    /// [`Error::ConnectionLost`] (or the transport's error) once the
    /// connection is lost — including while waiting, where asyncio returns
    /// normally for a loss without error.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only waits; nothing written is lost by dropping it.
    pub async fn drain(&self) -> Result<()> {
        let mut st = DrainState::default();
        poll_fn(|cx| self.poll_drain(cx, &mut st)).await
    }

    pub(crate) fn poll_drain(&self, cx: &Context<'_>, st: &mut DrainState) -> Poll<Result<()>> {
        if let Some(e) = self.reader.as_ref().and_then(|r| r.exception()) {
            return Poll::Ready(Err(e));
        }
        let lost = self.flow.lost();
        if lost.is_none() && self.link.with(|t| t.is_closing()) && !st.yielded_closing {
            // asyncio's `sleep(0)`: let connection_lost be delivered, so a
            // write-drain loop on a closing transport sees the error.
            st.yielded_closing = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if let Some(err) = lost {
            return Poll::Ready(Err(err.map_or(Error::ConnectionLost, Error::Transport)));
        }
        if st.waiting_since.is_some_and(|since| since != self.flow.resumes()) {
            return Poll::Ready(Ok(()));
        }
        if self.flow.is_paused() {
            st.waiting_since.get_or_insert(self.flow.resumes());
            self.flow.register(cx);
            return Poll::Pending;
        }
        if !st.yielded_flush && st.waiting_since.is_none() && self.over_high_water() {
            st.yielded_flush = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn over_high_water(&self) -> bool {
        self.link.with(|t| t.get_write_buffer_size() > t.get_write_buffer_limits().high)
    }

    pub(crate) fn poll_close_io(&self, cx: &Context<'_>) -> Poll<Result<()>> {
        self.close();
        self.poll_closed(cx)
    }
}

impl Clone for StreamWriter {
    fn clone(&self) -> Self {
        StreamWriter {
            link: self.link.clone(),
            flow: self.flow.clone(),
            reader: self.reader.clone(),
            io_write: DrainState::default(),
            io_flush: DrainState::default(),
        }
    }
}

impl fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamWriter")
            .field("peername", &self.link.with(|t| t.peername()))
            .field("closing", &self.link.with(|t| t.is_closing()))
            .field("paused", &self.flow.is_paused())
            .finish()
    }
}
