//! Shared helpers for the process tests: a loop runner that checks fds,
//! zombies and children before and after, the helper binary's path, and a
//! protocol that records every callback.

#![allow(dead_code, unreachable_pub)]

use std::cell::RefCell;
use std::future::Future;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use loop_core::{Loop, LoopFuture};
use loop_process::{SubprocessProtocol, SubprocessTransport};
use loop_transports::BaseProtocol;

/// Generous limit for anything a test waits on.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The helper binary of the `tulip-process-helper` crate (built by `cargo
/// test --workspace`, which `cargo xtask ci` runs).
pub fn helper() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/tulip-process-helper
    let dir = exe.parent().and_then(|d| d.parent()).expect("target directory");
    let path = dir.join("tulip-process-helper");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p tulip-process-helper` (or `cargo test --workspace`)",
        path.display()
    );
    path
}

/// What this process looks like from /proc: open fds, children, zombies.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Census {
    pub fds: usize,
    pub children: Vec<i32>,
    pub zombies: Vec<i32>,
}

/// Counts this process's open fds, and its children (all, and zombies).
pub fn census() -> Census {
    let me = std::process::id() as i32;
    let mut children = Vec::new();
    let mut zombies = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Some((state, ppid)) = stat(pid) else { continue };
        if ppid == me {
            children.push(pid);
            if state == 'Z' {
                zombies.push(pid);
            }
        }
    }
    children.sort_unstable();
    zombies.sort_unstable();
    Census { fds: loop_core::test_util::open_fd_count(), children, zombies }
}

/// `(state, ppid)` of process `pid`, from /proc/<pid>/stat.
pub fn stat(pid: i32) -> Option<(char, i32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let mut it = rest.split_whitespace();
    let state = it.next()?.chars().next()?;
    let ppid = it.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Field `n` (1-based, as in proc(5)) of /proc/<pid>/stat.
pub fn stat_field(pid: i32, n: usize) -> Option<i64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    rest.split_whitespace().nth(n - 3)?.parse().ok()
}

/// How many pidfds this process holds.
pub fn pidfd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy() == "anon_inode:[pidfd]")
        })
        .count()
}

/// Polls `cond` (outside any loop) until it holds; panics after
/// [`TIMEOUT`] with `what`.
pub fn settle(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        poll_pause();
    }
}

/// Tests of one binary run one at a time (hold this guard) so that the
/// counts of fds and children are exact.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` on a fresh loop (failing after [`TIMEOUT`]), closes the loop,
/// then checks that no fd, child or zombie is left over.
pub fn run<T: 'static, F, Fut>(f: F) -> T
where
    F: FnOnce(Loop) -> Fut,
    Fut: Future<Output = T> + 'static,
{
    let _serial = serial();
    let before = census();
    assert!(before.zombies.is_empty(), "zombies before the test: {before:?}");
    let out = run_unchecked(f);
    check_clean(&before);
    out
}

/// Checks that the fds and children are back to `before` and no zombie
/// is left (waiting, with a deadline, for reaper threads).
pub fn check_clean(before: &Census) {
    let clean =
        |c: &Census| c.fds <= before.fds && c.children == before.children && c.zombies.is_empty();
    if !clean(&census()) {
        let last = std::cell::RefCell::new(census());
        let deadline = Instant::now() + TIMEOUT;
        while !clean(&last.borrow()) {
            assert!(
                Instant::now() < deadline,
                "left over: before {before:?}, after {:?}",
                last.borrow()
            );
            poll_pause();
            *last.borrow_mut() = census();
        }
    }
}

/// The pause between two reads of `/proc` in the deadline-bounded waits
/// above: a child's exit and a reaper thread's `waitid` have no event this
/// process can wait on, so the state is polled.
fn poll_pause() {
    std::thread::park_timeout(Duration::from_millis(2));
}

/// [`run`] without the checks and serialisation.
pub fn run_unchecked<T: 'static, F, Fut>(f: F) -> T
where
    F: FnOnce(Loop) -> Fut,
    Fut: Future<Output = T> + 'static,
{
    let lp = Loop::new().unwrap();
    let fut = f(lp.clone());
    let out = lp
        .run_until_complete(loop_core::timeout(TIMEOUT, fut))
        .expect("loop failed")
        .expect("test timed out");
    lp.close().unwrap();
    out
}

/// Awaits `fut` for at most [`TIMEOUT`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match loop_core::timeout(TIMEOUT, fut).await {
        Ok(v) => v,
        Err(e) => panic!("timed out waiting for {what}: {e}"),
    }
}

/// One recorded callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Made,
    Data(i32, Vec<u8>),
    PipeLost(i32, Option<String>),
    Exited(Option<i32>),
    Lost,
    Pause,
    Resume,
}

