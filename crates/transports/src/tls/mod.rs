//! TLS on any stream transport, with rustls (asyncio's `sslproto`).
//!
//! TLS is a layer, not a socket wrapper: a [`TlsTransport`] is the
//! application protocol's transport and the protocol of the transport
//! beneath it, and drives a rustls in-memory connection between the two.
//! So the same code serves the factories' `tls` options
//! ([`ConnectOptions::tls`](crate::ConnectOptions::tls),
//! [`ServerOptions::tls`](crate::ServerOptions::tls),
//! [`UnixServerOptions::tls`](crate::UnixServerOptions::tls),
//! [`create_unix_connection_tls`](crate::NetExt::create_unix_connection_tls),
//! [`connect_accepted_socket_tls`](crate::NetExt::connect_accepted_socket_tls))
//! and [`start_tls`](crate::NetExt::start_tls) on a live transport —
//! including one that is already TLS (TLS in TLS).
//!
//! # Semantics
//!
//! * **Handshake.** The application's `connection_made` runs after the
//!   handshake completed (never for a failed one); the factory or
//!   `start_tls` returns after it. A handshake that does not complete
//!   within the handshake timeout (60 s by default) fails with
//!   [`Error::TlsHandshakeTimeout`](crate::Error::TlsHandshakeTimeout).
//! * **Errors** are typed: [`Error::TlsHandshake`](crate::Error::TlsHandshake)
//!   carries rustls' reason (untrusted certificate, name mismatch, an
//!   alert from the peer, bytes that are not TLS);
//!   [`Error::TlsHandshakeEof`](crate::Error::TlsHandshakeEof) when the
//!   peer closed mid-handshake; [`Error::Tls`](crate::Error::Tls) for a
//!   failure after the handshake. `connection_lost` is called once, and
//!   the fd is closed in every case.
//! * **Close.** `close()` sends close_notify after the data already
//!   written, waits for the peer's close_notify (TLS 1.3 does not require
//!   the peer to send one) at most the shutdown timeout (30 s by default;
//!   then it aborts and `connection_lost` gets
//!   [`Error::TlsShutdownTimeout`](crate::Error::TlsShutdownTimeout)), then
//!   closes the transport beneath. `abort()` sends nothing. A close during
//!   the handshake aborts quietly. Writes after `close()` fail with
//!   [`Error::Closed`](crate::Error::Closed). When the peer sends
//!   close_notify (or just closes), the protocol gets `eof_received`; TLS
//!   has no half-close, so its answer is ignored and the connection closes
//!   (as in asyncio). `can_write_eof` is false and `write_eof` fails with
//!   [`Error::Unsupported`](crate::Error::Unsupported).
//! * **Flow control.** What is written during one loop iteration goes
//!   beneath at the end of it (at once past 256 KiB), so the write buffer
//!   holds ciphertext beneath, plus at most one iteration's writes:
//!   `get_write_buffer_size` counts both; the water marks and
//!   `pause_writing`/`resume_writing` are those of the transport beneath
//!   and count ciphertext bytes (about 22–29 bytes more than the plaintext
//!   per record of up to 16 KiB). `pause_reading` stops both the
//!   delivery of decrypted data and reading beneath; `resume_reading`
//!   delivers what was held back (from the loop) and reads again.
//! * **Extra info**: `peercert` (DER chain, leaf first), `cipher`,
//!   `ssl_protocol` (`"TLSv1.3"`, `"TLSv1.2"`), `alpn_protocol`,
//!   `server_hostname` (SNI), and everything the transport beneath knows
//!   (`peername`, `sockname`, `socket`).
//!
//! # Implementation
//!
//! One crypto provider, `ring`. Decrypted data is lent to `data_received`
//! from a per-thread buffer (or read straight into a
//! [`BufferedProtocol`](crate::BufferedProtocol)'s buffer). The
//! application's writes of one loop iteration are encrypted together
//! before the loop polls, as the plain transports coalesce writes: small
//! writes are queued as plaintext so that several make one record, a
//! write of 16 KiB or more is encrypted at once from the caller's slices;
//! the records go beneath straight from rustls' buffers in one vectored
//! write, which the transport beneath flushes in the same phase.

mod app_face;
mod connect;
mod layer;
mod options;
mod outbound;
mod shim;

pub use layer::TlsTransport;
pub use options::{
    DEFAULT_TLS_HANDSHAKE_TIMEOUT, DEFAULT_TLS_SHUTDOWN_TIMEOUT, TlsAccept, TlsConnect, TlsRole,
    crypto_provider,
};

pub(crate) use connect::{server_factory, start_client_stream, start_server_stream, start_tls};
