//! Pipes: `connect_read_pipe` and `connect_write_pipe` wrap a pipe end (or
//! a socket or character device used as one) in a transport.

use std::cell::RefCell;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;

use loop_core::Loop;
use rustix::fs::FileType;

use crate::error::{Error, Result};
use crate::protocol::IntoStreamProtocol;
use crate::sys;
use crate::transport::{FdKind, FdTransport, StartOptions, TransportRef};

/// The type of `fd`; fails with [`Error::InvalidArgument`] unless it is a
/// pipe, a socket or a character device (as asyncio checks) open in the
/// direction the transport uses: a read transport on a write end would
/// never receive a byte, a write transport on a read end could never send
/// one.
fn check_pipe_end(fd: BorrowedFd<'_>, kind: FdKind) -> Result<FileType> {
    let file_type = sys::file_type(fd)?;
    let what = match file_type {
        FileType::Fifo | FileType::Socket | FileType::CharacterDevice => None,
        FileType::RegularFile => Some("regular files"),
        FileType::Directory => Some("directories"),
        FileType::BlockDevice => Some("block devices"),
        _ => Some("this kind of file"),
    };
    if let Some(what) = what {
        return Err(Error::invalid(format!(
            "pipe transports are for pipes, sockets and character devices, not {what}"
        )));
    }
    let (readable, writable) = sys::access_mode(fd)?;
    match kind {
        FdKind::ReadPipe if !readable => {
            Err(Error::invalid("connect_read_pipe needs a descriptor open for reading"))
        }
        FdKind::WritePipe if !writable => {
            Err(Error::invalid("connect_write_pipe needs a descriptor open for writing"))
        }
        _ => Ok(file_type),
    }
}

pub(crate) async fn connect_pipe<P, M>(
    lp: &Loop,
    factory: impl FnOnce() -> P,
    pipe: OwnedFd,
    kind: FdKind,
) -> Result<(TransportRef, Rc<RefCell<P>>)>
where
    P: IntoStreamProtocol<M>,
{
    if check_pipe_end(pipe.as_fd(), kind)? == FileType::CharacterDevice {
        // Some devices cannot be polled (`/dev/null`: epoll says EPERM).
        // Find out before the protocol is made and connected.
        lp.add_reader(pipe.as_fd(), || {})?;
        lp.remove_reader(pipe.as_fd())?;
    }
    sys::set_nonblocking(&pipe)?;
    let proto = Rc::new(RefCell::new(factory()));
    let t = FdTransport::new(lp, pipe, kind, P::into_protocol_ref(proto.clone()));
    let waiter = lp.create_future::<()>();
    t.start(StartOptions { waiter: Some(waiter.clone()), on_lost: None })?;
    waiter.await?;
    Ok((t, proto))
}
