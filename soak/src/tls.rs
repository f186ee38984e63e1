//! TLS handshake floods and mid-handshake disconnects against a tulip TLS
//! echo server (rustls, a test CA made with rcgen at start-up), all at once:
//!
//! * thousands of tulip TLS clients on the server's loop complete the
//!   handshake and echo messages of random sizes, every byte checked;
//! * a flood thread sends, round after round, a ClientHello then closes; a
//!   ClientHello then resets once the server has answered; a reset before
//!   any byte; garbage (random bytes, HTTP, a ClientHello with a bad field,
//!   a record header announcing an oversized record) — the server must
//!   close each garbage connection itself;
//! * a staller thread holds connections that stall mid-handshake (silent,
//!   half a ClientHello, or a whole one and then nothing after the server's
//!   flight): the server's handshake timeout, made short through
//!   `TlsAccept::handshake_timeout`, must reap every one, and never before
//!   it is due.
//!
//! Afterwards the server holds no connection. The process's RSS is sampled
//! throughout: its peak growth during the flood is bounded (TLS servers
//! elsewhere have grown by gigabytes under handshake floods) and reported,
//! as is the growth left once everything closed.

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tulip::prelude::*;
use tulip::transports::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tulip::transports::rustls::{ClientConfig, ClientConnection, RootCertStore};
use tulip::transports::{Server, ServerOptions};

use crate::echo::{Clients, EchoServer};
use crate::resources::rss_kib;
use crate::{Scale, run_bounded, wait_until};

/// The process's RSS may grow at most this much at the flood's peak.
const MAX_PEAK_GROWTH_MIB: u64 = 128;

/// Blocking-socket timeout of the misbehaving clients.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// How late after its handshake timeout a staller may be reaped (the loop
/// is busy with the flood meanwhile).
const REAP_SLACK: Duration = Duration::from_secs(10);

/// The server's and the clients' TLS options, from a fresh test CA.
struct Pki {
    server: TlsAccept,
    client: TlsConnect,
}

fn pki(handshake_timeout: Duration) -> Result<Pki, String> {
    let e = |e: rcgen::Error| format!("making the test certificates: {e}");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "tulip soak test CA");
    let ca_key = KeyPair::generate().map_err(e)?;
    let ca = ca_params.self_signed(&ca_key).map_err(e)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let leaf_key = KeyPair::generate().map_err(e)?;
    let leaf =
        CertificateParams::new(names).map_err(e)?.signed_by(&leaf_key, &issuer).map_err(e)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let server = TlsAccept::with_single_cert(vec![leaf.der().clone()], key)
        .map_err(|e| format!("server TLS options: {e}"))?
        .handshake_timeout(handshake_timeout)
        .shutdown_timeout(handshake_timeout);
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).map_err(|e| format!("test CA: {e}"))?;
    let client = TlsConnect::with_roots(roots).map_err(|e| format!("client TLS options: {e}"))?;
    Ok(Pki { server, client })
}

/// A fresh ClientHello (the first flight of a rustls client), as bytes.
fn client_hello(config: &Arc<ClientConfig>) -> Result<Vec<u8>, String> {
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let mut c = ClientConnection::new(config.clone(), name).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while c.wants_write() {
        c.write_tls(&mut out).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn connect(port: u16) -> Result<TcpStream, String> {
    let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    Ok(s)
}

/// Closes `s` with a reset (SO_LINGER 0) instead of a FIN.
fn reset(s: TcpStream) -> Result<(), String> {
    rustix::net::sockopt::set_socket_linger(&s, Some(Duration::ZERO)).map_err(|e| e.to_string())?;
    drop(s);
    Ok(())
}

/// Reads until the server closes `s` (EOF or reset); fails if it keeps the
/// connection open past the read timeout.
fn until_closed(s: &mut TcpStream, what: &str) -> Result<(), String> {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!("{what}: the server kept the connection open"));
            }
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
}

