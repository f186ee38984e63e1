//! Protocol traits: the callbacks a transport makes (asyncio's
//! `BaseProtocol`, `Protocol`, `BufferedProtocol`, `DatagramProtocol`).
//!
//! # Callback order
//!
//! For a streaming protocol (TCP, Unix sockets, pipes):
//!
//! ```text
//! connection_made → data_received* → eof_received? → connection_lost
//! ```
//!
//! * `connection_made` and `connection_lost` are called exactly once per
//!   connection; every other callback happens between them, and nothing
//!   after `connection_lost`.
//! * `eof_received` is called at most once, and no `data_received` follows
//!   it. Its return value decides what happens next: `false` (the default)
//!   closes the transport; `true` leaves closing to the protocol.
//! * `pause_writing` / `resume_writing` are paired: `pause_writing` once when
//!   the write buffer goes strictly over the high-water mark, then
//!   `resume_writing` once when it drains to the low-water mark or below.
//!
//! # No re-entry
//!
//! A transport never calls its protocol from inside one of its own methods:
//! `close()` schedules `connection_lost` with `call_soon`, and the
//! flow-control callbacks are made when the loop flushes writes (at the end
//! of the batch of callbacks that crossed the mark) or when the socket
//! drains. So a protocol may write, close or abort its transport from any of
//! its callbacks, and keeping a protocol in an `Rc<RefCell<_>>` is safe.
//!
//! # Panics
//!
//! A panic in a protocol callback is caught by the transport, reported to the
//! loop's exception handler with the protocol and transport described, and
//! the transport is closed (`connection_lost` gets
//! [`Error::ProtocolPanicked`](crate::Error::ProtocolPanicked)). A server
//! keeps serving its other connections.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use crate::address::Address;
use crate::error::Error;
use crate::transport::{DatagramTransport, Transport};

/// Callbacks every protocol has (asyncio's `BaseProtocol`).
///
/// `T` is the kind of transport the protocol is connected to: a stream
/// transport ([`Transport`], the default) or a [`DatagramTransport`]. Every
/// method has an empty default.
pub trait BaseProtocol<T: ?Sized + 'static = dyn Transport> {
    /// Called once when the connection is made. Keep `transport` to talk
    /// back: it is a cheap, clonable handle.
    fn connection_made(&mut self, transport: Rc<T>) {
        let _ = transport;
    }

    /// Called once when the connection is lost or closed: `None` for a
    /// regular EOF or a close/abort by this side, the error otherwise.
    /// Nothing is called after it.
    fn connection_lost(&mut self, error: Option<Error>) {
        let _ = error;
    }

    /// The transport's write buffer went strictly over the high-water mark.
    fn pause_writing(&mut self) {}

    /// The transport's write buffer drained to the low-water mark or below
    /// (after a [`pause_writing`](BaseProtocol::pause_writing)).
    fn resume_writing(&mut self) {}
}

/// A streaming protocol (asyncio's `Protocol`): TCP, Unix sockets, pipes.
///
/// Received bytes are lent from the transport's reusable read buffer: copy
/// what must outlive the call.
pub trait Protocol: BaseProtocol {
    /// Some bytes arrived (never empty). Chunking is arbitrary; order is
    /// kept.
    fn data_received(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// The peer will send no more data. Return `false` (the default) to let
    /// the transport close itself, `true` to keep it open (a half-closed
    /// connection: writing still works) and close it yourself later.
    fn eof_received(&mut self) -> bool {
        false
    }
}

/// A streaming protocol that owns its receive buffer (asyncio's
/// `BufferedProtocol`): the transport reads straight into it, with no copy.
pub trait BufferedProtocol: BaseProtocol {
    /// A buffer to read into; `size_hint` is the size the transport would
    /// like (it may be smaller or larger, but must not be empty).
    fn get_buffer(&mut self, size_hint: usize) -> &mut [u8];

    /// `nbytes` bytes were written at the start of the last buffer
    /// returned by [`get_buffer`](BufferedProtocol::get_buffer).
    fn buffer_updated(&mut self, nbytes: usize);

    /// As [`Protocol::eof_received`].
    fn eof_received(&mut self) -> bool {
        false
    }
}

/// A datagram protocol (asyncio's `DatagramProtocol`): UDP and Unix
/// datagram sockets.
pub trait DatagramProtocol: BaseProtocol<dyn DatagramTransport> {
    /// A datagram arrived from `addr` (for an unbound Unix peer,
    /// `Address::Unix(UnixAddress::Unnamed)`).
    fn datagram_received(&mut self, data: &[u8], addr: Address) {
        let _ = (data, addr);
    }

