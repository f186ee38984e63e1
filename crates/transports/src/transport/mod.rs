//! Transport traits (asyncio's `BaseTransport`, `ReadTransport`,
//! `WriteTransport`, `Transport`, `DatagramTransport`) and their
//! implementations over file descriptors.
//!
//! Transports are handed out as `Rc<dyn Transport>` ([`TransportRef`]):
//! cheap to clone, `!Send`, every method on `&self`. They are object-safe so
//! that adapters (TLS) can stand between a protocol and a plain transport.

mod datagram;
mod extra;
mod fd_api;
mod fd_transport;
mod flow;
mod layered;
mod lifecycle;
mod reader;
mod write_buffer;
mod writer;

use std::any::Any;
use std::fmt;
use std::rc::Rc;

use loop_core::Loop;

pub use datagram::DatagramSocketTransport;
pub use extra::{ExtraInfo, ExtraKey};
pub use fd_transport::FdTransport;
pub use flow::WriteBufferLimits;

pub(crate) use datagram::start_datagram;
pub(crate) use fd_transport::{FdKind, StartOptions};
pub(crate) use layered::{Lower, Owner, is_upgraded, lower_of, upgraded};
pub(crate) use lifecycle::{Lifecycle, Living, schedule_connection_lost};

use crate::address::Address;
use crate::error::Result;
use crate::protocol::{DatagramProtocolRef, StreamProtocolRef};

/// A shared handle to a stream transport.
pub type TransportRef = Rc<dyn Transport>;

/// A shared handle to a datagram transport.
pub type DatagramTransportRef = Rc<dyn DatagramTransport>;

/// What every transport does (asyncio's `BaseTransport`).
///
/// Transports are `Debug` (so a [`TransportRef`] can be printed) and know
/// their loop ([`get_loop`](BaseTransport::get_loop)).
pub trait BaseTransport: fmt::Debug {
    /// Closes the transport. Buffered data is flushed first; no more data is
    /// received; then the protocol's `connection_lost(None)` is called (from
    /// the loop, never from inside `close`). Idempotent.
    fn close(&self);

    /// Whether the transport is closing or closed: true from the moment
    /// `close()` or `abort()` is called (or a write pipe's `write_eof()`),
    /// even while buffered data is still being flushed.
    fn is_closing(&self) -> bool;

    /// Typed extra information (see [`ExtraKey`]); `None` when the
    /// transport has no such information.
    fn extra_info(&self, key: ExtraKey) -> Option<ExtraInfo>;

    /// asyncio's `get_extra_info(name)`: the same as
    /// [`extra_info`](BaseTransport::extra_info) with the key's asyncio name
    /// (`"peername"`, `"sockname"`, `"socket"`, `"pipe"`, …). Unknown names
    /// give `None`.
    fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        ExtraKey::parse(name).and_then(|k| self.extra_info(k))
    }

    /// The remote address (`extra_info(ExtraKey::PeerName)`).
    fn peername(&self) -> Option<Address> {
        match self.extra_info(ExtraKey::PeerName)? {
            ExtraInfo::Address(a) => Some(a),
            _ => None,
        }
    }

    /// The local address (`extra_info(ExtraKey::SockName)`).
    fn sockname(&self) -> Option<Address> {
        match self.extra_info(ExtraKey::SockName)? {
            ExtraInfo::Address(a) => Some(a),
            _ => None,
        }
    }

    /// The concrete transport, for downcasting (how `sendfile` finds a
    /// socket it can hand to `sendfile(2)`).
    fn as_any(&self) -> &dyn Any;

    /// The loop the transport runs on.
    fn get_loop(&self) -> Loop;
}

/// A transport that receives data (asyncio's `ReadTransport`).
pub trait ReadTransport: BaseTransport {
    /// Whether data is being received (not paused, not closing).
    fn is_reading(&self) -> bool;

    /// Stops calling `data_received` until
    /// [`resume_reading`](ReadTransport::resume_reading). Idempotent; a
    /// no-op on a closing transport.
    fn pause_reading(&self);

    /// Starts receiving again; data that arrived meanwhile is delivered.
    /// Idempotent.
    fn resume_reading(&self);
}

