//! CORE-02: run_forever, run_until_complete, stop, is_running, is_closed,
//! close.

mod core_util;

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use core_util::{LIMIT, Watchdog, drop_flag};
use loop_core::test_util::TestLoop;
use loop_core::{Error, Loop};

fn log() -> Rc<RefCell<Vec<&'static str>>> {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Rc<RefCell<Vec<&'static str>>>, what: &'static str) -> impl FnOnce() + 'static {
    let log = log.clone();
    move || log.borrow_mut().push(what)
}

#[test]
fn stop_before_run_forever_polls_once_without_blocking_and_runs_that_batch() {
    let lp = Loop::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(b"x").unwrap();
    let log = log();
    let l = log.clone();
    lp.add_reader(&a, move || l.borrow_mut().push("io")).unwrap();
    lp.call_soon(push(&log, "soon")).unwrap();
    let (l, lp2) = (log.clone(), lp.clone());
    lp.call_soon(move || {
        l.borrow_mut().push("soon2");
        // Scheduled by the batch: must wait for the next run.
        lp2.call_soon(push(&l, "next-run")).unwrap();
    })
    .unwrap();
    // Far in the future: the poll must not wait for it.
    lp.call_later(Duration::from_secs(3600), push(&log, "timer")).unwrap();

    lp.stop();
    let dog = Watchdog::new(&lp, LIMIT);
    lp.run_forever().unwrap();
    dog.finish();
    assert!(!lp.is_running());
    let mut got = log.borrow().clone();
    got.sort();
    assert_eq!(got, vec!["io", "soon", "soon2"], "exactly the batch of that poll ran");

    // The next run picks up what the batch scheduled.
    lp.stop();
    lp.run_forever().unwrap();
    assert!(log.borrow().contains(&"next-run"));
    assert!(!log.borrow().contains(&"timer"));
    lp.remove_reader(&a).unwrap();
    lp.close().unwrap();
}

#[test]
fn stop_before_run_forever_is_one_iteration() {
    let t = TestLoop::new().unwrap();
    t.stop();
    t.run_forever().unwrap();
    assert_eq!(t.iterations(), 1);
    // The stop request was consumed: the next run goes on until a callback
    // two iterations later stops it.
    let lp = t.handle().clone();
    t.call_soon(move || {
        let l2 = lp.clone();
        lp.call_soon(move || l2.stop()).unwrap();
    })
    .unwrap();
    t.run_forever().unwrap();
    assert_eq!(t.iterations(), 3);
    t.close().unwrap();
}

#[test]
fn stop_while_running_finishes_the_batch_and_defers_what_it_scheduled() {
    let t = TestLoop::new().unwrap();
    let log = log();
    let (l, lp) = (log.clone(), t.handle().clone());
    t.call_soon(move || {
        l.borrow_mut().push("a");
        lp.call_soon(push(&l, "c")).unwrap();
        lp.stop();
    })
    .unwrap();
    // Same batch as "a", after the stop request: still runs.
    t.call_soon(push(&log, "b")).unwrap();
    t.run_forever().unwrap();
    assert_eq!(*log.borrow(), vec!["a", "b"]);
    assert_eq!(t.iterations(), 1);

    // "c" runs on the next run.
    let lp = t.handle().clone();
    t.call_soon(move || lp.stop()).unwrap();
    t.run_forever().unwrap();
    assert_eq!(*log.borrow(), vec!["a", "b", "c"]);
    t.close().unwrap();
}

#[test]
fn is_running_only_while_running() {
    let lp = Loop::new().unwrap();
    assert!(!lp.is_running());
    let seen = Rc::new(Cell::new(false));
    let (s, lp2) = (seen.clone(), lp.clone());
    lp.run_until_complete(async move { s.set(lp2.is_running()) }).unwrap();
    assert!(seen.get());
    assert!(!lp.is_running());
    lp.close().unwrap();
}

