//! Shared helpers of the signal tests: serialization, waiting with a
//! timeout, a never-closed "keeper" loop, and child processes that re-run
//! the test binary.

// Each test binary uses a part of the helpers.
#![allow(dead_code)]

use std::cell::Cell;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, Once, PoisonError};
use std::time::{Duration, Instant};

use loop_core::Loop;
use loop_signals::{Signal, SignalExt};

/// How long any wait may take before the test fails.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

/// The environment variable that turns the test binary into a child
/// program; its value names the program.
pub(crate) const CHILD_ENV: &str = "LOOP_SIGNALS_TEST_CHILD";

/// Serializes the tests of one binary that install process-wide handlers
/// and send signals, so that one test's signals never reach another's loop.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps `SIGUSR1`, `SIGUSR2`, `SIGWINCH` and `SIGRTMIN` handled for the
/// rest of the process (a leaked loop with no-op handlers), so a test that
/// removes its handler while a signal is still on its way to another
/// thread cannot kill the test process. Tests of the restored default
/// disposition run in child processes instead.
pub(crate) fn keep_handled() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let keeper = Loop::new().expect("keeper loop");
        for sig in [Signal::SIGUSR1, Signal::SIGUSR2, Signal::SIGWINCH, Signal::rtmin()] {
            keeper.add_signal_handler(sig, || {}).expect("keeper handler");
        }
        std::mem::forget(keeper);
    });
}

/// A callback counter: its callbacks count their runs and stop the running
/// loop, so [`run_until`] returns promptly.
#[derive(Clone, Default)]
pub(crate) struct Counter(Rc<Cell<usize>>);

impl Counter {
    pub(crate) fn get(&self) -> usize {
        self.0.get()
    }

    /// A callback that counts a run and stops the running loop.
    pub(crate) fn callback(&self) -> impl FnMut() + 'static {
        let c = self.0.clone();
        move || {
            c.set(c.get() + 1);
            if let Ok(lp) = loop_core::get_running_loop() {
                lp.stop();
            }
        }
    }
}

/// Runs `lp` until `cond()` holds, failing the test after [`TIMEOUT`]. The
/// loop is stopped by the callbacks (see [`Counter`]) or by the deadline.
pub(crate) fn run_until(lp: &Loop, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("timed out after {TIMEOUT:?}"));
        let l2 = lp.clone();
        let watchdog = lp.call_later(left, move || l2.stop()).expect("watchdog timer");
        lp.run_forever().expect("run_forever");
        watchdog.cancel();
    }
}

/// Sends `sig` to this process.
pub(crate) fn kill_self(sig: Signal) {
    loop_signals::kill(std::process::id(), sig).expect("kill");
}

/// Sends `sig` to the calling thread: the handler has run when this
/// returns (unlike a process-directed `kill`, which another thread may
/// receive a little later).
pub(crate) fn raise(sig: nix::sys::signal::Signal) {
    nix::sys::signal::raise(sig).expect("raise");
}

/// Sets SIGINT's disposition to `handler` (tests of `run_with_sigint`
/// must not depend on what the test runner's shell left: a background job
/// inherits SIGINT ignored).
pub(crate) fn set_sigint(handler: nix::sys::signal::SigHandler) {
    // SAFETY: only SIG_DFL and SIG_IGN are passed by the tests; neither runs
    // code in signal context.
    unsafe { nix::sys::signal::signal(nix::sys::signal::Signal::SIGINT, handler) }
        .expect("signal(SIGINT)");
}

/// The child program this test binary was started as, if any.
pub(crate) fn child_program() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// Starts this test binary again, running only `test_name` with
/// [`CHILD_ENV`] set to `program`; stdout and stderr are piped.
pub(crate) fn spawn_child(test_name: &str, program: &str, args: &[&str]) -> Child {
    let exe = std::env::current_exe().expect("current_exe");
    Command::new(exe)
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, program)
        .env("LOOP_SIGNALS_TEST_ARGS", args.join(" "))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child")
}

/// The extra arguments given to [`spawn_child`].
pub(crate) fn child_args() -> Vec<String> {
    std::env::var("LOOP_SIGNALS_TEST_ARGS")
        .map(|a| a.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// What a child printed and how it ended.
#[derive(Debug)]
pub(crate) struct ChildOutput {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Waits for `child` (whose stdout may already be partly read: `seen`),
/// killing it and failing the test after [`TIMEOUT`].
pub(crate) fn wait_child(mut child: Child, seen: String) -> ChildOutput {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    std::thread::spawn(move || {
        let (mut out, mut err) = (String::new(), String::new());
        let _ = stdout.read_to_string(&mut out);
        let _ = stderr.read_to_string(&mut err);
        let status = child.wait().expect("wait for child");
        let _ = tx.send(ChildOutput { status, stdout: out, stderr: err });
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(mut out) => {
            out.stdout.insert_str(0, &seen);
            out
        }
        Err(_) => {
            let _ = loop_signals::kill(pid, Signal::SIGKILL);
            panic!("child {pid} did not finish within {TIMEOUT:?}");
        }
    }
}

/// Runs a child program to completion.
pub(crate) fn run_child(test_name: &str, program: &str, args: &[&str]) -> ChildOutput {
    wait_child(spawn_child(test_name, program, args), String::new())
}

/// Reads `child`'s stdout until a line containing `needle` appears; returns
/// everything read so far. Fails after [`TIMEOUT`].
pub(crate) fn read_until_line(child: &mut Child, needle: &str) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    let needle = needle.to_owned();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut seen = String::new();
        let mut line = String::new();
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            seen.push_str(&line);
            if line.contains(&needle) {
                seen.push_str(&String::from_utf8_lossy(reader.buffer()));
                let _ = tx.send((seen, reader.into_inner()));
                return;
            }
            line.clear();
        }
        let _ = tx.send((seen, reader.into_inner()));
    });
    let (seen, stdout) = rx.recv_timeout(TIMEOUT).unwrap_or_else(|_| {
        let _ = loop_signals::kill(child.id(), Signal::SIGKILL);
        panic!("child did not print the expected line within {TIMEOUT:?}")
    });
    child.stdout = Some(stdout);
    seen
}
