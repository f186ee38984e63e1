//! The group's listening sockets, bound on the calling thread before any
//! loop starts: one `SO_REUSEPORT` socket per loop, or one socket and a
//! duplicate of it per loop.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use loop_transports::{Address, DEFAULT_BACKLOG};
use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};

use crate::{Error, Result};

/// How the loops of a [`LoopGroup`](super::LoopGroup) share the listening
/// address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListenerMode {
    /// Each loop gets its own socket bound to the address with
    /// `SO_REUSEPORT` (the default). The kernel spreads incoming
    /// connections over the sockets by a hash of their addresses, so each
    /// loop accepts only its share and no loop wakes for another's
    /// connection. A connection still waiting in a socket's queue when its
    /// loop closes that socket is reset (unless the kernel's
    /// `net.ipv4.tcp_migrate_req` moves it to another socket).
    #[default]
    ReusePort,
    /// One socket, bound once; each loop gets a duplicate (`dup`) of it.
    /// Every loop is woken by each new connection and whichever accepts
    /// first serves it, so the busiest loop tends to accept less — at the
    /// price of waking every loop for every connection. The socket closes
    /// when the last loop closes its duplicate.
    Shared,
}

/// Binds and listens on `addr` as `mode` says, for `loops` loops: returns
/// one socket per loop and the address actually bound (port 0 becomes the
/// port the kernel chose, the same for every socket).
///
/// Nothing is left open on failure: sockets made so far are dropped.
pub(crate) fn bind_listeners(
    addr: SocketAddr,
    mode: ListenerMode,
    loops: usize,
) -> Result<(Vec<OwnedFd>, SocketAddr)> {
    let reuse_port = mode == ListenerMode::ReusePort;
    let first = bind_one(addr, reuse_port)?;
    let bound = local_addr(&first)?;
    let mut sockets = Vec::with_capacity(loops);
    sockets.push(first);
    while sockets.len() < loops {
        let next = match mode {
            ListenerMode::ReusePort => bind_one(bound, true)?,
            ListenerMode::Shared => sockets[0].try_clone()?,
        };
        sockets.push(next);
    }
    Ok((sockets, bound))
}

/// A non-blocking, close-on-exec TCP socket bound to `addr` and listening.
fn bind_one(addr: SocketAddr, reuse_port: bool) -> Result<OwnedFd> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let fd = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )
    .map_err(io::Error::from)?;
    // asyncio's default on Unix, as `create_server` does.
    sockopt::set_socket_reuseaddr(fd.as_fd(), true).map_err(io::Error::from)?;
    if reuse_port {
        sockopt::set_socket_reuseport(fd.as_fd(), true).map_err(io::Error::from)?;
    }
    if addr.is_ipv6() {
        // As `create_server`: IPv6 sockets stay off IPv4, so `0.0.0.0` and
        // `::` can be served by separate groups on one port.
        sockopt::set_ipv6_v6only(fd.as_fd(), true).map_err(io::Error::from)?;
    }
    rustix::net::bind(fd.as_fd(), &addr).map_err(|e| {
        Error::from(loop_transports::Error::Bind {
            addr: Address::Inet(addr),
            source: Arc::new(io::Error::from(e)),
        })
    })?;
    let backlog = i32::try_from(DEFAULT_BACKLOG).unwrap_or(i32::MAX);
    rustix::net::listen(fd.as_fd(), backlog).map_err(io::Error::from)?;
    Ok(fd)
}

/// The address `fd` is bound to.
fn local_addr(fd: &OwnedFd) -> Result<SocketAddr> {
    let any = rustix::net::getsockname(fd.as_fd()).map_err(io::Error::from)?;
    SocketAddr::try_from(any).map_err(|e| Error::from(io::Error::from(e)))
}
