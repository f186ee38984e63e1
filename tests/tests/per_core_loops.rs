//! `tulip::per_core`: two loops on two threads both accept connections, in
//! `SO_REUSEPORT` and shared-listener mode; shutdown is clean (fds and
//! threads back to where they were, clients see their connections end);
//! the error paths — a bind failure, sockets running out mid-way, zero
//! loops, a panicking or failing main, a main that ignores shutdown.
//!
//! The tests count the process's fds and threads, so they run one at a
//! time (`SERIAL`) and nothing else runs in this test binary.

use std::cell::{Cell, OnceCell};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use loop_core::test_util::{assert_no_fd_leak, open_fd_count};
use tulip::per_core::{Builder, DEFAULT_THREAD_NAME, ListenerMode, LoopContext, LoopGroup};
use tulip::prelude::*;
use tulip::transports::{Server, ServerOptions};
use tulip_tests::EVENT_TIMEOUT;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How many connections a test opens at most while waiting for the kernel
/// to hash one onto each `SO_REUSEPORT` socket: with two sockets, the
/// chance that 200 connections all land on one is 2^-199.
const MAX_CONNECTIONS: usize = 200;

/// How many threads of this process have a name starting with `prefix`
/// (the loop threads are `tulip-loop-N` unless renamed). Counting by name
/// leaves out the test harness's own threads, which come and go.
fn threads_named(prefix: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with(prefix))
        })
        .count()
}

/// The fds and loop threads of the process before a test, to compare with
/// after it.
struct Baseline {
    fds: usize,
    threads: usize,
    prefix: &'static str,
}

impl Baseline {
    fn now() -> Baseline {
        Baseline::named(DEFAULT_THREAD_NAME)
    }

    fn named(prefix: &'static str) -> Baseline {
        Baseline { fds: open_fd_count(), threads: threads_named(prefix), prefix }
    }

    /// Fails unless fds and loop threads are back to (at most) the
    /// baseline. A joined thread may linger in `/proc` for a moment after
    /// `pthread_join` returns, so the thread count is waited on.
    fn check(&self, what: &str) {
        assert_no_fd_leak(self.fds, what);
        let deadline = Instant::now() + EVENT_TIMEOUT;
        let mut now = threads_named(self.prefix);
        while now > self.threads && Instant::now() < deadline {
            std::thread::yield_now();
            now = threads_named(self.prefix);
        }
        assert!(now <= self.threads, "{what}: threads left ({} before, {now} after)", self.threads);
    }
}

/// Runs `f` on a helper thread and fails the test if it does not finish
/// within [`EVENT_TIMEOUT`] (a `shutdown` or `join` that hangs).
fn bounded<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let helper = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    let out = rx
        .recv_timeout(EVENT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{what} did not finish in {EVENT_TIMEOUT:?}: {e}"));
    helper.join().expect("helper thread");
    out
}

/// A protocol that greets each connection with its loop's index, echoes
/// what it receives, and counts the connections its loop accepted. When
/// `close_after_first` holds a server, the first connection closes it.
struct Tagged {
    index: u8,
    accepted: Rc<Cell<usize>>,
    close_after_first: Rc<OnceCell<Server>>,
    transport: Option<TransportRef>,
}

impl BaseProtocol for Tagged {
    fn connection_made(&mut self, transport: TransportRef) {
        self.accepted.set(self.accepted.get() + 1);
        if let Some(server) = self.close_after_first.get() {
            server.close();
        }
        let _ = transport.write(&[self.index]);
        self.transport = Some(transport);
    }
}

impl Protocol for Tagged {
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.transport {
            let _ = t.write(data);
        }
    }
}

/// What each loop's main reports.
#[derive(Debug)]
struct Served {
    index: usize,
    /// `/proc/self/fd` link of the loop's listening socket (`socket:[inode]`).
    socket: String,
    accepted: usize,
}

fn socket_identity(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("unreadable: {e}"))
}