#[test]
fn run_until_complete_returns_the_output_and_leaves_other_work_queued() {
    let t = TestLoop::new().unwrap();
    assert_eq!(t.run_until_complete(async { 41 + 1 }).unwrap(), 42);
    // A stop from a callback before the future completes is reported.
    let lp = t.handle().clone();
    t.call_soon(move || lp.stop()).unwrap();
    let fut = t.create_future::<u8>();
    let r = t.run_until_complete(fut);
    assert!(matches!(r, Err(Error::InvalidState(_))), "{r:?}");
    t.close().unwrap();
}

#[test]
fn close_while_running_is_an_error() {
    let lp = Loop::new().unwrap();
    let lp2 = lp.clone();
    let r = lp.run_until_complete(async move { lp2.close() }).unwrap();
    assert!(matches!(r, Err(Error::LoopRunning)), "{r:?}");
    assert!(!lp.is_closed());
    lp.close().unwrap();
}

#[test]
fn close_is_idempotent() {
    let lp = Loop::new().unwrap();
    assert!(!lp.is_closed());
    lp.close().unwrap();
    assert!(lp.is_closed());
    lp.close().unwrap();
    assert!(lp.is_closed());
}

#[test]
fn every_scheduling_call_fails_after_close() {
    let lp = Loop::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    let remote = lp.remote();
    lp.close().unwrap();

    let closed = |r: Result<(), Error>, what: &str| {
        assert!(matches!(r, Err(Error::LoopClosed)), "{what}: {r:?}");
    };
    closed(lp.call_soon(|| {}).map(drop), "call_soon");
    closed(lp.call_later(Duration::from_secs(1), || {}).map(drop), "call_later");
    closed(lp.call_at(lp.time(), || {}).map(drop), "call_at");
    closed(lp.call_before_poll(|| {}).map(drop), "call_before_poll");
    closed(lp.create_task(async {}).map(drop), "create_task");
    closed(lp.create_named_task("t", async {}).map(drop), "create_named_task");
    closed(lp.add_reader(&a, || {}), "add_reader");
    closed(lp.add_writer(&a, || {}), "add_writer");
    // Removing is not scheduling: as in asyncio, it answers false.
    assert!(!lp.remove_reader(&a).unwrap(), "remove_reader");
    assert!(!lp.remove_writer(&a).unwrap(), "remove_writer");
    closed(lp.run_forever(), "run_forever");
    closed(lp.run_until_complete(async {}), "run_until_complete");
    closed(lp.call_soon_threadsafe(|| {}), "call_soon_threadsafe");
    assert!(remote.is_closed());

    // From another thread, through the Send + Sync handle: a clear error,
    // no crash.
    let from_thread = std::thread::spawn(move || {
        let a = remote.call_soon_threadsafe(|| {});
        let b = remote.stop();
        let c = remote.spawn(async { 1 }).map(drop);
        (a, b, c)
    })
    .join()
    .unwrap();
    closed(from_thread.0, "remote call_soon_threadsafe");
    closed(from_thread.1, "remote stop");
    closed(from_thread.2, "remote spawn");
}

