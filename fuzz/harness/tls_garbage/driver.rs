//! Runs one [`Script`]: sets the peer and the adapter up, steps the loop
//! one iteration at a time through the exchange, the endings and the
//! drain, then checks what both sides recorded.

use std::cell::{Cell, RefCell};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use loop_core::Task;
use loop_core::test_util::{TestLoop, open_fd_count};
use loop_transports::{
    Error, NetExt, Result, StreamProtocolRef, TlsAccept, TlsConnect, TlsRole, TransportRef,
};

use super::app::{App, AppLog, Event};
use super::peer::{Peer, PeerLog};
use super::pki::{SERVER_NAME, client_config, server_config};
use super::script::{AppEnd, Entry, Mode, PeerEnd, Script, Side};

/// Iterations without any progress after which the exchange is quiet
/// (a socket pair delivers at once: a reply is seen two iterations after
/// the bytes that caused it).
const QUIET_ITERATIONS: u32 = 4;

/// The most iterations one phase may take: more is a livelock.
const MAX_ITERATIONS: u64 = 20_000;

/// Virtual time by which every side must be done: more is a hang (the
/// adapter's own timeouts are 60 s and 30 s).
const DEADLINE: Duration = Duration::from_secs(3600);

/// Most bytes the adapter may send beyond its application's data.
const OVERHEAD: usize = 64 * 1024;

/// Plaintext a side sends: a pattern that differs per side.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

struct Run<'a> {
    s: &'a Script,
    t: TestLoop,
    problems: Rc<RefCell<Vec<String>>>,
    peer_log: Rc<RefCell<PeerLog>>,
    peer: Option<Rc<RefCell<Peer>>>,
    peer_task: Task<Result<(TransportRef, Rc<RefCell<Peer>>)>>,
    app: Rc<RefCell<AppLog>>,
    adapter: Task<Result<TransportRef>>,
    attached: Rc<Cell<bool>>,
    outcome: Option<Result<TransportRef>>,
    /// The loop's time at the start.
    t0: std::time::Instant,
}

/// How a run ended, once every check passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The factory's or `start_tls`'s error (`None`: a TLS transport).
    pub outcome: Option<String>,
    /// The application's `connection_lost` argument, if it was called
    /// (`Some(None)`: a clean close).
    pub lost: Option<Option<String>>,
    /// Why the peer's TLS refused the adapter's bytes, if it did.
    pub peer_error: Option<String>,
    /// Bytes the peer sent, and received.
    pub peer_sent: usize,
    pub peer_received: usize,
    /// Faults that changed the peer's output.
    pub faults_applied: usize,
    /// Plaintext bytes each application received.
    pub app_got: usize,
    pub peer_got: usize,
    /// Virtual time the run took.
    pub elapsed: Duration,
}

/// An error's variant, with rustls' reason for TLS errors.
fn name(e: &Error) -> String {
    match e {
        Error::TlsHandshake(r) => format!("TlsHandshake({r:?})"),
        Error::Tls(r) => format!("Tls({r:?})"),
        Error::Io(io) => format!("Io({:?})", io.kind()),
        e => format!("{e:?}"),
    }
}

/// Runs `s`. Panics when a check fails.
pub fn run(s: &Script) -> Summary {
    // One run at a time per process: the fd check counts the process's
    // fds, and test threads run in parallel.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let fds = open_fd_count();
    let summary = {
        let mut r = Run::start(s);
        r.exchange();
        r.end();
        r.drain();
        r.check();
        r.t.close().expect("the loop closes");
        r.summary()
    };
    loop_core::test_util::assert_no_fd_leak(fds, &format!("{s:?}"));
    summary
}

