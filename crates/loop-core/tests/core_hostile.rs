//! Hostile input to the loop's public entry points (issue 13, "Bad
//! input"): fd numbers that are not open, fds the selector cannot watch,
//! instants at the end of the clock, unrepresentable delays, degenerate
//! executor sizes and thresholds. Each gets a typed error or a defined
//! outcome — never a panic, a hang or a leaked fd.
//!
//! The tests of this file run one at a time: they count the process's open
//! fds, and one of them borrows an fd number that must stay closed.

mod core_util;

use std::cell::Cell;
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use core_util::{LIMIT, Watchdog, run_with_timeout};
use loop_core::test_util::{TestLoop, assert_no_fd_leak, iterations, open_fd_count};
use loop_core::{
    Error, Executor, Loop, ThreadPoolExecutor, as_completed, sleep, sleep_until, wait_for,
};
use rustix::io::Errno;

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// An fd number that is not open in this process: above every descriptor
/// the tests open (the kernel hands out the lowest free number), checked
/// with `fcntl`.
const CLOSED_FD: RawFd = 1_000_000;

/// A borrow of [`CLOSED_FD`], to hand a closed descriptor to the API the
/// only way safe code could ever reach it (a descriptor closed behind the
/// back of its owner).
fn closed_fd() -> BorrowedFd<'static> {
    // SAFETY: the number is not open (checked below) and nothing in this
    // test binary opens a million descriptors, so no syscall made through
    // this borrow can touch another owner's resource: each fails with
    // EBADF, which is exactly what the tests check.
    let fd = unsafe { BorrowedFd::borrow_raw(CLOSED_FD) };
    assert_eq!(rustix::io::fcntl_getfd(fd), Err(Errno::BADF), "fd {CLOSED_FD} is open");
    fd
}

#[track_caller]
fn assert_invalid_fd(r: Result<(), Error>, fd: RawFd, errno: Errno) {
    match r {
        Err(Error::InvalidFd { fd: got, source }) => {
            assert_eq!(got, fd);
            assert_eq!(source.raw_os_error(), Some(errno.raw_os_error()), "{source}");
        }
        other => panic!("expected InvalidFd({errno:?}) for fd {fd}, got {other:?}"),
    }
}

/// One non-blocking pass of the loop, bounded by a watchdog: the loop
/// still works after the refused calls.
fn one_pass(lp: &Loop) {
    let dog = Watchdog::new(lp, LIMIT);
    lp.stop();
    lp.run_forever().unwrap();
    dog.finish();
}

#[test]
fn a_closed_fd_number_is_invalid_fd_with_ebadf_and_registers_nothing() {
    let _s = serial();
    let fds = open_fd_count();
    let lp = Loop::new().unwrap();
    let fd = closed_fd();
    assert_invalid_fd(
        lp.add_reader(fd, || panic!("reader of a closed fd ran")),
        CLOSED_FD,
        Errno::BADF,
    );
    assert_invalid_fd(
        lp.add_writer(fd, || panic!("writer of a closed fd ran")),
        CLOSED_FD,
        Errno::BADF,
    );
    assert!(!lp.remove_reader(fd).unwrap(), "nothing was registered");
    assert!(!lp.remove_writer(fd).unwrap(), "nothing was registered");
    one_pass(&lp);
    lp.close().unwrap();
    assert_no_fd_leak(fds, "closed fd");
}

#[test]
fn fds_the_selector_cannot_poll_are_invalid_fd_with_eperm() {
    let _s = serial();
    let fds = open_fd_count();
    let lp = Loop::new().unwrap();
    // A directory and a character device without poll support: epoll
    // refuses both with EPERM, as it refuses regular files.
    let dir = File::open(std::env::temp_dir()).unwrap();
    let null = File::open("/dev/null").unwrap();
    for f in [&dir, &null] {
        let raw = f.as_raw_fd();
        assert_invalid_fd(lp.add_reader(f, || {}), raw, Errno::PERM);
        assert_invalid_fd(lp.add_writer(f, || {}), raw, Errno::PERM);
        assert!(!lp.remove_reader(f).unwrap());
        assert!(!lp.remove_writer(f).unwrap());
    }
    one_pass(&lp);
    lp.close().unwrap();
    drop((dir, null));
    assert_no_fd_leak(fds, "unpollable fds");
}

/// The latest instant the loop's clock can express (to the nanosecond).
fn end_of_clock(now: Instant) -> Instant {
    let (mut ok, mut bad) = (0u64, u64::MAX);
    while bad - ok > 1 {
        let mid = ok + (bad - ok) / 2;
        if now.checked_add(Duration::from_secs(mid)).is_some() { ok = mid } else { bad = mid }
    }
    let mut at = now + Duration::from_secs(ok);
    let (mut lo, mut hi) = (0u32, 1_000_000_000u32);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if at.checked_add(Duration::from_nanos(mid.into())).is_some() { lo = mid } else { hi = mid }
    }
    at += Duration::from_nanos(lo.into());
    assert!(at.checked_add(Duration::from_nanos(1)).is_none());
    at
}

