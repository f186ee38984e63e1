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
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tulip_bench::{Better, Table, pid_cpu_time, print_header};

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
    let impls = ["tulip", "tokio", "smol", "floor-epoll"];
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

struct ServerProc {
    child: Child,
    port: u16,
}

impl ServerProc {
    fn spawn(which: &str) -> ServerProc {
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .env("TULIP_TCP_SERVER", which)
            .arg("--bench")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn server");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("server {which} said {line:?}"));
        ServerProc { child, port }
    }

    fn cpu(&self) -> Duration {
        pid_cpu_time(self.child.id()).expect("server alive")
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `conns` clients echoing `size`-byte messages for `measure`; the
/// server's CPU time is read before and after.
fn tcp_case(which: &str, size: usize, conns: usize, measure: Duration) -> Figures {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = ServerProc::spawn(which);
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
    let server = ServerProc::spawn(which);
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

mod servers {
    //! The echo servers, one per implementation; each prints its port.

    pub(super) fn run(which: &str) {
        match which {
            "tulip" => tulip_server(false),
            "tulip-two-writes" => tulip_server(true),
            "tokio" => tokio_server(),
            "smol" => smol_server(),
            "floor-epoll" => floor::run(),
            "tulip-udp" => tulip_udp_server(),
            "tokio-udp" => tokio_udp_server(),
            other => panic!("unknown server {other}"),
        }
    }

    fn announce(port: u16) {
        println!("{port}");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
    }

    fn tulip_server(two_writes: bool) {
        use loop_transports::{BaseProtocol, NetExt, Protocol, ServerOptions, TransportRef};

        struct Echo {
            t: Option<TransportRef>,
            two: bool,
        }
        impl BaseProtocol for Echo {
            fn connection_made(&mut self, t: TransportRef) {
                self.t = Some(t);
            }
        }
        impl Protocol for Echo {
            fn data_received(&mut self, data: &[u8]) {
                let t = self.t.as_ref().unwrap();
                if self.two {
                    let mid = data.len() / 2;
                    let _ = t.write(&data[..mid]);
                    let _ = t.write(&data[mid..]);
                } else {
                    let _ = t.write(data);
                }
            }
        }
        let lp = loop_core::Loop::new().unwrap();
        let l = lp.clone();
        lp.run_until_complete(async move {
            let server = l
                .create_server(
                    move || Echo { t: None, two: two_writes },
                    "127.0.0.1",
                    0,
                    ServerOptions::default(),
                )
                .await
                .unwrap();
            announce(server.addresses()[0].port().unwrap());
            server.serve_forever().await.unwrap();
        })
        .unwrap();
    }

    fn tulip_udp_server() {
        use loop_transports::{
            Address, BaseProtocol, DatagramOptions, DatagramProtocol, DatagramTransportRef, NetExt,
        };

        struct Echo(Option<DatagramTransportRef>);
        impl BaseProtocol<dyn loop_transports::DatagramTransport> for Echo {
            fn connection_made(&mut self, t: DatagramTransportRef) {
                self.0 = Some(t);
            }
        }
        impl DatagramProtocol for Echo {
            fn datagram_received(&mut self, data: &[u8], addr: Address) {
                let _ = self.0.as_ref().unwrap().sendto(data, Some(&addr));
            }
        }
        let lp = loop_core::Loop::new().unwrap();
        let l = lp.clone();
        lp.run_until_complete(async move {
            let (t, _p) = l
                .create_datagram_endpoint(
                    || Echo(None),
                    DatagramOptions::default()
                        .with_local_addr(Some(loop_transports::Endpoint::inet("127.0.0.1", 0))),
                )
                .await
                .unwrap();
            announce(t.sockname().unwrap().port().unwrap());
            std::future::pending::<()>().await;
        })
        .unwrap();
    }

    fn tokio_server() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            announce(l.local_addr().unwrap().port());
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                tokio::task::spawn_local(async move {
                    let mut buf = vec![0u8; 256 * 1024];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
    }

    fn tokio_udp_server() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            announce(s.local_addr().unwrap().port());
            let mut buf = vec![0u8; 65536];
            loop {
                let (n, from) = s.recv_from(&mut buf).await.unwrap();
                let _ = s.send_to(&buf[..n], from).await;
            }
        });
    }

    fn smol_server() {
        use futures_lite::{AsyncReadExt, AsyncWriteExt};
        let ex = async_executor::LocalExecutor::new();
        async_io::block_on(ex.run(async {
            let l = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            announce(l.local_addr().unwrap().port());
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                ex.spawn(async move {
                    let mut buf = vec![0u8; 256 * 1024];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                })
                .detach();
            }
        }));
    }

