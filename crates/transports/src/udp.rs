//! `create_datagram_endpoint`: UDP (IPv4/IPv6) and Unix datagram sockets.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::sync::Arc;

use loop_core::Loop;
use rustix::net::{AddressFamily, SocketType};

use crate::address::{Address, UnixAddress};
use crate::dns::{self, AddrInfoHints, SockType};
use crate::error::{ConnectError, Error, Result};
use crate::options::Family;
use crate::protocol::{DatagramProtocol, DatagramProtocolRef};
use crate::sys;
use crate::transport::{DatagramTransportRef, start_datagram};

/// One end of a datagram endpoint: a host and port (resolved), or a Unix
/// socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A host name or literal address, and a port.
    Inet(String, u16),
    /// A Unix datagram socket address.
    Unix(UnixAddress),
}

impl Endpoint {
    /// `host:port`.
    pub fn inet(host: impl Into<String>, port: u16) -> Self {
        Endpoint::Inet(host.into(), port)
    }
}

impl From<(&str, u16)> for Endpoint {
    fn from((h, p): (&str, u16)) -> Self {
        Endpoint::Inet(h.to_owned(), p)
    }
}

impl From<UnixAddress> for Endpoint {
    fn from(u: UnixAddress) -> Self {
        Endpoint::Unix(u)
    }
}

/// Options of [`create_datagram_endpoint`](crate::NetExt::create_datagram_endpoint).
#[derive(Debug, Default)]
pub struct DatagramOptions {
    /// Bind the socket here.
    pub local_addr: Option<Endpoint>,
    /// Connect the socket to this peer (then `sendto(data, None)` sends to
    /// it, and ICMP errors reach `error_received`).
    pub remote_addr: Option<Endpoint>,
    /// Address family (needed when neither address is given; `Unix` for a
    /// Unix datagram socket).
    pub family: Family,
    /// `proto` for `getaddrinfo`.
    pub proto: i32,
    /// `flags` for `getaddrinfo`.
    pub flags: i32,
    /// `SO_REUSEPORT`.
    pub reuse_port: bool,
    /// `SO_BROADCAST`.
    pub allow_broadcast: bool,
    /// An existing datagram socket to use (then no address may be given).
    pub sock: Option<OwnedFd>,
}

pub(crate) async fn create_datagram_endpoint<P: DatagramProtocol + 'static>(
    lp: &Loop,
    factory: impl FnOnce() -> P,
    mut opts: DatagramOptions,
) -> Result<(DatagramTransportRef, Rc<RefCell<P>>)> {
    let fd = match opts.sock.take() {
        Some(sock) => {
            if opts.local_addr.is_some() || opts.remote_addr.is_some() {
                return Err(Error::invalid(
                    "local_addr and remote_addr may not be given with sock",
                ));
            }
            if !sys::is_socket(&sock) || sys::socket_type(sock.as_fd())? != SocketType::DGRAM {
                return Err(Error::invalid("a datagram (SOCK_DGRAM) socket was expected"));
            }
            sys::set_nonblocking(&sock)?;
            sock
        }
        None => open_socket(lp, &opts).await?,
    };
    let proto = Rc::new(RefCell::new(factory()));
    let waiter = lp.create_future::<()>();
    let t = start_datagram(lp, fd, DatagramProtocolRef::new(proto.clone()), waiter.clone())?;
    waiter.await?;
    Ok((t, proto))
}

fn is_unix(e: &Option<Endpoint>) -> bool {
    matches!(e, Some(Endpoint::Unix(_)))
}

