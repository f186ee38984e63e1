//! Unix-domain stream sockets: `create_unix_connection` and
//! `create_unix_server`, with abstract names and safe stale-file cleanup.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;

use loop_core::Loop;
use rustix::net::{AddressFamily, SocketType};

use crate::address::{Address, UnixAddress};
use crate::error::{ConnectError, Error, Result};
use crate::options::DEFAULT_BACKLOG;
use crate::protocol::IntoStreamProtocol;
use crate::readiness::{Interest, ready};
use crate::sys;
use crate::tcp::connect::{check_connection_socket, check_stream_socket, start_stream};
use crate::tcp::server::{OwnedPath, ProtocolFactory, Server};
use crate::tls::{TlsAccept, TlsConnect};
use crate::transport::TransportRef;

/// Options of [`create_unix_server`](crate::NetExt::create_unix_server).
#[derive(Debug)]
#[non_exhaustive]
pub struct UnixServerOptions {
    /// An already bound Unix stream socket to listen on (the path must then
    /// be `None`).
    pub sock: Option<OwnedFd>,
    /// TLS on every accepted connection, as
    /// [`ServerOptions::tls`](crate::ServerOptions::tls).
    pub tls: Option<TlsAccept>,
    /// The `listen` backlog.
    pub backlog: u32,
    /// Start accepting at once (default).
    pub start_serving: bool,
    /// Remove the socket file when the server closes (asyncio 3.13's
    /// `cleanup_socket`, default on) — also for a server started from an
    /// existing bound [`sock`](Self::sock).
    pub cleanup_socket: bool,
}

crate::options::with_setters!(UnixServerOptions {
    with_sock => sock: Option<OwnedFd>,
    with_tls => tls: Option<TlsAccept>,
    with_backlog => backlog: u32,
    with_start_serving => start_serving: bool,
    with_cleanup_socket => cleanup_socket: bool,
});

impl Default for UnixServerOptions {
    fn default() -> Self {
        UnixServerOptions {
            sock: None,
            tls: None,
            backlog: DEFAULT_BACKLOG,
            start_serving: true,
            cleanup_socket: true,
        }
    }
}

