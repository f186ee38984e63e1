//! Socket operations as async functions on non-blocking sockets (asyncio's
//! `sock_recv`, `sock_sendall`, `sock_connect`, `sock_accept`, …): try the
//! syscall, and on `EAGAIN` wait for readiness through the loop.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use loop_core::Loop;

use crate::address::Address;
use crate::dns::{self, AddrInfoHints, SockType};
use crate::error::{Error, Result};
use crate::readiness::{Interest, ready};
use crate::sys;
use crate::udp::Endpoint;

/// Fails with [`Error::BlockingSocket`] unless `fd` is non-blocking.
pub(crate) fn check_nonblocking(fd: BorrowedFd<'_>) -> Result<()> {
    if sys::is_nonblocking(fd)? { Ok(()) } else { Err(Error::BlockingSocket) }
}

/// Runs `op` until it stops saying "would block", waiting for `interest`
/// between tries.
pub(crate) async fn retry<T>(
    lp: &Loop,
    fd: BorrowedFd<'_>,
    interest: Interest,
    mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<T>,
) -> Result<T> {
    check_nonblocking(fd)?;
    loop {
        match op(fd) {
            Ok(v) => return Ok(v),
            Err(e) if sys::would_block(&e) => ready(lp, fd, interest).await?,
            Err(e) => return Err(e.into()),
        }
    }
}

/// A receive buffer with room for `n` bytes: reserved (fallibly) but not
/// initialised, so the pages a read does not fill are never touched.
fn recv_buffer(n: usize) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    buf.try_reserve_exact(n).map_err(|e| {
        Error::invalid(format!("cannot allocate a receive buffer of {n} bytes: {e}"))
    })?;
    Ok(buf)
}

/// Spare capacity above which a received buffer is shrunk to its length,
/// so a short read into a huge buffer does not keep the reservation.
const KEEP_SPARE: usize = 64 * 1024;

fn shrink(mut buf: Vec<u8>) -> Vec<u8> {
    if buf.capacity() - buf.len() > KEEP_SPARE {
        buf.shrink_to_fit();
    }
    buf
}

pub(crate) async fn sock_recv(lp: &Loop, sock: BorrowedFd<'_>, n: usize) -> Result<Vec<u8>> {
    if n == 0 {
        sock_recv_into(lp, sock, &mut []).await?;
        return Ok(Vec::new());
    }
    let mut buf = recv_buffer(n)?;
    retry(lp, sock, Interest::Read, |fd| sys::recv_spare(fd, &mut buf)).await?;
    Ok(shrink(buf))
}

pub(crate) async fn sock_recvfrom(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    n: usize,
) -> Result<(Vec<u8>, Address)> {
    if n == 0 {
        let (_, from) = sock_recvfrom_into(lp, sock, &mut []).await?;
        return Ok((Vec::new(), from));
    }
    let mut buf = recv_buffer(n)?;
    let (_, a) = retry(lp, sock, Interest::Read, |fd| sys::recvfrom_spare(fd, &mut buf)).await?;
    Ok((shrink(buf), a.unwrap_or(Address::Unix(crate::address::UnixAddress::Unnamed))))
}

pub(crate) async fn sock_recv_into(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<usize> {
    retry(lp, sock, Interest::Read, |fd| sys::recv(fd, buf)).await
}

pub(crate) async fn sock_recvfrom_into(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<(usize, Address)> {
    let (n, a) = retry(lp, sock, Interest::Read, |fd| sys::recvfrom(fd, buf)).await?;
    Ok((n, a.unwrap_or(Address::Unix(crate::address::UnixAddress::Unnamed))))
}

pub(crate) async fn sock_sendall(lp: &Loop, sock: BorrowedFd<'_>, data: &[u8]) -> Result<()> {
    sock_sendall_raw(lp, sock, data).await
}

pub(crate) async fn sock_sendall_raw(lp: &Loop, sock: BorrowedFd<'_>, data: &[u8]) -> Result<()> {
    let mut sent = 0;
    while sent < data.len() {
        sent += retry(lp, sock, Interest::Write, |fd| sys::send(fd, &data[sent..])).await?;
    }
    Ok(())
}

pub(crate) async fn sock_sendto(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    data: &[u8],
    addr: &Address,
) -> Result<usize> {
    addr.check()?;
    retry(lp, sock, Interest::Write, |fd| sys::sendto(fd, data, addr)).await
}

pub(crate) async fn sock_connect(lp: &Loop, sock: BorrowedFd<'_>, addr: Endpoint) -> Result<()> {
    check_nonblocking(sock)?;
    let target = match addr {
        Endpoint::Unix(u) => {
            u.check()?;
            Address::Unix(u)
        }
        Endpoint::Inet(host, port) => {
            let family = match sys::socket_domain(sock)? {
                rustix::net::AddressFamily::INET6 => crate::options::Family::Inet6,
                _ => crate::options::Family::Inet,
            };
            let socktype = match sys::socket_type(sock)? {
                rustix::net::SocketType::DGRAM => SockType::Datagram,
                _ => SockType::Stream,
            };
            let hints = AddrInfoHints { family, socktype, ..Default::default() };
            let addrs = dns::resolve(lp, Some(&host), port, hints).await?;
            Address::Inet(addrs[0])
        }
    };
    if !sys::connect_start(sock, &target)? {
        ready(lp, sock, Interest::Write).await?;
        sys::take_error(sock)?;
    }
    Ok(())
}

pub(crate) async fn sock_accept(lp: &Loop, sock: BorrowedFd<'_>) -> Result<(OwnedFd, Address)> {
    let (conn, addr) =
        retry(lp, sock, Interest::Read, |fd| sys::accept(fd).map_err(Into::into)).await?;
    let addr = addr
        .or_else(|| sys::peername(conn.as_fd()))
        .unwrap_or(Address::Unix(crate::address::UnixAddress::Unnamed));
    Ok((conn, addr))
}
