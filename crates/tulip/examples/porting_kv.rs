//! The porting guide's program (`docs/porting.md`): a line-based key-value
//! server and its client, ported from asyncio (`docs/porting/kv_server.py`).
//!
//! ```text
//! cargo run -p tulip --example porting_kv                  # demo; exits by itself
//! cargo run -p tulip --example porting_kv -- --serve ADDR  # serve until SIGINT/SIGTERM
//! cargo run -p tulip --example porting_kv -- --client ADDR # run the client against ADDR
//! ```
//!
//! The server speaks `SET k v` / `GET k` / `QUIT`, one command a line, on a
//! store shared by every connection. A connection that says nothing for
//! [`IDLE_TIMEOUT`] is closed; every [`STATS_EVERY`] a periodic callback
//! prints the number of connections; SIGINT or SIGTERM closes the server
//! and every connection, then the program ends.
//!
//! With no arguments the server binds `127.0.0.1:0`, the client runs against
//! it on the same loop (a few commands, then an idle connection that the
//! server closes), and the program sends itself SIGTERM to shut down.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tulip::prelude::*;
use tulip::sync::Queue;
use tulip::transports::{ConnectOptions, ServerOptions};

/// A connection that sends no line for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_millis(200);
/// How often the server prints its statistics.
const STATS_EVERY: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------- server

/// What every connection shares (Python: the `State` object the factory
/// lambda captures).
#[derive(Default)]
struct State {
    store: HashMap<String, String>,
    /// Live connections, to close them on shutdown.
    connections: HashMap<u64, TransportRef>,
    next_id: u64,
    commands: u64,
    stats_timer: Option<TimerHandle>,
}

/// One connection (Python: `class KVProtocol(asyncio.Protocol)`).
struct KvProtocol {
    lp: Loop,
    state: Rc<RefCell<State>>,
    id: u64,
    transport: Option<TransportRef>,
    buf: Vec<u8>,
    idle: Option<TimerHandle>,
}

impl KvProtocol {
    fn new(lp: Loop, state: Rc<RefCell<State>>) -> Self {
        KvProtocol { lp, state, id: 0, transport: None, buf: Vec::new(), idle: None }
    }

    /// (Re)arms the idle timer: cancel the old one, schedule a new one.
    fn reset_idle(&mut self) {
        if let Some(timer) = self.idle.take() {
            timer.cancel();
        }
        let Some(t) = self.transport.clone() else { return };
        let id = self.id;
        let armed = self.lp.call_later(IDLE_TIMEOUT, move || {
            println!("[server] connection {id} idle: closing it");
            let _ = t.write(b"BYE idle\n");
            t.close(); // connection_lost follows, from the loop
        });
        match armed {
            Ok(timer) => self.idle = Some(timer),
            Err(err) => eprintln!("[server] cannot arm the idle timer: {err}"),
        }
    }

    /// Runs one command: the reply, and whether to close afterwards.
    fn command(&self, line: &str) -> (String, bool) {
        let mut st = self.state.borrow_mut();
        st.commands += 1;
        let mut words = line.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("SET"), Some(key), Some(value)) => {
                st.store.insert(key.to_owned(), value.to_owned());
                ("OK".into(), false)
            }
            (Some("GET"), Some(key), None) => match st.store.get(key) {
                Some(value) => (format!("VALUE {value}"), false),
                None => ("NOT_FOUND".into(), false),
            },
            (Some("QUIT"), None, None) => ("BYE".into(), true),
            _ => ("ERROR unknown command".into(), false),
        }
    }
}

impl BaseProtocol for KvProtocol {
    fn connection_made(&mut self, transport: TransportRef) {
        {
            let mut st = self.state.borrow_mut();
            st.next_id += 1;
            self.id = st.next_id;
            st.connections.insert(self.id, transport.clone());
        }
        if let Some(peer) = transport.peername() {
            println!("[server] connection {} from {peer}", self.id);
        }
        self.transport = Some(transport);
        self.reset_idle();
    }

