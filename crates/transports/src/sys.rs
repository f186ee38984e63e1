//! The OS boundary: every syscall the crate makes, through `rustix`.
//!
//! Nothing here is `unsafe`. Sockets are created non-blocking and
//! close-on-exec; stream sends use `MSG_NOSIGNAL` so a reset peer is an
//! `EPIPE` error, not a signal.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::OFlags;
use rustix::io::Errno;
use rustix::net::{
    AddressFamily, RecvFlags, SendFlags, Shutdown, SocketFlags, SocketType, sockopt,
};

use crate::address::Address;

/// Most buffers one `writev`/`sendmsg` takes (Linux's `IOV_MAX`).
pub(crate) const IOV_MAX: usize = 1024;

/// Whether an error means "try again later".
pub(crate) fn would_block(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted)
}

pub(crate) fn family_of(addr: &SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    }
}

/// A new non-blocking, close-on-exec socket.
pub(crate) fn socket(family: AddressFamily, ty: SocketType) -> io::Result<OwnedFd> {
    Ok(rustix::net::socket_with(family, ty, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None)?)
}

pub(crate) fn bind(fd: BorrowedFd<'_>, addr: &Address) -> io::Result<()> {
    let any =
        addr.to_any().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    Ok(rustix::net::bind(fd, &any)?)
}

