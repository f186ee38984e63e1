//! Shared helpers for the integration tests: a loop runner with a
//! watchdog, condition waits with deadlines, a recording protocol, fd-leak
//! checks and Python peers.

#![allow(dead_code, unreachable_pub)]

pub mod tls;

use std::cell::RefCell;
use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use loop_core::{ExceptionContext, Loop, LoopFuture};
use loop_transports::{
    BaseProtocol, Error, NetExt, Protocol, Server, ServerOptions, StreamProtocolRef, TransportRef,
};

/// Generous limit for anything a test waits on.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `f` on a fresh loop; fails if it takes longer than [`TIMEOUT`].
/// Checks that no fd leaked once the loop is closed.
pub fn run<T: 'static, F, Fut>(f: F) -> T
where
    F: FnOnce(Loop) -> Fut,
    Fut: Future<Output = T> + 'static,
{
    // Tests of one binary run one at a time so that fd counts are exact.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // glibc's resolver keeps some fds (netlink, nscd) open after its first
    // use: resolve once before counting.
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(|| {
        use std::net::ToSocketAddrs;
        let _ = ("localhost", 0).to_socket_addrs();
        let _ = ("no-such-host.invalid", 0).to_socket_addrs();
    });
    let fds_before = loop_core::test_util::open_fd_count();
    let out = run_unchecked(f);
    loop_core::test_util::assert_no_fd_leak(fds_before, "the test");
    out
}

/// [`run`] without the fd-leak check and serialisation.
pub fn run_unchecked<T: 'static, F, Fut>(f: F) -> T
where
    F: FnOnce(Loop) -> Fut,
    Fut: Future<Output = T> + 'static,
{
    let lp = Loop::new().unwrap();
    let fut = f(lp.clone());
    let l2 = lp.clone();
    let watchdog = lp.call_later(TIMEOUT, move || l2.stop()).unwrap();
    let out = lp.run_until_complete(fut).expect("test timed out or failed");
    // Join the resolver threads: glibc keeps per-thread resolver sockets.
    let l3 = lp.clone();
    lp.run_until_complete(async move { l3.shutdown_default_executor().await })
        .expect("executor shutdown")
        .expect("executor shutdown");
    watchdog.cancel();
    lp.close().unwrap();
    out
}

/// Waits until `cond` holds, polling on the loop; panics after [`TIMEOUT`].
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        loop_core::sleep(Duration::from_millis(1)).await.unwrap();
    }
}

/// Awaits `fut` with a deadline.
pub async fn within<T: Clone + 'static>(what: &str, fut: LoopFuture<T>) -> T {
    let f2 = fut.clone();
    wait_until(what, move || f2.done()).await;
    fut.result().unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

/// Records exception-handler reports.
pub fn capture_exceptions(lp: &Loop) -> Rc<RefCell<Vec<ExceptionContext>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(Some(Rc::new(move |_, ctx| s.borrow_mut().push(ctx.clone()))));
    seen
}

/// What happened to a [`Recorder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Made,
    Data(Vec<u8>),
    Eof,
    Lost(Option<String>),
    Pause,
    Resume,
}

type Hook = Box<dyn FnMut(&TransportRef, &[u8])>;
type MadeHook = Box<dyn FnMut(&TransportRef)>;

/// A protocol that records every callback and can act on them.
pub struct Recorder {
    pub log: Rc<RefCell<Vec<Ev>>>,
    pub transport: Option<TransportRef>,
    pub lost: LoopFuture<Option<String>>,
    pub keep_open_on_eof: bool,
    pub on_made: Option<MadeHook>,
    pub on_data: Option<Hook>,
}

impl Recorder {
    pub fn new(lp: &Loop) -> Self {
        Recorder {
            log: Rc::default(),
            transport: None,
            lost: lp.create_future(),
            keep_open_on_eof: false,
            on_made: None,
            on_data: None,
        }
    }

    /// All data received so far, concatenated.
    pub fn data(log: &Rc<RefCell<Vec<Ev>>>) -> Vec<u8> {
        log.borrow()
            .iter()
            .filter_map(|e| if let Ev::Data(d) = e { Some(d.clone()) } else { None })
            .flatten()
            .collect()
    }
}