/// A transport that sends data (asyncio's `WriteTransport`).
///
/// # Writes are coalesced
///
/// `write` copies the bytes into the transport's buffer; everything written
/// during one batch of loop callbacks is sent with one syscall just before
/// the loop polls again. Large writes (≥ 16 KiB) are sent at once, vectored
/// with anything pending. Only what the socket refuses stays buffered, with
/// a writer registered until it drains.
///
/// # Flow control
///
/// `pause_writing` is called when the buffer goes strictly over the
/// high-water mark, `resume_writing` when it drains to the low-water mark or
/// below; the two are paired. They are called when the loop flushes (end of
/// the batch) or when the socket drains, never from inside `write`. The
/// defaults are 64 KiB and 16 KiB.
pub trait WriteTransport: BaseTransport {
    /// Queues `data` for sending; never blocks.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) once the transport is
    /// closing (a write pipe is closing from `write_eof` on);
    /// [`Error::InvalidState`](crate::Error::InvalidState) after a socket's
    /// `write_eof`; [`Error::SendfileInProgress`](crate::Error::SendfileInProgress)
    /// while [`sendfile`](crate::NetExt::sendfile) is sending over this
    /// transport; [`Error::Unsupported`](crate::Error::Unsupported) on a
    /// read-only transport. A failure of the socket itself is not returned:
    /// it closes the transport and reaches the protocol's `connection_lost`.
    fn write(&self, data: &[u8]) -> Result<()>;

    /// Writes several buffers, as one vectored write (`writev`) when the
    /// data is sent at once.
    ///
    /// # Errors
    ///
    /// As [`write`](WriteTransport::write).
    fn writelines(&self, bufs: &[&[u8]]) -> Result<()>;

    /// Closes the write half after the buffered data is sent
    /// (`shutdown(SHUT_WR)`); data may still be received. On a write pipe,
    /// closing the pipe is its EOF: as in asyncio, the transport is
    /// [closing](BaseTransport::is_closing) from this call on, even while
    /// buffered data is still being flushed, and `connection_lost(None)`
    /// follows the flush. A socket is not closing after `write_eof` (its
    /// read half stays open), as in asyncio.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`](crate::Error::InvalidState) when called
    /// twice; [`Error::Closed`](crate::Error::Closed) once closing;
    /// [`Error::SendfileInProgress`](crate::Error::SendfileInProgress)
    /// while [`sendfile`](crate::NetExt::sendfile) runs;
    /// [`Error::Unsupported`](crate::Error::Unsupported) when
    /// [`can_write_eof`](WriteTransport::can_write_eof) is false.
    fn write_eof(&self) -> Result<()>;

    /// Whether [`write_eof`](WriteTransport::write_eof) is supported.
    fn can_write_eof(&self) -> bool;

    /// Closes at once: buffered data is dropped, nothing more is received,
    /// and `connection_lost(None)` follows (from the loop). Idempotent.
    fn abort(&self);

    /// Bytes buffered and not yet sent.
    fn get_write_buffer_size(&self) -> usize;

    /// The current low- and high-water marks.
    fn get_write_buffer_limits(&self) -> WriteBufferLimits;

    /// Sets the high- and low-water marks. `None` for `high` means 64 KiB
    /// (or 4 × `low` when `low` is given); `None` for `low` means
    /// `high / 4`. `high == 0` forces `low == 0` and pauses whenever the
    /// buffer is not empty.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when
    /// `low > high`.
    fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()>;
}

/// A bidirectional stream transport (asyncio's `Transport`): TCP and Unix
/// connections. Pipe transports implement it too, with the half that does
/// not apply reporting [`Error::Unsupported`](crate::Error::Unsupported).
pub trait Transport: ReadTransport + WriteTransport {
    /// Replaces the protocol; later callbacks go to the new one (it does not
    /// get `connection_made`). How TLS slides in under a live protocol.
    fn set_protocol(&self, protocol: StreamProtocolRef);

    /// The current protocol; `None` after `connection_lost`.
    fn get_protocol(&self) -> Option<StreamProtocolRef>;
}

/// A datagram transport (asyncio's `DatagramTransport`).
pub trait DatagramTransport: BaseTransport {
    /// Sends one datagram to `addr`, or, when `addr` is `None`, to the
    /// endpoint's `remote_addr` (the connected peer, or the fixed
    /// destination of an `allow_broadcast` endpoint). Never blocks: what the
    /// socket refuses is queued.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) once closing;
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when `addr`
    /// is missing and there is no `remote_addr`, or differs from it, and
    /// for a Unix address no socket can have (a NUL byte, too long).
    fn sendto(&self, data: &[u8], addr: Option<&Address>) -> Result<()>;

    /// Closes at once, dropping queued datagrams; `connection_lost(None)`
    /// follows.
    fn abort(&self);

    /// Bytes queued and not yet sent.
    fn get_write_buffer_size(&self) -> usize;

    /// Replaces the protocol.
    fn set_protocol(&self, protocol: DatagramProtocolRef);

    /// The current protocol; `None` after `connection_lost`.
    fn get_protocol(&self) -> Option<DatagramProtocolRef>;
}