/// A main serving [`Tagged`] on the loop's listener until shutdown; with
/// `close_after_first`, each loop stops listening after one connection.
async fn tagged_main(ctx: LoopContext, close_after_first: bool) -> tulip::Result<Served> {
    let accepted = Rc::new(Cell::new(0));
    let slot = Rc::new(OnceCell::new());
    let index = u8::try_from(ctx.index()).expect("a small group");
    let (a, s) = (accepted.clone(), slot.clone());
    let server = ctx
        .create_server(
            move || Tagged {
                index,
                accepted: a.clone(),
                close_after_first: s.clone(),
                transport: None,
            },
            ServerOptions::default(),
        )
        .await?;
    if close_after_first {
        let _ = slot.set(server.clone());
    }
    let socket = socket_identity(server.sockets()[0]);
    ctx.shutdown().await;
    server.close();
    Ok(Served { index: ctx.index(), socket, accepted: accepted.get() })
}

fn start_tagged(mode: ListenerMode, close_after_first: bool) -> LoopGroup<Served> {
    Builder::new()
        .loops(2)
        .listen("127.0.0.1:0".parse().unwrap())
        .listener_mode(mode)
        .start(move |ctx| tagged_main(ctx, close_after_first))
        .expect("start two loops")
}

/// Connects, reads the serving loop's index, checks an echo; returns the
/// index and the open connection.
fn tagged_connection(addr: SocketAddr) -> (u8, TcpStream) {
    let mut conn = TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(EVENT_TIMEOUT)).unwrap();
    let mut tag = [0u8; 1];
    conn.read_exact(&mut tag).expect("the loop's greeting");
    conn.write_all(b"ping").unwrap();
    let mut echo = [0u8; 4];
    conn.read_exact(&mut echo).expect("the echo");
    assert_eq!(&echo, b"ping");
    (tag[0], conn)
}

/// Whether the server side of `conn` has closed it (EOF or reset), within
/// the timeout.
fn assert_closed_by_server(conn: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 16];
    match conn.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("{what}: the server side stayed open: {other:?}"),
    }
}

fn assert_refused(addr: SocketAddr, what: &str) {
    let err = TcpStream::connect(addr).expect_err(what);
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{what}: {err}");
}

#[test]
fn reuse_port_loops_both_accept_and_shut_down_cleanly() {
    let _serial = serial();
    let base = Baseline::now();
    let group = start_tagged(ListenerMode::ReusePort, false);
    assert_eq!(group.loops(), 2);
    let addr = group.local_addr().expect("a listening group");
    assert_ne!(addr.port(), 0, "port 0 resolved to the bound port");

    // Open connections until the kernel's 4-tuple hash has put one on each
    // loop's socket. One connection per loop stays open over shutdown.
    let deadline = Instant::now() + EVENT_TIMEOUT;
    let mut kept: [Option<TcpStream>; 2] = [None, None];
    let mut per_loop = [0usize; 2];
    let mut made = 0;
    while kept.iter().any(Option::is_none) {
        assert!(
            made < MAX_CONNECTIONS && Instant::now() < deadline,
            "after {made} connections, accepted per loop: {per_loop:?}"
        );
        let (tag, conn) = tagged_connection(addr);
        made += 1;
        per_loop[usize::from(tag)] += 1;
        kept[usize::from(tag)].get_or_insert(conn);
    }
    // Both loops served a connection, so both threads run (and have set
    // their names).
    assert_eq!(threads_named(DEFAULT_THREAD_NAME), base.threads + 2, "two loop threads run");

    let results = bounded("shutdown", move || group.shutdown());
    let served: Vec<Served> = results.into_iter().map(|r| r.expect("a clean main")).collect();
    assert_eq!(served.iter().map(|s| s.index).collect::<Vec<_>>(), [0, 1]);
    assert_eq!([served[0].accepted, served[1].accepted], per_loop);
    assert_ne!(served[0].socket, served[1].socket, "SO_REUSEPORT: one socket per loop");
    assert!(served[0].socket.starts_with("socket:"), "{:?}", served[0].socket);

    // The loops closed the connections they still held, and the listeners.
    for conn in kept.iter_mut().flatten() {
        assert_closed_by_server(conn, "a connection open over shutdown");
    }
    assert_refused(addr, "a connection after shutdown");
    drop(kept);
    base.check("SO_REUSEPORT group");
}