impl<'a> Run<'a> {
    fn start(s: &'a Script) -> Run<'a> {
        let t = TestLoop::new().expect("a virtual-time loop");
        let t0 = t.time();
        let problems = Rc::new(RefCell::new(Vec::new()));
        let p = problems.clone();
        t.set_exception_handler(Some(Rc::new(move |_, ctx| {
            p.borrow_mut().push(format!("exception handler called: {ctx}"));
        })));
        // Keeps a timer in the heap, so a poll never blocks for good.
        t.call_later(2 * DEADLINE, || {}).expect("the watchdog timer");
        let (ours, theirs) = UnixStream::pair().expect("a socket pair");
        let (ours, theirs) = (OwnedFd::from(ours), OwnedFd::from(theirs));

        let real = match &s.mode {
            Mode::Raw(_) => None,
            Mode::Real(_) => Some((s.side == Side::Server, s.theirs)),
        };
        let faults = if let Mode::Real(f) = &s.mode { f.clone() } else { Vec::new() };
        let mut peer = Peer::new(real, faults, pattern(s.peer_data, 7));
        if s.peer_end == PeerEnd::Hold {
            peer.hold();
        }
        let peer_log = peer.log.clone();
        let lp = t.handle().clone();
        let peer_task = t
            .create_task(async move { lp.connect_accepted_socket(move || peer, theirs).await })
            .expect("the peer's task");

        let app = Rc::new(RefCell::new(AppLog::default()));
        let attached = Rc::new(Cell::new(false));
        let adapter = Self::adapter(&t, s, ours, &app, &attached);
        let mut r = Run {
            s,
            t,
            problems,
            peer_log,
            peer: None,
            peer_task,
            app,
            adapter,
            attached,
            outcome: None,
            t0,
        };
        r.quiesce("the peer's setup", |r| r.peer_task.done());
        let peer = match r.peer_task.try_take() {
            Ok(Ok((_, peer))) => peer,
            other => panic!("the peer's transport: {:?}", other.err()),
        };
        r.peer = Some(peer);
        r
    }

    fn adapter(
        t: &TestLoop,
        s: &Script,
        fd: OwnedFd,
        log: &Rc<RefCell<AppLog>>,
        attached: &Rc<Cell<bool>>,
    ) -> Task<Result<TransportRef>> {
        let lp = t.handle().clone();
        let client = TlsConnect::new(client_config(s.ours)).server_hostname(SERVER_NAME);
        let server = TlsAccept::new(server_config(s.ours));
        let made_writes = (s.entry == Entry::Factory).then(|| pattern(s.app_data, 101));
        let app = App { log: log.clone(), write_on_made: made_writes, pause: s.pause };
        let (side, entry, attached) = (s.side, s.entry, attached.clone());
        let task = t.create_task(async move {
            match (entry, side) {
                (Entry::Factory, Side::Client) => lp
                    .create_unix_connection_tls(move || app, None, Some(fd), client)
                    .await
                    .map(|(t, _)| t),
                (Entry::Factory, Side::Server) => {
                    lp.connect_accepted_socket_tls(move || app, fd, server).await.map(|(t, _)| t)
                }
                (Entry::StartTls, side) => {
                    let (plain, app) = lp.connect_accepted_socket(move || app, fd).await?;
                    let role = match side {
                        Side::Client => TlsRole::Client(client),
                        Side::Server => TlsRole::Server(server),
                    };
                    let upgrade = lp.start_tls(&plain, StreamProtocolRef::streaming(app), role);
                    // The layer is attached at the first poll, in this same
                    // task step: the peer may speak from now on.
                    attached.set(true);
                    upgrade.await
                }
            }
        });
        task.expect("the adapter's task")
    }

    fn peer(&self) -> std::cell::RefMut<'_, Peer> {
        self.peer.as_ref().expect("the peer is connected").borrow_mut()
    }

    /// Progress markers: when none moves for a few iterations, the
    /// exchange is quiet.
    fn progress(&self) -> (usize, usize, bool, usize, usize, bool, bool) {
        let (p, a) = (self.peer_log.borrow(), self.app.borrow());
        let done = self.adapter.done();
        (p.received, p.sent, p.lost, a.events.len(), a.got.len(), done, self.attached.get())
    }

    /// One iteration; with `busy`, a callback is queued first so that
    /// virtual time stands still. (Waiting with a timeout moves the
    /// virtual clock even when a socket is ready, so time may only pass
    /// once nothing is in flight.)
    fn step(&mut self, busy: bool, what: &str, start: u64) {
        if busy {
            self.t.call_soon(|| {}).expect("the loop is open");
        }
        self.t.run_once().expect("an iteration");
        self.after_step();
        let took = self.t.iterations() - start;
        let elapsed = self.t.time() - self.t0;
        assert!(
            took < MAX_ITERATIONS && elapsed < DEADLINE,
            "{what}: not done after {took} iterations and {elapsed:?} of virtual time \
             ({:?}); app {:?}, peer {:?}, problems {:?}",
            self.s,
            self.app.borrow(),
            self.peer_log.borrow(),
            self.problems.borrow()
        );
    }