#[test]
fn close_drops_pending_callbacks_timers_readers_and_remote_calls() {
    let lp = Loop::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();

    let (g1, soon_dropped) = drop_flag();
    lp.call_soon(move || drop(g1)).unwrap();
    // The user keeps this handle: the closure must be released anyway.
    let (g2, kept_dropped) = drop_flag();
    let kept = lp.call_soon(move || drop(g2)).unwrap();
    let (g3, timer_dropped) = drop_flag();
    let timer = lp.call_later(Duration::from_secs(60), move || drop(g3)).unwrap();
    let (g4, reader_dropped) = drop_flag();
    lp.add_reader(&a, move || {
        let _ = &g4;
    })
    .unwrap();
    let sent_dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    struct SendFlag(std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl Drop for SendFlag {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let g5 = SendFlag(sent_dropped.clone());
    let remote = lp.remote();
    std::thread::spawn(move || remote.call_soon_threadsafe(move || drop(g5)).unwrap())
        .join()
        .unwrap();

    lp.close().unwrap();
    assert!(soon_dropped.get(), "a pending call_soon closure was not dropped");
    assert!(kept_dropped.get(), "a pending closure whose handle is kept was not dropped");
    assert!(timer_dropped.get(), "a pending timer closure was not dropped");
    assert!(reader_dropped.get(), "a reader closure was not dropped");
    assert!(sent_dropped.load(std::sync::atomic::Ordering::SeqCst), "a queued remote call");
    // Dropped, not run.
    drop((kept, timer));
}

#[test]
fn close_drops_pending_tasks() {
    let lp = Loop::new().unwrap();
    // A task that waits forever on a future nobody completes.
    let (guard, task_dropped) = drop_flag();
    let never = lp.create_future::<()>();
    let n2 = never.clone();
    let task = lp
        .create_task(async move {
            let _g = guard;
            let _ = n2.await;
        })
        .unwrap();
    // A task never polled.
    let (guard2, fresh_dropped) = drop_flag();
    let fresh = lp.create_task(async move { drop(guard2) }).unwrap();
    lp.stop();
    lp.run_forever().unwrap(); // polls both once: the first one waits.
    let (guard3, fresh2_dropped) = drop_flag();
    let fresh2 = lp.create_task(async move { drop(guard3) }).unwrap();
    assert!(!task.done());
    drop(never);

    lp.close().unwrap();
    assert!(fresh2_dropped.get(), "an unpolled task's future survived close");
    assert!(task.done() && task.cancelled(), "a task pending at close must end cancelled");
    assert!(fresh.done());
    assert!(fresh_dropped.get());
    drop((task, fresh2));
    assert!(task_dropped.get(), "a waiting task's future survived close and its handle");
}

#[test]
fn close_shuts_the_executor_down_without_waiting() {
    let lp = Loop::new().unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let job = lp.run_in_executor(move || {
        started_tx.send(()).unwrap();
        release_rx.recv_timeout(LIMIT).is_ok()
    });
    started_rx.recv_timeout(LIMIT).expect("the job started");
    // The job is blocked; close must return anyway.
    let (closed_tx, closed_rx) = mpsc::channel();
    let watchdog = std::thread::spawn(move || closed_rx.recv_timeout(LIMIT).is_ok());
    lp.close().unwrap();
    closed_tx.send(()).unwrap();
    assert!(watchdog.join().unwrap(), "close waited for the executor");
    drop(job);
    release_tx.send(()).unwrap();
    // A closed loop refuses executor work (asyncio: "Event loop is closed").
    let later = lp.run_in_executor(|| ());
    let r = futures_lite::future::block_on(later);
    assert!(matches!(r, Err(Error::LoopClosed)), "{r:?}");
}

#[test]
fn running_while_another_loop_runs_on_the_thread_is_an_error() {
    let outer = Loop::new().unwrap();
    let inner = Loop::new().unwrap();
    let i2 = inner.clone();
    let (a, b) = outer
        .run_until_complete(async move {
            let a = i2.run_forever();
            let b = i2.run_until_complete(async { 1 });
            (a, b)
        })
        .unwrap();
    assert!(matches!(a, Err(Error::AnotherLoopRunning)), "{a:?}");
    assert!(matches!(b, Err(Error::AnotherLoopRunning)), "{b:?}");
    // Nothing was left behind on the inner loop by the refused call.
    assert!(inner.all_tasks().is_empty());
    assert!(!inner.is_running());

    let t = TestLoop::new().unwrap();
    let lp = outer.clone();
    let tl = Rc::new(t);
    let t2 = tl.clone();
    let c = lp.run_until_complete(async move { t2.run_once() }).unwrap();
    assert!(matches!(c, Err(Error::AnotherLoopRunning)), "{c:?}");
    tl.close().unwrap();
    inner.close().unwrap();
    outer.close().unwrap();
}

#[test]
fn nested_run_is_an_error() {
    let lp = Loop::new().unwrap();
    let lp2 = lp.clone();
    let (a, b) = lp
        .run_until_complete(async move {
            let a = lp2.run_until_complete(async { 1 });
            let b = lp2.run_forever();
            (a.map(drop), b)
        })
        .unwrap();
    assert!(matches!(a, Err(Error::LoopRunning)), "{a:?}");
    assert!(matches!(b, Err(Error::LoopRunning)), "{b:?}");
    // The loop is still fine.
    assert_eq!(lp.run_until_complete(async { 7 }).unwrap(), 7);
    lp.close().unwrap();
}
