//! Extra information about a transport (asyncio's `get_extra_info`), typed.

use std::os::fd::RawFd;

use crate::address::Address;

/// What can be asked of [`BaseTransport::extra_info`](super::BaseTransport::extra_info).
///
/// asyncio's string keys map to variants; [`ExtraKey::parse`] does the
/// mapping for [`get_extra_info`](super::BaseTransport::get_extra_info).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExtraKey {
    /// `"peername"`: the remote address of a connected socket.
    PeerName,
    /// `"sockname"`: the socket's own address.
    SockName,
    /// `"socket"`: the socket's file descriptor.
    Socket,
    /// `"pipe"`: the pipe's file descriptor.
    Pipe,
    /// `"subprocess"`: the child's process id (subprocess transports).
    Subprocess,
    /// `"peercert"`: the peer's certificate chain (TLS transports).
    PeerCert,
    /// `"cipher"`: the negotiated cipher suite (TLS transports).
    Cipher,
    /// `"compression"`: always absent with TLS 1.3 (TLS transports).
    Compression,
    /// `"ssl_protocol"` / `"version"`: the TLS protocol version.
    TlsVersion,
    /// `"alpn_protocol"`: the negotiated ALPN protocol (TLS transports).
    Alpn,
    /// `"server_hostname"`: the SNI server name — the one the client asked
    /// for (TLS transports).
    ServerHostname,
}

impl ExtraKey {
    /// The key for asyncio's name, if it is one this crate knows.
    pub fn parse(name: &str) -> Option<ExtraKey> {
        Some(match name {
            "peername" => ExtraKey::PeerName,
            "sockname" => ExtraKey::SockName,
            "socket" => ExtraKey::Socket,
            "pipe" => ExtraKey::Pipe,
            "subprocess" => ExtraKey::Subprocess,
            "peercert" => ExtraKey::PeerCert,
            "cipher" => ExtraKey::Cipher,
            "compression" => ExtraKey::Compression,
            "ssl_protocol" | "version" => ExtraKey::TlsVersion,
            "alpn_protocol" => ExtraKey::Alpn,
            "server_hostname" => ExtraKey::ServerHostname,
            _ => return None,
        })
    }

    /// asyncio's name for the key.
    pub fn name(self) -> &'static str {
        match self {
            ExtraKey::PeerName => "peername",
            ExtraKey::SockName => "sockname",
            ExtraKey::Socket => "socket",
            ExtraKey::Pipe => "pipe",
            ExtraKey::Subprocess => "subprocess",
            ExtraKey::PeerCert => "peercert",
            ExtraKey::Cipher => "cipher",
            ExtraKey::Compression => "compression",
            ExtraKey::TlsVersion => "ssl_protocol",
            ExtraKey::Alpn => "alpn_protocol",
            ExtraKey::ServerHostname => "server_hostname",
        }
    }
}

/// A value of [`BaseTransport::extra_info`](super::BaseTransport::extra_info).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtraInfo {
    /// A socket address (`peername`, `sockname`).
    Address(Address),
    /// A file descriptor owned by the transport (`socket`, `pipe`). It is
    /// valid only while the transport is open; do not close it.
    Fd(RawFd),
    /// A process id (`subprocess`).
    Pid(u32),
    /// A text value (`cipher`, `ssl_protocol`, `alpn_protocol`).
    Text(String),
    /// Binary values (`peercert`: DER certificates, leaf first).
    Bytes(Vec<Vec<u8>>),
}

impl ExtraInfo {
    /// The address, if this is one.
    pub fn as_address(&self) -> Option<&Address> {
        match self {
            ExtraInfo::Address(a) => Some(a),
            _ => None,
        }
    }

    /// The file descriptor, if this is one.
    pub fn as_fd(&self) -> Option<RawFd> {
        match self {
            ExtraInfo::Fd(fd) => Some(*fd),
            _ => None,
        }
    }
}