#[test]
fn a_timer_at_the_end_of_the_clock_neither_fires_nor_stalls_the_loop() {
    let _s = serial();
    let lp = Loop::new().unwrap();
    let far = end_of_clock(lp.time());
    let h = lp.call_at(far, || panic!("the end of the clock came")).unwrap();
    assert_eq!(h.when(), far);
    // The poll timeout toward that deadline must neither overflow (a panic,
    // a timeout of zero: a busy loop) nor block past the near timer.
    let l2 = lp.clone();
    let start = Instant::now();
    lp.call_later(Duration::from_millis(20), move || l2.stop()).unwrap();
    let dog = Watchdog::new(&lp, LIMIT);
    let before = iterations(&lp);
    lp.run_forever().unwrap();
    dog.finish();
    let spun = iterations(&lp) - before;
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert!(spun < 20, "{spun} iterations in 20 ms: the far deadline made the loop spin");
    assert!(!h.cancelled());
    h.cancel();
    lp.close().unwrap();

    // On virtual time too: accepted, and a year later still not due. (The
    // virtual driver moves the clock by the loop's capped poll timeout,
    // one day per iteration, so the test does not run until the end.)
    let t = TestLoop::new().unwrap();
    let far = end_of_clock(t.time());
    let h = t.call_at(far, || panic!("the end of the clock came")).unwrap();
    t.advance(Duration::from_secs(365 * 24 * 3600));
    t.stop();
    t.run_forever().unwrap();
    assert_eq!(t.timer_count(), 1);
    h.cancel();
    t.close().unwrap();
}

#[test]
fn delays_past_the_end_of_the_clock_in_the_helpers() {
    let _s = serial();
    let lp = Loop::new().unwrap();
    let out = run_with_timeout(&lp, LIMIT, async {
        // sleep: a typed error at once, not a sleep that never ends.
        let e = sleep(Duration::MAX).await.expect_err("an unrepresentable sleep");
        assert!(matches!(e, Error::InvalidArgument(ref m) if m.contains("overflows")), "{e:?}");
        sleep(Duration::ZERO).await.unwrap();
        // An absolute deadline at the end of the clock is a deadline that
        // never comes: a timeout around it lets the work finish.
        let far = end_of_clock(loop_core::get_running_loop().unwrap().time());
        let raced = loop_core::timeout(Duration::from_millis(5), sleep_until(far)).await;
        assert!(matches!(raced, Err(Error::TimedOut { .. })), "{raced:?}");
        // wait_for and as_completed with a limit past the clock: no limit.
        let v = wait_for(async { 7 }, Some(Duration::MAX)).await.unwrap();
        let lp = loop_core::get_running_loop().unwrap();
        let task = lp.create_task(async { 8 }).unwrap();
        let mut each = as_completed([task]).with_timeout(Duration::MAX);
        let w = each.next().await.expect("one task").unwrap();
        (v, w)
    });
    assert_eq!(out, (7, 8));
    lp.close().unwrap();
}

#[test]
fn thread_pools_of_zero_and_unbounded_size_run_jobs() {
    let _s = serial();
    let lp = Loop::new().unwrap();
    // Zero workers means one (asyncio refuses 0; a pool that could never
    // run a job would hang its awaiters).
    let none = ThreadPoolExecutor::new(0);
    assert_eq!(none.max_workers(), 1);
    let huge = ThreadPoolExecutor::new(usize::MAX);
    assert_eq!(huge.max_workers(), usize::MAX);
    for pool in [&none, &huge] {
        let f = lp.run_in(pool, || 40 + 2);
        assert_eq!(run_with_timeout(&lp, LIMIT, f).unwrap(), 42);
    }
    // An unbounded pool starts threads on demand only: one per job that
    // found no idle worker, never `max_workers` of them.
    assert!(huge.worker_count() <= 1, "{} workers", huge.worker_count());
    none.shutdown(true);
    huge.shutdown(true);
    let err = run_with_timeout(&lp, LIMIT, lp.run_in(&none, || ())).unwrap_err();
    assert!(matches!(err, Error::ExecutorShutdown), "{err:?}");
    lp.close().unwrap();
}

#[test]
fn shutdown_default_executor_with_a_zero_or_unbounded_timeout_returns() {
    let _s = serial();
    let lp = Loop::new().unwrap();
    lp.set_default_executor(Arc::new(ThreadPoolExecutor::new(1)));
    let l2 = lp.clone();
    run_with_timeout(&lp, LIMIT, async move {
        l2.run_in_executor(|| ()).await.unwrap();
        // A job that outlives a zero timeout: the shutdown warns and returns.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let job = l2.run_in_executor(move || rx.recv_timeout(LIMIT).is_ok());
        l2.shutdown_default_executor_timeout(Some(Duration::ZERO)).await.unwrap();
        tx.send(()).unwrap();
        assert!(job.await.unwrap(), "the running job finished");
        // The executor is gone; another unbounded shutdown returns at once.
        l2.shutdown_default_executor_timeout(Some(Duration::MAX)).await.unwrap();
        let e = l2.run_in_executor(|| ()).await.unwrap_err();
        assert!(matches!(e, Error::ExecutorShutdown), "{e:?}");
    });
    lp.close().unwrap();

    // A fresh executor, shut down with a limit past the end of the clock:
    // no overflow, it waits for the (idle) threads and returns.
    let lp = Loop::new().unwrap();
    let l2 = lp.clone();
    run_with_timeout(&lp, LIMIT, async move {
        l2.run_in_executor(|| ()).await.unwrap();
        l2.shutdown_default_executor_timeout(Some(Duration::MAX)).await.unwrap();
    });
    lp.close().unwrap();
}

#[test]
fn extreme_slow_callback_thresholds_are_accepted() {
    let _s = serial();
    let lp = Loop::new().unwrap();
    lp.set_debug(true);
    for d in [Duration::ZERO, Duration::MAX] {
        lp.set_slow_callback_duration(d);
        assert_eq!(lp.slow_callback_duration(), d);
        let ran = Rc::new(Cell::new(0));
        for _ in 0..3 {
            let r = ran.clone();
            lp.call_soon(move || r.set(r.get() + 1)).unwrap();
        }
        one_pass(&lp);
        assert_eq!(ran.get(), 3);
    }
    lp.close().unwrap();
}