/// Writes `data`; a server that closed first (it rejected the start) is
/// fine.
fn write_tolerant(s: &mut TcpStream, data: &[u8]) -> Result<(), String> {
    match s.write_all(data) {
        Err(e) if !matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {
            Err(format!("write: {e}"))
        }
        _ => Ok(()),
    }
}

/// Bytes that are not a usable TLS start, of four kinds.
fn garbage(round: usize, hello: &[u8], rng: &mut SmallRng) -> Vec<u8> {
    match round % 4 {
        0 => {
            let mut g: Vec<u8> = (0..rng.random_range(1..=2048)).map(|_| rng.random()).collect();
            // Not a TLS content type (20..=24): garbage from the first byte.
            g[0] = rng.random_range(25..=255);
            g
        }
        1 => b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        2 => {
            // Legacy session id length (after the 5-byte record header, 4
            // bytes of handshake header, version and random) above 32.
            let mut h = hello.to_vec();
            h[43] = 0xff;
            h
        }
        _ => vec![0x16, 0x03, 0x01, 0xff, 0xff, 0x01],
    }
}

/// What the flood thread did.
#[derive(Default)]
struct Flood {
    hello_close: u64,
    hello_reset: u64,
    reset_first: u64,
    garbage: u64,
    /// The longest the server took to close a connection that sent a
    /// ClientHello and a FIN, or garbage.
    slowest_close: Duration,
}

impl Flood {
    /// Reads until the server closes `s`, which it must do on its own
    /// (well before the handshake timeout would).
    fn closed_by_server(
        &mut self,
        s: &mut TcpStream,
        since: Instant,
        timeout: Duration,
        what: &str,
    ) -> Result<(), String> {
        until_closed(s, what)?;
        let took = since.elapsed();
        if took >= timeout {
            return Err(format!("{what}: closed only by the handshake timeout ({took:?})"));
        }
        self.slowest_close = self.slowest_close.max(took);
        Ok(())
    }
}

