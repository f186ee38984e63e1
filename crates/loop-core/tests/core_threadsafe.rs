//! CORE-04: `call_soon_threadsafe` and `spawn` from other threads through
//! the `Send + Sync` `RemoteLoop`; the thread-affinity of the loop types,
//! checked at compile time.

mod core_util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use core_util::{LIMIT, Watchdog};
use loop_core::{Error, Loop, RemoteLoop, RemoteTask};

// ----- compile-time thread affinity -----

/// `assert_not_impl!(T: Send)` in the style of `static_assertions`: the
/// call to `some_item` is ambiguous (and so does not compile) exactly when
/// `T` implements the trait.
macro_rules! assert_not_impl {
    ($t:ty: $tr:path) => {
        const _: fn() = || {
            trait AmbiguousIfImpl<A> {
                fn some_item() {}
            }
            impl<T: ?Sized> AmbiguousIfImpl<()> for T {}
            #[allow(dead_code)]
            struct Invalid;
            impl<T: ?Sized + $tr> AmbiguousIfImpl<Invalid> for T {}
            let _ = <$t as AmbiguousIfImpl<_>>::some_item;
        };
    };
}

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}

assert_not_impl!(Loop: Send);
assert_not_impl!(Loop: Sync);
assert_not_impl!(loop_core::Task<u32>: Send);
assert_not_impl!(loop_core::TaskRef: Send);
assert_not_impl!(loop_core::Handle: Send);
assert_not_impl!(loop_core::LoopFuture<u32>: Send);
assert_not_impl!(loop_core::test_util::TestLoop: Send);

#[test]
fn thread_safe_types_are_send_and_sync() {
    assert_send_sync::<RemoteLoop>();
    assert_send::<RemoteTask<u32>>();
    assert_send_sync::<Error>();
}

// ----- waking a blocked loop -----

/// The calling thread's kernel id, from `/proc/thread-self`.
fn my_tid() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

/// Waits until thread `tid` of this process sleeps in the kernel (state `S`).
fn wait_until_sleeping(tid: u32) -> bool {
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        // The state follows the parenthesised command name.
        let state = stat.rsplit_once(')').unwrap().1.trim_start().chars().next();
        if state == Some('S') {
            return true;
        }
        std::thread::yield_now();
    }
    false
}

#[test]
fn call_soon_threadsafe_wakes_a_loop_blocked_with_no_timers() {
    let lp = Loop::new().unwrap();
    let (tid_tx, tid_rx) = mpsc::channel();
    lp.call_soon(move || tid_tx.send(my_tid()).unwrap()).unwrap();
    let remote = lp.remote();
    let helper = std::thread::spawn(move || {
        let tid = tid_rx.recv_timeout(LIMIT).expect("the loop started");
        // No timer and nothing ready: the loop blocks in epoll_wait for good.
        assert!(wait_until_sleeping(tid), "the loop thread never blocked");
        let sent = Instant::now();
        let (ran_tx, ran_rx) = mpsc::channel::<Instant>();
        remote.call_soon_threadsafe(move || ran_tx.send(Instant::now()).unwrap()).unwrap();
        let ran = ran_rx.recv_timeout(LIMIT);
        remote.stop().unwrap();
        (sent, ran)
    });
    // Wakes the loop through a socket if the wake-up under test is broken.
    let dog = Watchdog::new(&lp, LIMIT);
    lp.run_forever().unwrap();
    let fired = dog.fired();
    dog.finish();
    let (sent, ran) = helper.join().unwrap();
    assert!(!fired);
    let ran = ran.expect("the callback ran on the loop");
    assert!(ran - sent < Duration::from_secs(2), "woken only after {:?}", ran - sent);
    lp.close().unwrap();
}

