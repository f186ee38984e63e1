//! Misbehaving peers against one echo server: resets in the middle of
//! writes and reads, half-closes, connections that send nothing
//! (slowloris), and clients that never read while they flood (flow control
//! must bound what the server accepts, and its memory). The server must
//! keep serving.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use tulip::prelude::*;

use crate::echo::{echo_server, pattern};
use crate::resources::rss_kib;
use crate::{Scale, run_bounded};

/// What the client thread saw.
struct Report {
    resets: usize,
    half_closes: usize,
    idle: usize,
    flood: Flooded,
}

/// A non-reading client that got this much accepted shows the server
/// reads without applying flow control.
const MAX_FLOOD_ACCEPTED: usize = 64 << 20;

/// The process's RSS may grow this much while the flooders are held.
const MAX_FLOOD_RSS_GROWTH_KIB: u64 = 64 << 10;

pub(crate) fn run(scale: Scale) -> Result<String, String> {
    let rounds: usize = scale.pick(500, 50);
    let idle: usize = scale.pick(2000, 100);
    let flooders: usize = scale.pick(50, 5);
    run_bounded(Duration::from_secs(scale.pick(180, 30)), async move {
        let lp = get_running_loop().map_err(|e| e.to_string())?;
        let (server, port) = echo_server(&lp).await?;
        // The misbehaving clients are blocking sockets on an executor
        // thread: the loop keeps serving while they run.
        let report = lp
            .run_in_executor(move || clients(port, rounds, idle, flooders))
            .await
            .map_err(|e| format!("the client thread: {e}"))??;
        server.close();
        server.wait_closed().await;
        Ok(format!(
            "{} resets mid-write/mid-read, {} half-closes checked, {} idle connections held, {} non-reading flooders got {} KiB accepted in all (at most {} KiB each: flow control bound), RSS +{} KiB while they were held, server served throughout",
            report.resets,
            report.half_closes,
            report.idle,
            report.flood.clients,
            report.flood.total >> 10,
            report.flood.most >> 10,
            report.flood.rss_growth_kib
        ))
    })
}

fn connect(port: u16) -> Result<TcpStream, String> {
    let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(20))).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(Duration::from_secs(20))).map_err(|e| e.to_string())?;
    Ok(s)
}

/// Closes `s` with a reset (SO_LINGER 0) instead of a FIN.
fn reset(s: TcpStream) -> Result<(), String> {
    rustix::net::sockopt::set_socket_linger(&s, Some(Duration::ZERO)).map_err(|e| e.to_string())?;
    drop(s);
    Ok(())
}

fn clients(port: u16, rounds: usize, idle: usize, flooders: usize) -> Result<Report, String> {
    // Slowloris: connections that connect and send nothing, held throughout.
    let held: Vec<TcpStream> = (0..idle).map(|_| connect(port)).collect::<Result<_, _>>()?;
    let mut resets = 0;
    let mut half_closes = 0;
    for round in 0..rounds {
        // Reset while the server is writing back to us (we never read).
        let mut s = connect(port)?;
        s.write_all(&vec![7u8; 256 << 10]).map_err(|e| format!("flood before reset: {e}"))?;
        reset(s)?;
        // Reset right after sending, while the server reads.
        let mut s = connect(port)?;
        s.write_all(&[1u8; 1000]).map_err(|e| e.to_string())?;
        reset(s)?;
        resets += 2;
        // Half-close: everything sent comes back, then EOF.
        let mut s = connect(port)?;
        let len = 1 + (round * 7919) % 100_000;
        let data: Vec<u8> = (0..len).map(|i| pattern(round as u64, 0, i)).collect();
        s.write_all(&data).map_err(|e| e.to_string())?;
        s.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
        let mut back = Vec::new();
        s.read_to_end(&mut back).map_err(|e| format!("half-close read: {e}"))?;
        if back != data {
            return Err(format!(
                "half-close round {round}: {} of {len} bytes came back changed",
                back.len()
            ));
        }
        half_closes += 1;
    }
    let flood = flood(port, flooders)?;
    // The idle connections are still served after all that.
    for (i, mut s) in held.into_iter().enumerate().step_by(97) {
        s.write_all(b"ping").map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).map_err(|e| format!("idle connection {i}: {e}"))?;
        if &buf != b"ping" {
            return Err(format!("idle connection {i} got {buf:?}"));
        }
    }
    Ok(Report { resets, half_closes, idle, flood })
}

/// What the non-reading flooders got through.
struct Flooded {
    clients: usize,
    /// Bytes the kernel and the server accepted, in all and at most from
    /// one client.
    total: usize,
    most: usize,
    /// The process's RSS growth while the flooders were held (the
    /// clients' side is a fixed buffer: this is the server's memory).
    rss_growth_kib: u64,
}

/// Clients that write without ever reading, round-robin on non-blocking
/// sockets until none can write more: each gets only what the kernel and
/// the server accept before the server pauses reading (its echo backlog
/// past the high-water mark), a few socket buffers, far below what was
/// offered; the server's memory stays bounded.
fn flood(port: u16, clients: usize) -> Result<Flooded, String> {
    const OFFERED: usize = 256 << 20;
    let rss_before = rss_kib();
    let mut socks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let s = connect(port)?;
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        socks.push((s, 0usize));
    }
    let chunk = vec![3u8; 64 << 10];
    let mut idle_since = std::time::Instant::now();
    while idle_since.elapsed() < Duration::from_millis(500) {
        let mut progressed = false;
        for (s, accepted) in socks.iter_mut().filter(|(_, a)| *a < OFFERED) {
            match s.write(&chunk) {
                Ok(n) => {
                    *accepted += n;
                    progressed = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("flood: {e}")),
            }
        }
        if progressed {
            idle_since = std::time::Instant::now();
        } else {
            std::thread::yield_now();
        }
    }
    let rss_growth_kib = rss_kib().saturating_sub(rss_before);
    let total = socks.iter().map(|(_, a)| a).sum();
    let most = socks.iter().map(|(_, a)| *a).max().unwrap_or(0);
    if most >= MAX_FLOOD_ACCEPTED {
        return Err(format!(
            "a client that never reads got {} MiB accepted: the server does not apply flow control",
            most >> 20
        ));
    }
    if rss_growth_kib >= MAX_FLOOD_RSS_GROWTH_KIB {
        return Err(format!(
            "RSS grew by {} MiB while {clients} clients flooded without reading",
            rss_growth_kib >> 10
        ));
    }
    for (s, _) in socks {
        reset(s)?;
    }
    Ok(Flooded { clients, total, most, rss_growth_kib })
}
