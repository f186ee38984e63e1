//! 10,000 connections on one loop (500 in the short run), each echoing
//! messages of random sizes; every byte is checked at the client, in content
//! and order, per connection.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tulip::prelude::*;
use tulip::transports::{ConnectOptions, ServerOptions};

use crate::{Scale, run_bounded};

/// The server side: echoes every byte, with flow control — it stops
/// reading while its peer does not read what it writes, so a slow reader
/// bounds the server's memory.
#[derive(Default)]
pub(crate) struct EchoServer {
    t: Option<TransportRef>,
}

impl BaseProtocol for EchoServer {
    fn connection_made(&mut self, t: TransportRef) {
        self.t = Some(t);
    }
    fn connection_lost(&mut self, _: Option<TransportError>) {
        self.t = None;
    }
    fn pause_writing(&mut self) {
        if let Some(t) = &self.t {
            t.pause_reading();
        }
    }
    fn resume_writing(&mut self) {
        if let Some(t) = &self.t {
            t.resume_reading();
        }
    }
}

impl Protocol for EchoServer {
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.t {
            // Refused only once the transport is closing: nothing to echo.
            let _ = t.write(data);
        }
    }
}

/// Starts an echo server on 127.0.0.1 and returns it with its port.
pub(crate) async fn echo_server(lp: &Loop) -> Result<(tulip::transports::Server, u16), String> {
    let opts = ServerOptions::default().with_backlog(65_535);
    let server = lp
        .create_server(EchoServer::default, "127.0.0.1", 0, opts)
        .await
        .map_err(|e| format!("cannot start the echo server: {e}"))?;
    let port = server
        .addresses()
        .iter()
        .find_map(|a| a.port())
        .ok_or_else(|| "the echo server has no port".to_string())?;
    Ok((server, port))
}

/// The byte at `i` of message `msg` on connection `conn`: a pattern that
/// differs between connections, so a byte delivered to the wrong one is
/// caught.
pub(crate) fn pattern(conn: u64, msg: u64, i: usize) -> u8 {
    (conn.wrapping_mul(131).wrapping_add(msg.wrapping_mul(31)).wrapping_add(i as u64) % 251) as u8
}

/// The client side: sends its messages one at a time and checks each echo
/// before sending the next.
struct Checker {
    conn: u64,
    sizes: Vec<usize>,
    msg: usize,
    got: usize,
    bytes: Rc<Cell<u64>>,
    done: LoopFuture<Result<(), String>>,
    t: Option<TransportRef>,
}

impl Checker {
    fn send_current(&self) {
        let Some(t) = &self.t else { return };
        let data: Vec<u8> =
            (0..self.sizes[self.msg]).map(|i| pattern(self.conn, self.msg as u64, i)).collect();
        if let Err(e) = t.write(&data) {
            let _ = self.done.set_result(Err(format!("conn {}: write: {e}", self.conn)));
        }
    }

    fn fail(&mut self, why: String) {
        let _ = self.done.set_result(Err(why));
        if let Some(t) = self.t.take() {
            t.abort();
        }
    }
}

impl BaseProtocol for Checker {
    fn connection_made(&mut self, t: TransportRef) {
        self.t = Some(t);
        self.send_current();
    }
    fn connection_lost(&mut self, err: Option<TransportError>) {
        if self.msg < self.sizes.len() {
            let why = format!("conn {}: lost at message {}: {err:?}", self.conn, self.msg);
            let _ = self.done.set_result(Err(why));
        }
        self.t = None;
    }
}

impl Protocol for Checker {
    fn data_received(&mut self, data: &[u8]) {
        for &b in data {
            if self.msg >= self.sizes.len() {
                return self.fail(format!("conn {}: bytes after the last echo", self.conn));
            }
            let want = pattern(self.conn, self.msg as u64, self.got);
            if b != want {
                let (m, g) = (self.msg, self.got);
                return self
                    .fail(format!("conn {}: message {m} byte {g}: {b} != {want}", self.conn));
            }
            self.got += 1;
            if self.got == self.sizes[self.msg] {
                self.bytes.set(self.bytes.get() + self.got as u64);
                self.msg += 1;
                self.got = 0;
                if self.msg == self.sizes.len() {
                    let _ = self.done.set_result(Ok(()));
                    if let Some(t) = &self.t {
                        t.close();
                    }
                } else {
                    self.send_current();
                }
            }
        }
    }
}

pub(crate) fn run(scale: Scale) -> Result<String, String> {
    let conns: u64 = scale.pick(10_000, 500);
    let per_conn: usize = scale.pick(100, 20);
    let max_size: usize = scale.pick(8192, 4096);
    run_bounded(Duration::from_secs(scale.pick(300, 40)), async move {
        let lp = get_running_loop().map_err(|e| e.to_string())?;
        let (server, port) = echo_server(&lp).await?;
        let clients = Clients { conns: 0..conns, per_conn, max_size, wave: 1000, seed: 7 };
        let bytes = clients.run(&lp, port, None).await?;
        server.close();
        server.wait_closed().await;
        let messages = conns * per_conn as u64;
        Ok(format!(
            "{conns} connections on one loop, {messages} messages (1..={max_size} B), {} MiB echoed, every byte checked",
            bytes >> 20
        ))
    })
}

/// Checked echo clients: connections numbered `conns`, each sending
/// `per_conn` messages of random sizes `1..=max_size` and checking every
/// echoed byte, then closing. They connect `wave` at a time (so the listen
/// backlog never overflows) and stay open until their last echo.
pub(crate) struct Clients {
    pub(crate) conns: std::ops::Range<u64>,
    pub(crate) per_conn: usize,
    pub(crate) max_size: usize,
    pub(crate) wave: usize,
    pub(crate) seed: u64,
}

impl Clients {
    /// Connects them all to `port`, over TLS when `tls` is given, and
    /// waits for every echo; returns the bytes echoed and checked.
    pub(crate) async fn run(
        self,
        lp: &Loop,
        port: u16,
        tls: Option<TlsConnect>,
    ) -> Result<u64, String> {
        let bytes = Rc::new(Cell::new(0u64));
        let mut rng = SmallRng::seed_from_u64(self.seed);
        let dones = Rc::new(RefCell::new(Vec::new()));
        for wave in self.conns.collect::<Vec<_>>().chunks(self.wave) {
            let mut pending = Vec::new();
            for &conn in wave {
                let sizes: Vec<usize> =
                    (0..self.per_conn).map(|_| rng.random_range(1..=self.max_size)).collect();
                let done = lp.create_future();
                dones.borrow_mut().push(done.clone());
                let b = bytes.clone();
                let checker =
                    move || Checker { conn, sizes, msg: 0, got: 0, bytes: b, done, t: None };
                let (l2, o2) = (lp.clone(), ConnectOptions::default().with_tls(tls.clone()));
                let connect =
                    async move { l2.create_connection(checker, "127.0.0.1", port, o2).await };
                pending.push(lp.create_task(connect).map_err(|e| e.to_string())?);
            }
            for p in pending {
                p.await.map_err(|e| e.to_string())?.map_err(|e| format!("connect: {e}"))?;
            }
        }
        let all = std::mem::take(&mut *dones.borrow_mut());
        for d in all {
            d.await.map_err(|e| e.to_string())??;
        }
        Ok(bytes.get())
    }
}
