//! Name resolution off the loop thread: `getaddrinfo` / `getnameinfo` run
//! on the loop's default executor (asyncio does the same).

use std::net::{IpAddr, SocketAddr};

use loop_core::Loop;

use crate::error::{Error, Result};
use crate::options::Family;

/// A socket type for [`getaddrinfo`](crate::NetExt::getaddrinfo) hints and
/// results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SockType {
    /// Any type (`0`).
    #[default]
    Any,
    /// `SOCK_STREAM`.
    Stream,
    /// `SOCK_DGRAM`.
    Datagram,
    /// `SOCK_RAW`.
    Raw,
}

impl SockType {
    /// The C constant.
    pub fn as_raw(self) -> i32 {
        use rustix::net::SocketType;
        match self {
            SockType::Any => 0,
            SockType::Stream => SocketType::STREAM.as_raw() as i32,
            SockType::Datagram => SocketType::DGRAM.as_raw() as i32,
            SockType::Raw => SocketType::RAW.as_raw() as i32,
        }
    }

    /// The type of a C constant (unknown values map to `Any`).
    pub fn from_raw(raw: i32) -> SockType {
        [SockType::Stream, SockType::Datagram, SockType::Raw]
            .into_iter()
            .find(|t| t.as_raw() == raw)
            .unwrap_or(SockType::Any)
    }
}

/// `AI_PASSIVE`: addresses for binding (the wildcard for an empty host).
pub const AI_PASSIVE: i32 = 0x1;
/// `AI_CANONNAME`: fill [`AddrInfo::canonname`].
pub const AI_CANONNAME: i32 = 0x2;
/// `AI_NUMERICHOST`: the host must be a literal address.
pub const AI_NUMERICHOST: i32 = 0x4;
/// `NI_NUMERICHOST` for `getnameinfo`: do not look the name up.
pub const NI_NUMERICHOST: i32 = 0x1;
/// `NI_NUMERICSERV` for `getnameinfo`: numeric port.
pub const NI_NUMERICSERV: i32 = 0x2;

/// One result of `getaddrinfo` (asyncio's 5-tuple).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    /// The address family.
    pub family: Family,
    /// The socket type.
    pub socktype: SockType,
    /// The protocol number.
    pub proto: i32,
    /// The canonical name (first entry, with `AI_CANONNAME`).
    pub canonname: Option<String>,
    /// The address.
    pub addr: SocketAddr,
}

/// Arguments of `getaddrinfo` besides host and port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddrInfoHints {
    /// Address family filter.
    pub family: Family,
    /// Socket type filter.
    pub socktype: SockType,
    /// Protocol filter.
    pub proto: i32,
    /// `AI_*` flags.
    pub flags: i32,
}

/// Blocking `getaddrinfo`; `host` may be `None` (with `AI_PASSIVE`: the
/// wildcard address).
pub(crate) fn getaddrinfo_blocking(
    host: Option<&str>,
    port: u16,
    hints: AddrInfoHints,
) -> std::io::Result<Vec<AddrInfo>> {
    let h = dns_lookup::AddrInfoHints {
        flags: hints.flags,
        address: hints.family.as_raw(),
        socktype: hints.socktype.as_raw(),
        protocol: hints.proto,
    };
    let port = port.to_string();
    let iter = dns_lookup::getaddrinfo(host, Some(&port), Some(h)).map_err(std::io::Error::from)?;
    let mut out = Vec::new();
    for ai in iter {
        let ai = ai?;
        out.push(AddrInfo {
            family: Family::from_raw(ai.address),
            socktype: SockType::from_raw(ai.socktype),
            proto: ai.protocol,
            canonname: ai.canonname,
            addr: ai.sockaddr,
        });
    }
    Ok(out)
}

/// `getaddrinfo` through the loop's [`Resolver`](crate::Resolver) if one is
/// installed, else on the default executor. Literal addresses are answered
/// without leaving the loop thread (and never reach a resolver).
pub(crate) async fn getaddrinfo(
    lp: &Loop,
    host: Option<&str>,
    port: u16,
    hints: AddrInfoHints,
) -> Result<Vec<AddrInfo>> {
    if let Some(h) = host.filter(|h| h.contains('\0')) {
        return Err(Error::invalid(format!("host name {h:?} contains a NUL byte")));
    }
    if let Some(ip) = host.and_then(|h| h.parse::<IpAddr>().ok()) {
        let addr = SocketAddr::new(ip, port);
        let family = if ip.is_ipv4() { Family::Inet } else { Family::Inet6 };
        if hints.family != Family::Unspec && hints.family != family {
            return Ok(Vec::new());
        }
        let types: &[SockType] = match hints.socktype {
            SockType::Any => &[SockType::Stream, SockType::Datagram],
            _ => std::slice::from_ref(&hints.socktype),
        };
        return Ok(types
            .iter()
            .map(|&socktype| AddrInfo {
                family,
                socktype,
                proto: hints.proto,
                canonname: None,
                addr,
            })
            .collect());
    }
    let owned = host.map(str::to_owned);
    let name = owned.clone().unwrap_or_default();
    if let Some(resolver) = crate::resolver::installed(lp) {
        return resolver.getaddrinfo(lp, owned, port, hints).await;
    }
    lp.run_in_executor(move || getaddrinfo_blocking(owned.as_deref(), port, hints))
        .await?
        .map_err(|e| Error::Resolve { host: name, port, source: e.into() })
}

/// `getnameinfo` on the default executor: `(host, service)`.
pub(crate) async fn getnameinfo(
    lp: &Loop,
    addr: SocketAddr,
    flags: i32,
) -> Result<(String, String)> {
    lp.run_in_executor(move || dns_lookup::getnameinfo(&addr, flags))
        .await?
        .map_err(|e| std::io::Error::from(e).into())
}

/// Resolves `host:port` to socket addresses of `socktype`, in resolver
/// order, without duplicates.
pub(crate) async fn resolve(
    lp: &Loop,
    host: Option<&str>,
    port: u16,
    hints: AddrInfoHints,
) -> Result<Vec<SocketAddr>> {
    let infos = getaddrinfo(lp, host, port, hints).await?;
    let mut out: Vec<SocketAddr> = Vec::with_capacity(infos.len());
    for i in infos {
        if !out.contains(&i.addr) {
            out.push(i.addr);
        }
    }
    if out.is_empty() {
        return Err(Error::Resolve {
            host: host.unwrap_or("").to_owned(),
            port,
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "getaddrinfo() returned no address of the requested family",
            )
            .into(),
        });
    }
    Ok(out)
}
