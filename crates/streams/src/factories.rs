//! The factories (asyncio's `open_connection`, `start_server`,
//! `open_unix_connection`, `start_unix_server`): the transport-level calls
//! with a [`StreamReaderProtocol`] as the protocol, returning a reader and
//! a writer.

use loop_core::{Loop, get_running_loop};
use loop_transports::{Hosts, NetExt, Server, TransportRef, UnixAddress};

use crate::client::{ClientHandler, ClientReturn};
use crate::error::Result;
use crate::options::{
    StreamConnectOptions, StreamServerOptions, UnixStreamConnectOptions, UnixStreamServerOptions,
    check_limit,
};
use crate::protocol::StreamReaderProtocol;
use crate::reader::StreamReader;
use crate::writer::StreamWriter;

/// Opens a TCP connection to `host:port` and returns its reader and writer
/// (asyncio's `open_connection`). Runs on the running loop; the options are
/// those of [`create_connection`](NetExt::create_connection) plus the
/// reader's `limit`. With TLS it returns once the handshake completed, and
/// the pair reads and writes plaintext.
///
/// # Errors
///
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a zero
/// limit; [`Error::Loop`](crate::Error::Loop) outside a running loop; the
/// transport's errors ([`Error::Transport`](crate::Error::Transport)): a
/// name that does not resolve, every address refusing, conflicting
/// options; with TLS ([`StreamConnectOptions::with_tls`]) the handshake's
/// ([`TlsHandshake`](loop_transports::Error::TlsHandshake) for an
/// untrusted certificate, a name mismatch, an alert or a peer that does not
/// speak TLS; [`TlsHandshakeTimeout`](loop_transports::Error::TlsHandshakeTimeout);
/// [`TlsHandshakeEof`](loop_transports::Error::TlsHandshakeEof)).
///
/// # Cancel safety
///
/// Dropping the future before it completes closes any socket it opened,
/// during the TLS handshake too.
pub async fn open_connection(
    host: &str,
    port: u16,
    opts: StreamConnectOptions,
) -> Result<(StreamReader, StreamWriter)> {
    let lp = get_running_loop()?;
    let reader = StreamReader::with_limit(opts.limit)?;
    let proto = StreamReaderProtocol::new(Some(&reader));
    let (transport, proto) = lp.create_connection(move || proto, host, port, opts.connect).await?;
    Ok(pair(reader, transport, &proto.borrow()))
}

/// Starts a TCP server on `port` of `hosts` that calls `client_connected`
/// with a reader and a writer for each connection (asyncio's
/// `start_server`). Returns the transports crate's [`Server`]: `close`,
/// `wait_closed`, `serve_forever` and `scoped` work as for protocols.
///
/// `client_connected` may be a plain closure — called as the connection is
/// made — or return a future, which runs as its own task. It may return
/// (or resolve to) `()` or a `Result` ([`ClientOutcome`](crate::ClientOutcome)). When it
/// panics or returns an error, the failure is reported to the loop's
/// exception handler ("Unhandled exception in client_connected_cb"), that
/// connection is closed, and the server keeps serving. A connection is also
/// closed once its reader and writer are dropped, so a callback that
/// returns without keeping them ends the connection.
///
/// ```
/// use loop_streams::{StreamServerOptions, start_server};
/// # async fn demo() -> loop_streams::Result<()> {
/// let server = start_server(
///     |reader, writer| async move {
///         let line = reader.readline().await?;
///         writer.write(&line)?;
///         writer.drain().await
///     },
///     "127.0.0.1",
///     0,
///     StreamServerOptions::default(),
/// )
/// .await?;
/// # server.close(); Ok(()) }
/// ```
///
/// # Errors
///
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a zero
/// limit; [`Error::Loop`](crate::Error::Loop) outside a running loop; the
/// transport's errors (binding fails, a name does not resolve, conflicting
/// options; a TLS configuration rustls refuses). With TLS
/// ([`StreamServerOptions::with_tls`]) each connection's callback runs
/// after its handshake; a failed handshake never reaches the callback (it
/// is logged with `tracing` at debug level, as asyncio logs it).
///
/// # Cancel safety
///
/// Dropping the future before it completes closes the sockets opened so
/// far.
pub async fn start_server<F, R, M>(
    client_connected: F,
    hosts: impl Into<Hosts>,
    port: u16,
    opts: StreamServerOptions,
) -> Result<Server>
where
    F: Fn(StreamReader, StreamWriter) -> R + 'static,
    R: ClientReturn<M>,
{
    let lp = get_running_loop()?;
    let factory = server_factory(&lp, opts.limit, ClientHandler::new(client_connected))?;
    Ok(lp.create_server(factory, hosts, port, opts.server).await?)
}

/// Opens a Unix stream connection to `path` (or wraps the connected socket
/// in [`UnixStreamConnectOptions::sock`]) and returns its reader and
/// writer (asyncio's `open_unix_connection`).
///
/// # Errors
///
/// As [`open_connection`]; the transport's
/// [`InvalidArgument`](loop_transports::Error::InvalidArgument) unless
/// exactly one of `path` and `sock` is given, or for TLS without a server
/// name.
///
/// # Cancel safety
///
/// Dropping the future closes the socket.
pub async fn open_unix_connection(
    path: impl Into<Option<UnixAddress>>,
    opts: UnixStreamConnectOptions,
) -> Result<(StreamReader, StreamWriter)> {
    let lp = get_running_loop()?;
    let reader = StreamReader::with_limit(opts.limit)?;
    let proto = StreamReaderProtocol::new(Some(&reader));
    let (transport, proto) = match opts.tls {
        None => lp.create_unix_connection(move || proto, path.into(), opts.sock).await?,
        Some(tls) => {
            lp.create_unix_connection_tls(move || proto, path.into(), opts.sock, tls).await?
        }
    };
    Ok(pair(reader, transport, &proto.borrow()))
}

/// Starts a Unix stream server on `path` (asyncio's `start_unix_server`);
/// see [`start_server`] for the callback.
///
/// # Errors
///
/// As [`start_server`]; the transport's errors for a path that exists and
/// is not a socket.
///
/// # Cancel safety
///
/// Dropping the future early closes the socket.
pub async fn start_unix_server<F, R, M>(
    client_connected: F,
    path: impl Into<Option<UnixAddress>>,
    opts: UnixStreamServerOptions,
) -> Result<Server>
where
    F: Fn(StreamReader, StreamWriter) -> R + 'static,
    R: ClientReturn<M>,
{
    let lp = get_running_loop()?;
    let factory = server_factory(&lp, opts.limit, ClientHandler::new(client_connected))?;
    Ok(lp.create_unix_server(factory, path.into(), opts.server).await?)
}

/// The reader and a writer of a new connection, closing it once both are
/// dropped.
fn pair(
    mut reader: StreamReader,
    transport: TransportRef,
    proto: &StreamReaderProtocol,
) -> (StreamReader, StreamWriter) {
    let writer = StreamWriter::new(transport, proto);
    reader.set_guard(writer.link());
    (reader, writer)
}

/// A protocol factory for a server: a new reader and protocol per
/// connection. The loop is held weakly (the server must not keep it alive).
fn server_factory(
    lp: &Loop,
    limit: usize,
    handler: ClientHandler,
) -> Result<impl Fn() -> StreamReaderProtocol + 'static> {
    let limit = check_limit(limit)?;
    let weak = lp.downgrade();
    Ok(move || {
        let reader = StreamReader::with_checked_limit(limit);
        StreamReaderProtocol::for_client(weak.clone(), reader, handler.clone())
    })
}
