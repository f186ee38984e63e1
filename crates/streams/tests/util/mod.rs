//! Shared helpers for the stream tests: a loop runner with a watchdog and
//! an fd-leak check, deadlines on awaited events, exception capture, a
//! counting waker for hand-driven readers, Python asyncio peers, and test
//! certificates.

#![allow(dead_code, unreachable_pub)]

pub mod fake;
pub mod tls;

use std::cell::RefCell;
use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use loop_core::{ExceptionContext, Loop};

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
    // glibc's resolver keeps some fds open after its first use.
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(|| {
        use std::net::ToSocketAddrs;
        let _ = ("localhost", 0).to_socket_addrs();
    });
    let fds_before = loop_core::test_util::open_fd_count();
    let out = run_unchecked(f);
    loop_core::test_util::assert_no_fd_leak(fds_before, "the test");
    out
}

/// [`run`] without the fd-leak check.
pub fn run_unchecked<T: 'static, F, Fut>(f: F) -> T
where
    F: FnOnce(Loop) -> Fut,
    Fut: Future<Output = T> + 'static,
{
    let lp = Loop::new().unwrap();
    let fut = f(lp.clone());
    let l2 = lp.clone();
    let watchdog = lp.call_later(TIMEOUT * 2, move || l2.stop()).unwrap();
    let out = lp.run_until_complete(fut).expect("test timed out or failed");
    let l3 = lp.clone();
    lp.run_until_complete(async move { l3.shutdown_default_executor().await })
        .expect("executor shutdown")
        .expect("executor shutdown");
    watchdog.cancel();
    lp.close().unwrap();
    out
}

/// Awaits `fut`, failing the test if it takes longer than [`TIMEOUT`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    loop_core::timeout(TIMEOUT, fut).await.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Waits until `cond` holds, checking once per millisecond on the loop;
/// fails the test after [`TIMEOUT`].
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        loop_core::sleep(Duration::from_millis(1)).await.unwrap();
    }
}

/// Records exception-handler reports.
pub fn capture_exceptions(lp: &Loop) -> Rc<RefCell<Vec<ExceptionContext>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(Some(Rc::new(move |_, ctx| s.borrow_mut().push(ctx.clone()))));
    seen
}

/// Silences the default panic message for panics a test provokes.
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
            if !msg.starts_with("provoked") {
                prev(info);
            }
        }));
    });
}

/// A waker that counts its wake-ups.
#[derive(Default)]
pub struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls futures by hand and counts wake-ups.
pub struct Poller {
    counter: Arc<CountingWaker>,
    waker: Waker,
}

impl Poller {
    pub fn new() -> Self {
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        Poller { counter, waker }
    }

    /// Polls `fut` once.
    pub fn poll<F: Future + ?Sized>(&self, fut: Pin<&mut F>) -> Poll<F::Output> {
        fut.poll(&mut Context::from_waker(&self.waker))
    }

    /// Wake-ups so far.
    pub fn wakes(&self) -> usize {
        self.counter.0.load(Ordering::SeqCst)
    }
}

/// Starts a Python asyncio peer from `tests/peers/` with `args`; its stdout
/// is piped.
pub fn python(script: &str, args: &[&str]) -> Child {
    let path = format!("{}/tests/peers/{script}", env!("CARGO_MANIFEST_DIR"));
    Command::new("python3")
        .arg(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 is installed")
}

/// Reads one line of a child's stdout off the loop thread, with a deadline.
pub async fn read_line(lp: &Loop, stdout: ChildStdout) -> (String, ChildStdout) {
    let job = lp.run_in_executor(move || {
        // Byte by byte: nothing after the line is read ahead and lost.
        let mut stdout = stdout;
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        (String::from_utf8_lossy(&line).trim().to_owned(), stdout)
    });
    within("a line from the python peer", job).await.unwrap()
}

/// Waits for a child to exit (off the loop thread, with a deadline); its
/// remaining stdout and status.
pub async fn wait_child(lp: &Loop, child: Child) -> (String, std::process::ExitStatus) {
    let job = lp.run_in_executor(move || child.wait_with_output().unwrap());
    let out = within("the python peer to exit", job).await.unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), out.status)
}
