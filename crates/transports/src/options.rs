//! Option structs: asyncio's keyword arguments, with `Default`.

use std::os::fd::OwnedFd;
use std::time::Duration;

use crate::address::Address;
use crate::tls::{TlsAccept, TlsConnect};

/// An address family (asyncio's `family=` argument).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Family {
    /// Any family (`AF_UNSPEC`): whatever the name resolves to.
    #[default]
    Unspec,
    /// IPv4 (`AF_INET`).
    Inet,
    /// IPv6 (`AF_INET6`).
    Inet6,
    /// Unix domain (`AF_UNIX`).
    Unix,
}

impl Family {
    /// The C constant.
    pub fn as_raw(self) -> i32 {
        match self {
            Family::Unspec => 0,
            Family::Inet => i32::from(rustix::net::AddressFamily::INET.as_raw()),
            Family::Inet6 => i32::from(rustix::net::AddressFamily::INET6.as_raw()),
            Family::Unix => i32::from(rustix::net::AddressFamily::UNIX.as_raw()),
        }
    }

    /// The family of a C constant (unknown values map to `Unspec`).
    pub fn from_raw(raw: i32) -> Family {
        [Family::Inet, Family::Inet6, Family::Unix]
            .into_iter()
            .find(|f| f.as_raw() == raw)
            .unwrap_or(Family::Unspec)
    }

    /// Whether `addr` belongs to this family (`Unspec` matches any).
    pub fn matches(self, addr: &Address) -> bool {
        match (self, addr) {
            (Family::Unspec, _) => true,
            (Family::Inet, Address::Inet(a)) => a.is_ipv4(),
            (Family::Inet6, Address::Inet(a)) => a.is_ipv6(),
            (Family::Unix, Address::Unix(_)) => true,
            _ => false,
        }
    }
}

/// Generates the `with_*` setters of a `#[non_exhaustive]` option struct,
/// one per field: `with_setters!(ConnectOptions { with_family => family:
/// Family, … })` gives `ConnectOptions::default().with_family(..)`.
macro_rules! with_setters {
    ($name:ident { $($setter:ident => $field:ident: $ty:ty),+ $(,)? }) => {
        /// Setters, for building the options outside this crate (the
        /// struct is `#[non_exhaustive]`: start from `default()`).
        impl $name {
            $(
                #[doc = concat!("Sets [`", stringify!($field), "`](", stringify!($name), "::", stringify!($field), ").")]
                #[must_use]
                pub fn $setter(mut self, value: $ty) -> Self {
                    self.$field = value;
                    self
                }
            )+
        }
    };
}
pub(crate) use with_setters;

/// Options of [`create_connection`](crate::NetExt::create_connection)
/// (asyncio's keyword arguments).
///
/// `#[non_exhaustive]`, so a new option never breaks a caller: build it
/// from the default with the `with_*` setters.
///
/// ```
/// use std::time::Duration;
/// use loop_transports::ConnectOptions;
///
/// let opts = ConnectOptions::default()
///     .with_happy_eyeballs_delay(Some(Duration::from_millis(250)))
///     .with_nodelay(false);
/// assert_eq!(opts.happy_eyeballs_delay, Some(Duration::from_millis(250)));
/// assert!(!opts.nodelay);
/// ```
///
/// ```compile_fail,E0639
/// let opts = loop_transports::ConnectOptions { nodelay: false, ..Default::default() };
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// Restricts name resolution to one family.
    pub family: Family,
    /// `proto` for `getaddrinfo`.
    pub proto: i32,
    /// `flags` for `getaddrinfo` (`AI_*`).
    pub flags: i32,
    /// An already connected stream socket to use instead of connecting
    /// (`host` must then be empty).
    pub sock: Option<OwnedFd>,
    /// `(host, port)` to bind the socket to before connecting; resolved like
    /// the remote host.
    pub local_addr: Option<(String, u16)>,
    /// Enables Happy Eyeballs (RFC 8305): start the next attempt after this
    /// delay if the current one has not finished (the RFC suggests 250 ms).
    pub happy_eyeballs_delay: Option<Duration>,
    /// Interleave resolved addresses by family, this many of the first
    /// family first (RFC 8305's "First Address Family Count"). Defaults to
    /// 1 with Happy Eyeballs, 0 (no reordering) without.
    pub interleave: Option<usize>,
    /// Set `TCP_NODELAY` (on by default, as asyncio since 3.6).
    pub nodelay: bool,
    /// TLS over the connection (asyncio's `ssl=`, `server_hostname=`,
    /// `ssl_handshake_timeout=`, `ssl_shutdown_timeout=`): the call
    /// returns once the handshake completed. The server name defaults to
    /// `host`.
    pub tls: Option<TlsConnect>,
}

