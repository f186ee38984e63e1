//! Pipes: `connect_read_pipe` and `connect_write_pipe` wrap a pipe end (or
//! a socket or character device used as one) in a transport.

use std::cell::RefCell;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use loop_core::Loop;

use crate::error::{Error, Result};
use crate::protocol::IntoStreamProtocol;
use crate::sys;
use crate::transport::{FdKind, FdTransport, StartOptions, TransportRef};

pub(crate) async fn connect_pipe<P, M>(
    lp: &Loop,
    factory: impl FnOnce() -> P,
    pipe: OwnedFd,
    kind: FdKind,
) -> Result<(TransportRef, Rc<RefCell<P>>)>
where
    P: IntoStreamProtocol<M>,
{
    if sys::regular_file_size(std::os::fd::AsFd::as_fd(&pipe))?.is_some() {
        return Err(Error::invalid(
            "pipe transports are for pipes, sockets and character devices, not regular files",
        ));
    }
    sys::set_nonblocking(&pipe)?;
    let proto = Rc::new(RefCell::new(factory()));
    let t = FdTransport::new(lp, pipe, kind, P::into_protocol_ref(proto.clone()));
    let waiter = lp.create_future::<()>();
    t.start(StartOptions { waiter: Some(waiter.clone()), on_lost: None })?;
    waiter.await?;
    Ok((t, proto))
}
