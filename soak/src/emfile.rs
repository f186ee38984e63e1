//! Accept under `EMFILE`: an echo server whose process has run out of fds
//! while thousands of clients connect. The server must keep serving the
//! connections it already has, must not spin on its readable listener (the
//! loop's iterations and CPU time while starved are measured and bounded),
//! and once fds come back every pending client is accepted and served, every
//! echoed byte checked.
//!
//! The fd table is filled by lowering the soft `RLIMIT_NOFILE` to a little
//! above what is open and holding duplicates of `/dev/null` up to it; the
//! limit is restored afterwards, whatever happens.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use tulip::event_loop::test_util::iterations;
use tulip::prelude::*;

use crate::echo::{echo_server, pattern};
use crate::{Scale, run_bounded, wait_until};

/// Fds the lowered limit leaves above what is open (all filled).
const HEADROOM: u64 = 1024;

/// Blocking-socket timeout for the clients: a step that takes longer fails.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// While starved the loop wakes for the accept retry (once a second) and
/// its own timer: more iterations than this per second of starvation is a
/// busy loop.
const MAX_ITERATIONS_PER_SEC: f64 = 20.0;

/// The loop thread's CPU time while starved, as a share of the wall time.
const MAX_CPU_SHARE: f64 = 0.05;

/// The fd table held full: restores the limit and frees the fds on drop.
struct Starved {
    old: Rlimit,
    hog: Vec<OwnedFd>,
    limit: u64,
}

impl Starved {
    /// Lowers the soft limit to `open + HEADROOM` (never raises it) and
    /// fills every free slot below it.
    fn fill(open: usize) -> Result<Starved, String> {
        let old = getrlimit(Resource::Nofile);
        let soft = old.current.unwrap_or(u64::MAX);
        let limit = soft.min(open as u64 + HEADROOM);
        setrlimit(Resource::Nofile, Rlimit { current: Some(limit), maximum: old.maximum })
            .map_err(|e| format!("cannot lower RLIMIT_NOFILE: {e}"))?;
        let mut me = Starved { old, hog: Vec::new(), limit };
        let null = rustix::fs::open(
            "/dev/null",
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| format!("open /dev/null: {e}"))?;
        loop {
            match rustix::io::fcntl_dupfd_cloexec(&null, 0) {
                Ok(fd) => me.hog.push(fd),
                Err(Errno::MFILE) => break,
                Err(e) => return Err(format!("filling the fd table: {e}")),
            }
        }
        me.hog.push(null);
        Ok(me)
    }
}

impl Drop for Starved {
    fn drop(&mut self) {
        self.hog.clear();
        let _ = setrlimit(Resource::Nofile, self.old);
    }
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The accept queue's length limit (`somaxconn`): more pending clients than
/// this would wait in SYN retries instead of the queue.
fn somaxconn() -> usize {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(128)
}

/// One message of client `conn`: `pattern` bytes, written whole.
fn message(conn: u64, msg: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| pattern(conn, msg, i)).collect()
}

/// Reads `len` bytes from `s` and checks them against message `msg` of
/// client `conn`.
fn read_echo(s: &mut TcpStream, conn: u64, msg: u64, len: usize) -> Result<(), String> {
    let mut got = vec![0u8; len];
    s.read_exact(&mut got).map_err(|e| format!("client {conn} message {msg}: {e}"))?;
    if got != message(conn, msg, len) {
        return Err(format!("client {conn} message {msg}: the echo differs from what was sent"));
    }
    Ok(())
}

/// A client connected before the starvation: still served during it.
struct Live {
    s: TcpStream,
    conn: u64,
}

/// A client that connects while the table is full.
struct Pending {
    s: TcpStream,
    conn: u64,
    len: usize,
}

fn blocking_socket() -> Result<TcpStream, String> {
    let fd = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| format!("socket: {e}"))?;
    // A blocking connect on Linux gives up after the send timeout.
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    Ok(s)
}

/// Before the starvation: `live` connected clients (each echoes once) and
/// `pending` sockets made but not connected (connecting needs no new fd).
fn prepare(port: u16, live: u64, pending: u64) -> Result<(Vec<Live>, Vec<TcpStream>), String> {
    let mut lives = Vec::new();
    for conn in 0..live {
        let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
        s.write_all(&message(conn, 0, 100)).map_err(|e| e.to_string())?;
        read_echo(&mut s, conn, 0, 100)?;
        lives.push(Live { s, conn });
    }
    let socks = (0..pending).map(|_| blocking_socket()).collect::<Result<_, _>>()?;
    Ok((lives, socks))
}

/// While the table is full: every pending socket connects (into the
/// listener's accept queue) and sends its first message.
fn connect_all(port: u16, socks: Vec<TcpStream>, first: u64) -> Result<Vec<Pending>, String> {
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let mut rng = SmallRng::seed_from_u64(13);
    let mut out = Vec::with_capacity(socks.len());
    for (i, mut s) in socks.into_iter().enumerate() {
        let conn = first + i as u64;
        rustix::net::connect(&s, &addr)
            .map_err(|e| format!("client {conn}: connect while the server is out of fds: {e}"))?;
        let len = rng.random_range(1..=4096);
        s.write_all(&message(conn, 0, len)).map_err(|e| format!("client {conn}: {e}"))?;
        out.push(Pending { s, conn, len });
    }
    Ok(out)
}

