//! One loop per core: a TCP echo server on N loops, N threads, one port
//! (`tulip::per_core`).
//!
//! ```text
//! cargo run -p tulip --example per_core_echo [ADDR] [--loops N] [--shared] [--serve]
//! ```
//!
//! Each loop serves the address through its own `SO_REUSEPORT` socket, or,
//! with `--shared`, through a duplicate of one shared socket. `--loops`
//! defaults to the number of CPUs.
//!
//! Without `--serve` (what `cargo xtask ci` runs) the program checks
//! itself: it listens on `ADDR` (default `127.0.0.1:0`), connects to
//! itself until every loop has served a connection (with `--shared`, it
//! makes a fixed number of connections: the loops race for them), shuts
//! the loops down and prints how many connections each served. With
//! `--serve` it serves `ADDR` (default `127.0.0.1:8888`) until SIGINT or
//! SIGTERM, which loop 0 turns into a shutdown of every loop.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tulip::per_core::{Builder, ListenerMode, LoopContext};
use tulip::prelude::*;
use tulip::transports::ServerOptions;

/// Echoes every byte back, counting its loop's connections.
struct Echo {
    served: Arc<AtomicUsize>,
    transport: Option<TransportRef>,
}

impl BaseProtocol for Echo {
    fn connection_made(&mut self, transport: TransportRef) {
        self.served.fetch_add(1, Ordering::SeqCst);
        self.transport = Some(transport);
    }
}

impl Protocol for Echo {
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.transport {
            // A write only fails once the transport is closing.
            let _ = t.write(data);
        }
    }
}

/// Each loop's main: serve until shutdown, then report the count.
async fn serve(ctx: LoopContext, served: Arc<[Arc<AtomicUsize>]>, signals: bool) -> Result<usize> {
    let count = served[ctx.index()].clone();
    if signals && ctx.index() == 0 {
        // One loop turns Ctrl-C and SIGTERM into the group's shutdown.
        let lp = get_running_loop()?;
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let handle = ctx.shutdown_handle();
            lp.add_signal_handler(sig, move || {
                println!("got {sig}: shutting every loop down");
                handle.shutdown();
            })?;
        }
    }
    let c = count.clone();
    let server = ctx
        .create_server(
            move || Echo { served: c.clone(), transport: None },
            ServerOptions::default(),
        )
        .await?;
    ctx.shutdown().await;
    server.close();
    Ok(count.load(Ordering::SeqCst))
}

/// One echo round trip on a new connection.
fn echo_once(addr: SocketAddr, i: usize) -> std::io::Result<()> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let msg = format!("hello {i}\n");
    conn.write_all(msg.as_bytes())?;
    let mut back = vec![0; msg.len()];
    conn.read_exact(&mut back)?;
    if back != msg.as_bytes() {
        return Err(std::io::Error::other("the echo differs from what was sent"));
    }
    Ok(())
}

/// Connects to the group until every loop served one connection
/// (`SO_REUSEPORT`), or a fixed number of times (shared listener).
fn exercise(addr: SocketAddr, served: &[Arc<AtomicUsize>], shared: bool) -> Result<usize> {
    let loops = served.len();
    let (target, limit) = if shared { (4 * loops, 4 * loops) } else { (0, 200 * loops) };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut made = 0;
    loop {
        let all_served = served.iter().all(|s| s.load(Ordering::SeqCst) > 0);
        if made >= target && (shared || all_served) {
            return Ok(made);
        }
        if made >= limit || Instant::now() > deadline {
            let counts: Vec<usize> = served.iter().map(|s| s.load(Ordering::SeqCst)).collect();
            return Err(Error::failed(format!(
                "after {made} connections some loop served none: {counts:?}"
            )));
        }
        echo_once(addr, made)?;
        made += 1;
    }
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let mut addr: Option<SocketAddr> = None;
    let mut builder = Builder::new();
    let (mut shared, mut serve_mode) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--shared" => shared = true,
            "--serve" => serve_mode = true,
            "--loops" => {
                let n = args.next().ok_or("--loops needs a number")?;
                builder = builder.loops(n.parse().map_err(|e| format!("bad --loops {n:?}: {e}"))?);
            }
            a => addr = Some(a.parse().map_err(|e| format!("bad address {a:?}: {e}"))?),
        }
    }
    let default_addr = if serve_mode { "127.0.0.1:8888" } else { "127.0.0.1:0" };
    let addr = addr.unwrap_or(default_addr.parse()?);
    let mode = if shared { ListenerMode::Shared } else { ListenerMode::ReusePort };
    let served: Arc<[Arc<AtomicUsize>]> =
        (0..builder.loop_count()).map(|_| Arc::new(AtomicUsize::new(0))).collect();

    let counters = served.clone();
    let group = builder
        .listen(addr)
        .listener_mode(mode)
        .start(move |ctx| serve(ctx, counters.clone(), serve_mode))?;
    let bound = group.local_addr().ok_or("the group listens")?;
    println!("Serving on {bound} with {} loops ({mode:?})", group.loops());

    let results = if serve_mode {
        // Until a signal (or a failing loop) requests shutdown.
        group.join()
    } else {
        let made = exercise(bound, &served, shared);
        let results = group.shutdown();
        println!("{} connections echoed", made?);
        results
    };
    let mut failed = false;
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(n) => println!("loop {i} served {n} connection(s)"),
            Err(e) => {
                println!("loop {i} failed: {e}");
                failed = true;
            }
        }
    }
    if failed {
        return Err("a loop failed".into());
    }
    Ok(())
}
