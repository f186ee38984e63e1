//! Scale: 1 KiB TCP echo at 1,000, 5,000 and 10,000 connections, and the
//! server's resident memory per idle connection at 10,000.
//!
//! The same echo servers as the `tcp` benchmark (tulip's protocol echo,
//! tokio's current-thread runtime, and the hand-written epoll floor,
//! level- and edge-triggered; `tulip-level` is tulip with every fd
//! registered level-triggered, as before issue 14, through a wrapping
//! driver), each single-threaded in its own process pinned
//! to CPU 0; the load generator (this process, tokio) runs on CPU 1. Every
//! point runs `TULIP_BENCH_REPS` (default 5) interleaved repetitions: the
//! tables give each implementation's median, and the tulip-to-peer ratio is
//! taken per repetition, so its spread is reported (median, min–max).
//!
//! Both processes raise `RLIMIT_NOFILE` to the hard limit first.
//! `TULIP_BENCH_SECS` sets the measured time per case (default 1.5 s);
//! `TULIP_SCALE_CONNS=1000,5000` picks the points.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tulip_bench::{Better, ServerProc, Table, print_header};

const POINTS: [usize; 3] = [1000, 5000, 10_000];
const IMPLS: [&str; 5] = ["tulip", "tokio", "floor-epoll", "floor-epoll-et", "tulip-level"];
const SIZE: usize = 1024;
const WARMUP: Duration = Duration::from_millis(500);
/// Connections being set up at once (a connect storm would overflow the
/// listen backlog and stall on SYN retransmits).
const CONNECTING: usize = 16;
/// Setting up every connection must take less than this. (tokio's server,
/// with its listen backlog of 128, overflows it when preempted, and the
/// clients' SYN retries back off exponentially: its 10,000 connections can
/// take a minute or more to set up. Set-up is not measured.)
const SETUP_LIMIT: Duration = Duration::from_secs(300);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() {
    let limit = tulip_bench::raise_fd_limit();
    if let Ok(which) = std::env::var("TULIP_TCP_SERVER") {
        tulip_bench::pin_to_cpu(0);
        servers::run(&which);
        return;
    }
    tulip_bench::pin_to_cpu(1);
    let measure = Duration::from_secs_f64(env_or("TULIP_BENCH_SECS", 1.5));
    let reps: usize = env_or("TULIP_BENCH_REPS", 5usize).max(1);
    let points: Vec<usize> = match std::env::var("TULIP_SCALE_CONNS") {
        Ok(list) => list.split(',').map(|n| n.trim().parse().expect("TULIP_SCALE_CONNS")).collect(),
        Err(_) => POINTS.to_vec(),
    };
    let most = points.iter().copied().max().unwrap_or(0);
    // The load generator holds one fd per connection, the server another.
    assert!(
        limit >= most as u64 + 64,
        "RLIMIT_NOFILE hard limit {limit} is too low for {most} connections"
    );
    print_header();
    for &conns in &points {
        echo_point(conns, reps, measure);
    }
    idle_memory(most, reps.min(3));
}

/// One point: `reps` interleaved repetitions of every implementation.
fn echo_point(conns: usize, reps: usize, measure: Duration) {
    let impls = impls();
    // cpu[impl][rep], rate[impl][rep]
    let mut cpu = vec![Vec::new(); impls.len()];
    let mut rate = vec![Vec::new(); impls.len()];
    for _ in 0..reps {
        for (i, which) in impls.iter().enumerate() {
            let (r, c) = echo_case(which, conns, measure);
            rate[i].push(r);
            cpu[i].push(c);
        }
    }
    let mut rate_t = Table::new(format!("tcp echo 1KiB x{conns} msgs/s"), "msg/s", Better::Higher);
    let mut cpu_t =
        Table::new(format!("tcp echo 1KiB x{conns} server CPU/msg"), "us", Better::Lower);
    for (i, which) in impls.iter().enumerate() {
        rate_t.row(*which, median(&rate[i]));
        cpu_t.row(*which, median(&cpu[i]));
    }
    rate_t.print();
    cpu_t.print();
    for (j, peer) in impls.iter().enumerate().skip(1) {
        let ratios: Vec<f64> = cpu[0].iter().zip(&cpu[j]).map(|(t, p)| t / p).collect();
        println!(
            "| tcp echo 1KiB x{conns} server CPU/msg | tulip / {peer}, per repetition | \
             median {:.2}x, {:.2}–{:.2}x over {} | |",
            median(&ratios),
            min(&ratios),
            max(&ratios),
            ratios.len()
        );
    }
}