async fn open_socket(lp: &Loop, opts: &DatagramOptions) -> Result<OwnedFd> {
    if opts.family == Family::Unix || is_unix(&opts.local_addr) || is_unix(&opts.remote_addr) {
        return open_unix(opts);
    }
    let hints = AddrInfoHints {
        family: opts.family,
        socktype: SockType::Datagram,
        proto: opts.proto,
        flags: opts.flags,
    };
    let resolve = |e: &Option<Endpoint>| {
        let e = e.clone();
        async move {
            match e {
                Some(Endpoint::Inet(h, p)) => dns::resolve(lp, Some(&h), p, hints).await.map(Some),
                _ => Ok(None),
            }
        }
    };
    let locals = resolve(&opts.local_addr).await?;
    let remotes = resolve(&opts.remote_addr).await?;
    // Candidate (family, local, remote) combinations, remote order first.
    let mut combos: Vec<(AddressFamily, Option<Address>, Option<Address>)> = Vec::new();
    match (&locals, &remotes) {
        (_, Some(rs)) => {
            for r in rs {
                let l = locals.as_ref().map(|ls| ls.iter().find(|l| l.is_ipv4() == r.is_ipv4()));
                match l {
                    Some(None) => continue,
                    Some(Some(l)) => combos.push((
                        sys::family_of(r),
                        Some(Address::Inet(*l)),
                        Some(Address::Inet(*r)),
                    )),
                    None => combos.push((sys::family_of(r), None, Some(Address::Inet(*r)))),
                }
            }
        }
        (Some(ls), None) => {
            combos.extend(ls.iter().map(|l| (sys::family_of(l), Some(Address::Inet(*l)), None)));
        }
        (None, None) => {
            let fam = if opts.family == Family::Inet6 {
                AddressFamily::INET6
            } else {
                AddressFamily::INET
            };
            combos.push((fam, None, None));
        }
    }
    if combos.is_empty() {
        return Err(Error::invalid("local_addr and remote_addr have no address family in common"));
    }
    let mut attempts = Vec::new();
    for (fam, local, remote) in combos {
        match open_inet(fam, local.as_ref(), remote.as_ref(), opts) {
            Ok(fd) => return Ok(fd),
            Err(e) => {
                let addr = remote.or(local).unwrap_or(Address::Unix(UnixAddress::Unnamed));
                attempts.push((addr, Arc::new(e)));
            }
        }
    }
    let (host, port) = match (&opts.remote_addr, &opts.local_addr) {
        (Some(Endpoint::Inet(h, p)), _) | (None, Some(Endpoint::Inet(h, p))) => (h.clone(), *p),
        _ => (String::new(), 0),
    };
    Err(Error::Connect(ConnectError { host, port, attempts }))
}

fn open_inet(
    fam: AddressFamily,
    local: Option<&Address>,
    remote: Option<&Address>,
    opts: &DatagramOptions,
) -> io::Result<OwnedFd> {
    let fd = sys::socket(fam, SocketType::DGRAM)?;
    if opts.reuse_port {
        sys::set_reuseport(fd.as_fd(), true)?;
    }
    if opts.allow_broadcast {
        sys::set_broadcast(fd.as_fd(), true)?;
    }
    if let Some(l) = local {
        sys::bind(fd.as_fd(), l)?;
    }
    if let Some(r) = remote {
        sys::connect_start(fd.as_fd(), r)?;
    }
    Ok(fd)
}

fn open_unix(opts: &DatagramOptions) -> Result<OwnedFd> {
    let unix = |e: &Option<Endpoint>| -> Result<Option<UnixAddress>> {
        match e {
            None => Ok(None),
            Some(Endpoint::Unix(u)) => Ok(Some(u.clone())),
            Some(Endpoint::Inet(..)) => {
                Err(Error::invalid("a Unix datagram endpoint needs Unix addresses"))
            }
        }
    };
    let local = unix(&opts.local_addr)?;
    let remote = unix(&opts.remote_addr)?;
    let fd = sys::socket(AddressFamily::UNIX, SocketType::DGRAM)?;
    if let Some(l) = local {
        if let UnixAddress::Path(p) = &l {
            crate::unix::remove_stale_socket(p)?;
        }
        sys::bind(fd.as_fd(), &Address::Unix(l))?;
    }
    if let Some(r) = remote {
        sys::connect_start(fd.as_fd(), &Address::Unix(r))?;
    }
    Ok(fd)
}