#[test]
fn shared_listener_loops_both_accept_through_one_socket() {
    let _serial = serial();
    let base = Baseline::now();
    // Each loop closes its duplicate of the shared socket after its first
    // connection, so the second connection must be accepted by the other
    // loop through its own duplicate.
    let group = start_tagged(ListenerMode::Shared, true);
    let addr = group.local_addr().expect("a listening group");

    let (first, c1) = tagged_connection(addr);
    let (second, c2) = tagged_connection(addr);
    assert_ne!(first, second, "the second connection went to the other loop");
    // Both duplicates are closed, and the group kept no other: the socket
    // is gone.
    assert_refused(addr, "a connection once both loops stopped listening");

    let results = bounded("shutdown", move || group.shutdown());
    let served: Vec<Served> = results.into_iter().map(|r| r.expect("a clean main")).collect();
    assert_eq!(served[0].socket, served[1].socket, "shared: one socket, duplicated");
    assert_eq!([served[0].accepted, served[1].accepted], [1, 1]);
    drop((c1, c2));
    base.check("shared-listener group");
}

#[test]
fn a_bind_failure_starts_no_loop_and_leaks_nothing() {
    let _serial = serial();
    let occupied = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = occupied.local_addr().unwrap();
    let base = Baseline::now();
    for mode in [ListenerMode::ReusePort, ListenerMode::Shared] {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let err = Builder::new()
            .loops(2)
            .listen(addr)
            .listener_mode(mode)
            .start(move |_ctx| {
                c.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            })
            .expect_err("the address is in use");
        assert!(
            matches!(&err, Error::Transport(tulip::transports::Error::Bind { .. })),
            "{mode:?}: {err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Os);
        assert_eq!(err.io_error().map(io::Error::kind), Some(io::ErrorKind::AddrInUse));
        assert!(err.to_string().contains(&addr.to_string()), "names the address: {err}");
        assert_eq!(calls.load(Ordering::SeqCst), 0, "{mode:?}: no main ran");
        base.check("a failed bind");
    }
    drop(occupied);
}

#[test]
fn running_out_of_fds_on_a_later_loop_closes_the_sockets_bound_before() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let _serial = serial();
    let base = Baseline::now();
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    // Room for three listening sockets, not the eight asked for: the
    // fourth socket fails after three were bound.
    let limit = u64::try_from(base.fds).unwrap() + 3 + 1;
    setrlimit(Resource::RLIMIT_NOFILE, limit, hard).unwrap();
    let out = Builder::new()
        .loops(8)
        .listen("127.0.0.1:0".parse().unwrap())
        .start(|_ctx| async { Ok(()) });
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    let err = out.expect_err("the fd limit is reached");
    assert_eq!(err.raw_os_error(), Some(nix::libc::EMFILE), "{err:?}");
    base.check("a group whose fourth socket failed");
}

#[test]
fn zero_loops_is_an_invalid_argument() {
    let _serial = serial();
    let base = Baseline::now();
    let err = Builder::new()
        .loops(0)
        .listen("127.0.0.1:0".parse().unwrap())
        .start(|_ctx| async { Ok(()) })
        .expect_err("zero loops");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err:?}");
    assert!(err.to_string().contains("at least one loop"), "{err}");
    base.check("zero loops");
}

#[test]
fn a_panicking_main_fails_its_loop_and_shuts_down_the_others() {
    let _serial = serial();
    let base = Baseline::now();
    let group = Builder::new()
        .loops(2)
        .listen("127.0.0.1:0".parse().unwrap())
        .start(|ctx: LoopContext| {
            if ctx.index() == 1 {
                panic!("loop one gives up");
            }
            tagged_main(ctx, false)
        })
        .unwrap();
    // `join` only waits: it returns because the panic requested shutdown.
    let results = bounded("join after a panic", move || group.join());
    let served = results[0].as_ref().expect("loop 0 wound down cleanly");
    assert_eq!(served.index, 0);
    let err = results[1].as_ref().expect_err("loop 1 panicked");
    assert_eq!(err.kind(), ErrorKind::Panicked, "{err:?}");
    assert!(err.to_string().contains("loop one gives up"), "{err}");
    base.check("a group with a panicking main");
}