/// `rounds` rounds of misbehaving clients, one of each kind per round.
fn flood(
    port: u16,
    rounds: usize,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<Flood, String> {
    let mut rng = SmallRng::seed_from_u64(17);
    let mut f = Flood::default();
    for round in 0..rounds {
        let hello = client_hello(&config)?;
        // A ClientHello, then a FIN: every other time the client waits for
        // the server to close in turn.
        let t = Instant::now();
        let mut s = connect(port)?;
        s.write_all(&hello).map_err(|e| format!("hello: {e}"))?;
        if round % 2 == 0 {
            s.shutdown(std::net::Shutdown::Write).map_err(|e| e.to_string())?;
            f.closed_by_server(&mut s, t, timeout, "ClientHello then FIN")?;
        }
        drop(s);
        f.hello_close += 1;
        // A ClientHello, then a reset once the server's flight arrives.
        let mut s = connect(port)?;
        s.write_all(&hello).map_err(|e| format!("hello: {e}"))?;
        let mut first = [0u8; 1];
        s.read_exact(&mut first).map_err(|e| format!("waiting for the server's hello: {e}"))?;
        if first[0] != 0x16 {
            return Err(format!("the server answered a ClientHello with record type {}", first[0]));
        }
        reset(s)?;
        f.hello_reset += 1;
        // A reset before any byte.
        reset(connect(port)?)?;
        f.reset_first += 1;
        // Garbage: the server fails the handshake and closes.
        let t = Instant::now();
        let mut s = connect(port)?;
        write_tolerant(&mut s, &garbage(round, &hello, &mut rng))?;
        f.closed_by_server(&mut s, t, timeout, &format!("garbage of kind {}", round % 4))?;
        f.garbage += 1;
    }
    Ok(f)
}

/// A quick burst of clients that disconnect mid-handshake (FIN after a
/// ClientHello, reset after the server's flight, reset at once): the
/// server must notice each on its own, before any handshake timeout.
fn burst(port: u16, n: usize, config: Arc<ClientConfig>) -> Result<(), String> {
    for _ in 0..n {
        let hello = client_hello(&config)?;
        let mut s = connect(port)?;
        s.write_all(&hello).map_err(|e| format!("hello: {e}"))?;
        drop(s);
        let mut s = connect(port)?;
        s.write_all(&hello).map_err(|e| format!("hello: {e}"))?;
        let mut first = [0u8; 1];
        s.read_exact(&mut first).map_err(|e| format!("waiting for the server's hello: {e}"))?;
        reset(s)?;
        reset(connect(port)?)?;
    }
    Ok(())
}

/// What the staller thread saw: how many, and how long after connecting
/// the server closed them (earliest, latest).
struct Stalled {
    count: usize,
    first_reaped: Duration,
    last_reaped: Duration,
}

fn stall(
    port: u16,
    count: usize,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<Stalled, String> {
    let mut held = Vec::with_capacity(count);
    for i in 0..count {
        let t = Instant::now();
        let mut s = connect(port)?;
        match i % 3 {
            0 => {}
            1 => {
                let hello = client_hello(&config)?;
                s.write_all(&hello[..hello.len() / 2]).map_err(|e| e.to_string())?;
            }
            _ => s.write_all(&client_hello(&config)?).map_err(|e| e.to_string())?,
        }
        held.push((s, t));
    }
    let (mut first, mut last) = (Duration::MAX, Duration::ZERO);
    for (i, (mut s, t)) in held.into_iter().enumerate() {
        until_closed(&mut s, &format!("staller {i}"))?;
        let after = t.elapsed();
        if after < timeout {
            return Err(format!(
                "staller {i} (kind {}) closed after {after:?}, before the {timeout:?} handshake timeout",
                i % 3
            ));
        }
        first = first.min(after);
        last = last.max(after);
    }
    if last > timeout + REAP_SLACK {
        return Err(format!("a staller was reaped only after {last:?} (timeout {timeout:?})"));
    }
    Ok(Stalled { count, first_reaped: first, last_reaped: last })
}

/// A TLS echo server on 127.0.0.1: the server, its port, and the count of
/// connections it accepted.
async fn tls_echo_server(
    lp: &Loop,
    tls: TlsAccept,
) -> Result<(Server, u16, Rc<Cell<u64>>), String> {
    let accepted = Rc::new(Cell::new(0u64));
    let a2 = accepted.clone();
    let factory = move || {
        a2.set(a2.get() + 1);
        EchoServer::default()
    };
    let opts = ServerOptions::default().with_backlog(65_535).with_tls(Some(tls));
    let server = lp
        .create_server(factory, "127.0.0.1", 0, opts)
        .await
        .map_err(|e| format!("cannot start the TLS echo server: {e}"))?;
    let port = server
        .addresses()
        .iter()
        .find_map(|a| a.port())
        .ok_or_else(|| "the TLS echo server has no port".to_string())?;
    Ok((server, port, accepted))
}

/// The peak of the RSS and of the server's connections, sampled every
/// 20 ms until `stop`.
#[derive(Default)]
struct Peaks {
    rss_kib: Cell<u64>,
    conns: Cell<usize>,
    stop: Cell<bool>,
}

pub(crate) fn run(scale: Scale) -> Result<String, String> {
    let good: u64 = scale.pick(5000, 300);
    let rounds: usize = scale.pick(1000, 60);
    let stallers: usize = scale.pick(3000, 150);
    let burst_n: usize = scale.pick(300, 60);
    let hs_timeout = scale.pick(Duration::from_secs(3), Duration::from_secs(1));
    run_bounded(Duration::from_secs(scale.pick(300, 40)), async move {
        let lp = get_running_loop().map_err(|e| e.to_string())?;
        let reports = Rc::new(RefCell::new(Vec::<String>::new()));
        let r2 = reports.clone();
        lp.set_exception_handler(Some(Rc::new(move |_, ctx| {
            r2.borrow_mut().push(ctx.to_string())
        })));
        let pki = pki(hs_timeout)?;
        let (server, port, accepted) = tls_echo_server(&lp, pki.server.clone()).await?;
        let rss_before = rss_kib();
        let peaks = Rc::new(Peaks::default());
        let (p2, s2) = (peaks.clone(), server.clone());
        let sampler = lp
            .create_task(async move {
                while !p2.stop.get() {
                    p2.rss_kib.set(p2.rss_kib.get().max(rss_kib()));
                    p2.conns.set(p2.conns.get().max(s2.active_connections()));
                    sleep(Duration::from_millis(20)).await?;
                }
                Ok::<(), Error>(())
            })
            .map_err(|e| e.to_string())?;

        let t0 = Instant::now();
        let config = pki.client.config().clone();
        let c2 = config.clone();
        let flooding = lp.run_in_executor(move || flood(port, rounds, c2, hs_timeout));
        let stalling = lp.run_in_executor(move || stall(port, stallers, config, hs_timeout));
        let clients =
            Clients { conns: 0..good, per_conn: 3, max_size: 16_384, wave: 100, seed: 11 };
        let bytes = clients.run(&lp, port, Some(pki.client.clone())).await?;
        let flood = flooding.await.map_err(|e| e.to_string())??;
        let stalled = stalling.await.map_err(|e| e.to_string())??;
        let flood_secs = t0.elapsed().as_secs_f64();
        let rss_flood_end = rss_kib();
        wait_until("the server's connections all gone", hs_timeout + REAP_SLACK, || {
            server.active_connections() == 0
        })
        .await?;
        // Disconnects the server must notice by itself: its connections
        // are gone before the first handshake timeout could fire.
        let burst_start = Instant::now();
        let before_burst = accepted.get();
        let c3 = pki.client.config().clone();
        lp.run_in_executor(move || burst(port, burst_n, c3)).await.map_err(|e| e.to_string())??;
        let left = (burst_start + hs_timeout).saturating_duration_since(Instant::now());
        // The reset-first ones may never be accepted (the kernel may drop
        // them from the queue); the others were.
        wait_until("the burst's connections gone before their handshake timeout", left, || {
            accepted.get() - before_burst >= 2 * burst_n as u64 && server.active_connections() == 0
        })
        .await?;
        let burst_secs = burst_start.elapsed().as_secs_f64();
        peaks.stop.set(true);
        sampler.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        server.close();
        server.wait_closed().await;
        let rss_after = rss_kib();
        if let Some(first) = reports.borrow().first() {
            return Err(format!(
                "{} reports to the exception handler: {first}",
                reports.borrow().len()
            ));
        }
        let peak = peaks.rss_kib.get().max(rss_flood_end);
        let grown_mib = peak.saturating_sub(rss_before) >> 10;
        if grown_mib > MAX_PEAK_GROWTH_MIB {
            return Err(format!(
                "RSS grew by {grown_mib} MiB during the flood (bound {MAX_PEAK_GROWTH_MIB} MiB)"
            ));
        }
        let mib = |k: u64| k >> 10;
        Ok(format!(
            "{good} TLS clients handshook and echoed 3 messages each ({} KiB checked); flood of {} ClientHello-then-FIN, {} ClientHello-then-reset, {} reset-first, {} garbage (each closed by the server, slowest {} ms); {} stalled mid-handshake, reaped by the {hs_timeout:?} handshake timeout after {:.2}–{:.2} s; {:.1} s in all; peak {} server connections; RSS {} MiB → peak {} MiB (+{grown_mib}, {} KiB per peak connection) → {} MiB once closed; server back to 0 connections; then {} mid-handshake disconnects ({} accepted) all noticed by the server in {burst_secs:.2} s (before any handshake timeout)",
            bytes >> 10,
            flood.hello_close,
            flood.hello_reset,
            flood.reset_first,
            flood.garbage,
            flood.slowest_close.as_millis(),
            stalled.count,
            stalled.first_reaped.as_secs_f64(),
            stalled.last_reaped.as_secs_f64(),
            flood_secs,
            peaks.conns.get(),
            mib(rss_before),
            mib(peak),
            peak.saturating_sub(rss_before) / peaks.conns.get().max(1) as u64,
            mib(rss_after),
            3 * burst_n,
            accepted.get() - before_burst,
        ))
    })
}