/// Removes `path` if it is a socket left behind by an earlier server.
/// Never removes anything that is not a socket.
///
/// # Errors
///
/// [`Error::InvalidArgument`] when `path` exists and is not a socket.
pub(crate) fn remove_stale_socket(path: &Path) -> Result<()> {
    match rustix::fs::lstat(path) {
        Ok(st) => {
            if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Socket {
                std::fs::remove_file(path)?;
                Ok(())
            } else {
                Err(Error::invalid(format!(
                    "{} exists and is not a socket; refusing to remove it",
                    path.display()
                )))
            }
        }
        Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The file a listening Unix socket is bound to (`getsockname`), with its
/// identity; `None` for an abstract or unnamed socket, or when the file is
/// already gone.
fn socket_file(fd: &OwnedFd) -> Option<OwnedPath> {
    let Some(Address::Unix(UnixAddress::Path(path))) = sys::sockname(fd.as_fd()) else {
        return None;
    };
    let st = rustix::fs::lstat(&path).ok()?;
    Some(OwnedPath { path, ino: st.st_ino, dev: st.st_dev })
}

/// Removes the socket file of a server, if the path still names that file
/// (same device and inode).
pub(crate) fn remove_if_same(owned: &OwnedPath) {
    if let Ok(st) = rustix::fs::lstat(&owned.path) {
        if st.st_ino == owned.ino && st.st_dev == owned.dev {
            let _ = std::fs::remove_file(&owned.path);
        }
    }
}

pub(crate) async fn create_unix_connection<P, M>(
    lp: &Loop,
    factory: impl FnOnce() -> P,
    path: Option<UnixAddress>,
    sock: Option<OwnedFd>,
    tls: Option<&TlsConnect>,
) -> Result<(TransportRef, Rc<RefCell<P>>)>
where
    P: IntoStreamProtocol<M>,
{
    if let Some(tls) = tls {
        // Fail on a missing server name before connecting.
        tls.server_name(None)?;
    }
    let fd = match (path, sock) {
        (Some(_), Some(_)) => return Err(Error::invalid("path and sock may not both be given")),
        (None, None) => return Err(Error::invalid("path or sock is required")),
        (None, Some(sock)) => {
            check_connection_socket(&sock)?;
            if sys::socket_domain(sock.as_fd())? != AddressFamily::UNIX {
                return Err(Error::invalid("a Unix (AF_UNIX) socket was expected"));
            }
            sys::set_nonblocking(&sock)?;
            sock
        }
        (Some(addr), None) => {
            addr.check()?;
            let fd = sys::socket(AddressFamily::UNIX, SocketType::STREAM)?;
            let target = Address::Unix(addr);
            let connected =
                sys::connect_start(fd.as_fd(), &target).map_err(|e| annotate(e, &target))?;
            if !connected {
                ready(lp, fd.as_fd(), Interest::Write).await?;
                sys::take_error(fd.as_fd()).map_err(|e| annotate(e, &target))?;
            }
            fd
        }
    };
    match tls {
        Some(tls) => crate::tls::start_client_stream(lp, fd, factory, tls, None).await,
        None => start_stream(lp, fd, factory).await,
    }
}

/// A failed connection to `addr`: the OS error, kept as is, with the
/// address it concerns.
fn annotate(e: io::Error, addr: &Address) -> Error {
    Error::Connect(ConnectError::single(addr, e))
}

pub(crate) async fn create_unix_server(
    lp: &Loop,
    factory: ProtocolFactory,
    path: Option<UnixAddress>,
    opts: UnixServerOptions,
) -> Result<Server> {
    if opts.backlog == 0 {
        return Err(Error::invalid("backlog must be at least 1"));
    }
    let fd = match (path, opts.sock) {
        (Some(_), Some(_)) => return Err(Error::invalid("path and sock may not both be given")),
        (None, None) => return Err(Error::invalid("path or sock is required")),
        (None, Some(sock)) => {
            check_stream_socket(&sock)?;
            if sys::socket_domain(sock.as_fd())? != AddressFamily::UNIX {
                return Err(Error::invalid("a Unix (AF_UNIX) socket was expected"));
            }
            sys::set_nonblocking(&sock)?;
            sys::listen(sock.as_fd(), opts.backlog)?;
            sock
        }
        (Some(addr), None) => {
            addr.check()?;
            if let UnixAddress::Path(p) = &addr {
                remove_stale_socket(p)?;
            }
            let fd = sys::socket(AddressFamily::UNIX, SocketType::STREAM)?;
            let target = Address::Unix(addr.clone());
            sys::bind(fd.as_fd(), &target).map_err(|e| Error::bind(&target, e))?;
            sys::listen(fd.as_fd(), opts.backlog)?;
            fd
        }
    };
    // asyncio 3.13: remember which file the socket is (by the path it is
    // bound to, whoever bound it), to remove it on close only if the path
    // still names that file.
    let owned = if opts.cleanup_socket { socket_file(&fd) } else { None };
    let factory = match opts.tls {
        Some(tls) => crate::tls::server_factory(lp, factory, tls)?,
        None => factory,
    };
    let server = Server::new(lp, vec![fd], factory, opts.backlog, false, owned);
    if opts.start_serving {
        server.start_serving().await?;
    }
    Ok(server)
}

/// `connect_accepted_socket`: wraps a connected socket accepted elsewhere.
pub(crate) async fn connect_accepted_socket<P, M>(
    lp: &Loop,
    factory: impl FnOnce() -> P,
    sock: OwnedFd,
    tls: Option<&TlsAccept>,
) -> Result<(TransportRef, Rc<RefCell<P>>)>
where
    P: IntoStreamProtocol<M>,
{
    check_connection_socket(&sock)?;
    sys::set_nonblocking(&sock)?;
    if crate::tcp::connect::is_inet(&sock) {
        let _ = sys::set_nodelay(sock.as_fd(), true);
    }
    match tls {
        Some(tls) => crate::tls::start_server_stream(lp, sock, factory, tls).await,
        None => start_stream(lp, sock, factory).await,
    }
}