impl BaseProtocol for Recorder {
    fn connection_made(&mut self, t: TransportRef) {
        self.log.borrow_mut().push(Ev::Made);
        self.transport = Some(t.clone());
        if let Some(f) = self.on_made.as_mut() {
            f(&t);
        }
    }
    fn connection_lost(&mut self, error: Option<Error>) {
        let e = error.map(|e| e.to_string());
        self.log.borrow_mut().push(Ev::Lost(e.clone()));
        self.transport = None;
        let _ = self.lost.set_result(e);
    }
    fn pause_writing(&mut self) {
        self.log.borrow_mut().push(Ev::Pause);
    }
    fn resume_writing(&mut self) {
        self.log.borrow_mut().push(Ev::Resume);
    }
}

impl Protocol for Recorder {
    fn data_received(&mut self, data: &[u8]) {
        self.log.borrow_mut().push(Ev::Data(data.to_vec()));
        if let (Some(f), Some(t)) = (self.on_data.as_mut(), self.transport.as_ref()) {
            f(t, data);
        }
    }
    fn eof_received(&mut self) -> bool {
        self.log.borrow_mut().push(Ev::Eof);
        self.keep_open_on_eof
    }
}

/// An echo protocol.
#[derive(Default)]
pub struct Echo(pub Option<TransportRef>);

impl BaseProtocol for Echo {
    fn connection_made(&mut self, t: TransportRef) {
        self.0 = Some(t);
    }
}

impl Protocol for Echo {
    fn data_received(&mut self, data: &[u8]) {
        let _ = self.0.as_ref().unwrap().write(data);
    }
}

/// Whether `p` is the same protocol object as `q`.
pub fn same(p: &StreamProtocolRef, q: &StreamProtocolRef) -> bool {
    p.ptr_eq(q)
}

/// Closes a transport (helper to keep tests short).
pub fn close(t: &TransportRef) {
    t.close();
}

/// Starts a Python peer script from `tests/peers/` with `args`; its stdout
/// is piped.
pub fn python(script: &str, args: &[&str]) -> Child {
    let path = format!("{}/tests/peers/{script}", env!("CARGO_MANIFEST_DIR"));
    Command::new("python3")
        .arg(path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 is installed")
}

/// Waits (off the loop thread) for a child to exit, with a deadline; its
/// stdout and status.
pub async fn wait_child(lp: &Loop, child: Child) -> (String, std::process::ExitStatus) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let out = child.wait_with_output().unwrap();
        let _ = tx.send(out);
    });
    let _ = lp;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Ok(out) = rx.try_recv() {
            return (String::from_utf8_lossy(&out.stdout).into_owned(), out.status);
        }
        assert!(Instant::now() < deadline, "python peer did not finish");
        loop_core::sleep(Duration::from_millis(2)).await.unwrap();
    }
}

/// The recorders of a [`recording_server`]'s connections, as they come.
pub type Conns = Rc<RefCell<Vec<Rc<RefCell<Recorder>>>>>;

/// A server whose connections are recorded; returns the server and the
/// recorders' logs/lost futures as they come.
pub async fn recording_server(
    lp: &Loop,
    setup: impl Fn(&mut Recorder) + 'static,
) -> (Server, u16, Conns) {
    let conns: Conns = Rc::default();
    let c2 = conns.clone();
    let l2 = lp.clone();
    // The factory returns a shared recorder so the test can look at it.
    struct Shared(Rc<RefCell<Recorder>>);
    impl BaseProtocol for Shared {
        fn connection_made(&mut self, t: TransportRef) {
            self.0.borrow_mut().connection_made(t)
        }
        fn connection_lost(&mut self, e: Option<Error>) {
            self.0.borrow_mut().connection_lost(e)
        }
        fn pause_writing(&mut self) {
            self.0.borrow_mut().pause_writing()
        }
        fn resume_writing(&mut self) {
            self.0.borrow_mut().resume_writing()
        }
    }
    impl Protocol for Shared {
        fn data_received(&mut self, d: &[u8]) {
            self.0.borrow_mut().data_received(d)
        }
        fn eof_received(&mut self) -> bool {
            self.0.borrow_mut().eof_received()
        }
    }
    let server = lp
        .create_server(
            move || {
                let mut r = Recorder::new(&l2);
                setup(&mut r);
                let r = Rc::new(RefCell::new(r));
                c2.borrow_mut().push(r.clone());
                Shared(r)
            },
            "127.0.0.1",
            0,
            ServerOptions::default(),
        )
        .await
        .unwrap();
    let port = server.addresses()[0].port().unwrap();
    (server, port, conns)
}