with_setters!(ConnectOptions {
    with_family => family: Family,
    with_proto => proto: i32,
    with_flags => flags: i32,
    with_sock => sock: Option<OwnedFd>,
    with_local_addr => local_addr: Option<(String, u16)>,
    with_happy_eyeballs_delay => happy_eyeballs_delay: Option<Duration>,
    with_interleave => interleave: Option<usize>,
    with_nodelay => nodelay: bool,
    with_tls => tls: Option<TlsConnect>,
});

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            family: Family::Unspec,
            proto: 0,
            flags: 0,
            sock: None,
            local_addr: None,
            happy_eyeballs_delay: None,
            interleave: None,
            nodelay: true,
            tls: None,
        }
    }
}

/// Where a server listens (asyncio's `host` argument: a name, several
/// names, or every interface).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Hosts {
    /// Every interface: `0.0.0.0` and `::` (asyncio's `None` or `""`).
    #[default]
    Any,
    /// These hosts (names or literal addresses).
    List(Vec<String>),
}

impl From<&str> for Hosts {
    fn from(h: &str) -> Self {
        if h.is_empty() { Hosts::Any } else { Hosts::List(vec![h.to_owned()]) }
    }
}

impl From<String> for Hosts {
    fn from(h: String) -> Self {
        Hosts::from(h.as_str())
    }
}

impl From<Option<&str>> for Hosts {
    fn from(h: Option<&str>) -> Self {
        h.map(Hosts::from).unwrap_or(Hosts::Any)
    }
}

impl From<&[&str]> for Hosts {
    fn from(hs: &[&str]) -> Self {
        Hosts::List(hs.iter().map(|h| (*h).to_owned()).collect())
    }
}

impl<const N: usize> From<[&str; N]> for Hosts {
    fn from(hs: [&str; N]) -> Self {
        Hosts::from(&hs[..])
    }
}

impl From<Vec<String>> for Hosts {
    fn from(hs: Vec<String>) -> Self {
        Hosts::List(hs)
    }
}

/// Default `listen` backlog (asyncio's 100).
pub const DEFAULT_BACKLOG: u32 = 100;

/// Options of [`create_server`](crate::NetExt::create_server).
#[derive(Debug)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Restricts the listening sockets to one family.
    pub family: Family,
    /// `flags` for `getaddrinfo` (`AI_PASSIVE` is always added).
    pub flags: i32,
    /// An already bound socket to listen on instead (`hosts` must then be
    /// [`Hosts::Any`] and `port` 0). `listen` is called on it.
    pub sock: Option<OwnedFd>,
    /// The `listen` backlog; also how many connections one readiness
    /// event accepts at most.
    pub backlog: u32,
    /// `SO_REUSEADDR`; `None` means on (asyncio's default on Unix).
    pub reuse_address: Option<bool>,
    /// `SO_REUSEPORT`.
    pub reuse_port: bool,
    /// Start accepting at once (default); otherwise call
    /// [`Server::start_serving`](crate::Server::start_serving) or
    /// [`Server::serve_forever`](crate::Server::serve_forever).
    pub start_serving: bool,
    /// Set `TCP_NODELAY` on accepted connections (default on).
    pub nodelay: bool,
    /// TLS on every accepted connection (asyncio's `ssl=`,
    /// `ssl_handshake_timeout=`, `ssl_shutdown_timeout=`): each
    /// protocol's `connection_made` runs after its handshake; a failed
    /// handshake never reaches the protocol (it is logged with `tracing`
    /// at debug level).
    pub tls: Option<TlsAccept>,
}

with_setters!(ServerOptions {
    with_family => family: Family,
    with_flags => flags: i32,
    with_sock => sock: Option<OwnedFd>,
    with_backlog => backlog: u32,
    with_reuse_address => reuse_address: Option<bool>,
    with_reuse_port => reuse_port: bool,
    with_start_serving => start_serving: bool,
    with_nodelay => nodelay: bool,
    with_tls => tls: Option<TlsAccept>,
});

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            family: Family::Unspec,
            flags: 0,
            sock: None,
            backlog: DEFAULT_BACKLOG,
            reuse_address: None,
            reuse_port: false,
            start_serving: true,
            nodelay: true,
            tls: None,
        }
    }
}
