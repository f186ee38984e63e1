//! `SockExt`: asyncio's `sock_*` loop methods on sockets the caller owns.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

use loop_core::Loop;

use crate::address::Address;
use crate::error::Result;
use crate::ext::sealed;
use crate::udp::Endpoint;
use crate::{sendfile, sock_ops};

/// Operations on non-blocking sockets the caller owns (asyncio's `sock_*`
/// loop methods). Each tries the syscall and waits for readiness through
/// the loop when the socket would block.
///
/// # Errors
///
/// Every method fails with [`Error::BlockingSocket`](crate::Error::BlockingSocket)
/// for a socket in blocking mode, and with the OS error of the syscall.
///
/// # Cancel safety
///
/// Receiving and accepting are cancel-safe (nothing is consumed before the
/// future completes); `sock_sendall` and `sock_sendfile` may have sent part
/// of the data when dropped.
///
/// Sealed: implemented for [`Loop`] only.
pub trait SockExt: sealed::Sealed {
    /// Receives up to `n` bytes (`recv`); empty at EOF.
    ///
    /// The buffer for `n` bytes is reserved, not filled, before the call:
    /// a large `n` costs address space, not memory, and what is left of it
    /// after a short read is given back. As in asyncio, `n == 0` (like an
    /// empty buffer for [`sock_recv_into`](SockExt::sock_recv_into))
    /// completes, empty, once the socket is readable — at once when data
    /// or EOF is pending — and consumes nothing from a stream.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when no
    /// buffer of `n` bytes can be allocated (asyncio's `MemoryError`).
    fn sock_recv(&self, sock: impl AsFd, n: usize) -> impl Future<Output = Result<Vec<u8>>>;
    /// Receives into `buf`; the number of bytes.
    fn sock_recv_into(
        &self,
        sock: impl AsFd,
        buf: &mut [u8],
    ) -> impl Future<Output = Result<usize>>;
    /// Receives one datagram of up to `n` bytes and its sender. The buffer
    /// is reserved as for [`sock_recv`](SockExt::sock_recv).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when no
    /// buffer of `n` bytes can be allocated.
    fn sock_recvfrom(
        &self,
        sock: impl AsFd,
        n: usize,
    ) -> impl Future<Output = Result<(Vec<u8>, Address)>>;
    /// Receives one datagram into `buf`.
    fn sock_recvfrom_into(
        &self,
        sock: impl AsFd,
        buf: &mut [u8],
    ) -> impl Future<Output = Result<(usize, Address)>>;
    /// Sends all of `data`.
    fn sock_sendall(&self, sock: impl AsFd, data: &[u8]) -> impl Future<Output = Result<()>>;
    /// Sends one datagram to `addr`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a Unix
    /// address no socket can have (a NUL byte, too long).
    fn sock_sendto(
        &self,
        sock: impl AsFd,
        data: &[u8],
        addr: &Address,
    ) -> impl Future<Output = Result<usize>>;
    /// Connects to `addr`, resolving a host name first if needed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a Unix
    /// address no socket can have (a NUL byte, too long);
    /// [`Error::Resolve`](crate::Error::Resolve) for a name that does not
    /// resolve.
    fn sock_connect(
        &self,
        sock: impl AsFd,
        addr: impl Into<Endpoint>,
    ) -> impl Future<Output = Result<()>>;
    /// Accepts a connection: the new (non-blocking) socket and the peer.
    fn sock_accept(&self, sock: impl AsFd) -> impl Future<Output = Result<(OwnedFd, Address)>>;
    /// `sendfile` for a connected, non-blocking `SOCK_STREAM` socket (see
    /// [`NetExt::sendfile`](crate::NetExt::sendfile)); any other socket type is an
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument), as in
    /// asyncio.
    fn sock_sendfile(
        &self,
        sock: impl AsFd,
        file: &File,
        offset: u64,
        count: Option<u64>,
        fallback: bool,
    ) -> impl Future<Output = Result<u64>>;
}

impl SockExt for Loop {
    async fn sock_recv(&self, sock: impl AsFd, n: usize) -> Result<Vec<u8>> {
        sock_ops::sock_recv(self, sock.as_fd(), n).await
    }

    async fn sock_recv_into(&self, sock: impl AsFd, buf: &mut [u8]) -> Result<usize> {
        sock_ops::sock_recv_into(self, sock.as_fd(), buf).await
    }

    async fn sock_recvfrom(&self, sock: impl AsFd, n: usize) -> Result<(Vec<u8>, Address)> {
        sock_ops::sock_recvfrom(self, sock.as_fd(), n).await
    }

    async fn sock_recvfrom_into(
        &self,
        sock: impl AsFd,
        buf: &mut [u8],
    ) -> Result<(usize, Address)> {
        sock_ops::sock_recvfrom_into(self, sock.as_fd(), buf).await
    }

    async fn sock_sendall(&self, sock: impl AsFd, data: &[u8]) -> Result<()> {
        sock_ops::sock_sendall(self, sock.as_fd(), data).await
    }

    async fn sock_sendto(&self, sock: impl AsFd, data: &[u8], addr: &Address) -> Result<usize> {
        sock_ops::sock_sendto(self, sock.as_fd(), data, addr).await
    }

    async fn sock_connect(&self, sock: impl AsFd, addr: impl Into<Endpoint>) -> Result<()> {
        sock_ops::sock_connect(self, sock.as_fd(), addr.into()).await
    }

    async fn sock_accept(&self, sock: impl AsFd) -> Result<(OwnedFd, Address)> {
        sock_ops::sock_accept(self, sock.as_fd()).await
    }

    async fn sock_sendfile(
        &self,
        sock: impl AsFd,
        file: &File,
        offset: u64,
        count: Option<u64>,
        fallback: bool,
    ) -> Result<u64> {
        sendfile::sock_sendfile(self, sock.as_fd(), file, offset, count, fallback).await
    }
}