#[test]
fn a_main_returning_an_error_shuts_down_the_others() {
    let _serial = serial();
    let base = Baseline::now();
    let group = Builder::new()
        .loops(2)
        .listen("127.0.0.1:0".parse().unwrap())
        .start(|ctx: LoopContext| async move {
            if ctx.index() == 1 {
                // The listener can be taken once: the second server fails.
                let _first = ctx.create_server(Tagged::placeholder, Default::default()).await?;
                ctx.create_server(Tagged::placeholder, Default::default()).await?;
            }
            ctx.shutdown().await;
            Ok(())
        })
        .unwrap();
    let results = bounded("join after an error", move || group.join());
    assert!(results[0].is_ok(), "{:?}", results[0]);
    let err = results[1].as_ref().expect_err("loop 1 failed");
    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err:?}");
    assert!(err.to_string().contains("taken already"), "{err}");
    base.check("a group with a failing main");
}

impl Tagged {
    fn placeholder() -> Tagged {
        Tagged {
            index: 0,
            accepted: Rc::default(),
            close_after_first: Rc::default(),
            transport: None,
        }
    }
}

#[test]
fn a_main_that_ignores_shutdown_is_cancelled_after_the_grace_period() {
    let _serial = serial();
    let base = Baseline::now();
    let group = Builder::new()
        .loops(2)
        .listen("127.0.0.1:0".parse().unwrap())
        .shutdown_grace(Duration::from_millis(50))
        .start(|ctx: LoopContext| async move {
            let server = ctx.create_server(Tagged::placeholder, Default::default()).await?;
            if ctx.index() == 0 {
                // Never looks at ctx.shutdown(): only cancellation ends it
                // (and closes the server).
                server.serve_forever().await?;
                return Ok("serve_forever returned");
            }
            ctx.shutdown().await;
            server.close();
            Ok("wound down")
        })
        .unwrap();
    let addr = group.local_addr().unwrap();
    let results = bounded("shutdown with a deaf main", move || group.shutdown());
    let err = results[0].as_ref().expect_err("loop 0 was cancelled");
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err:?}");
    assert_eq!(results[1].as_ref().ok(), Some(&"wound down"));
    assert_refused(addr, "a connection after shutdown");
    base.check("a group with a cancelled main");
}

#[test]
fn the_default_is_one_loop_per_cpu_and_dropping_the_group_joins_them() {
    let _serial = serial();
    let base = Baseline::named("per-core-test");
    let cpus = std::thread::available_parallelism().unwrap().get();
    let builder = Builder::new().thread_name("per-core-test");
    assert_eq!(builder.loop_count(), cpus);
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let group = builder
        .start(move |ctx: LoopContext| {
            let s = s.clone();
            async move {
                // No address: there is no listener to serve.
                assert!(ctx.local_addr().is_none());
                let err = ctx.create_server(Tagged::placeholder, Default::default()).await;
                assert_eq!(err.unwrap_err().kind(), ErrorKind::InvalidState);
                let name = std::thread::current().name().map(str::to_owned);
                assert_eq!(name, Some(format!("per-core-test-{}", ctx.index())));
                assert_eq!(ctx.loops(), cpus);
                s.fetch_add(1, Ordering::SeqCst);
                ctx.shutdown().await;
                Ok(ctx.index())
            }
        })
        .unwrap();
    assert_eq!(group.loops(), cpus);
    assert!(group.local_addr().is_none());
    // Wait until every loop runs, then drop the group without calling
    // shutdown: the drop requests it and joins every thread.
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while started.load(Ordering::SeqCst) < cpus {
        assert!(Instant::now() < deadline, "the loops did not start");
        std::thread::yield_now();
    }
    assert!(!group.is_finished());
    bounded("drop", move || drop(group));
    base.check("a dropped group");
}