#[test]
fn callbacks_from_many_threads_all_run_on_the_loop_thread() {
    let lp = Loop::new().unwrap();
    let loop_thread = std::thread::current().id();
    let count = Arc::new(AtomicUsize::new(0));
    const THREADS: usize = 8;
    const EACH: usize = 250;
    let mut threads = Vec::new();
    for _ in 0..THREADS {
        let remote = lp.remote();
        let count = count.clone();
        threads.push(std::thread::spawn(move || {
            for _ in 0..EACH {
                let (c, r) = (count.clone(), remote.clone());
                remote
                    .call_soon_threadsafe(move || {
                        assert_eq!(std::thread::current().id(), loop_thread);
                        if c.fetch_add(1, Ordering::SeqCst) + 1 == THREADS * EACH {
                            r.stop().unwrap();
                        }
                    })
                    .unwrap();
            }
        }));
    }
    let dog = Watchdog::new(&lp, LIMIT);
    lp.run_forever().unwrap();
    dog.finish();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(count.load(Ordering::SeqCst), THREADS * EACH);
    lp.close().unwrap();
}

#[test]
fn callbacks_from_one_thread_keep_their_order() {
    let lp = Loop::new().unwrap();
    let remote = lp.remote();
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        for i in 0..500 {
            let tx = tx.clone();
            remote.call_soon_threadsafe(move || tx.send(i).unwrap()).unwrap();
        }
        remote.stop().unwrap();
    });
    let dog = Watchdog::new(&lp, LIMIT);
    lp.run_forever().unwrap();
    dog.finish();
    t.join().unwrap();
    let got: Vec<i32> = rx.try_iter().collect();
    assert_eq!(got, (0..500).collect::<Vec<_>>());
    lp.close().unwrap();
}

#[test]
fn call_soon_threadsafe_after_close_is_a_clear_error() {
    let lp = Loop::new().unwrap();
    let remote = lp.remote();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (closed_tx, closed_rx) = mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        assert!(remote.call_soon_threadsafe(|| {}).is_ok());
        ready_tx.send(()).unwrap();
        closed_rx.recv_timeout(LIMIT).unwrap();
        assert!(remote.is_closed());
        let results = (0..100)
            .map(|_| remote.call_soon_threadsafe(|| panic!("ran after close")))
            .collect::<Vec<_>>();
        (results, remote.stop(), remote.spawn(async {}).map(drop))
    });
    ready_rx.recv_timeout(LIMIT).unwrap();
    lp.close().unwrap();
    closed_tx.send(()).unwrap();
    let (results, stop, spawn) = t.join().unwrap();
    assert!(results.iter().all(|r| matches!(r, Err(Error::LoopClosed))), "{results:?}");
    assert!(matches!(stop, Err(Error::LoopClosed)), "{stop:?}");
    assert!(matches!(spawn, Err(Error::LoopClosed)), "{spawn:?}");
    // The same from the loop's own handle.
    assert!(matches!(lp.call_soon_threadsafe(|| {}), Err(Error::LoopClosed)));
}

#[test]
fn remote_spawn_runs_send_futures_on_the_loop_and_returns_their_output() {
    let lp = Loop::new().unwrap();
    let remote = lp.remote();
    let loop_thread = std::thread::current().id();
    let t = std::thread::spawn(move || {
        let ok = remote
            .spawn(async move {
                // Runs on the loop thread, as a task of the loop.
                assert_eq!(std::thread::current().id(), loop_thread);
                assert!(loop_core::get_running_loop().is_ok());
                futures_lite::future::yield_now().await;
                21 * 2
            })
            .unwrap();
        let panicking = remote.spawn(async { panic!("remote boom") }).unwrap();
        let a = futures_lite::future::block_on(ok);
        let b: Result<(), Error> = futures_lite::future::block_on(panicking);
        remote.stop().unwrap();
        (a, b)
    });
    let dog = Watchdog::new(&lp, LIMIT);
    lp.run_forever().unwrap();
    dog.finish();
    let (a, b) = t.join().unwrap();
    assert_eq!(a.unwrap(), 42);
    assert!(matches!(&b, Err(Error::Panicked(m)) if m.contains("remote boom")), "{b:?}");
    lp.close().unwrap();
}

