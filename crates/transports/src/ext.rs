//! The extension traits that make this crate's functions loop methods:
//! with `NetExt` in scope, `lp.create_server(..)` reads like asyncio.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use loop_core::Loop;

use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use crate::address::UnixAddress;
use crate::dns::{AddrInfo, AddrInfoHints};
use crate::error::Result;
use crate::options::{ConnectOptions, Hosts, ServerOptions};
use crate::protocol::{DatagramProtocol, IntoStreamProtocol, StreamProtocolRef};
use crate::tcp;
use crate::tcp::server::Server;
use crate::tls::{TlsAccept, TlsConnect, TlsRole};
use crate::transport::{DatagramTransportRef, FdKind, TransportRef};
use crate::udp::DatagramOptions;
use crate::unix::UnixServerOptions;
use crate::{dns, pipe, sendfile, udp, unix};

/// Connections, servers, datagram endpoints, pipes, DNS and sendfile as
/// methods of [`Loop`] (asyncio's loop methods of the same names).
///
/// Factories return a protocol value; the loop shares it as
/// `Rc<RefCell<P>>`, hands it the transport in `connection_made`, and
/// returns both. `P` may be a [`Protocol`](crate::Protocol) or a
/// [`BufferedProtocol`](crate::BufferedProtocol) (the `M` marker is
/// inferred).
///
/// Sealed: implemented for [`Loop`] only, so methods can be added without
/// breaking anyone:
///
/// ```compile_fail,E0277
/// struct MyLoop;
/// impl loop_transports::NetExt for MyLoop {}
/// ```
pub trait NetExt: sealed::Sealed {
    /// Opens a TCP connection to `host:port` (asyncio's
    /// `create_connection`). `host` is resolved off the loop thread and every
    /// address is tried in turn — or raced, with
    /// [`ConnectOptions::happy_eyeballs_delay`]. `TCP_NODELAY` is set by
    /// default. Returns once `connection_made` has run.
    ///
    /// With [`ConnectOptions::sock`], that connected socket is used; `host`
    /// must then be `""` and `port` 0.
    ///
    /// # Errors
    ///
    /// [`Error::Resolve`](crate::Error::Resolve) when the name does not
    /// resolve; [`Error::Connect`](crate::Error::Connect) listing each
    /// address's failure when none accepted;
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for
    /// conflicting options, a host name with a NUL byte, or a `sock` that
    /// is not a connected stream socket (a datagram or listening socket);
    /// [`Error::ProtocolPanicked`](crate::Error::ProtocolPanicked)
    /// when `connection_made` panicked.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes any socket it opened; no transport is
    /// left behind.
    fn create_connection<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        host: &str,
        port: u16,
        opts: ConnectOptions,
    ) -> impl Future<Output = Result<(TransportRef, Rc<RefCell<P>>)>>
    where
        P: IntoStreamProtocol<M>;

    /// Creates a TCP server listening on `port` of `hosts` (asyncio's
    /// `create_server`): one socket per resolved address; [`Hosts::Any`]
    /// (or `""`) listens on every interface, IPv4 and IPv6. Each accepted
    /// connection gets a protocol from `factory`.
    ///
    /// # Errors
    ///
    /// [`Error::Resolve`](crate::Error::Resolve) for a name that does not
    /// resolve; [`Error::Bind`](crate::Error::Bind) when binding fails
    /// (the address, and the OS error with its errno);
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for
    /// conflicting options, a zero backlog, [`Family::Unix`](crate::Family::Unix)
    /// (that is [`create_unix_server`](NetExt::create_unix_server)) or a
    /// host name with a NUL byte.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes closes the sockets opened so
    /// far.
    fn create_server<P, M>(
        &self,
        factory: impl Fn() -> P + 'static,
        hosts: impl Into<Hosts>,
        port: u16,
        opts: ServerOptions,
    ) -> impl Future<Output = Result<Server>>
    where
        P: IntoStreamProtocol<M>;

    /// Opens a Unix stream connection to `path` (a path, or an abstract
    /// name), or wraps the connected Unix socket `sock` (asyncio's
    /// `create_unix_connection`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) unless
    /// exactly one of `path` and `sock` is given, for a path no socket can
    /// have (a NUL byte, too long), or when `sock` is not a Unix stream
    /// socket or is listening; [`Error::Connect`](crate::Error::Connect) naming
    /// the path when the connection fails (`io_error()` / `raw_os_error()`
    /// give the OS error).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the socket.
    fn create_unix_connection<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        path: Option<UnixAddress>,
        sock: Option<OwnedFd>,
    ) -> impl Future<Output = Result<(TransportRef, Rc<RefCell<P>>)>>
    where
        P: IntoStreamProtocol<M>;

    /// Creates a Unix stream server on `path`, or on the bound Unix socket
    /// [`UnixServerOptions::sock`] (asyncio's `create_unix_server`). A
    /// socket file left at `path` by an earlier server is removed first —
    /// never a file of another kind. With
    /// [`UnixServerOptions::cleanup_socket`] (the default, asyncio 3.13),
    /// closing the server removes the socket file it listens on, also when
    /// the socket was bound elsewhere — but only if the path still names
    /// that same file (device and inode recorded when the server started).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when
    /// `path` exists and is not a socket, for a path no socket can have (a
    /// NUL byte, too long), or for conflicting options; [`Error::Bind`](crate::Error::Bind) when binding fails.
    ///
    /// # Cancel safety
    ///
    /// Completes without waiting for peers; dropping it early closes the
    /// socket.
    fn create_unix_server<P, M>(
        &self,
        factory: impl Fn() -> P + 'static,
        path: Option<UnixAddress>,
        opts: UnixServerOptions,
    ) -> impl Future<Output = Result<Server>>
    where
        P: IntoStreamProtocol<M>;

    /// Wraps a connected stream socket accepted elsewhere (asyncio's
    /// `connect_accepted_socket`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when
    /// `sock` is not a stream socket, or is a listening one.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the socket.
    fn connect_accepted_socket<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        sock: OwnedFd,
    ) -> impl Future<Output = Result<(TransportRef, Rc<RefCell<P>>)>>
    where
        P: IntoStreamProtocol<M>;

    /// [`create_unix_connection`](NetExt::create_unix_connection) with TLS
    /// (asyncio's `ssl=`): returns once the handshake completed and the
    /// protocol's `connection_made` ran. There is no host to check the
    /// certificate against, so `tls` must carry a
    /// [`server_hostname`](TlsConnect::server_hostname) (or be built with
    /// [`dangerous_no_hostname_check`](TlsConnect::dangerous_no_hostname_check)).
    ///
    /// # Errors
    ///
    /// As [`create_unix_connection`](NetExt::create_unix_connection), and
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) without a
    /// server name; the handshake's errors as
    /// [`create_connection`](NetExt::create_connection) with TLS.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the connection, during the handshake too.
    fn create_unix_connection_tls<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        path: Option<UnixAddress>,
        sock: Option<OwnedFd>,
        tls: TlsConnect,
    ) -> impl Future<Output = Result<(TransportRef, Rc<RefCell<P>>)>>
    where
        P: IntoStreamProtocol<M>;

    /// [`connect_accepted_socket`](NetExt::connect_accepted_socket) with
    /// TLS, as the server side of the handshake (asyncio's `ssl=`, which
    /// makes it server-side too); returns once the handshake completed.
    ///
    /// # Errors
    ///
    /// As [`connect_accepted_socket`](NetExt::connect_accepted_socket);
    /// the handshake's errors ([`Error::TlsHandshake`](crate::Error::TlsHandshake),
    /// [`Error::TlsHandshakeTimeout`](crate::Error::TlsHandshakeTimeout),
    /// [`Error::TlsHandshakeEof`](crate::Error::TlsHandshakeEof)).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the connection.
    fn connect_accepted_socket_tls<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        sock: OwnedFd,
        tls: TlsAccept,
    ) -> impl Future<Output = Result<(TransportRef, Rc<RefCell<P>>)>>
    where
        P: IntoStreamProtocol<M>;

    /// Upgrades the live `transport` to TLS (asyncio's `loop.start_tls`):
    /// the handshake runs over it — as client or server, as `tls` says —
    /// and the TLS transport is returned once it completed. `protocol` (the
    /// application's, usually the one already on `transport`) receives the
    /// decrypted data from then on; as in asyncio it does not get
    /// `connection_made` again, but gets `connection_lost` when the TLS
    /// connection ends. `transport` may itself be TLS (TLS in TLS, the
    /// HTTPS-proxy case).
    ///
    /// The old transport is unusable from this call on: its writes fail
    /// with [`Error::InvalidState`](crate::Error::InvalidState), its
    /// `close` / `abort` / `pause_reading` / `resume_reading` act on the
    /// TLS transport, and `set_protocol` is ignored. Data the peer sent in
    /// plain before its handshake and that the old protocol has not read
    /// is the protocol's. Reading on `transport` is resumed (the handshake
    /// must read), as asyncio does; bytes arriving from then on are
    /// TLS records to the new layer.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) when `transport` is
    /// closing; [`Error::InvalidState`](crate::Error::InvalidState) when
    /// it was already upgraded (call `start_tls` on the transport the
    /// first upgrade returned);
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument)
    /// for a client without a server name;
    /// [`Error::TlsHandshake`](crate::Error::TlsHandshake),
    /// [`Error::TlsHandshakeTimeout`](crate::Error::TlsHandshakeTimeout),
    /// [`Error::TlsHandshakeEof`](crate::Error::TlsHandshakeEof) when the
    /// handshake fails (the connection is closed then, and `protocol`,
    /// connected already, gets `connection_lost` with the error).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future aborts the connection.
    fn start_tls(
        &self,
        transport: &TransportRef,
        protocol: StreamProtocolRef,
        tls: impl Into<TlsRole>,
    ) -> impl Future<Output = Result<TransportRef>>;

    /// Creates a datagram endpoint: UDP, or Unix datagrams (asyncio's
    /// `create_datagram_endpoint`). The arguments are checked as asyncio
    /// 3.13 checks them (see [`DatagramOptions`]); with `allow_broadcast`,
    /// `remote_addr` is not connected but kept as the destination.
    ///
    /// # Errors
    ///
    /// [`Error::Resolve`](crate::Error::Resolve) for names that do not
    /// resolve; [`Error::Connect`](crate::Error::Connect) listing each
    /// address's failure; [`Error::InvalidArgument`](crate::Error::InvalidArgument),
    /// naming the argument, for `sock` together with any other option, for
    /// no address and no family, and for addresses that do not fit the
    /// family.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the socket.
    fn create_datagram_endpoint<P>(
        &self,
        factory: impl FnOnce() -> P,
        opts: DatagramOptions,
    ) -> impl Future<Output = Result<(DatagramTransportRef, Rc<RefCell<P>>)>>
    where
        P: DatagramProtocol + 'static;

    /// Wraps the read end of a pipe (asyncio's `connect_read_pipe`); the fd
    /// is set non-blocking. On EOF the protocol gets `eof_received`, then
    /// the transport closes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) unless
    /// `pipe` is a pipe, a socket or a character device (as asyncio
    /// checks) open for reading — for [`connect_write_pipe`](NetExt::connect_write_pipe),
    /// for writing; the loop's [`InvalidFd`](loop_core::Error::InvalidFd)
    /// (in [`Error::Loop`](crate::Error::Loop)) for a character device
    /// epoll cannot watch (`/dev/null`); an OS error if the fd is invalid.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the pipe.
    fn connect_read_pipe<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        pipe: OwnedFd,
    ) -> impl Future<Output = Result<(TransportRef, Rc<RefCell<P>>)>>
    where
        P: IntoStreamProtocol<M>;

    /// Wraps the write end of a pipe (asyncio's `connect_write_pipe`); the
    /// fd is set non-blocking. When the reader goes away the transport
    /// closes (`connection_lost` with a broken-pipe error if data was still
    /// buffered).
    ///
    /// # Errors
    ///
    /// As [`connect_read_pipe`](NetExt::connect_read_pipe).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the pipe.
    fn connect_write_pipe<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        pipe: OwnedFd,
    ) -> impl Future<Output = Result<(TransportRef, Rc<RefCell<P>>)>>
    where
        P: IntoStreamProtocol<M>;

    /// `getaddrinfo` off the loop thread (asyncio's `loop.getaddrinfo`).
    ///
    /// # Errors
    ///
    /// [`Error::Resolve`](crate::Error::Resolve) with the resolver's
    /// message; [`Error::InvalidArgument`](crate::Error::InvalidArgument)
    /// for a host name with a NUL byte (no resolver is asked).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the lookup (the worker finishes it).
    fn getaddrinfo(
        &self,
        host: Option<&str>,
        port: u16,
        hints: AddrInfoHints,
    ) -> impl Future<Output = Result<Vec<AddrInfo>>>;

    /// Installs `resolver` as this loop's name resolver, or (with `None`)
    /// goes back to the system's `getaddrinfo` on the default executor.
    /// Every name the loop's transports resolve goes through it (see
    /// [`Resolver`](crate::Resolver)).
    fn set_resolver(&self, resolver: Option<Rc<dyn crate::Resolver>>);

    /// `getnameinfo` off the loop thread: `(host, service)`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) with the resolver's message.
    ///
    /// # Cancel safety
    ///
    /// As [`getaddrinfo`](NetExt::getaddrinfo).
    fn getnameinfo(
        &self,
        addr: SocketAddr,
        flags: i32,
    ) -> impl Future<Output = Result<(String, String)>>;

    /// Sends `count` bytes (or up to EOF) of `file` from `offset` over
    /// `transport` with zero-copy `sendfile(2)`; with `fallback`, reads and
    /// writes when `sendfile(2)` cannot be used. Returns the bytes sent; the
    /// file's position is left after the last byte sent, even on error.
    ///
    /// `sendfile(2)` cannot be used when the kernel refuses this pair of
    /// fds (`file` is a pipe or a socket, the destination was opened with
    /// `O_APPEND`, …) or when the transport has no fd. A file that cannot
    /// seek is read from where it is (`offset` must be 0), on the default
    /// executor if it is in blocking mode.
    ///
    /// While it runs, the transport takes no other data: `write`,
    /// `writelines`, `write_eof` and another `sendfile` on it fail with
    /// [`Error::SendfileInProgress`](crate::Error::SendfileInProgress), so
    /// no byte can land among the file's. Data written before is sent
    /// first. asyncio refuses `write`/`writelines` only, and only during a
    /// native sendfile; tulip refuses during the fallback too (a transport
    /// that is not fd-backed cannot be guarded: its fallback writes through
    /// its `write`).
    ///
    /// # Errors
    ///
    /// [`Error::SendfileNotAvailable`](crate::Error::SendfileNotAvailable)
    /// when `sendfile(2)` cannot be used and `fallback` is false;
    /// [`Error::SendfileInProgress`](crate::Error::SendfileInProgress) when
    /// another `sendfile` is running on `transport`;
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a
    /// `count` of 0 or an `offset` above `i64::MAX`; [`Error::Unsupported`](crate::Error::Unsupported) for a
    /// read pipe's transport; [`Error::Closed`](crate::Error::Closed) when
    /// the transport closes; [`Error::Io`](crate::Error::Io) when sending
    /// or reading fails (`ESPIPE` for an offset in a file that cannot
    /// seek).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops sending part-way; the file position is not
    /// updated then.
    fn sendfile(
        &self,
        transport: &TransportRef,
        file: &File,
        offset: u64,
        count: Option<u64>,
        fallback: bool,
    ) -> impl Future<Output = Result<u64>>;
}

