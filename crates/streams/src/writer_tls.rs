//! `StreamWriter::start_tls`: asyncio 3.11's STARTTLS for streams — the
//! live connection of a reader/writer pair is upgraded in place.

use loop_transports::{NetExt, TlsRole};

use crate::error::{Error, Result};
use crate::writer::StreamWriter;

impl StreamWriter {
    /// Upgrades the connection to TLS in place (asyncio 3.11's
    /// `StreamWriter.start_tls(sslcontext, *, server_hostname,
    /// ssl_handshake_timeout, ssl_shutdown_timeout)`): waits for
    /// [`drain`](StreamWriter::drain), runs the handshake over the current
    /// transport — as the client with a [`TlsConnect`](loop_transports::TlsConnect)
    /// (which carries the server name and the timeouts), as the server with
    /// a [`TlsAccept`](loop_transports::TlsAccept) — and returns once it
    /// completed. From then on this writer, its clones and the reader of the
    /// pair write and read plaintext over TLS; [`transport`](StreamWriter::transport)
    /// and [`get_extra_info`](StreamWriter::get_extra_info) are the TLS
    /// transport's (`"peercert"`, `"cipher"`, `"ssl_protocol"`, …). asyncio
    /// picks the side from how the stream was made; here the options say
    /// it, so either end may take either side.
    ///
    /// The connection may already be TLS: the new layer runs inside it
    /// (TLS in TLS, as through an HTTPS proxy).
    ///
    /// # Bytes around the upgrade
    ///
    /// * Bytes received **before** the call were handed to the reader as
    ///   plaintext and stay readable, in order, before the first decrypted
    ///   byte. They are never given to TLS: a peer that sends its handshake
    ///   before it read the STARTTLS reply (and so before this call) leaves
    ///   it in the reader, and the handshake waits for it until the
    ///   handshake timeout.
    /// * From the call on, every byte received is a TLS record to the new
    ///   layer, as asyncio hands the transport to its TLS protocol as it is:
    ///   plaintext the peer sends after its STARTTLS reply and after this
    ///   call fails the handshake with
    ///   [`TlsHandshake`](loop_transports::Error::TlsHandshake).
    /// * The old transport (a [`transport`](StreamWriter::transport) taken
    ///   before the call) refuses writes from the call on with
    ///   [`InvalidState`](loop_transports::Error::InvalidState); its `close`
    ///   closes the TLS connection.
    ///
    /// A reader that had paused reading (over its limit) does not stall
    /// the handshake: reading beneath is resumed for it, and the reader's
    /// flow control then applies to the TLS transport.
    ///
    /// # Errors
    ///
    /// [`Error::ConnectionLost`] when the writer is closed (`drain`, which
    /// runs first, reports it, as asyncio's does); [`Error::Transport`]
    /// with the transports' error:
    /// [`Closed`](loop_transports::Error::Closed) when the transport
    /// closes during the call; [`InvalidState`](loop_transports::Error::InvalidState) when
    /// an upgrade of this connection is already running;
    /// [`InvalidArgument`](loop_transports::Error::InvalidArgument) for a
    /// client without a server name (there is no host here: set
    /// [`server_hostname`](loop_transports::TlsConnect::server_hostname));
    /// [`TlsHandshake`](loop_transports::Error::TlsHandshake) (untrusted
    /// certificate, name mismatch, an alert, bytes that are not TLS),
    /// [`TlsHandshakeTimeout`](loop_transports::Error::TlsHandshakeTimeout),
    /// [`TlsHandshakeEof`](loop_transports::Error::TlsHandshakeEof) when the
    /// handshake fails — the connection is closed then, and the reader
    /// reports the same error. `drain`'s errors before the handshake.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future during the handshake aborts the connection (it
    /// cannot go back to plaintext); dropping it while it drains changes
    /// nothing.
    pub async fn start_tls(&self, tls: impl Into<TlsRole>) -> Result<()> {
        let tls = tls.into();
        self.drain().await?;
        let old = self.transport();
        let protocol = old
            .get_protocol()
            .ok_or_else(|| Error::InvalidState("the writer's transport has no protocol".into()))?;
        let new = old.get_loop().start_tls(&old, protocol, tls).await?;
        self.link.replace(new.clone());
        if let Some(feed) = &self.reader {
            feed.replace_transport(new);
        }
        Ok(())
    }
}