/// Connects a [`Recorder`] client to `127.0.0.1:port`.
#[allow(dead_code)] // not every test binary connects
pub async fn connect_recorder(lp: &Loop, port: u16) -> (TransportRef, Rc<RefCell<Recorder>>) {
    let l2 = lp.clone();
    lp.create_connection(
        move || Recorder::new(&l2),
        "127.0.0.1",
        port,
        loop_transports::ConnectOptions::default(),
    )
    .await
    .unwrap()
}

/// An unlinked temporary file of `len` bytes with a recognisable pattern,
/// and those bytes. `tag` keeps concurrent test binaries apart.
#[allow(dead_code)] // not every test binary sends files
pub fn temp_file(tag: &str, len: usize) -> (std::fs::File, Vec<u8>) {
    use std::io::{Seek, SeekFrom, Write};
    let path = std::env::temp_dir().join(format!("tulip-{tag}-{}-{len}", std::process::id()));
    let data: Vec<u8> = (0..len).map(|i| (i % 239) as u8).collect();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    f.write_all(&data).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    std::fs::remove_file(&path).unwrap();
    (f, data)
}

/// A [`Recorder`] shared with the test: the protocol a factory returns.
pub struct SharedRecorder(pub Rc<RefCell<Recorder>>);

impl BaseProtocol for SharedRecorder {
    fn connection_made(&mut self, t: TransportRef) {
        self.0.borrow_mut().connection_made(t)
    }
    fn connection_lost(&mut self, e: Option<Error>) {
        self.0.borrow_mut().connection_lost(e)
    }
    fn pause_writing(&mut self) {
        self.0.borrow_mut().pause_writing()
    }
    fn resume_writing(&mut self) {
        self.0.borrow_mut().resume_writing()
    }
}

impl Protocol for SharedRecorder {
    fn data_received(&mut self, d: &[u8]) {
        self.0.borrow_mut().data_received(d)
    }
    fn eof_received(&mut self) -> bool {
        self.0.borrow_mut().eof_received()
    }
}

/// A relay (a proxy hop): bytes received are sent to 127.0.0.1:`port`
/// over plain TCP, and back.
pub struct Relay {
    lp: Loop,
    port: u16,
    upstream: Rc<RefCell<Option<TransportRef>>>,
    pending: Rc<RefCell<Vec<u8>>>,
}

impl Relay {
    pub fn new(lp: &Loop, port: u16) -> Self {
        Relay { lp: lp.clone(), port, upstream: Rc::default(), pending: Rc::default() }
    }
}

struct RelayBack(TransportRef);

impl BaseProtocol for RelayBack {
    fn connection_lost(&mut self, _: Option<Error>) {
        self.0.close();
    }
}

impl Protocol for RelayBack {
    fn data_received(&mut self, d: &[u8]) {
        let _ = self.0.write(d);
    }
}

impl BaseProtocol for Relay {
    fn connection_made(&mut self, down: TransportRef) {
        let (lp, port, up, pending) =
            (self.lp.clone(), self.port, self.upstream.clone(), self.pending.clone());
        self.lp
            .create_task(async move {
                let d2 = down.clone();
                let r = lp
                    .create_connection(
                        move || RelayBack(d2),
                        "127.0.0.1",
                        port,
                        loop_transports::ConnectOptions::default(),
                    )
                    .await;
                match r {
                    Ok((t, _)) => {
                        let data = std::mem::take(&mut *pending.borrow_mut());
                        if !data.is_empty() {
                            let _ = t.write(&data);
                        }
                        *up.borrow_mut() = Some(t);
                    }
                    Err(_) => down.abort(),
                }
            })
            .unwrap();
    }
    fn connection_lost(&mut self, _: Option<Error>) {
        if let Some(t) = self.upstream.borrow_mut().take() {
            t.close();
        }
    }
}

impl Protocol for Relay {
    fn data_received(&mut self, d: &[u8]) {
        match self.upstream.borrow().as_ref() {
            Some(t) => {
                let _ = t.write(d);
            }
            None => self.pending.borrow_mut().extend_from_slice(d),
        }
    }
}