    /// A send or receive failed (for instance an ICMP "port unreachable"
    /// reported on a connected socket). The transport stays open.
    fn error_received(&mut self, error: Error) {
        let _ = error;
    }
}

/// The protocol of a stream transport: either kind, shared (`Rc<RefCell>`),
/// with its type name for error reports.
#[derive(Clone)]
pub struct StreamProtocolRef {
    pub(crate) kind: StreamProtocolKind,
    pub(crate) name: &'static str,
}

#[derive(Clone)]
pub(crate) enum StreamProtocolKind {
    Streaming(Rc<RefCell<dyn Protocol>>),
    Buffered(Rc<RefCell<dyn BufferedProtocol>>),
}

impl StreamProtocolRef {
    /// Wraps a [`Protocol`].
    pub fn streaming<P: Protocol + 'static>(p: Rc<RefCell<P>>) -> Self {
        StreamProtocolRef {
            kind: StreamProtocolKind::Streaming(p),
            name: std::any::type_name::<P>(),
        }
    }

    /// Wraps a [`BufferedProtocol`].
    pub fn buffered<P: BufferedProtocol + 'static>(p: Rc<RefCell<P>>) -> Self {
        StreamProtocolRef {
            kind: StreamProtocolKind::Buffered(p),
            name: std::any::type_name::<P>(),
        }
    }

    /// Wraps an already type-erased [`Protocol`] (adapters such as TLS use
    /// this); `name` describes it in error reports.
    pub fn from_dyn(p: Rc<RefCell<dyn Protocol>>, name: &'static str) -> Self {
        StreamProtocolRef { kind: StreamProtocolKind::Streaming(p), name }
    }

    /// The protocol's type name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The protocol as a [`Protocol`], if it is one.
    pub fn as_streaming(&self) -> Option<&Rc<RefCell<dyn Protocol>>> {
        match &self.kind {
            StreamProtocolKind::Streaming(p) => Some(p),
            StreamProtocolKind::Buffered(_) => None,
        }
    }

    /// The protocol as a [`BufferedProtocol`], if it is one.
    pub fn as_buffered(&self) -> Option<&Rc<RefCell<dyn BufferedProtocol>>> {
        match &self.kind {
            StreamProtocolKind::Buffered(p) => Some(p),
            StreamProtocolKind::Streaming(_) => None,
        }
    }

    /// Whether both refer to the same protocol object.
    pub fn ptr_eq(&self, other: &StreamProtocolRef) -> bool {
        match (&self.kind, &other.kind) {
            (StreamProtocolKind::Streaming(a), StreamProtocolKind::Streaming(b)) => {
                std::ptr::addr_eq(Rc::as_ptr(a), Rc::as_ptr(b))
            }
            (StreamProtocolKind::Buffered(a), StreamProtocolKind::Buffered(b)) => {
                std::ptr::addr_eq(Rc::as_ptr(a), Rc::as_ptr(b))
            }
            _ => false,
        }
    }
}

impl fmt::Debug for StreamProtocolRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// The protocol of a datagram transport, with its type name.
#[derive(Clone)]
pub struct DatagramProtocolRef {
    pub(crate) proto: Rc<RefCell<dyn DatagramProtocol>>,
    pub(crate) name: &'static str,
}

impl DatagramProtocolRef {
    /// Wraps a [`DatagramProtocol`].
    pub fn new<P: DatagramProtocol + 'static>(p: Rc<RefCell<P>>) -> Self {
        DatagramProtocolRef { proto: p, name: std::any::type_name::<P>() }
    }

    /// The protocol's type name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The shared protocol object.
    pub fn get(&self) -> &Rc<RefCell<dyn DatagramProtocol>> {
        &self.proto
    }
}

impl fmt::Debug for DatagramProtocolRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Marker types that let one factory-taking method accept both
/// [`Protocol`]s and [`BufferedProtocol`]s.
pub mod marker {
    /// Selects [`Protocol`](super::Protocol).
    #[derive(Debug)]
    pub enum Streaming {}
    /// Selects [`BufferedProtocol`](super::BufferedProtocol).
    #[derive(Debug)]
    pub enum Buffered {}
}

/// A protocol type a stream transport can drive: any [`Protocol`] or
/// [`BufferedProtocol`]. `M` is a [`marker`] type inferred by the compiler;
/// a type implementing both traits must pick one explicitly.
pub trait IntoStreamProtocol<M>: Sized + 'static {
    /// Type-erases the shared protocol.
    fn into_protocol_ref(rc: Rc<RefCell<Self>>) -> StreamProtocolRef;
}

impl<P: Protocol + 'static> IntoStreamProtocol<marker::Streaming> for P {
    fn into_protocol_ref(rc: Rc<RefCell<Self>>) -> StreamProtocolRef {
        StreamProtocolRef::streaming(rc)
    }
}

impl<P: BufferedProtocol + 'static> IntoStreamProtocol<marker::Buffered> for P {
    fn into_protocol_ref(rc: Rc<RefCell<Self>>) -> StreamProtocolRef {
        StreamProtocolRef::buffered(rc)
    }
}