#[test]
fn remote_stop_stops_a_blocked_loop() {
    let lp = Loop::new().unwrap();
    let remote = lp.remote();
    let (tx, rx) = mpsc::channel::<()>();
    lp.call_soon(move || tx.send(()).unwrap()).unwrap();
    let t = std::thread::spawn(move || {
        rx.recv_timeout(LIMIT).unwrap();
        remote.stop().unwrap();
    });
    let dog = Watchdog::new(&lp, LIMIT);
    lp.run_forever().unwrap();
    assert!(!dog.fired());
    dog.finish();
    t.join().unwrap();
    lp.close().unwrap();
}

/// Awaits `task` on a helper thread; `None` if it did not resolve in time.
fn await_elsewhere<T: Send + 'static>(task: RemoteTask<T>) -> Option<Result<T, Error>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            futures_lite::future::block_on(task)
        }));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(LIMIT) {
        Ok(Ok(r)) => Some(r),
        Ok(Err(p)) => panic!(
            "awaiting the remote task panicked: {:?}",
            p.downcast_ref::<&str>().copied().or(p.downcast_ref::<String>().map(|s| s.as_str()))
        ),
        Err(_) => None,
    }
}

#[test]
fn a_remote_task_never_run_because_the_loop_closed_resolves_cancelled() {
    let lp = Loop::new().unwrap();
    let remote = lp.remote();
    let task = std::thread::spawn(move || remote.spawn(async { 1 }).unwrap()).join().unwrap();
    lp.close().unwrap();
    let r = await_elsewhere(task).expect("the remote task never resolved");
    assert!(matches!(r, Err(Error::Cancelled { .. })), "{r:?}");
}

#[test]
fn a_remote_task_woken_after_the_loop_closed_resolves_cancelled() {
    use std::sync::Mutex;
    use std::task::{Poll, Waker};
    let lp = Loop::new().unwrap();
    let remote = lp.remote();
    // A Send future that waits for a wake-up that never comes; the test
    // holds its waker.
    let parked: Arc<Mutex<Option<Waker>>> = Arc::default();
    let p = parked.clone();
    let task = remote
        .spawn(std::future::poll_fn(move |cx| {
            *p.lock().unwrap() = Some(cx.waker().clone());
            Poll::<u32>::Pending
        }))
        .unwrap();
    lp.stop();
    lp.run_forever().unwrap();
    assert!(parked.lock().unwrap().is_some(), "the future was polled");
    lp.close().unwrap();
    // Woken after close, from another thread: it can never run again.
    let waker = parked.lock().unwrap().take().unwrap();
    std::thread::spawn(move || waker.wake()).join().unwrap();
    let r = await_elsewhere(task).expect("the remote task never resolved");
    assert!(matches!(r, Err(Error::Cancelled { .. })), "{r:?}");
}

#[test]
fn a_remote_task_still_waiting_when_the_loop_closes_is_freed() {
    use std::sync::atomic::AtomicBool;
    /// Sets its flag when the future holding it is dropped.
    struct Freed(Arc<AtomicBool>);
    impl Drop for Freed {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let lp = Loop::new().unwrap();
    let remote = lp.remote();
    let freed = Arc::new(AtomicBool::new(false));
    let f = freed.clone();
    // Spawned from another thread; it waits for a wake-up nobody can give
    // (no one holds its waker).
    let task = std::thread::spawn(move || {
        remote
            .spawn(async move {
                let _freed = Freed(f);
                futures_lite::future::pending::<u32>().await
            })
            .unwrap()
    })
    .join()
    .unwrap();
    lp.stop();
    lp.run_forever().unwrap(); // polls it once: now it waits
    assert!(!freed.load(Ordering::SeqCst));
    lp.close().unwrap();
    assert!(freed.load(Ordering::SeqCst), "close did not free the waiting remote task");
    let r = await_elsewhere(task).expect("the remote task never resolved");
    assert!(matches!(r, Err(Error::Cancelled { .. })), "{r:?}");
}