/// Each live client echoes one more message (the server needs no new fd).
fn ping_live(lives: &mut [Live]) -> Result<(), String> {
    for l in lives.iter_mut() {
        l.s.write_all(&message(l.conn, 1, 200)).map_err(|e| e.to_string())?;
        read_echo(&mut l.s, l.conn, 1, 200)?;
    }
    Ok(())
}

/// Once fds are back: every pending client gets its first message back,
/// then echoes a second one. Returns the bytes checked.
fn serve_pending(pending: Vec<Pending>) -> Result<u64, String> {
    let mut bytes = 0;
    for mut p in pending {
        read_echo(&mut p.s, p.conn, 0, p.len)?;
        let len = 1 + (p.conn as usize * 7919) % 8192;
        p.s.write_all(&message(p.conn, 1, len)).map_err(|e| e.to_string())?;
        read_echo(&mut p.s, p.conn, 1, len)?;
        bytes += (p.len + len) as u64;
    }
    Ok(bytes)
}

pub(crate) fn run(scale: Scale) -> Result<String, String> {
    let live: u64 = scale.pick(200, 20);
    let wanted: u64 = scale.pick(3000, 200);
    let pending = wanted.min(somaxconn().saturating_sub(16) as u64);
    let starve = scale.pick(Duration::from_secs(5), Duration::from_millis(1500));
    run_bounded(Duration::from_secs(scale.pick(120, 30)), async move {
        let lp = get_running_loop().map_err(|e| e.to_string())?;
        let reports = Rc::new(Cell::new(0u64));
        let other = Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
        let (r2, o2) = (reports.clone(), other.clone());
        lp.set_exception_handler(Some(Rc::new(move |_, ctx| {
            if ctx.message.contains("out of system resource") {
                r2.set(r2.get() + 1);
            } else {
                o2.borrow_mut().push(ctx.to_string());
            }
        })));
        let (server, port) = echo_server(&lp).await?;
        let (lives, socks) = lp
            .run_in_executor(move || prepare(port, live, pending))
            .await
            .map_err(|e| e.to_string())??;
        wait_until("the live clients accepted", Duration::from_secs(10), || {
            server.active_connections() == live as usize
        })
        .await?;

        let open = crate::resources::Snapshot::take().fds;
        let starved = Starved::fill(open)?;
        let (held, limit) = (starved.hog.len(), starved.limit);
        let pend = lp
            .run_in_executor(move || connect_all(port, socks, live))
            .await
            .map_err(|e| e.to_string())??;
        // Quiet and starved: the loop must sleep, not spin.
        let (i0, c0, r0, t0) = (iterations(&lp), thread_cpu(), reports.get(), Instant::now());
        sleep(starve).await.map_err(|e| e.to_string())?;
        let wall = t0.elapsed();
        let (spins, cpu) = (iterations(&lp) - i0, thread_cpu() - c0);
        let retries = reports.get() - r0;
        let secs = wall.as_secs_f64();
        if spins as f64 > MAX_ITERATIONS_PER_SEC * secs {
            return Err(format!("the loop ran {spins} iterations in {secs:.1} s while starved"));
        }
        if cpu.as_secs_f64() > MAX_CPU_SHARE * secs {
            return Err(format!("the loop used {cpu:?} of CPU in {secs:.1} s while starved"));
        }
        if reports.get() == 0 || retries as f64 > secs + 2.0 {
            return Err(format!(
                "EMFILE reported {} times ({retries} in {secs:.1} s): expected about once per retry",
                reports.get()
            ));
        }
        // Still starved, the server serves the connections it has.
        let lives = lp
            .run_in_executor(move || {
                let mut lives = lives;
                ping_live(&mut lives).map(|()| lives)
            })
            .await
            .map_err(|e| e.to_string())??;
        if !server.is_serving() || server.active_connections() != live as usize {
            return Err(format!(
                "while starved: serving {}, {} connections (want {live})",
                server.is_serving(),
                server.active_connections()
            ));
        }

        let t1 = Instant::now();
        drop(starved);
        let bytes =
            lp.run_in_executor(move || serve_pending(pend)).await.map_err(|e| e.to_string())??;
        let served_in = t1.elapsed();
        drop(lives);
        wait_until("every connection gone", Duration::from_secs(10), || {
            server.active_connections() == 0
        })
        .await?;
        server.close();
        server.wait_closed().await;
        if let Some(first) = other.borrow().first() {
            return Err(format!("unexpected reports ({}): {first}", other.borrow().len()));
        }
        let capped = if pending < wanted { " (capped by somaxconn)" } else { "" };
        Ok(format!(
            "{pending} clients{capped} connected while the fd table was full ({held} fds held, soft limit {}) for {secs:.1} s: {spins} loop iterations, {} µs loop CPU, EMFILE reported {retries} times (no spin); {live} earlier connections still echoed; once fds came back all {pending} served in {:.2} s, {bytes} bytes checked; limit restored",
            limit,
            cpu.as_micros(),
            served_in.as_secs_f64()
        ))
    })
}