    /// Steps, time standing still, until `done` or until nothing moved for
    /// a few iterations.
    fn quiesce(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let start = self.t.iterations();
        let mut last = self.progress();
        let mut quiet = 0;
        while quiet < QUIET_ITERATIONS && !done(self) {
            self.step(true, what, start);
            let now = self.progress();
            if now == last {
                quiet += 1;
            } else {
                last = now;
                quiet = 0;
            }
        }
    }

    /// After every iteration: arm the peer once the adapter is attached;
    /// take the adapter's outcome, and with `start_tls`, write the
    /// application's data on the transport it returned.
    fn after_step(&mut self) {
        if (self.attached.get() || self.s.entry == Entry::Factory)
            && let Some(peer) = &self.peer
            && !peer.borrow().armed()
        {
            peer.borrow_mut().arm();
        }
        if self.outcome.is_none() && self.adapter.done() {
            let out = self.adapter.try_take().unwrap_or_else(|e| panic!("the adapter's task: {e}"));
            if let (Ok(t), Entry::StartTls) = (&out, self.s.entry) {
                let mut app = self.app.borrow_mut();
                app.tls = Some(t.clone());
                app.write(&pattern(self.s.app_data, 101));
            }
            self.outcome = Some(out);
        }
    }

    /// The exchange: the peer's garbage chunk by chunk (or its real TLS,
    /// event by event) until quiet.
    fn exchange(&mut self) {
        self.quiesce("the handshake", |_| false);
        if let Mode::Raw(chunks) = &self.s.mode {
            for chunk in chunks {
                self.peer().send_raw(chunk);
                self.quiesce("a garbage chunk", |_| false);
            }
        }
        let paused = std::mem::take(&mut self.app.borrow_mut().paused);
        if paused {
            let tls = self.app.borrow().tls.clone();
            tls.expect("paused on a TLS transport").resume_reading();
            self.quiesce("resumed reading", |_| false);
        }
    }

    /// The scripted endings; a connection both sides would keep open is
    /// closed by the application.
    fn end(&mut self) {
        match self.s.peer_end {
            PeerEnd::Eof => self.peer().write_eof(),
            PeerEnd::Close => {
                if let Some(t) = self.peer().transport() {
                    t.close();
                }
            }
            PeerEnd::Notify => {
                self.peer().notify();
                self.peer().write_eof();
            }
            PeerEnd::NotifyOnly => self.peer().notify(),
            PeerEnd::Hold => {}
        }
        let app_end = match (self.s.app_end, self.s.peer_end) {
            (AppEnd::Nothing, PeerEnd::Hold) => AppEnd::Close,
            (end, _) => end,
        };
        let tls = self.app.borrow().tls.clone();
        if let Some(tls) = tls {
            match app_end {
                AppEnd::Nothing => {}
                AppEnd::Close => tls.close(),
                AppEnd::Abort => tls.abort(),
            }
        }
    }

    /// Whether every side is done: the adapter's outcome is in, the
    /// peer's connection is lost, and so is the application's if it was
    /// made.
    fn finished(&self) -> bool {
        let app = self.app.borrow();
        let made = app.events.iter().any(|e| matches!(e, Event::Made));
        let lost = app.events.iter().any(|e| matches!(e, Event::Lost(_)));
        self.outcome.is_some() && self.peer_log.borrow().lost && (!made || lost)
    }

    /// Lets time run (timeouts fire) until every side is done: whenever
    /// the exchange is quiet, one iteration may wait for the next timer.
    fn drain(&mut self) {
        let start = self.t.iterations();
        loop {
            self.quiesce("the ending", Self::finished);
            if self.finished() {
                return;
            }
            self.step(false, "the ending", start);
        }
    }
}

