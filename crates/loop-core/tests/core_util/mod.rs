//! Shared helpers of the `core_*` integration tests: real-time watchdogs,
//! child-process runs (for environment variables and per-process thread
//! counts), tracing capture, and drop guards.
//!
//! Each test binary uses only part of this module.
#![allow(dead_code)]

use std::cell::Cell;
use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loop_core::{Loop, sleep};

/// The generous limit for anything that waits on real time: only a broken
/// loop ever reaches it.
pub(crate) const LIMIT: Duration = Duration::from_secs(10);

/// Runs `fut` on `lp`; panics if it takes longer than `limit` (a sleep on the
/// loop's clock races it, so a hung future fails instead of hanging).
pub(crate) fn run_with_timeout<F>(lp: &Loop, limit: Duration, fut: F) -> F::Output
where
    F: Future + 'static,
    F::Output: 'static,
{
    let raced = futures_lite::future::or(async move { Some(fut.await) }, async move {
        sleep(limit).await.expect("sleep");
        None
    });
    lp.run_until_complete(raced)
        .expect("run_until_complete")
        .unwrap_or_else(|| panic!("timed out after {limit:?}"))
}

/// A thread that stops the loop from outside if the test has not finished
/// within the limit. It wakes the loop through a socket the loop watches
/// (not through `RemoteLoop`, which some tests check), so a loop that fails
/// to wake up otherwise fails the test instead of hanging it. Call
/// [`Watchdog::finish`] when the test's waiting is over.
pub(crate) struct Watchdog {
    lp: Loop,
    watched: UnixStream,
    done: Option<mpsc::Sender<()>>,
    fired: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    pub(crate) fn new(lp: &Loop, limit: Duration) -> Self {
        let (watched, mut poke) = UnixStream::pair().expect("socketpair");
        let l2 = lp.clone();
        lp.add_reader(&watched, move || l2.stop()).expect("watch the watchdog socket");
        let (tx, rx) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let f2 = fired.clone();
        let thread = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                f2.store(true, Ordering::SeqCst);
                let _ = poke.write_all(b"!");
            }
        });
        Watchdog { lp: lp.clone(), watched, done: Some(tx), fired, thread: Some(thread) }
    }

    /// Whether the limit passed (the test failed).
    pub(crate) fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// Ends the watch; panics if it fired.
    pub(crate) fn finish(mut self) {
        self.stop();
        assert!(!self.fired(), "the watchdog fired: the loop did not get there in time");
    }

    fn stop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = self.lp.remove_reader(&self.watched);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sets a flag when dropped: shows that a closure or future was released.
pub(crate) struct DropFlag(pub Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// A drop flag and the shared cell that observes it.
pub(crate) fn drop_flag() -> (DropFlag, Rc<Cell<bool>>) {
    let cell = Rc::new(Cell::new(false));
    (DropFlag(cell.clone()), cell)
}

// ----- child processes -----

/// The environment variable that tells a test it runs as a child.
pub(crate) const CHILD_ENV: &str = "TULIP_CORE_TEST_CHILD";

/// Whether this process is a child started by [`run_child`].
pub(crate) fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Re-runs this test binary in a child process, running only the ignored
/// test `name`, with `envs` set (`None` removes a variable). Panics with the
/// child's output if it fails or takes longer than [`LIMIT`].
pub(crate) fn run_child(name: &str, envs: &[(&str, Option<&str>)]) {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--ignored", "--exact", name, "--nocapture", "--test-threads=1"]);
    cmd.env(CHILD_ENV, "1");
    for (k, v) in envs {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn the test binary");
    let pid = child.id();
    // A thread owns the child and collects its output (reading while it
    // runs, so a chatty child never blocks on a full pipe); we wait for
    // that with a deadline.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(LIMIT) {
        Ok(out) => out.expect("child output"),
        Err(_) => {
            if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            panic!("child test {name} did not finish within {LIMIT:?}");
        }
    };
    let status = out.status;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.success(),
        "child test {name} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "child test {name} did not run\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}

/// Names (`comm`) of this process's threads.
pub(crate) fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
        .map(|s| s.trim_end().to_owned())
        .collect()
}

/// How many threads of the default executor exist in this process.
pub(crate) fn executor_thread_count() -> usize {
    thread_names().iter().filter(|n| n.starts_with("tulip-executor")).count()
}

// ----- tracing capture -----

/// One captured tracing event.
#[derive(Clone, Debug)]
pub(crate) struct Captured {
    pub(crate) level: tracing::Level,
    pub(crate) target: String,
    /// The `message` field followed by the other fields, `k=v`.
    pub(crate) text: String,
}

/// A minimal subscriber that records every event. Install it for one thread
/// with `tracing::subscriber::with_default` (no global state, so tests stay
/// independent).
#[derive(Clone, Default)]
pub(crate) struct Recorder {
    events: Arc<Mutex<Vec<Captured>>>,
    next_span: Arc<AtomicU64>,
}

impl Recorder {
    pub(crate) fn events(&self) -> Vec<Captured> {
        self.events.lock().unwrap().clone()
    }

    /// Captured events whose text contains `needle`.
    pub(crate) fn matching(&self, needle: &str) -> Vec<Captured> {
        self.events().into_iter().filter(|e| e.text.contains(needle)).collect()
    }

    /// Runs `f` with this recorder as the thread's subscriber.
    pub(crate) fn capture<T>(&self, f: impl FnOnce() -> T) -> T {
        tracing::subscriber::with_default(self.clone(), f)
    }
}

struct TextVisitor<'a>(&'a mut String);

impl tracing::field::Visit for TextVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = String::new();
        event.record(&mut TextVisitor(&mut text));
        self.events.lock().unwrap().push(Captured {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            text,
        });
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Keeps the calling thread busy for `d`: a deliberately slow callback or
/// executor job (CPU-bound, as slow callbacks usually are).
pub(crate) fn busy_for(d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        std::hint::spin_loop();
    }
}