/// The implementations to run: `TULIP_SCALE_IMPLS=tulip,tokio` or all;
/// tulip first.
fn impls() -> Vec<&'static str> {
    match std::env::var("TULIP_SCALE_IMPLS") {
        Ok(list) => IMPLS.iter().copied().filter(|i| list.split(',').any(|n| n == *i)).collect(),
        Err(_) => IMPLS.to_vec(),
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// Connects `conns` clients to `port`, at most [`CONNECTING`] at a time
/// (well under the servers' listen backlogs: tokio's 128, 1,024 for the others), and returns when all
/// are connected; then each runs `client` on its stream. (Clients that
/// started echoing at once would slow the others' set-up to a crawl.)
async fn connect_all<F, Fut>(port: u16, conns: usize, client: F) -> Vec<tokio::task::JoinHandle<()>>
where
    F: Fn(tokio::net::TcpStream) -> Fut + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let gate = Rc::new(tokio::sync::Semaphore::new(CONNECTING));
    let connected = Rc::new(Cell::new(0usize));
    let start = Rc::new(tokio::sync::Notify::new());
    let client = Rc::new(client);
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (gate, connected, client, start) =
            (gate.clone(), connected.clone(), client.clone(), start.clone());
        tasks.push(tokio::task::spawn_local(async move {
            let permit = gate.acquire().await.expect("gate open");
            let s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
            s.set_nodelay(true).expect("nodelay");
            drop(permit);
            let started = start.notified();
            connected.set(connected.get() + 1);
            started.await;
            client(s).await;
        }));
    }
    let t0 = Instant::now();
    while connected.get() < conns {
        assert!(t0.elapsed() < SETUP_LIMIT, "only {} of {conns} connected", connected.get());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if std::env::var_os("TULIP_SCALE_VERBOSE").is_some() {
        eprintln!("scale: {conns} connected in {:?}", t0.elapsed());
    }
    start.notify_waiters();
    tasks
}

/// `conns` clients echoing 1 KiB messages for `measure`: (msgs/s, server
/// CPU µs per message).
fn echo_case(which: &str, conns: usize, measure: Duration) -> (f64, f64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = ServerProc::spawn(&[("TULIP_TCP_SERVER", which.as_ref())]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let local = tokio::task::LocalSet::new();
    let count = Rc::new(Cell::new(0u64));
    local.block_on(&rt, async {
        let c = count.clone();
        let tasks = connect_all(server.port, conns, move |mut s| {
            let count = c.clone();
            async move {
                let msg = vec![0x5au8; SIZE];
                let mut buf = vec![0u8; SIZE];
                // Ends when the server is killed.
                while s.write_all(&msg).await.is_ok() && s.read_exact(&mut buf).await.is_ok() {
                    count.set(count.get() + 1);
                }
            }
        })
        .await;
        tokio::time::sleep(WARMUP).await;
        let (n0, c0, t0) = (count.get(), server.cpu(), Instant::now());
        tokio::time::sleep(measure).await;
        let (n1, c1, t1) = (count.get(), server.cpu(), Instant::now());
        // The server closes first, so TIME_WAIT stays on its side and the
        // load generator's ephemeral ports are free for the next case.
        drop(server);
        for t in tasks {
            let _ = t.await;
        }
        let n = (n1 - n0) as f64;
        (n / (t1 - t0).as_secs_f64(), (c1 - c0).as_secs_f64() * 1e6 / n)
    })
}

/// Server RSS per idle connection: `conns` clients each echo one message,
/// then stay connected and silent.
fn idle_memory(conns: usize, reps: usize) {
    let impls: Vec<&str> =
        impls().into_iter().filter(|i| !matches!(*i, "floor-epoll-et" | "tulip-level")).collect();
    let mut per = vec![Vec::new(); impls.len()];
    for _ in 0..reps {
        for (i, which) in impls.iter().enumerate() {
            per[i].push(idle_case(which, conns));
        }
    }
    let mut t = Table::new(
        format!("idle connections x{conns}: server RSS per connection"),
        "KiB",
        Better::Lower,
    );
    for (i, which) in impls.iter().enumerate() {
        t.row(*which, median(&per[i]));
    }
    t.print();
}

fn idle_case(which: &str, conns: usize) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = ServerProc::spawn(&[("TULIP_TCP_SERVER", which.as_ref())]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let local = tokio::task::LocalSet::new();
    let echoed = Rc::new(Cell::new(0usize));
    let release = Rc::new(tokio::sync::Notify::new());
    local.block_on(&rt, async {
        // Let the server finish starting before the baseline.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = server.rss_kib();
        let (e, r) = (echoed.clone(), release.clone());
        let tasks = connect_all(server.port, conns, move |mut s| {
            let (echoed, release) = (e.clone(), r.clone());
            async move {
                let mut buf = vec![0x5au8; SIZE];
                s.write_all(&buf).await.expect("write");
                s.read_exact(&mut buf).await.expect("read the echo");
                echoed.set(echoed.get() + 1);
                release.notified().await;
            }
        })
        .await;
        let t0 = Instant::now();
        while echoed.get() < conns {
            assert!(t0.elapsed() < SETUP_LIMIT, "only {} of {conns} echoed", echoed.get());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let after = server.rss_kib();
        drop(server);
        release.notify_waiters();
        for t in tasks {
            let _ = t.await;
        }
        after.saturating_sub(before) as f64 / conns as f64
    })
}

#[path = "common/echo_servers.rs"]
mod servers;
