//! TCP echo with streams: tulip's `loop-streams` server (a task per
//! connection: `read(256 KiB)` → `write` → `drain`) against tokio's
//! current-thread runtime (`TcpStream` read + `write_all`) and tulip's own
//! protocol echo, each server single-threaded in its own process pinned to
//! CPU 0, driven by the same load generator (this process, on tokio, CPU 1).
//! Figures: messages/s and the **server's** CPU time per message (from
//! `/proc/<pid>/stat`), best of interleaved rounds — the method of
//! `tcp.rs`.
//!
//! The binary re-executes itself with `TULIP_STREAMS_SERVER=<impl>` to act
//! as a server. `TULIP_BENCH_SECS` sets the measured time per case (default
//! 1.5 s), `TULIP_BENCH_ROUNDS` the rounds (default 3), and
//! `TULIP_BENCH_ONLY=<bytes>x<conns>` (say `10240x100`) runs one case.

use std::cell::Cell;

use std::rc::Rc;
use std::time::{Duration, Instant};

use tulip_bench::{Better, ServerProc, Table, print_header};

const SIZES: [usize; 2] = [1024, 10 * 1024];
const CONNS: [usize; 2] = [10, 100];
const WARMUP: Duration = Duration::from_millis(300);
const ROUNDS: usize = 3;

/// The peers and references, in table order.
const IMPLS: [&str; 3] = ["tulip-streams", "tokio", "tulip-protocol"];

fn main() {
    if let Ok(which) = std::env::var("TULIP_STREAMS_SERVER") {
        tulip_bench::pin_to_cpu(0);
        servers::run(&which);
        return;
    }
    tulip_bench::pin_to_cpu(1);
    let secs: f64 =
        std::env::var("TULIP_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(1.5);
    let rounds: usize = std::env::var("TULIP_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(ROUNDS)
        .max(1);
    let measure = Duration::from_secs_f64(secs);
    let only = std::env::var("TULIP_BENCH_ONLY").unwrap_or_default();
    print_header();
    for &size in &SIZES {
        for &conns in &CONNS {
            if !only.is_empty() && only != format!("{size}x{conns}") {
                continue;
            }
            let name = format!("streams echo {}KiB x{conns}", size / 1024);
            let mut rate = Table::new(format!("{name} msgs/s"), "msg/s", Better::Higher);
            let mut cpu = Table::new(format!("{name} server CPU/msg"), "us", Better::Lower);
            let mut best: Vec<Figures> =
                IMPLS.iter().map(|_| Figures { rate: 0.0, cpu_us: f64::INFINITY }).collect();
            for _ in 0..rounds {
                for (i, which) in IMPLS.iter().enumerate() {
                    let r = echo_case(which, size, conns, measure);
                    best[i].rate = best[i].rate.max(r.rate);
                    best[i].cpu_us = best[i].cpu_us.min(r.cpu_us);
                }
            }
            for (which, r) in IMPLS.iter().zip(&best) {
                rate.row(*which, r.rate);
                cpu.row(*which, r.cpu_us);
            }
            rate.print();
            cpu.print();
            let (streams, tokio, protocol) = (best[0].cpu_us, best[1].cpu_us, best[2].cpu_us);
            println!(
                "| {name} server CPU/msg | streams vs tokio (target <= 1.05x) | {:.2}x | |",
                streams / tokio
            );
            println!(
                "| {name} server CPU/msg | streams vs tulip protocol (target <= 1.15x) | {:.2}x | |",
                streams / protocol
            );
        }
    }
}

struct Figures {
    rate: f64,
    cpu_us: f64,
}

/// `conns` clients echoing `size`-byte messages for `measure`; the server's
/// CPU time is read before and after.
fn echo_case(which: &str, size: usize, conns: usize, measure: Duration) -> Figures {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = ServerProc::spawn(&[("TULIP_STREAMS_SERVER", which.as_ref())]);
    let port = server.port;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let local = tokio::task::LocalSet::new();
    let count = Rc::new(Cell::new(0u64));
    let stop = Rc::new(Cell::new(false));
    local.block_on(&rt, async {
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (count, stop) = (count.clone(), stop.clone());
            tasks.push(tokio::task::spawn_local(async move {
                let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                s.set_nodelay(true).unwrap();
                let msg = vec![0x5au8; size];
                let mut buf = vec![0u8; size];
                while !stop.get() {
                    s.write_all(&msg).await.unwrap();
                    s.read_exact(&mut buf).await.unwrap();
                    count.set(count.get() + 1);
                }
            }));
        }
        tokio::time::sleep(WARMUP).await;
        let (n0, c0, t0) = (count.get(), server.cpu(), Instant::now());
        tokio::time::sleep(measure).await;
        let (n1, c1, t1) = (count.get(), server.cpu(), Instant::now());
        stop.set(true);
        for t in tasks {
            let _ = t.await;
        }
        let n = (n1 - n0) as f64;
        Figures { rate: n / (t1 - t0).as_secs_f64(), cpu_us: (c1 - c0).as_secs_f64() * 1e6 / n }
    })
}

mod servers {
    //! The echo servers; each prints its port and serves until killed.

    pub(super) fn run(which: &str) {
        match which {
            "tulip-streams" => tulip_streams(),
            // The same servers as the TCP benchmark's.
            "tulip-protocol" => super::echo_servers::run("tulip"),
            "tokio" => super::echo_servers::run("tokio"),
            other => panic!("unknown server {other}"),
        }
    }

    fn tulip_streams() {
        use loop_streams::{StreamReader, StreamWriter, start_server};
        let lp = loop_core::Loop::new().unwrap();
        lp.run_until_complete(async {
            let server = start_server(
                |r: StreamReader, w: StreamWriter| async move {
                    loop {
                        let data = r.read(256 * 1024).await?;
                        if data.is_empty() {
                            return Ok::<(), loop_streams::Error>(());
                        }
                        w.write(&data)?;
                        w.drain().await?;
                    }
                },
                "127.0.0.1",
                0,
                Default::default(),
            )
            .await
            .unwrap();
            super::echo_servers::announce(server.addresses()[0].port().unwrap());
            server.serve_forever().await.unwrap();
        })
        .unwrap();
    }
}

#[path = "common/echo_servers.rs"]
mod echo_servers;