/// Starts a connect; `Ok(true)` when it completed at once, `Ok(false)` when
/// it is in progress (wait for writability, then [`take_error`]).
pub(crate) fn connect_start(fd: BorrowedFd<'_>, addr: &Address) -> io::Result<bool> {
    let any =
        addr.to_any().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    match rustix::net::connect(fd, &any) {
        Ok(()) => Ok(true),
        Err(Errno::INPROGRESS) | Err(Errno::AGAIN) | Err(Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The pending error of a socket (`SO_ERROR`), as a result.
pub(crate) fn take_error(fd: BorrowedFd<'_>) -> io::Result<()> {
    match sockopt::socket_error(fd)? {
        Ok(()) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn listen(fd: BorrowedFd<'_>, backlog: u32) -> io::Result<()> {
    Ok(rustix::net::listen(fd, backlog.min(i32::MAX as u32) as i32)?)
}

/// Accepts one connection as a non-blocking, close-on-exec socket.
pub(crate) fn accept(fd: BorrowedFd<'_>) -> Result<(OwnedFd, Option<Address>), Errno> {
    let (conn, addr) =
        rustix::net::acceptfrom_with(fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC)?;
    Ok((conn, addr.and_then(Address::from_any)))
}

pub(crate) fn sockname(fd: BorrowedFd<'_>) -> Option<Address> {
    rustix::net::getsockname(fd).ok().and_then(Address::from_any)
}

pub(crate) fn peername(fd: BorrowedFd<'_>) -> Option<Address> {
    rustix::net::getpeername(fd).ok().flatten().and_then(Address::from_any)
}

pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    Ok(rustix::net::recv(fd, buf, RecvFlags::empty())?.0)
}

pub(crate) fn recvfrom(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Option<Address>)> {
    let (_, n, addr) = rustix::net::recvfrom(fd, buf, RecvFlags::empty())?;
    Ok((n, addr.and_then(Address::from_any)))
}

/// `recv` into the spare capacity of `buf` (which must have some): the
/// bytes received are appended, never zeroed first.
pub(crate) fn recv_spare(fd: BorrowedFd<'_>, buf: &mut Vec<u8>) -> io::Result<usize> {
    Ok(rustix::net::recv(fd, rustix::buffer::spare_capacity(buf), RecvFlags::empty())?.0)
}

/// `recvfrom` into the spare capacity of `buf` (which must have some).
pub(crate) fn recvfrom_spare(
    fd: BorrowedFd<'_>,
    buf: &mut Vec<u8>,
) -> io::Result<(usize, Option<Address>)> {
    let (n, _, addr) =
        rustix::net::recvfrom(fd, rustix::buffer::spare_capacity(buf), RecvFlags::empty())?;
    Ok((n, addr.and_then(Address::from_any)))
}

pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    Ok(rustix::io::read(fd, buf)?)
}

pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    Ok(rustix::net::send(fd, buf, SendFlags::NOSIGNAL)?)
}

pub(crate) fn sendto(fd: BorrowedFd<'_>, buf: &[u8], addr: &Address) -> io::Result<usize> {
    let any =
        addr.to_any().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    Ok(rustix::net::sendto(fd, buf, SendFlags::NOSIGNAL, &any)?)
}

pub(crate) fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    Ok(rustix::io::write(fd, buf)?)
}

/// One vectored send of `bufs` (at most [`IOV_MAX`] of them are used).
pub(crate) fn send_vectored(fd: BorrowedFd<'_>, bufs: &[&[u8]], socket: bool) -> io::Result<usize> {
    let mut iov: [IoSlice<'_>; 16] = [IoSlice::new(&[]); 16];
    let mut heap;
    let slices: &[IoSlice<'_>] = if bufs.len() <= iov.len() {
        for (slot, b) in iov.iter_mut().zip(bufs) {
            *slot = IoSlice::new(b);
        }
        &iov[..bufs.len()]
    } else {
        heap = Vec::with_capacity(bufs.len().min(IOV_MAX));
        heap.extend(bufs.iter().take(IOV_MAX).map(|b| IoSlice::new(b)));
        &heap
    };
    if socket {
        let mut control = rustix::net::SendAncillaryBuffer::default();
        Ok(rustix::net::sendmsg(fd, slices, &mut control, SendFlags::NOSIGNAL)?)
    } else {
        Ok(rustix::io::writev(fd, slices)?)
    }
}

pub(crate) fn shutdown_write(fd: BorrowedFd<'_>) -> io::Result<()> {
    Ok(rustix::net::shutdown(fd, Shutdown::Write)?)
}

pub(crate) fn set_nodelay(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    Ok(sockopt::set_tcp_nodelay(fd, on)?)
}

pub(crate) fn set_reuseaddr(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    Ok(sockopt::set_socket_reuseaddr(fd, on)?)
}

pub(crate) fn set_reuseport(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    Ok(sockopt::set_socket_reuseport(fd, on)?)
}

pub(crate) fn set_broadcast(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    Ok(sockopt::set_socket_broadcast(fd, on)?)
}

pub(crate) fn set_v6only(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    Ok(sockopt::set_ipv6_v6only(fd, on)?)
}

pub(crate) fn socket_type(fd: BorrowedFd<'_>) -> io::Result<SocketType> {
    Ok(sockopt::socket_type(fd)?)
}

pub(crate) fn socket_domain(fd: BorrowedFd<'_>) -> io::Result<AddressFamily> {
    Ok(sockopt::socket_domain(fd)?)
}

/// Whether `fd` is in non-blocking mode.
pub(crate) fn is_nonblocking(fd: impl AsFd) -> io::Result<bool> {
    Ok(rustix::fs::fcntl_getfl(fd)?.contains(OFlags::NONBLOCK))
}

/// Puts `fd` in non-blocking mode.
pub(crate) fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    let fd = fd.as_fd();
    let flags = rustix::fs::fcntl_getfl(fd)?;
    if !flags.contains(OFlags::NONBLOCK) {
        rustix::fs::fcntl_setfl(fd, flags | OFlags::NONBLOCK)?;
    }
    Ok(())
}

/// The type of the file `fd` refers to.
pub(crate) fn file_type(fd: BorrowedFd<'_>) -> io::Result<rustix::fs::FileType> {
    Ok(rustix::fs::FileType::from_raw_mode(rustix::fs::fstat(fd)?.st_mode))
}

/// Whether `fd` is open for reading, and for writing.
pub(crate) fn access_mode(fd: BorrowedFd<'_>) -> io::Result<(bool, bool)> {
    let mode = rustix::fs::fcntl_getfl(fd)? & OFlags::RWMODE;
    Ok((mode != OFlags::WRONLY, mode != OFlags::RDONLY))
}

/// Whether `fd` is a listening socket (`SO_ACCEPTCONN`).
pub(crate) fn is_listening(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(sockopt::socket_acceptconn(fd)?)
}

/// Whether `fd` is a socket.
pub(crate) fn is_socket(fd: impl AsFd) -> bool {
    rustix::fs::fstat(fd)
        .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Socket)
        .unwrap_or(false)
}

/// `sendfile(2)` from `file` at `offset` into `out`.
pub(crate) fn sendfile(
    out: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: &mut u64,
    count: usize,
) -> io::Result<usize> {
    Ok(rustix::fs::sendfile(out, file, Some(offset), count)?)
}

/// `pread(2)`.
pub(crate) fn pread(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    Ok(rustix::io::pread(fd, buf, offset)?)
}

/// Moves a file's position to `pos` (`lseek(SEEK_SET)`).
pub(crate) fn seek_to(fd: BorrowedFd<'_>, pos: u64) -> io::Result<()> {
    rustix::fs::seek(fd, rustix::fs::SeekFrom::Start(pos))?;
    Ok(())
}

/// Size of a file, and whether it is a regular file.
pub(crate) fn regular_file_size(fd: BorrowedFd<'_>) -> io::Result<Option<u64>> {
    let st = rustix::fs::fstat(fd)?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile {
        Ok(Some(st.st_size as u64))
    } else {
        Ok(None)
    }
}
