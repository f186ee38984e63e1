//! Putting the TLS layer on connections: the client side of
//! `create_connection` and `create_unix_connection`, the server side of
//! servers and `connect_accepted_socket`, and `start_tls`.

use std::cell::RefCell;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use loop_core::{Loop, LoopFuture};
use rustls::{ClientConnection, Connection, ServerConnection};

use super::layer::TlsTransport;
use super::options::{TlsAccept, TlsConnect, TlsRole};
use crate::error::{Error, Result};
use crate::protocol::{IntoStreamProtocol, StreamProtocolRef};
use crate::tcp::connect::start_stream;
use crate::tcp::server::ProtocolFactory;
use crate::transport::{TransportRef, WriteTransport, is_upgraded, lower_of, upgraded};

/// A client-side layer for `app`, with the waiter of its handshake.
fn client_layer(
    lp: &Loop,
    tls: &TlsConnect,
    host: Option<&str>,
    app: StreamProtocolRef,
    call_made: bool,
) -> Result<(Rc<TlsTransport>, LoopFuture<()>)> {
    let name = tls.server_name(host)?;
    let sni = match &name {
        rustls::pki_types::ServerName::DnsName(d) => Some(d.as_ref().to_owned()),
        _ => None,
    };
    let conn = ClientConnection::new(tls.config.clone(), name).map_err(Error::TlsHandshake)?;
    let waiter = lp.create_future::<()>();
    let t = TlsTransport::new(
        lp,
        Connection::Client(conn),
        app,
        call_made,
        (tls.handshake_timeout, tls.shutdown_timeout),
        sni,
        Some(waiter.clone()),
    );
    Ok((t, waiter))
}

/// A server-side layer for `app`.
fn server_layer(
    lp: &Loop,
    tls: &TlsAccept,
    app: StreamProtocolRef,
    call_made: bool,
    waiter: Option<LoopFuture<()>>,
) -> Result<Rc<TlsTransport>> {
    let conn = ServerConnection::new(tls.config.clone()).map_err(Error::TlsHandshake)?;
    Ok(TlsTransport::new(
        lp,
        Connection::Server(conn),
        app,
        call_made,
        (tls.handshake_timeout, tls.shutdown_timeout),
        None,
        waiter,
    ))
}

/// Aborts the layer if the future waiting for its handshake is dropped.
struct AbortOnDrop(Option<Rc<TlsTransport>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.abort();
        }
    }
}

/// Waits for the handshake of `t`.
async fn handshake(t: &Rc<TlsTransport>, waiter: LoopFuture<()>) -> Result<()> {
    let mut guard = AbortOnDrop(Some(t.clone()));
    let outcome = waiter.await;
    guard.0 = None;
    outcome.map_err(|e| {
        t.abort();
        Error::from(e)
    })
}

/// Wraps the connected socket `fd` in a transport with a TLS client layer
/// on it; returns once the handshake completed and the application's
/// `connection_made` ran.
pub(crate) async fn start_client_stream<P, M>(
    lp: &Loop,
    fd: OwnedFd,
    factory: impl FnOnce() -> P,
    tls: &TlsConnect,
    host: Option<&str>,
) -> Result<(TransportRef, Rc<RefCell<P>>)>
where
    P: IntoStreamProtocol<M>,
{
    let proto = Rc::new(RefCell::new(factory()));
    let (t, waiter) = client_layer(lp, tls, host, P::into_protocol_ref(proto.clone()), true)?;
    let shim = t.shim();
    start_stream(lp, fd, move || shim).await?;
    handshake(&t, waiter).await?;
    Ok((t, proto))
}

/// Wraps the connected socket `fd` in a transport with a TLS server layer
/// on it (`connect_accepted_socket`).
pub(crate) async fn start_server_stream<P, M>(
    lp: &Loop,
    fd: OwnedFd,
    factory: impl FnOnce() -> P,
    tls: &TlsAccept,
) -> Result<(TransportRef, Rc<RefCell<P>>)>
where
    P: IntoStreamProtocol<M>,
{
    let proto = Rc::new(RefCell::new(factory()));
    let waiter = lp.create_future::<()>();
    let t = server_layer(lp, tls, P::into_protocol_ref(proto.clone()), true, Some(waiter.clone()))?;
    let shim = t.shim();
    start_stream(lp, fd, move || shim).await?;
    handshake(&t, waiter).await?;
    Ok((t, proto))
}

/// A server's protocol factory that puts a TLS server layer under each
/// protocol `inner` makes. Handshake failures are logged (`tracing`,
/// debug), as asyncio logs them, not reported.
///
/// # Errors
///
/// [`Error::TlsHandshake`] when rustls refuses the configuration.
pub(crate) fn server_factory(
    lp: &Loop,
    inner: ProtocolFactory,
    tls: TlsAccept,
) -> Result<ProtocolFactory> {
    // Check the configuration once, up front.
    ServerConnection::new(tls.config.clone()).map_err(Error::TlsHandshake)?;
    let lp = lp.clone();
    Ok(Rc::new(move || {
        let app = inner()?;
        let t = server_layer(&lp, &tls, app, true, None)?;
        Ok(StreamProtocolRef::streaming(Rc::new(RefCell::new(t.shim()))))
    }))
}

/// `start_tls`: puts a TLS layer on the live `transport`, whose protocol
/// becomes `protocol`'s link to the layer.
pub(crate) async fn start_tls(
    lp: &Loop,
    transport: &TransportRef,
    protocol: StreamProtocolRef,
    role: TlsRole,
) -> Result<TransportRef> {
    if transport.is_closing() {
        return Err(Error::Closed);
    }
    if is_upgraded(transport) {
        return Err(upgraded());
    }
    let (t, waiter) = match &role {
        TlsRole::Client(c) => client_layer(lp, c, None, protocol, false)?,
        TlsRole::Server(s) => {
            let waiter = lp.create_future::<()>();
            (server_layer(lp, s, protocol, false, Some(waiter.clone()))?, waiter)
        }
    };
    t.attach(lower_of(transport));
    handshake(&t, waiter).await?;
    Ok(t)
}
