//! Protocols and transports: TCP, Unix sockets, UDP, pipes, socket
//! operations, DNS and sendfile, on tulip's event loop.
//!
//! `loop-transports` is asyncio's transport/protocol layer. It provides the
//! protocol traits ([`Protocol`], [`BufferedProtocol`],
//! [`DatagramProtocol`]), the transport traits ([`Transport`],
//! [`DatagramTransport`], …), and — as methods of [`loop_core::Loop`]
//! through the [`NetExt`] extension trait — `create_connection`,
//! `create_server` ([`Server`]), and their siblings. It builds on
//! `loop-core`'s public
//! [`Loop`](loop_core::Loop) handle only.
//!
//! # Implementation
//!
//! Everything runs on the loop's thread. Sockets and pipes are
//! non-blocking fds watched by the loop's level-triggered selector
//! (`add_reader` / `add_writer`); syscalls go through `rustix` (all in
//! `sys.rs`, no `unsafe`). Each readable event costs one `read` into a
//! per-thread 256 KiB buffer lent to `data_received` (or straight into a
//! [`BufferedProtocol`]'s buffer). Writes are copied into a per-transport
//! buffer and sent once per loop iteration, just before the loop polls
//! (`call_before_poll`), so a response written in several `write` calls
//! costs one `send`; writes of 16 KiB or more go out at once as one
//! vectored send. A writer is registered only while the socket refuses
//! data. Name resolution (`getaddrinfo`) runs on the loop's default
//! executor.
//!
//! Transports never call their protocol from inside one of their own
//! methods: `close()` schedules `connection_lost` with `call_soon`, and
//! flow-control callbacks are delivered when the loop flushes. A panic in a
//! protocol callback is reported to the loop's exception handler and closes
//! that connection only.
//!
//! # Examples
//!
//! An echo server and a client that talks to it, on one loop:
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use loop_core::Loop;
//! use loop_transports::{
//!     BaseProtocol, BaseTransport, ConnectOptions, NetExt, Protocol, ServerOptions,
//!     TransportRef, WriteTransport,
//! };
//!
//! #[derive(Default)]
//! struct Echo(Option<TransportRef>);
//! impl BaseProtocol for Echo {
//!     fn connection_made(&mut self, t: TransportRef) { self.0 = Some(t); }
//! }
//! impl Protocol for Echo {
//!     fn data_received(&mut self, data: &[u8]) {
//!         self.0.as_ref().unwrap().write(data).unwrap();
//!     }
//! }
//!
//! #[derive(Default)]
//! struct Client { got: Vec<u8>, done: Option<loop_core::LoopFuture<()>> }
//! impl BaseProtocol for Client {
//!     fn connection_made(&mut self, t: TransportRef) { t.write(b"hello").unwrap(); }
//!     fn connection_lost(&mut self, _: Option<loop_transports::Error>) {
//!         self.done.take().map(|f| f.set_result(()));
//!     }
//! }
//! impl Protocol for Client {
//!     fn data_received(&mut self, data: &[u8]) { self.got.extend_from_slice(data); }
//! }
//!
//! let lp = Loop::new()?;
//! let l = lp.clone();
//! let got = lp.run_until_complete(async move {
//!     let server = l.create_server(Echo::default, "127.0.0.1", 0, ServerOptions::default()).await?;
//!     let port = server.addresses()[0].port().unwrap();
//!     let done = l.create_future();
//!     let d = done.clone();
//!     let (t, client) = l
//!         .create_connection(move || Client { done: Some(d), ..Default::default() },
//!                            "127.0.0.1", port, ConnectOptions::default())
//!         .await?;
//!     while client.borrow().got.len() < 5 {
//!         loop_core::sleep(std::time::Duration::from_millis(1)).await?;
//!     }
//!     t.close();
//!     done.await?;
//!     server.close();
//!     let got = client.borrow().got.clone();
//!     Ok::<_, loop_transports::Error>(got)
//! })??;
//! assert_eq!(got, b"hello");
//! lp.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod address;
mod dns;
mod error;
mod ext;
mod options;
mod pipe;
mod protocol;
mod readiness;
mod resolver;
mod sendfile;
mod sock_ext;
mod sock_ops;
mod sys;
mod tcp;
pub mod tls;
mod transport;
mod udp;
mod unix;

pub use address::{Address, UnixAddress};
pub use dns::{
    AI_CANONNAME, AI_NUMERICHOST, AI_PASSIVE, AddrInfo, AddrInfoHints, NI_NUMERICHOST,
    NI_NUMERICSERV, SockType,
};
pub use error::{ConnectError, Error, Result};
pub use ext::NetExt;
pub use options::{ConnectOptions, DEFAULT_BACKLOG, Family, Hosts, ServerOptions};
pub use protocol::{
    BaseProtocol, BufferedProtocol, DatagramProtocol, DatagramProtocolRef, IntoStreamProtocol,
    Protocol, StreamProtocolRef, marker,
};
/// The rustls crate this crate's TLS options take configurations of.
pub use resolver::{ResolveFuture, Resolver};
pub use rustls;
pub use sock_ext::SockExt;
pub use tcp::server::{ACCEPT_RETRY_DELAY, Server};
pub use tls::{TlsAccept, TlsConnect, TlsRole, TlsTransport};
pub use transport::{
    BaseTransport, DatagramSocketTransport, DatagramTransport, DatagramTransportRef, ExtraInfo,
    ExtraKey, FdTransport, ReadTransport, Transport, TransportRef, WriteBufferLimits,
    WriteTransport,
};
pub use udp::{DatagramOptions, Endpoint};
pub use unix::UnixServerOptions;

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
