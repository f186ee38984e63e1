//! Option structs of the factories: the reader's buffer `limit` plus the
//! options of the transport-level call each factory wraps.
//!
//! Each struct is `#[non_exhaustive]` with `Default`, so options added later
//! break nobody: build one with `default()` and set the fields you need, or
//! use the `with_*` methods.
//!
//! TLS (asyncio's `ssl=`, `server_hostname=`, `ssl_handshake_timeout=`,
//! `ssl_shutdown_timeout=`) is the `with_tls` method of each struct. For
//! TCP and Unix servers it sets the `tls` field of the transport-level
//! options the struct carries (one place for it, not two that could
//! disagree); [`UnixStreamConnectOptions`] has a field of its own.

use std::os::fd::OwnedFd;

use loop_transports::{ConnectOptions, ServerOptions, TlsAccept, TlsConnect, UnixServerOptions};

use crate::error::{Error, Result};

/// The default buffer limit of a [`StreamReader`](crate::StreamReader):
/// 64 KiB (asyncio's `_DEFAULT_LIMIT`).
pub const DEFAULT_LIMIT: usize = 64 * 1024;

/// Checks a buffer limit: it must be at least 1.
pub(crate) fn check_limit(limit: usize) -> Result<usize> {
    if limit == 0 {
        return Err(Error::invalid("the stream limit must be at least 1 byte"));
    }
    Ok(limit)
}

/// Options of [`open_connection`](crate::open_connection).
#[derive(Debug)]
#[non_exhaustive]
pub struct StreamConnectOptions {
    /// The reader's buffer limit (asyncio's `limit`): the longest line or
    /// `readuntil` chunk accepted, and half the buffered size at which
    /// reading from the socket pauses. Default [`DEFAULT_LIMIT`].
    pub limit: usize,
    /// The options of
    /// [`create_connection`](loop_transports::NetExt::create_connection).
    pub connect: ConnectOptions,
}

impl Default for StreamConnectOptions {
    fn default() -> Self {
        StreamConnectOptions { limit: DEFAULT_LIMIT, connect: ConnectOptions::default() }
    }
}

impl StreamConnectOptions {
    /// Sets [`limit`](StreamConnectOptions::limit).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Sets [`connect`](StreamConnectOptions::connect).
    pub fn with_connect(mut self, connect: ConnectOptions) -> Self {
        self.connect = connect;
        self
    }

    /// Speaks TLS (asyncio's `ssl=`): sets `connect.tls`
    /// ([`ConnectOptions::tls`]). The factory returns once the handshake
    /// completed; the server name defaults to the host connected to.
    pub fn with_tls(mut self, tls: TlsConnect) -> Self {
        self.connect.tls = Some(tls);
        self
    }
}

/// Options of [`start_server`](crate::start_server).
#[derive(Debug)]
#[non_exhaustive]
pub struct StreamServerOptions {
    /// Each connection's reader buffer limit (see
    /// [`StreamConnectOptions::limit`]).
    pub limit: usize,
    /// The options of
    /// [`create_server`](loop_transports::NetExt::create_server).
    pub server: ServerOptions,
}

impl Default for StreamServerOptions {
    fn default() -> Self {
        StreamServerOptions { limit: DEFAULT_LIMIT, server: ServerOptions::default() }
    }
}

impl StreamServerOptions {
    /// Sets [`limit`](StreamServerOptions::limit).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Sets [`server`](StreamServerOptions::server).
    pub fn with_server(mut self, server: ServerOptions) -> Self {
        self.server = server;
        self
    }

    /// Speaks TLS on every connection (asyncio's `ssl=`): sets
    /// `server.tls` ([`ServerOptions::tls`]). The client callback runs
    /// after the handshake; a failed handshake never reaches it.
    pub fn with_tls(mut self, tls: TlsAccept) -> Self {
        self.server.tls = Some(tls);
        self
    }
}

/// Options of [`open_unix_connection`](crate::open_unix_connection).
#[derive(Debug)]
#[non_exhaustive]
pub struct UnixStreamConnectOptions {
    /// The reader's buffer limit (see [`StreamConnectOptions::limit`]).
    pub limit: usize,
    /// An already connected Unix stream socket to use instead of a path
    /// (the path must then be `None`).
    pub sock: Option<OwnedFd>,
    /// TLS (asyncio's `ssl=`, `server_hostname=`, …), as
    /// [`create_unix_connection_tls`](loop_transports::NetExt::create_unix_connection_tls):
    /// there is no host to check the certificate against, so the options
    /// must carry a [`server_hostname`](TlsConnect::server_hostname).
    pub tls: Option<TlsConnect>,
}

impl Default for UnixStreamConnectOptions {
    fn default() -> Self {
        UnixStreamConnectOptions { limit: DEFAULT_LIMIT, sock: None, tls: None }
    }
}

impl UnixStreamConnectOptions {
    /// Sets [`limit`](UnixStreamConnectOptions::limit).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Sets [`sock`](UnixStreamConnectOptions::sock).
    pub fn with_sock(mut self, sock: OwnedFd) -> Self {
        self.sock = Some(sock);
        self
    }

    /// Sets [`tls`](UnixStreamConnectOptions::tls).
    pub fn with_tls(mut self, tls: TlsConnect) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// Options of [`start_unix_server`](crate::start_unix_server).
#[derive(Debug)]
#[non_exhaustive]
pub struct UnixStreamServerOptions {
    /// Each connection's reader buffer limit (see
    /// [`StreamConnectOptions::limit`]).
    pub limit: usize,
    /// The options of
    /// [`create_unix_server`](loop_transports::NetExt::create_unix_server).
    pub server: UnixServerOptions,
}

impl Default for UnixStreamServerOptions {
    fn default() -> Self {
        UnixStreamServerOptions { limit: DEFAULT_LIMIT, server: UnixServerOptions::default() }
    }
}

impl UnixStreamServerOptions {
    /// Sets [`limit`](UnixStreamServerOptions::limit).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Sets [`server`](UnixStreamServerOptions::server).
    pub fn with_server(mut self, server: UnixServerOptions) -> Self {
        self.server = server;
        self
    }

    /// Speaks TLS on every connection: sets `server.tls`
    /// ([`UnixServerOptions::tls`]).
    pub fn with_tls(mut self, tls: TlsAccept) -> Self {
        self.server.tls = Some(tls);
        self
    }
}