    mod floor {
        //! The floor: a minimal level-triggered epoll echo loop — one
        //! `epoll_wait` per iteration, one `read` and one `write` per
        //! message, no allocation per message.

        use std::collections::HashMap;
        use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

        use rustix::event::epoll;
        use rustix::net::{AddressFamily, SocketFlags, SocketType};

        struct Conn {
            fd: OwnedFd,
            pending: Vec<u8>,
        }

        pub(in super::super) fn run() {
            let l = rustix::net::socket_with(
                AddressFamily::INET,
                SocketType::STREAM,
                SocketFlags::NONBLOCK,
                None,
            )
            .unwrap();
            rustix::net::sockopt::set_socket_reuseaddr(&l, true).unwrap();
            let addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
            rustix::net::bind(&l, &addr).unwrap();
            rustix::net::listen(&l, 128).unwrap();
            let local: std::net::SocketAddr =
                rustix::net::getsockname(&l).unwrap().try_into().unwrap();
            super::announce(local.port());
            let ep = epoll::create(epoll::CreateFlags::CLOEXEC).unwrap();
            let lkey = u64::MAX;
            epoll::add(&ep, &l, epoll::EventData::new_u64(lkey), epoll::EventFlags::IN).unwrap();
            let mut conns: HashMap<RawFd, Conn> = HashMap::new();
            let mut buf = vec![0u8; 256 * 1024];
            let mut events: Vec<epoll::Event> = Vec::with_capacity(1024);
            loop {
                events.clear();
                match epoll::wait(&ep, rustix::buffer::spare_capacity(&mut events), None) {
                    Ok(_) => {}
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => panic!("epoll_wait: {e}"),
                }
                for ev in &events {
                    let key = ev.data.u64();
                    let flags = ev.flags;
                    if key == lkey {
                        while let Ok(c) = rustix::net::accept_with(&l, SocketFlags::NONBLOCK) {
                            rustix::net::sockopt::set_tcp_nodelay(&c, true).unwrap();
                            let raw = c.as_raw_fd();
                            epoll::add(
                                &ep,
                                &c,
                                epoll::EventData::new_u64(raw as u64),
                                epoll::EventFlags::IN,
                            )
                            .unwrap();
                            conns.insert(raw, Conn { fd: c, pending: Vec::new() });
                        }
                        continue;
                    }
                    let raw = key as RawFd;
                    let Some(conn) = conns.get_mut(&raw) else { continue };
                    let mut close = false;
                    if flags.contains(epoll::EventFlags::OUT) && !conn.pending.is_empty() {
                        match rustix::net::send(
                            &conn.fd,
                            &conn.pending,
                            rustix::net::SendFlags::NOSIGNAL,
                        ) {
                            Ok(n) => {
                                conn.pending.drain(..n);
                            }
                            Err(rustix::io::Errno::AGAIN) => {}
                            Err(_) => close = true,
                        }
                        if conn.pending.is_empty() {
                            epoll::modify(
                                &ep,
                                conn.fd.as_fd(),
                                epoll::EventData::new_u64(key),
                                epoll::EventFlags::IN,
                            )
                            .unwrap();
                        }
                    }
                    if !close
                        && flags.intersects(
                            epoll::EventFlags::IN | epoll::EventFlags::HUP | epoll::EventFlags::ERR,
                        )
                        && conn.pending.is_empty()
                    {
                        match rustix::io::read(&conn.fd, &mut buf[..]) {
                            Ok(0) => close = true,
                            Ok(n) => match rustix::net::send(
                                &conn.fd,
                                &buf[..n],
                                rustix::net::SendFlags::NOSIGNAL,
                            ) {
                                Ok(m) if m == n => {}
                                Ok(m) => {
                                    conn.pending.extend_from_slice(&buf[m..n]);
                                    epoll::modify(
                                        &ep,
                                        conn.fd.as_fd(),
                                        epoll::EventData::new_u64(key),
                                        epoll::EventFlags::OUT,
                                    )
                                    .unwrap();
                                }
                                Err(rustix::io::Errno::AGAIN) => {
                                    conn.pending.extend_from_slice(&buf[..n]);
                                    epoll::modify(
                                        &ep,
                                        conn.fd.as_fd(),
                                        epoll::EventData::new_u64(key),
                                        epoll::EventFlags::OUT,
                                    )
                                    .unwrap();
                                }
                                Err(_) => close = true,
                            },
                            Err(rustix::io::Errno::AGAIN) => {}
                            Err(_) => close = true,
                        }
                    }
                    if close && let Some(c) = conns.remove(&raw) {
                        let _ = epoll::delete(&ep, &c.fd);
                    }
                }
            }
        }
    }
}