impl NetExt for Loop {
    async fn create_connection<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        host: &str,
        port: u16,
        opts: ConnectOptions,
    ) -> Result<(TransportRef, Rc<RefCell<P>>)>
    where
        P: IntoStreamProtocol<M>,
    {
        tcp::connect::create_connection(self, factory, host, port, opts).await
    }

    async fn create_server<P, M>(
        &self,
        factory: impl Fn() -> P + 'static,
        hosts: impl Into<Hosts>,
        port: u16,
        opts: ServerOptions,
    ) -> Result<Server>
    where
        P: IntoStreamProtocol<M>,
    {
        let factory = tcp::listen::erase_factory(factory);
        tcp::listen::create_server(self, factory, hosts.into(), port, opts).await
    }

    async fn create_unix_connection<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        path: Option<UnixAddress>,
        sock: Option<OwnedFd>,
    ) -> Result<(TransportRef, Rc<RefCell<P>>)>
    where
        P: IntoStreamProtocol<M>,
    {
        unix::create_unix_connection(self, factory, path, sock, None).await
    }

    async fn create_unix_server<P, M>(
        &self,
        factory: impl Fn() -> P + 'static,
        path: Option<UnixAddress>,
        opts: UnixServerOptions,
    ) -> Result<Server>
    where
        P: IntoStreamProtocol<M>,
    {
        let factory = tcp::listen::erase_factory(factory);
        unix::create_unix_server(self, factory, path, opts).await
    }

    async fn connect_accepted_socket<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        sock: OwnedFd,
    ) -> Result<(TransportRef, Rc<RefCell<P>>)>
    where
        P: IntoStreamProtocol<M>,
    {
        unix::connect_accepted_socket(self, factory, sock, None).await
    }

    async fn create_unix_connection_tls<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        path: Option<UnixAddress>,
        sock: Option<OwnedFd>,
        tls: TlsConnect,
    ) -> Result<(TransportRef, Rc<RefCell<P>>)>
    where
        P: IntoStreamProtocol<M>,
    {
        unix::create_unix_connection(self, factory, path, sock, Some(&tls)).await
    }

    async fn connect_accepted_socket_tls<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        sock: OwnedFd,
        tls: TlsAccept,
    ) -> Result<(TransportRef, Rc<RefCell<P>>)>
    where
        P: IntoStreamProtocol<M>,
    {
        unix::connect_accepted_socket(self, factory, sock, Some(&tls)).await
    }

    async fn start_tls(
        &self,
        transport: &TransportRef,
        protocol: StreamProtocolRef,
        tls: impl Into<TlsRole>,
    ) -> Result<TransportRef> {
        crate::tls::start_tls(self, transport, protocol, tls.into()).await
    }

    async fn create_datagram_endpoint<P>(
        &self,
        factory: impl FnOnce() -> P,
        opts: DatagramOptions,
    ) -> Result<(DatagramTransportRef, Rc<RefCell<P>>)>
    where
        P: DatagramProtocol + 'static,
    {
        udp::create_datagram_endpoint(self, factory, opts).await
    }

    async fn connect_read_pipe<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        pipe: OwnedFd,
    ) -> Result<(TransportRef, Rc<RefCell<P>>)>
    where
        P: IntoStreamProtocol<M>,
    {
        pipe::connect_pipe(self, factory, pipe, FdKind::ReadPipe).await
    }

    async fn connect_write_pipe<P, M>(
        &self,
        factory: impl FnOnce() -> P,
        pipe: OwnedFd,
    ) -> Result<(TransportRef, Rc<RefCell<P>>)>
    where
        P: IntoStreamProtocol<M>,
    {
        pipe::connect_pipe(self, factory, pipe, FdKind::WritePipe).await
    }

    async fn getaddrinfo(
        &self,
        host: Option<&str>,
        port: u16,
        hints: AddrInfoHints,
    ) -> Result<Vec<AddrInfo>> {
        dns::getaddrinfo(self, host, port, hints).await
    }

    fn set_resolver(&self, resolver: Option<Rc<dyn crate::Resolver>>) {
        match resolver {
            // Fails only on a closed loop, which resolves nothing any more.
            Some(r) => drop(self.set_extension(Rc::new(crate::resolver::ResolverSlot(r)))),
            None => drop(self.remove_extension::<crate::resolver::ResolverSlot>()),
        }
    }

    async fn getnameinfo(&self, addr: SocketAddr, flags: i32) -> Result<(String, String)> {
        dns::getnameinfo(self, addr, flags).await
    }

    async fn sendfile(
        &self,
        transport: &TransportRef,
        file: &File,
        offset: u64,
        count: Option<u64>,
        fallback: bool,
    ) -> Result<u64> {
        sendfile::sendfile(self, transport, file, offset, count, fallback).await
    }
}

/// The seal of [`NetExt`] and [`SockExt`](crate::SockExt): only [`Loop`]
/// implements them.
pub(crate) mod sealed {
    pub trait Sealed {}
    impl Sealed for loop_core::Loop {}
}
