//! Socket addresses: internet (`std::net::SocketAddr`) or Unix-domain
//! (filesystem path, abstract name, unnamed), as one type.

use std::ffi::OsStr;
use std::fmt;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::net::{SocketAddrAny, SocketAddrUnix};

use crate::error::{Error, Result};

/// The address of a socket: what asyncio's `peername` / `sockname` hold.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// An IPv4 or IPv6 address and port.
    Inet(SocketAddr),
    /// A Unix-domain socket address.
    Unix(UnixAddress),
}

/// A Unix-domain socket address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnixAddress {
    /// A socket file in the filesystem.
    Path(PathBuf),
    /// A name in Linux's abstract namespace (no file; the leading NUL byte
    /// is not part of the name).
    Abstract(Vec<u8>),
    /// An unbound socket (the client end of most connections).
    Unnamed,
}

impl Address {
    /// The internet address, if this is one.
    pub fn as_inet(&self) -> Option<SocketAddr> {
        match self {
            Address::Inet(a) => Some(*a),
            Address::Unix(_) => None,
        }
    }

    /// The Unix address, if this is one.
    pub fn as_unix(&self) -> Option<&UnixAddress> {
        match self {
            Address::Unix(a) => Some(a),
            Address::Inet(_) => None,
        }
    }

    /// The port of an internet address.
    pub fn port(&self) -> Option<u16> {
        self.as_inet().map(|a| a.port())
    }

    pub(crate) fn from_any(any: SocketAddrAny) -> Option<Address> {
        match any.address_family() {
            rustix::net::AddressFamily::INET | rustix::net::AddressFamily::INET6 => {
                SocketAddr::try_from(any).ok().map(Address::Inet)
            }
            rustix::net::AddressFamily::UNIX => SocketAddrUnix::try_from(any)
                .ok()
                .map(|u| Address::Unix(UnixAddress::from_rustix(&u))),
            _ => None,
        }
    }

    /// As [`UnixAddress::check`] for a Unix address; an internet address
    /// always fits.
    pub(crate) fn check(&self) -> Result<()> {
        match self {
            Address::Inet(_) => Ok(()),
            Address::Unix(u) => u.check(),
        }
    }

    pub(crate) fn to_any(&self) -> Result<SocketAddrAny> {
        Ok(match self {
            Address::Inet(a) => SocketAddrAny::from(*a),
            Address::Unix(u) => SocketAddrAny::from(u.to_rustix()?),
        })
    }
}

impl UnixAddress {
    /// A filesystem path address.
    pub fn path(p: impl AsRef<Path>) -> Self {
        UnixAddress::Path(p.as_ref().to_path_buf())
    }

    /// An abstract-namespace address (`name` without the leading NUL).
    pub fn abstract_name(name: impl AsRef<[u8]>) -> Self {
        UnixAddress::Abstract(name.as_ref().to_vec())
    }

    /// Parses asyncio's spelling: a path, or a name starting with a NUL
    /// byte (`"\0name"`) for the abstract namespace.
    pub fn parse(s: impl AsRef<OsStr>) -> Self {
        let bytes = s.as_ref().as_bytes();
        match bytes.split_first() {
            Some((0, rest)) => UnixAddress::Abstract(rest.to_vec()),
            _ => UnixAddress::Path(PathBuf::from(s.as_ref())),
        }
    }

    pub(crate) fn from_rustix(u: &SocketAddrUnix) -> Self {
        if let Some(name) = u.abstract_name() {
            UnixAddress::Abstract(name.to_vec())
        } else if let Some(p) = u.path_bytes() {
            UnixAddress::Path(PathBuf::from(OsStr::from_bytes(p)))
        } else {
            UnixAddress::Unnamed
        }
    }

    pub(crate) fn to_rustix(&self) -> Result<SocketAddrUnix> {
        let r = match self {
            UnixAddress::Path(p) => SocketAddrUnix::new(p.as_path()),
            UnixAddress::Abstract(name) => SocketAddrUnix::new_abstract_name(name),
            UnixAddress::Unnamed => return Ok(SocketAddrUnix::new_unnamed()),
        };
        r.map_err(|e| {
            let why = match e {
                rustix::io::Errno::NAMETOOLONG => {
                    "longer than a Unix socket address can hold (107 bytes)"
                }
                rustix::io::Errno::INVAL => "the path contains a NUL byte",
                _ => "not a Unix socket address",
            };
            Error::invalid(format!("bad Unix socket address {self:?}: {why}"))
        })
    }

    /// Fails with [`Error::InvalidArgument`] unless this address fits in a
    /// `sockaddr_un`: a path without NUL bytes, no longer than 107 bytes
    /// (an abstract name: 106). Checked before any socket is made, so a bad
    /// address never reaches the OS as an error without an errno.
    pub(crate) fn check(&self) -> Result<()> {
        self.to_rustix().map(drop)
    }
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Self {
        Address::Inet(a)
    }
}

impl From<UnixAddress> for Address {
    fn from(a: UnixAddress) -> Self {
        Address::Unix(a)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet(a) => write!(f, "{a}"),
            Address::Unix(u) => write!(f, "{u}"),
        }
    }
}

impl fmt::Display for UnixAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixAddress::Path(p) => write!(f, "{}", p.display()),
            UnixAddress::Abstract(n) => write!(f, "@{}", String::from_utf8_lossy(n)),
            UnixAddress::Unnamed => f.write_str("(unnamed)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_abstract_and_path() {
        assert_eq!(UnixAddress::parse("\0name"), UnixAddress::Abstract(b"name".to_vec()));
        assert_eq!(UnixAddress::parse("/tmp/x"), UnixAddress::Path("/tmp/x".into()));
    }

    #[test]
    fn round_trip_through_rustix() {
        for a in [UnixAddress::path("/tmp/sock"), UnixAddress::abstract_name("abc")] {
            let r = a.to_rustix().unwrap();
            assert_eq!(UnixAddress::from_rustix(&r), a);
        }
        let inet: Address = "127.0.0.1:80".parse::<SocketAddr>().unwrap().into();
        assert_eq!(Address::from_any(inet.to_any().unwrap()), Some(inet));
    }
}