/// A protocol that records its callbacks; `done` resolves at
/// `connection_lost`.
pub struct Recorder {
    pub events: Vec<Ev>,
    pub transport: Option<Rc<SubprocessTransport>>,
    pub done: LoopFuture<()>,
    pub panic_on_data: bool,
}

impl Recorder {
    /// A factory, and the future resolved at `connection_lost`.
    pub fn factory(lp: &Loop) -> (impl FnOnce() -> Recorder + 'static, LoopFuture<()>) {
        let done = lp.create_future();
        let d = done.clone();
        (
            move || Recorder { events: Vec::new(), transport: None, done: d, panic_on_data: false },
            done,
        )
    }

    /// Everything pipe `fd` delivered, concatenated.
    pub fn output(&self, fd: i32) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            if let Ev::Data(f, d) = e {
                if *f == fd {
                    out.extend_from_slice(d);
                }
            }
        }
        out
    }

    /// The callbacks other than data and flow control, in order.
    pub fn sequence(&self) -> Vec<Ev> {
        self.events
            .iter()
            .filter(|e| !matches!(e, Ev::Data(..) | Ev::Pause | Ev::Resume))
            .cloned()
            .collect()
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("events", &self.events).finish()
    }
}

impl BaseProtocol<SubprocessTransport> for Recorder {
    fn connection_made(&mut self, t: Rc<SubprocessTransport>) {
        self.events.push(Ev::Made);
        self.transport = Some(t);
    }
    fn connection_lost(&mut self, error: Option<loop_transports::Error>) {
        assert!(error.is_none());
        self.events.push(Ev::Lost);
        // Drop the transport: the protocol ↔ transport cycle ends here.
        self.transport = None;
        let _ = self.done.set_result(());
    }
    fn pause_writing(&mut self) {
        self.events.push(Ev::Pause);
    }
    fn resume_writing(&mut self) {
        self.events.push(Ev::Resume);
    }
}

impl SubprocessProtocol for Recorder {
    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        assert!(!data.is_empty());
        self.events.push(Ev::Data(fd, data.to_vec()));
        if self.panic_on_data {
            panic!("protocol panics on purpose");
        }
    }
    fn pipe_connection_lost(&mut self, fd: i32, error: Option<loop_transports::Error>) {
        self.events.push(Ev::PipeLost(fd, error.map(|e| e.to_string())));
    }
    fn process_exited(&mut self) {
        let code = self.transport.as_ref().and_then(|t| t.get_returncode());
        self.events.push(Ev::Exited(code));
    }
}

/// Asserts the pinned order: `Made` first; one `PipeLost` per fd in
/// `pipes`, each after that fd's data; then `Exited`, then `Lost`, last.
pub fn assert_order(events: &[Ev], pipes: &[i32]) {
    assert_eq!(events.first(), Some(&Ev::Made), "{events:?}");
    assert_eq!(events.last(), Some(&Ev::Lost), "{events:?}");
    let n = events.len();
    assert!(matches!(events[n - 2], Ev::Exited(Some(_))), "{events:?}");
    let lost: Vec<i32> = events
        .iter()
        .filter_map(|e| if let Ev::PipeLost(fd, _) = e { Some(*fd) } else { None })
        .collect();
    let mut sorted = lost.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, pipes, "one pipe_connection_lost per pipe: {events:?}");
    for fd in pipes {
        let lost_at =
            events.iter().position(|e| matches!(e, Ev::PipeLost(f, _) if f == fd)).unwrap();
        assert!(lost_at < n - 2, "pipe {fd} lost after process_exited: {events:?}");
        let data_after = events[lost_at..].iter().any(|e| matches!(e, Ev::Data(f, _) if f == fd));
        assert!(!data_after, "data on pipe {fd} after its pipe_connection_lost: {events:?}");
    }
    assert_eq!(events.iter().filter(|e| **e == Ev::Made).count(), 1);
    assert_eq!(events.iter().filter(|e| matches!(e, Ev::Exited(_))).count(), 1);
    assert_eq!(events.iter().filter(|e| **e == Ev::Lost).count(), 1);
}

/// Runs `helper args…` through a [`Recorder`] and waits for
/// `connection_lost`; returns the transport and the protocol.
pub async fn run_helper(
    lp: &Loop,
    args: &[&str],
    opts: loop_process::SubprocessOptions,
) -> (Rc<SubprocessTransport>, Rc<RefCell<Recorder>>) {
    use loop_process::ProcessExt;
    let (factory, done) = Recorder::factory(lp);
    let (t, p) = lp.subprocess_exec(factory, helper(), args, opts).await.expect("spawn helper");
    within("connection_lost", done).await.unwrap();
    (t, p)
}
