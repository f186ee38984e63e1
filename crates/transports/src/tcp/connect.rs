//! `create_connection`: resolve, connect (every address, optionally Happy
//! Eyeballs), wrap the socket in a transport, run `connection_made`.

use std::cell::RefCell;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;

use loop_core::Loop;
use rustix::net::SocketType;

use super::happy_eyeballs;
use crate::dns::{self, AddrInfoHints, SockType};
use crate::error::{ConnectError, Error, Result};
use crate::options::ConnectOptions;
use crate::protocol::IntoStreamProtocol;
use crate::sys;
use crate::transport::{FdKind, FdTransport, StartOptions, TransportRef, WriteTransport};

pub(crate) async fn create_connection<P, M>(
    lp: &Loop,
    factory: impl FnOnce() -> P,
    host: &str,
    port: u16,
    mut opts: ConnectOptions,
) -> Result<(TransportRef, Rc<RefCell<P>>)>
where
    P: IntoStreamProtocol<M>,
{
    let fd = match opts.sock.take() {
        Some(sock) => {
            if !host.is_empty() || port != 0 {
                return Err(Error::invalid("host and port may not be given together with sock"));
            }
            if opts.local_addr.is_some() || opts.happy_eyeballs_delay.is_some() {
                return Err(Error::invalid(
                    "local_addr and happy_eyeballs_delay may not be given together with sock",
                ));
            }
            check_connection_socket(&sock)?;
            sys::set_nonblocking(&sock)?;
            sock
        }
        None => {
            if host.is_empty() {
                return Err(Error::invalid("host is required when sock is not given"));
            }
            let hints = AddrInfoHints {
                family: opts.family,
                socktype: SockType::Stream,
                proto: opts.proto,
                flags: opts.flags,
            };
            let mut addrs = dns::resolve(lp, Some(host), port, hints).await?;
            let locals = match &opts.local_addr {
                Some((h, p)) => Some(dns::resolve(lp, Some(h), *p, hints).await?),
                None => None,
            };
            let interleave =
                opts.interleave.unwrap_or(usize::from(opts.happy_eyeballs_delay.is_some()));
            if interleave > 0 {
                addrs = happy_eyeballs::interleave(addrs, interleave);
            }
            happy_eyeballs::connect(lp, &addrs, locals.as_deref(), opts.happy_eyeballs_delay)
                .await
                .map_err(|attempts| {
                    Error::Connect(ConnectError { host: host.to_owned(), port, attempts })
                })?
        }
    };
    if opts.nodelay && is_inet(&fd) {
        sys::set_nodelay(fd.as_fd(), true)?;
    }
    match &opts.tls {
        Some(tls) => {
            let host = Some(host).filter(|h| !h.is_empty());
            crate::tls::start_client_stream(lp, fd, factory, tls, host).await
        }
        None => start_stream(lp, fd, factory).await,
    }
}

pub(crate) fn check_stream_socket(sock: &OwnedFd) -> Result<()> {
    if !sys::is_socket(sock) {
        return Err(Error::invalid("sock is not a socket"));
    }
    if sys::socket_type(sock.as_fd())? != SocketType::STREAM {
        return Err(Error::invalid("a stream (SOCK_STREAM) socket was expected"));
    }
    Ok(())
}

/// [`check_stream_socket`], and not listening: a connection's socket must
/// be connected (a listening one would never be readable as a stream, and
/// the transport would wait for data forever).
pub(crate) fn check_connection_socket(sock: &OwnedFd) -> Result<()> {
    check_stream_socket(sock)?;
    if sys::is_listening(sock.as_fd())? {
        return Err(Error::invalid(
            "sock is a listening socket; a connected stream socket was expected",
        ));
    }
    Ok(())
}

pub(crate) fn is_inet(fd: &OwnedFd) -> bool {
    matches!(
        sys::socket_domain(fd.as_fd()),
        Ok(rustix::net::AddressFamily::INET | rustix::net::AddressFamily::INET6)
    )
}

/// Closes the transport if the future creating it is dropped before
/// `connection_made` completed.
struct CloseOnDrop(Option<Rc<FdTransport>>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.abort();
        }
    }
}

/// Wraps a connected socket in a transport and waits for
/// `connection_made` to have run.
pub(crate) async fn start_stream<P, M>(
    lp: &Loop,
    fd: OwnedFd,
    factory: impl FnOnce() -> P,
) -> Result<(TransportRef, Rc<RefCell<P>>)>
where
    P: IntoStreamProtocol<M>,
{
    let proto = Rc::new(RefCell::new(factory()));
    let t = FdTransport::new(lp, fd, FdKind::Socket, P::into_protocol_ref(proto.clone()));
    let waiter = lp.create_future::<()>();
    t.start(StartOptions { waiter: Some(waiter.clone()), on_lost: None })?;
    let mut guard = CloseOnDrop(Some(t.clone()));
    let outcome = waiter.await;
    guard.0 = None;
    match outcome {
        Ok(()) => Ok((t, proto)),
        Err(e) => {
            t.abort();
            Err(e.into())
        }
    }
}
