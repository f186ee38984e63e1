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

impl From<std::net::SocketAddr> for Endpoint {
    /// An address needs no resolution: its IP, as text, and its port.
    fn from(addr: std::net::SocketAddr) -> Self {
        Endpoint::Inet(addr.ip().to_string(), addr.port())
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
///
/// The argument rules are asyncio 3.13's:
///
/// * With [`sock`](Self::sock), no other option may be set (no address,
///   family, proto, flags, `reuse_port` or `allow_broadcast`).
/// * Without `sock` and without addresses, [`family`](Self::family) must be
///   given (`Inet`, `Inet6` or `Unix`): an unbound socket of that family.
/// * Addresses must match the family: [`Endpoint::Unix`] for
///   [`Family::Unix`] (also inferred from a Unix address when the family is
///   `Unspec`), [`Endpoint::Inet`] otherwise.
///
/// Each violation is an [`Error::InvalidArgument`] naming the argument.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct DatagramOptions {
    /// Bind the socket here.
    pub local_addr: Option<Endpoint>,
    /// The peer: the socket is connected to it (then `sendto(data, None)`
    /// sends to it, only its datagrams are received, and ICMP errors reach
    /// `error_received`) — except with
    /// [`allow_broadcast`](Self::allow_broadcast), where the socket is not
    /// connected and this address is only the transport's fixed
    /// destination, as in asyncio.
    pub remote_addr: Option<Endpoint>,
    /// Address family (required when neither address is given; `Unix` for
    /// a Unix datagram socket).
    pub family: Family,
    /// `proto` for `getaddrinfo`.
    pub proto: i32,
    /// `flags` for `getaddrinfo`.
    pub flags: i32,
    /// `SO_REUSEPORT`.
    pub reuse_port: bool,
    /// `SO_BROADCAST`. A [`remote_addr`](Self::remote_addr) is then not
    /// connected (a connected socket could not send to a broadcast
    /// address): `sendto(data, None)` sends to it, `sendto` to any other
    /// address is refused, and datagrams from anyone are received.
    pub allow_broadcast: bool,
    /// An existing datagram socket to use (then no other option may be
    /// set).
    pub sock: Option<OwnedFd>,
}

crate::options::with_setters!(DatagramOptions {
    with_local_addr => local_addr: Option<Endpoint>,
    with_remote_addr => remote_addr: Option<Endpoint>,
    with_family => family: Family,
    with_proto => proto: i32,
    with_flags => flags: i32,
    with_reuse_port => reuse_port: bool,
    with_allow_broadcast => allow_broadcast: bool,
    with_sock => sock: Option<OwnedFd>,
});

impl DatagramOptions {
    /// The options that may not be combined with `sock`, as asyncio names
    /// them in its message.
    fn sock_modifiers(&self) -> Vec<String> {
        let mut set = Vec::new();
        if let Some(e) = &self.local_addr {
            set.push(format!("local_addr={e:?}"));
        }
        if let Some(e) = &self.remote_addr {
            set.push(format!("remote_addr={e:?}"));
        }
        if self.family != Family::Unspec {
            set.push(format!("family={:?}", self.family));
        }
        if self.proto != 0 {
            set.push(format!("proto={}", self.proto));
        }
        if self.flags != 0 {
            set.push(format!("flags={}", self.flags));
        }
        if self.reuse_port {
            set.push("reuse_port=true".to_owned());
        }
        if self.allow_broadcast {
            set.push("allow_broadcast=true".to_owned());
        }
        set
    }

