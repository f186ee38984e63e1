//! TCP and UDP echo benchmarks: tulip's protocol-based echo server against
//! tokio's current-thread runtime, smol (`async-net` on a `LocalExecutor`)
//! and a hand-written epoll loop (the floor), each server single-threaded
//! in its own process, all driven by the same load generator (this process,
//! on tokio). Figures: messages/s and the **server's** CPU time per message
//! (from `/proc/<pid>/stat`).
//!
//! The benchmark binary re-executes itself with `TULIP_TCP_SERVER=<impl>`
//! to act as a server; it prints its port and serves until killed.
//! `TULIP_BENCH_SECS` sets the measured time per case (default 1.5 s);
//! `TULIP_BENCH_ONLY=tcp` or `TULIP_BENCH_ONLY=udp` runs only those cases
//! (all of them when unset).

use std::cell::Cell;

use std::rc::Rc;
use std::time::{Duration, Instant};

use tulip_bench::{Better, ServerProc, Table, print_header};

const SIZES: [usize; 3] = [1024, 10 * 1024, 100 * 1024];
const CONNS: [usize; 2] = [10, 100];
const WARMUP: Duration = Duration::from_millis(300);

/// Each case runs this many interleaved rounds (override with
/// `TULIP_BENCH_ROUNDS`); each implementation keeps its best round. On a
/// small machine where the load generator shares the cores, single runs are
/// bimodal; the best of a few is stable.
const ROUNDS: usize = 3;

fn rounds() -> usize {
    std::env::var("TULIP_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(ROUNDS).max(1)
}

/// The best of `rounds()` interleaved runs of `case` for each of `impls`.
fn best_rounds(impls: &[&str], mut case: impl FnMut(&str) -> Figures) -> Vec<Figures> {
    let mut best: Vec<Figures> =
        impls.iter().map(|_| Figures { rate: 0.0, cpu_us: f64::INFINITY }).collect();
    for _ in 0..rounds() {
        for (i, which) in impls.iter().enumerate() {
            let r = case(which);
            best[i].rate = best[i].rate.max(r.rate);
            best[i].cpu_us = best[i].cpu_us.min(r.cpu_us);
        }
    }
    best
}

fn main() {
    if let Ok(which) = std::env::var("TULIP_TCP_SERVER") {
        // The server gets CPU 0 to itself; the load generator runs on CPU 1.
        tulip_bench::pin_to_cpu(0);
        servers::run(&which);
        return;
    }
    tulip_bench::pin_to_cpu(1);
    let secs: f64 =
        std::env::var("TULIP_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(1.5);
    let measure = Duration::from_secs_f64(secs);
    let only = std::env::var("TULIP_BENCH_ONLY").unwrap_or_default();
    if !["", "tcp", "udp"].contains(&only.as_str()) {
        panic!("TULIP_BENCH_ONLY must be `tcp` or `udp`, not {only:?}");
    }
    print_header();
    if only != "udp" {
        tcp_cases(measure);
    }
    if only != "tcp" {
        udp_cases(measure);
    }
}

fn tcp_cases(measure: Duration) {
    let impls = ["tulip", "tokio", "smol", "floor-epoll", "tulip-level"];
    for &size in &SIZES {
        for &conns in &CONNS {
            let mut rate = Table::new(
                format!("tcp echo {}KiB x{conns} msgs/s", size / 1024),
                "msg/s",
                Better::Higher,
            );
            let mut cpu = Table::new(
                format!("tcp echo {}KiB x{conns} server CPU/msg", size / 1024),
                "us",
                Better::Lower,
            );
            let mut floor = 0.0;
            let mut ours = 0.0;
            let best = best_rounds(&impls, |which| tcp_case(which, size, conns, measure));
            for (which, r) in impls.iter().zip(best) {
                rate.row(*which, r.rate);
                cpu.row(*which, r.cpu_us);
                if *which == "floor-epoll" {
                    floor = r.cpu_us;
                }
                if *which == "tulip" {
                    ours = r.cpu_us;
                }
            }
            rate.print();
            cpu.print();
            println!(
                "| tcp echo {}KiB x{conns} server CPU/msg | tulip vs floor | {:.2}x | |",
                size / 1024,
                ours / floor
            );
        }
    }
    // One response written as two write() calls (coalesced by tulip).
    let mut two =
        Table::new("tcp echo 1KiB x10, reply in two writes, server CPU/msg", "us", Better::Lower);
    let mut best =
        best_rounds(&["tulip", "tulip-two-writes"], |which| tcp_case(which, 1024, 10, measure))
            .into_iter();
    let (one, split) = (best.next().expect("one-write figures"), best.next().expect("two"));
    two.row("tulip (two writes)", split.cpu_us);
    two.row("tulip-one-write (reference)", one.cpu_us);
    two.print();
    println!(
        "| tcp echo 1KiB two writes vs one | tulip | {:.3}x CPU, {:.3}x msg/s | |",
        split.cpu_us / one.cpu_us,
        split.rate / one.rate
    );
}

fn udp_cases(measure: Duration) {
    // UDP echo, 1 KiB datagrams.
    let mut urate = Table::new("udp echo 1KiB x10 msgs/s", "msg/s", Better::Higher);
    let mut ucpu = Table::new("udp echo 1KiB x10 server CPU/msg", "us", Better::Lower);
    let impls = ["tulip-udp", "tokio-udp"];
    let best = best_rounds(&impls, |which| udp_case(which, 1024, 10, measure));
    for (which, r) in impls.iter().zip(best) {
        urate.row(*which, r.rate);
        ucpu.row(*which, r.cpu_us);
    }
    urate.print();
    ucpu.print();
}

struct Figures {
    rate: f64,
    cpu_us: f64,
}

/// Runs `conns` clients echoing `size`-byte messages for `measure`; the
/// server's CPU time is read before and after.
fn tcp_case(which: &str, size: usize, conns: usize, measure: Duration) -> Figures {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = ServerProc::spawn(&[("TULIP_TCP_SERVER", which.as_ref())]);
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

/// `conns` UDP clients, each sending a datagram and waiting for its echo.
fn udp_case(which: &str, size: usize, conns: usize, measure: Duration) -> Figures {
    let server = ServerProc::spawn(&[("TULIP_TCP_SERVER", which.as_ref())]);
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
                let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                s.connect(("127.0.0.1", port)).await.unwrap();
                let msg = vec![0x5au8; size];
                let mut buf = vec![0u8; size + 1];
                while !stop.get() {
                    s.send(&msg).await.unwrap();
                    // A lost datagram would stall this client: time out and
                    // resend.
                    match tokio::time::timeout(Duration::from_millis(100), s.recv(&mut buf)).await {
                        Ok(Ok(n)) if n == size => count.set(count.get() + 1),
                        _ => {}
                    }
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

#[path = "common/echo_servers.rs"]
mod servers;