    fn connection_lost(&mut self, error: Option<TransportError>) {
        if let Some(timer) = self.idle.take() {
            timer.cancel();
        }
        self.state.borrow_mut().connections.remove(&self.id);
        self.transport = None;
        match error {
            None => println!("[server] connection {} closed", self.id),
            Some(err) => {
                let err = Error::from(err);
                println!("[server] connection {} lost ({:?}): {err}", self.id, err.kind());
            }
        }
    }
}

impl Protocol for KvProtocol {
    fn data_received(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = self.buf.drain(..=end).collect();
            let line = String::from_utf8_lossy(&raw).trim().to_owned();
            self.reset_idle();
            let (reply, close) = self.command(&line);
            let Some(t) = &self.transport else { return };
            // A write fails only once the transport is closing.
            let _ = t.write(format!("{reply}\n").as_bytes());
            if close {
                t.close();
                return;
            }
        }
    }
}

/// The periodic callback: prints, then schedules itself again.
fn report_stats(lp: &Loop, state: &Rc<RefCell<State>>) -> Result<()> {
    {
        let st = state.borrow();
        println!(
            "[stats] {} connection(s), {} key(s), {} command(s)",
            st.connections.len(),
            st.store.len(),
            st.commands
        );
    }
    let (l, s) = (lp.clone(), state.clone());
    let next = lp.call_later(STATS_EVERY, move || {
        if let Err(err) = report_stats(&l, &s) {
            eprintln!("[stats] stopped: {err}");
        }
    })?;
    state.borrow_mut().stats_timer = Some(next);
    Ok(())
}

/// A started server: listening, printing stats, signal handlers set.
struct KvServer {
    server: tulip::transports::Server,
    state: Rc<RefCell<State>>,
    stop: LoopFuture<Signal>,
    addr: SocketAddr,
}

/// Starts the server on `host:port` (port 0: the OS picks one).
async fn start_server(host: &str, port: u16) -> Result<KvServer> {
    let lp = get_running_loop()?;
    let state = Rc::new(RefCell::new(State::default()));

    // The protocol factory: called once per accepted connection; it
    // captures what the connections share.
    let (l, s) = (lp.clone(), state.clone());
    let server = lp
        .create_server(
            move || KvProtocol::new(l.clone(), s.clone()),
            host,
            port,
            ServerOptions::default(),
        )
        .await?;

    // The bound address (Python: server.sockets[0].getsockname()).
    let addr = server
        .addresses()
        .iter()
        .find_map(|a| a.as_inet())
        .ok_or_else(|| Error::failed("the server has no TCP address"))?;
    println!("[server] serving on {addr}");

    // SIGINT / SIGTERM resolve `stop`; the handlers run as loop callbacks.
    let stop = lp.create_future::<Signal>();
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        let stop = stop.clone();
        lp.add_signal_handler(sig, move || {
            let _ = stop.set_result(sig); // Err if already resolved: ignore
        })?;
    }

    report_stats(&lp, &state)?;
    Ok(KvServer { server, state, stop, addr })
}

impl KvServer {
    /// Serves until SIGINT or SIGTERM, then shuts down cleanly.
    async fn serve_until_signal(self) -> Result<()> {
        let sig = self.stop.await?;
        println!("[server] got {sig}: shutting down");
        self.server.close();
        let open: Vec<TransportRef> = self.state.borrow().connections.values().cloned().collect();
        for t in open {
            t.close();
        }
        self.server.wait_closed().await;
        if let Some(timer) = self.state.borrow_mut().stats_timer.take() {
            timer.cancel();
        }
        let lp = self.server.get_loop();
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            lp.remove_signal_handler(sig)?;
        }
        println!("[server] closed");
        Ok(())
    }
}

// ---------------------------------------------------------------- client

/// The client's protocol: splits replies into lines and queues them; `None`
/// marks the end of the connection.
struct KvClient {
    replies: Rc<Queue<Option<String>>>,
    buf: Vec<u8>,
}

impl BaseProtocol for KvClient {
    fn connection_lost(&mut self, _error: Option<TransportError>) {
        let _ = self.replies.put_nowait(None); // unbounded: never full
    }
}