/// A typed outcome: a TLS error, or the socket pair's broken-pipe or reset.
fn typed(e: &Error) -> bool {
    match e {
        Error::TlsHandshake(_)
        | Error::TlsHandshakeEof
        | Error::TlsHandshakeTimeout(_)
        | Error::Tls(_)
        | Error::TlsShutdownTimeout(_) => true,
        Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ),
        _ => false,
    }
}

impl Run<'_> {
    fn summary(&self) -> Summary {
        let (app, peer) = (self.app.borrow(), self.peer_log.borrow());
        let lost = app.events.iter().find_map(|e| match e {
            Event::Lost(l) => Some(l.as_ref().map(name)),
            _ => None,
        });
        Summary {
            outcome: self.outcome.as_ref().and_then(|o| o.as_ref().err()).map(name),
            lost,
            peer_error: peer.tls_error.as_ref().map(|e| format!("{e:?}")),
            peer_sent: peer.sent,
            peer_received: peer.received,
            faults_applied: peer.faults_applied,
            app_got: app.got.len(),
            peer_got: peer.plain_got.len(),
            elapsed: self.t.time() - self.t0,
        }
    }

    fn check(&self) {
        let s = self.s;
        let (app, peer) = (self.app.borrow(), self.peer_log.borrow());
        let ctx = || format!("{s:?}\napp events {:?}\npeer {peer:?}", app.events);
        let problems = self.problems.borrow();
        assert!(problems.is_empty(), "{}: {}", ctx(), problems.join("; "));

        // The outcome of the factory or of start_tls is typed.
        let outcome = self.outcome.as_ref().expect("the adapter is done");
        if let Err(e) = outcome {
            assert!(typed(e), "the adapter failed with an untyped error {e:?}: {}", ctx());
        }

        // The callbacks, in order.
        let made = app.events.iter().filter(|e| matches!(e, Event::Made)).count();
        let lost: Vec<&Option<Error>> = app
            .events
            .iter()
            .filter_map(|e| if let Event::Lost(l) = e { Some(l) } else { None })
            .collect();
        match (s.entry, outcome.is_ok()) {
            // A failed handshake never reaches the application.
            (Entry::Factory, false) => assert!(app.events.is_empty(), "{}", ctx()),
            // The plain transport connected the protocol; the layer
            // reports the end (even of a failed upgrade).
            _ => assert_eq!((made, lost.len()), (1, 1), "made and lost once: {}", ctx()),
        }
        if let Some(Event::Made) = app.events.first() {
            assert!(matches!(app.events.last(), Some(Event::Lost(_))), "lost last: {}", ctx());
        }
        if let Some(Some(e)) = lost.first() {
            assert!(typed(e), "connection_lost got an untyped error {e:?}: {}", ctx());
        }
        let eofs: Vec<usize> =
            (0..app.events.len()).filter(|&i| matches!(app.events[i], Event::Eof)).collect();
        assert!(eofs.len() <= 1, "eof_received twice: {}", ctx());
        if let Some(&i) = eofs.first() {
            let late = app.events[i..].iter().any(|e| matches!(e, Event::Data(_)));
            assert!(!late, "data after eof_received: {}", ctx());
        }

        // Nothing corrupted reaches either application.
        let sent = pattern(s.peer_data, 7);
        assert!(sent.starts_with(&app.got), "the application got bytes never sent: {}", ctx());
        assert!(
            app.written.starts_with(&peer.plain_got),
            "the peer decrypted bytes never written: {}",
            ctx()
        );
        // Bounded: handshake and alerts on top of the application's data.
        assert!(
            peer.received <= app.written.len() + OVERHEAD,
            "the adapter sent {} bytes for {} of data: {}",
            peer.received,
            app.written.len(),
            ctx()
        );

        // A clean exchange must work: no fault, versions in common.
        let clean = matches!(&s.mode, Mode::Real(_)) && peer.faults_applied == 0;
        if clean && s.ours.meets(s.theirs) {
            assert!(outcome.is_ok(), "a clean handshake failed: {}", ctx());
            assert_eq!(app.got.len(), s.peer_data, "the application's data: {}", ctx());
            assert_eq!(app.written.len(), s.app_data, "{}", ctx());
            assert_eq!(peer.plain_got.len(), s.app_data, "the peer's data: {}", ctx());
        }
    }
}
