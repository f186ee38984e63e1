//! `create_server`: resolve the hosts, bind and listen on every address,
//! and wrap the sockets in a [`Server`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;

use loop_core::Loop;
use rustix::net::SocketType;

use super::server::{ProtocolFactory, Server};
use crate::address::Address;
use crate::dns::{self, AI_PASSIVE, AddrInfoHints, SockType};
use crate::error::{Error, Result};
use crate::options::{Family, Hosts, ServerOptions};
use crate::sys;

pub(crate) async fn create_server(
    lp: &Loop,
    factory: ProtocolFactory,
    hosts: Hosts,
    port: u16,
    mut opts: ServerOptions,
) -> Result<Server> {
    if opts.backlog == 0 {
        return Err(Error::invalid("backlog must be at least 1"));
    }
    if opts.family == Family::Unix {
        return Err(Error::invalid(
            "family Unix is for create_unix_server; create_server listens on TCP",
        ));
    }
    let sockets = match opts.sock.take() {
        Some(sock) => {
            if hosts != Hosts::Any || port != 0 {
                return Err(Error::invalid("host and port may not be given together with sock"));
            }
            super::connect::check_stream_socket(&sock)?;
            sys::set_nonblocking(&sock)?;
            sys::listen(sock.as_fd(), opts.backlog)?;
            vec![sock]
        }
        None => {
            let addrs = server_addresses(lp, &hosts, port, &opts).await?;
            let mut sockets = Vec::with_capacity(addrs.len());
            for addr in addrs {
                sockets.push(bind_listener(&addr, &opts)?);
            }
            sockets
        }
    };
    let factory = match opts.tls.take() {
        Some(tls) => crate::tls::server_factory(lp, factory, tls)?,
        None => factory,
    };
    let server = Server::new(lp, sockets, factory, opts.backlog, opts.nodelay, None);
    if opts.start_serving {
        server.start_serving().await?;
    }
    Ok(server)
}

/// Every address to listen on, without duplicates.
async fn server_addresses(
    lp: &Loop,
    hosts: &Hosts,
    port: u16,
    opts: &ServerOptions,
) -> Result<Vec<SocketAddr>> {
    let hints = AddrInfoHints {
        family: opts.family,
        socktype: SockType::Stream,
        proto: 0,
        flags: opts.flags | AI_PASSIVE,
    };
    let mut out: Vec<SocketAddr> = Vec::new();
    let names: Vec<Option<&str>> = match hosts {
        Hosts::Any => vec![None],
        Hosts::List(l) if l.is_empty() => vec![None],
        Hosts::List(l) => l.iter().map(|h| Some(h.as_str())).collect(),
    };
    for name in names {
        let found = match name {
            // Every interface: the IPv4 and IPv6 wildcards (as getaddrinfo
            // with AI_PASSIVE gives), filtered by family.
            None => {
                let mut v = Vec::new();
                if opts.family != Family::Inet6 {
                    v.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
                }
                if opts.family != Family::Inet && ipv6_available() {
                    v.push(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port));
                }
                v
            }
            Some(h) => dns::resolve(lp, Some(h), port, hints).await?,
        };
        for a in found {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

fn ipv6_available() -> bool {
    sys::socket(rustix::net::AddressFamily::INET6, SocketType::STREAM).is_ok()
}

/// A non-blocking socket bound to `addr` and listening.
fn bind_listener(addr: &SocketAddr, opts: &ServerOptions) -> Result<OwnedFd> {
    let fd = sys::socket(sys::family_of(addr), SocketType::STREAM)?;
    if opts.reuse_address.unwrap_or(true) {
        sys::set_reuseaddr(fd.as_fd(), true)?;
    }
    if opts.reuse_port {
        sys::set_reuseport(fd.as_fd(), true)?;
    }
    if addr.is_ipv6() {
        // Keep IPv6 sockets off IPv4 so that `0.0.0.0` and `::` can both
        // be bound on one port.
        sys::set_v6only(fd.as_fd(), true)?;
    }
    let target = Address::Inet(*addr);
    sys::bind(fd.as_fd(), &target).map_err(|e| Error::bind(&target, e))?;
    sys::listen(fd.as_fd(), opts.backlog)?;
    Ok(fd)
}

/// Type-erases a user's factory.
pub(crate) fn erase_factory<P, M>(factory: impl Fn() -> P + 'static) -> ProtocolFactory
where
    P: crate::protocol::IntoStreamProtocol<M>,
{
    Rc::new(move || Ok(P::into_protocol_ref(Rc::new(std::cell::RefCell::new(factory())))))
}
