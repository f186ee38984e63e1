//! CORE-02 / CORE-09 resource hygiene: creating and closing loops leaks no
//! file descriptor, whatever the loops did.
//!
//! The tests of this file count the process's open fds, so they run one at a
//! time (and nothing else in this binary opens fds).

mod core_util;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use loop_core::test_util::{TestLoop, open_fd_count};
use loop_core::{Loop, sleep};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn creating_and_closing_100_loops_leaks_no_fd() {
    let _s = serial();
    let before = open_fd_count();
    for _ in 0..100 {
        let lp = Loop::new().unwrap();
        lp.close().unwrap();
    }
    assert_eq!(open_fd_count(), before);
    // The loops really hold fds while open (so the count can move).
    let lp = Loop::new().unwrap();
    assert!(open_fd_count() > before);
    lp.close().unwrap();
    drop(lp);
    assert_eq!(open_fd_count(), before);
}

#[test]
fn thread_safe_handles_outliving_their_loop_hold_no_fd() {
    let _s = serial();
    let before = open_fd_count();
    let mut remotes = Vec::new();
    for _ in 0..100 {
        let lp = Loop::new().unwrap();
        // Kept by other threads, for instance, long after the loop is gone.
        remotes.push(lp.remote());
        lp.close().unwrap();
    }
    assert_eq!(open_fd_count(), before, "closed loops' wake-up fds are still open");
    assert!(remotes.iter().all(|r| r.call_soon_threadsafe(|| {}).is_err()));
}

#[test]
fn loops_that_did_work_leak_no_fd() {
    let _s = serial();
    let before = open_fd_count();
    for i in 0..100u32 {
        let lp = Loop::new().unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"x").unwrap();
        // The callback owns a duplicate fd: close must release it too.
        let (l2, dup) = (lp.clone(), a.try_clone().unwrap());
        lp.add_reader(&a, move || {
            let _ = (&dup).read(&mut [0u8; 8]);
            l2.stop();
        })
        .unwrap();
        lp.call_later(Duration::from_secs(60), || {}).unwrap();
        let remote = lp.remote();
        std::thread::spawn(move || remote.call_soon_threadsafe(|| {}).unwrap()).join().unwrap();
        lp.run_forever().unwrap();
        let lp2 = lp.clone();
        let n = lp
            .run_until_complete(async move {
                sleep(Duration::from_millis(0)).await.unwrap();
                lp2.create_task(async move { i }).unwrap().await.unwrap()
            })
            .unwrap();
        assert_eq!(n, i);
        // Closed with the reader still registered: close releases it.
        lp.close().unwrap();
        drop((a, b));
    }
    assert_eq!(open_fd_count(), before);
}

#[test]
fn an_unclosed_dropped_loop_leaks_no_fd() {
    let _s = serial();
    let before = open_fd_count();
    for _ in 0..20 {
        let lp = Loop::new().unwrap();
        lp.call_soon(|| {}).unwrap();
        drop(lp);
        let t = TestLoop::new().unwrap();
        drop(t);
    }
    assert_eq!(open_fd_count(), before);
}

#[test]
fn a_socket_held_by_a_task_pending_at_close_is_released() {
    let _s = serial();
    let before = open_fd_count();
    let lp = Loop::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let never = lp.create_future::<()>();
    let n = never.clone();
    let task = lp
        .create_task(async move {
            let _held = (a, b);
            let _ = n.await;
        })
        .unwrap();
    lp.stop();
    lp.run_forever().unwrap();
    drop((task, never));
    lp.close().unwrap();
    drop(lp);
    assert_eq!(open_fd_count(), before, "the task's sockets outlived the closed loop");
}

#[test]
fn run_leaks_no_fd() {
    let _s = serial();
    let before = open_fd_count();
    for _ in 0..20 {
        loop_core::run(async {
            let lp = loop_core::get_running_loop().unwrap();
            lp.run_in_executor(|| ()).await.unwrap();
        })
        .unwrap();
    }
    assert_eq!(open_fd_count(), before);
}

#[test]
fn closing_the_loop_closes_its_driver_whatever_handles_remain() {
    let _s = serial();
    let before = open_fd_count();
    let lp = Loop::new().unwrap();
    let remote = lp.remote();
    let keep = lp.clone();
    assert!(open_fd_count() > before);
    lp.close().unwrap();
    // asyncio's close() closes the selector: no fd left, though a handle and
    // a thread-safe handle are still alive.
    assert_eq!(open_fd_count(), before);
    assert!(matches!(remote.call_soon_threadsafe(|| {}), Err(loop_core::Error::LoopClosed)));
    drop((keep, remote));
}