    /// Checks that the addresses fit the family; whether the endpoint is a
    /// Unix one.
    fn check_addresses(&self) -> Result<bool> {
        let addrs = [("local_addr", &self.local_addr), ("remote_addr", &self.remote_addr)];
        if addrs.iter().all(|(_, a)| a.is_none()) {
            return match self.family {
                Family::Unspec => Err(Error::invalid(
                    "unexpected address family: give family when neither local_addr nor \
                     remote_addr is given",
                )),
                f => Ok(f == Family::Unix),
            };
        }
        let unix = match self.family {
            Family::Unix => true,
            Family::Inet | Family::Inet6 => false,
            Family::Unspec => addrs.iter().any(|(_, a)| is_unix(a)),
        };
        for (name, addr) in addrs {
            match addr {
                Some(Endpoint::Inet(..)) if unix => {
                    return Err(Error::invalid(format!(
                        "{name}: a Unix datagram endpoint needs a Unix address"
                    )));
                }
                Some(Endpoint::Unix(_)) if !unix => {
                    return Err(Error::invalid(format!(
                        "{name}: a Unix address needs family Unix (or Unspec), not {:?}",
                        self.family
                    )));
                }
                _ => {}
            }
        }
        Ok(unix)
    }
}

pub(crate) async fn create_datagram_endpoint<P: DatagramProtocol + 'static>(
    lp: &Loop,
    factory: impl FnOnce() -> P,
    mut opts: DatagramOptions,
) -> Result<(DatagramTransportRef, Rc<RefCell<P>>)> {
    let (fd, dest) = match opts.sock.take() {
        Some(sock) => {
            if !sys::is_socket(&sock) || sys::socket_type(sock.as_fd())? != SocketType::DGRAM {
                return Err(Error::invalid("a datagram (SOCK_DGRAM) socket was expected"));
            }
            let modifiers = opts.sock_modifiers();
            if !modifiers.is_empty() {
                return Err(Error::invalid(format!(
                    "socket modifier arguments cannot be used when sock is given ({})",
                    modifiers.join(", ")
                )));
            }
            sys::set_nonblocking(&sock)?;
            (sock, None)
        }
        None => {
            if opts.check_addresses()? {
                open_unix(&opts)?
            } else {
                open_socket(lp, &opts).await?
            }
        }
    };
    let proto = Rc::new(RefCell::new(factory()));
    let waiter = lp.create_future::<()>();
    let protocol = DatagramProtocolRef::new(proto.clone());
    let t = start_datagram(lp, fd, dest, protocol, waiter.clone())?;
    waiter.await?;
    Ok((t, proto))
}

fn is_unix(e: &Option<Endpoint>) -> bool {
    matches!(e, Some(Endpoint::Unix(_)))
}

/// A new socket, and the fixed destination of a socket that was not
/// connected to `remote_addr` (with `allow_broadcast`).
type Opened = (OwnedFd, Option<Address>);

async fn open_socket(lp: &Loop, opts: &DatagramOptions) -> Result<Opened> {
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
        // `check_addresses` made sure a family was given.
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
) -> io::Result<Opened> {
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
    connect_or_remember(fd, remote, opts.allow_broadcast)
}

/// Connects a datagram socket to `remote`, or, with `allow_broadcast`,
/// keeps `remote` as its fixed destination (asyncio does not connect then).
fn connect_or_remember(
    fd: OwnedFd,
    remote: Option<&Address>,
    broadcast: bool,
) -> io::Result<Opened> {
    match remote {
        Some(r) if broadcast => Ok((fd, Some(r.clone()))),
        Some(r) => {
            sys::connect_start(fd.as_fd(), r)?;
            Ok((fd, None))
        }
        None => Ok((fd, None)),
    }
}

fn open_unix(opts: &DatagramOptions) -> Result<Opened> {
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
    for a in local.iter().chain(remote.iter()) {
        a.check()?;
    }
    let fd = sys::socket(AddressFamily::UNIX, SocketType::DGRAM)?;
    if let Some(l) = local {
        if let UnixAddress::Path(p) = &l {
            crate::unix::remove_stale_socket(p)?;
        }
        sys::bind(fd.as_fd(), &Address::Unix(l))?;
    }
    let remote = remote.map(Address::Unix);
    Ok(connect_or_remember(fd, remote.as_ref(), opts.allow_broadcast)?)
}
