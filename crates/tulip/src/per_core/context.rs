//! `LoopContext`: what each loop's main receives — its place in the group,
//! its listening socket, and the group's shutdown signal.

use std::cell::Cell;
use std::fmt;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use loop_streams::{ClientReturn, StreamReader, StreamServerOptions, StreamWriter};
use loop_transports::{Hosts, IntoStreamProtocol, NetExt, Server, ServerOptions};

use super::shutdown::{ShutdownHandle, ShutdownRequested};
use crate::Result;

/// What the main of one loop of a [`LoopGroup`](super::LoopGroup) receives.
///
/// It tells the main which loop it runs on ([`index`](LoopContext::index)
/// of [`loops`](LoopContext::loops)), hands it the loop's listening socket
/// ([`create_server`](LoopContext::create_server),
/// [`start_server`](LoopContext::start_server), or raw with
/// [`take_listener`](LoopContext::take_listener)), and carries the group's
/// shutdown signal: [`shutdown`](LoopContext::shutdown) resolves when the
/// group is asked to stop, and the main is expected to close its server
/// and return then.
///
/// The loop itself is the thread's running loop:
/// [`get_running_loop`](crate::get_running_loop) returns it.
pub struct LoopContext {
    index: usize,
    loops: usize,
    local_addr: Option<SocketAddr>,
    listener: Cell<Option<OwnedFd>>,
    shutdown: ShutdownHandle,
}

impl LoopContext {
    pub(crate) fn new(
        index: usize,
        loops: usize,
        local_addr: Option<SocketAddr>,
        listener: Option<OwnedFd>,
        shutdown: ShutdownHandle,
    ) -> LoopContext {
        LoopContext { index, loops, local_addr, listener: Cell::new(listener), shutdown }
    }

    /// This loop's number in the group, from 0 to
    /// [`loops`](LoopContext::loops)` - 1`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many loops the group runs.
    pub fn loops(&self) -> usize {
        self.loops
    }

    /// The address the group listens on (with the port the kernel chose if
    /// port 0 was asked for), or `None` when the group listens on nothing.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Takes this loop's listening socket (non-blocking, close-on-exec,
    /// already listening), for code that wants the raw socket: pass it as
    /// [`ServerOptions::sock`]. `None` when the group listens on nothing or
    /// the socket was taken already. An untaken socket is closed when the
    /// context is dropped.
    pub fn take_listener(&self) -> Option<OwnedFd> {
        self.listener.take()
    }

    /// Serves this loop's listening socket with protocols made by
    /// `factory` ([`NetExt::create_server`] on the loop's own listener).
    /// `opts` apply as for `create_server` (backlog, `TCP_NODELAY`, TLS,
    /// `start_serving` …); the address options do not — the socket is
    /// bound already.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) when
    /// the group listens on nothing or the listener was taken already;
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// when `opts.sock` is set; otherwise as `create_server`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes closes the listener.
    pub async fn create_server<P, M>(
        &self,
        factory: impl Fn() -> P + 'static,
        opts: ServerOptions,
    ) -> Result<Server>
    where
        P: IntoStreamProtocol<M>,
    {
        let opts = self.with_listener(opts)?;
        let lp = crate::get_running_loop()?;
        Ok(lp.create_server(factory, Hosts::Any, 0, opts).await?)
    }

    /// Serves this loop's listening socket with streams
    /// ([`start_server`](loop_streams::start_server) on the loop's own
    /// listener): `client_connected` runs for each connection.
    ///
    /// # Errors
    ///
    /// As [`create_server`](LoopContext::create_server), with
    /// `opts.server.sock` in place of `opts.sock`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes closes the listener.
    pub async fn start_server<F, R, M>(
        &self,
        client_connected: F,
        mut opts: StreamServerOptions,
    ) -> Result<Server>
    where
        F: Fn(StreamReader, StreamWriter) -> R + 'static,
        R: ClientReturn<M>,
    {
        opts.server = self.with_listener(opts.server)?;
        Ok(loop_streams::start_server(client_connected, Hosts::Any, 0, opts).await?)
    }

    /// `opts` with this loop's listener as its socket.
    fn with_listener(&self, opts: ServerOptions) -> Result<ServerOptions> {
        if opts.sock.is_some() {
            return Err(loop_transports::Error::InvalidArgument(
                "ServerOptions::sock must be None: the loop's own listener is used".into(),
            )
            .into());
        }
        let Some(fd) = self.take_listener() else {
            let why = if self.local_addr.is_none() {
                "the loop group listens on no address (see per_core::Builder::listen)"
            } else {
                "this loop's listener was taken already"
            };
            return Err(loop_transports::Error::InvalidState(why.into()).into());
        };
        Ok(opts.with_sock(Some(fd)))
    }

    /// A future that resolves once the group's shutdown is requested — by
    /// [`LoopGroup::shutdown`](super::LoopGroup::shutdown), a
    /// [`ShutdownHandle`], or the failure of another loop of the group.
    /// Await it, then close your server and return.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub fn shutdown(&self) -> ShutdownRequested {
        self.shutdown.wait()
    }

    /// Whether the group's shutdown was requested.
    pub fn is_shutdown_requested(&self) -> bool {
        self.shutdown.is_shutdown_requested()
    }

    /// A thread-safe handle that requests the group's shutdown (from a
    /// signal handler on this loop, say).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }
}

impl fmt::Debug for LoopContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listener = self.listener.take();
        let has_listener = listener.is_some();
        self.listener.set(listener);
        f.debug_struct("LoopContext")
            .field("index", &self.index)
            .field("loops", &self.loops)
            .field("local_addr", &self.local_addr)
            .field("has_listener", &has_listener)
            .field("shutdown_requested", &self.is_shutdown_requested())
            .finish()
    }
}