impl Protocol for KvClient {
    fn data_received(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = self.buf.drain(..=end).collect();
            let line = String::from_utf8_lossy(&raw).trim().to_owned();
            let _ = self.replies.put_nowait(Some(line));
        }
    }
}

/// One client connection.
struct Conn {
    transport: TransportRef,
    replies: Rc<Queue<Option<String>>>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Conn> {
        let lp = get_running_loop()?;
        let replies = Rc::new(Queue::new(0));
        let r = replies.clone();
        let (transport, _protocol) = lp
            .create_connection(
                move || KvClient { replies: r, buf: Vec::new() },
                &addr.ip().to_string(),
                addr.port(),
                ConnectOptions::default(),
            )
            .await?;
        Ok(Conn { transport, replies })
    }

    /// The next line from the server; `None` once it closed the connection.
    async fn reply(&self) -> Result<Option<String>> {
        // timeout's error is the loop's, get's is the queue's: `?` takes both.
        Ok(timeout(Duration::from_secs(5), self.replies.get()).await??)
    }

    /// Sends `line`, checks that the reply is `expected`.
    async fn expect(&self, line: &str, expected: &str) -> Result<()> {
        self.transport.write(format!("{line}\n").as_bytes())?;
        let reply = self.reply().await?;
        println!("[client] {line:?} -> {reply:?}");
        if reply.as_deref() != Some(expected) {
            return Err(Error::failed(format!("{line:?}: expected {expected:?}, got {reply:?}")));
        }
        Ok(())
    }
}

async fn run_client(addr: SocketAddr) -> Result<()> {
    let lp = get_running_loop()?;
    let conn = Conn::open(addr).await?;
    conn.expect("SET greeting hello from asyncio", "OK").await?;
    conn.expect("GET greeting", "VALUE hello from asyncio").await?;
    conn.expect("GET nothing", "NOT_FOUND").await?;
    conn.expect("FROB", "ERROR unknown command").await?;
    conn.expect("QUIT", "BYE").await?;
    if let Some(extra) = conn.reply().await? {
        return Err(Error::failed(format!("after QUIT: unexpected {extra:?}")));
    }
    println!("[client] the server closed the connection after QUIT");

    // A second connection sees the same store, then stays silent.
    let conn = Conn::open(addr).await?;
    conn.expect("GET greeting", "VALUE hello from asyncio").await?;
    let silent_since = lp.time();
    let bye = conn.reply().await?;
    let end = conn.reply().await?;
    if bye.as_deref() != Some("BYE idle") || end.is_some() {
        return Err(Error::failed(format!("idle close: got {bye:?} then {end:?}")));
    }
    println!("[client] idle connection closed by the server after {:?}", lp.time() - silent_since);
    Ok(())
}

// ------------------------------------------------------------------ main

/// No arguments: server and client on one loop, then SIGTERM to ourselves.
async fn demo() -> Result<()> {
    let lp = get_running_loop()?;
    let kv = start_server("127.0.0.1", 0).await?;
    let addr = kv.addr;
    let server = lp.create_task(kv.serve_until_signal())?;
    run_client(addr).await?;
    println!("[demo] sending SIGTERM to ourselves");
    tulip::signals::kill(std::process::id(), Signal::SIGTERM)?;
    server.await??;
    Ok(())
}

async fn serve(addr: SocketAddr) -> Result<()> {
    let kv = start_server(&addr.ip().to_string(), addr.port()).await?;
    kv.serve_until_signal().await
}

fn parse_addr(s: &str) -> Result<SocketAddr> {
    s.parse().map_err(|e| Error::failed(format!("bad address {s:?}: {e}")))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => tulip::run(demo())?,
        ["--serve", addr] => tulip::run(serve(parse_addr(addr)?))?,
        ["--client", addr] => tulip::run(run_client(parse_addr(addr)?))?,
        _ => {
            eprintln!("usage: porting_kv [--serve ADDR | --client ADDR]");
            std::process::exit(2);
        }
    }
}
