//! CORE-10: `run_in_executor`, `set_default_executor`,
//! `shutdown_default_executor`. Thread counts are checked in a child process,
//! where no other test starts executor threads.

mod core_util;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Instant;

use core_util::{LIMIT, executor_thread_count, is_child, run_child, run_with_timeout};
use loop_core::{Error, Executor, Job, Loop, ThreadPoolExecutor};

#[test]
fn blocking_work_does_not_block_the_loop() {
    let lp = Loop::new().unwrap();
    let (release_tx, release_rx) = mpsc::channel::<u32>();
    let job = lp.run_in_executor(move || {
        // Blocks until the loop, still running callbacks, releases it.
        release_rx.recv_timeout(LIMIT).expect("released by the loop") * 2
    });
    let ticks = Rc::new(Cell::new(0u32));
    fn tick(lp: Loop, ticks: Rc<Cell<u32>>, release: mpsc::Sender<u32>) {
        ticks.set(ticks.get() + 1);
        if ticks.get() == 100 {
            release.send(21).unwrap();
        } else {
            let l2 = lp.clone();
            lp.call_soon(move || tick(l2, ticks, release)).unwrap();
        }
    }
    let (l2, t2) = (lp.clone(), ticks.clone());
    lp.call_soon(move || tick(l2, t2, release_tx)).unwrap();
    let out = run_with_timeout(&lp, LIMIT, job);
    assert_eq!(out.unwrap(), 42);
    assert_eq!(ticks.get(), 100, "the loop ran its callbacks while the job blocked");
    lp.close().unwrap();
}

#[test]
fn many_blocking_jobs_complete() {
    let lp = Loop::new().unwrap();
    let lp2 = lp.clone();
    let sum = run_with_timeout(&lp, LIMIT, async move {
        let jobs: Vec<_> = (0..64u64).map(|i| lp2.run_in_executor(move || i * i)).collect();
        let mut sum = 0;
        for j in jobs {
            sum += j.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, (0..64u64).map(|i| i * i).sum());
    lp.close().unwrap();
}

#[test]
fn a_panicking_job_is_reported_as_panicked() {
    let lp = Loop::new().unwrap();
    let job = lp.run_in_executor(|| -> u32 { panic!("job boom") });
    let r = run_with_timeout(&lp, LIMIT, job);
    assert!(matches!(&r, Err(Error::Panicked(m)) if m.contains("job boom")), "{r:?}");
    // The pool still works.
    let ok = lp.run_in_executor(|| 5);
    assert_eq!(run_with_timeout(&lp, LIMIT, ok).unwrap(), 5);
    lp.close().unwrap();
}

#[test]
fn run_in_executor_after_shutdown_default_executor_fails() {
    let lp = Loop::new().unwrap();
    let warm = lp.run_in_executor(|| 1);
    assert_eq!(run_with_timeout(&lp, LIMIT, warm).unwrap(), 1);
    let lp2 = lp.clone();
    run_with_timeout(&lp, LIMIT, async move { lp2.shutdown_default_executor().await }).unwrap();
    let after = lp.run_in_executor(|| 1);
    let r = run_with_timeout(&lp, LIMIT, after);
    assert!(matches!(r, Err(Error::ExecutorShutdown)), "{r:?}");
    // Shutting down twice is fine.
    let lp2 = lp.clone();
    run_with_timeout(&lp, LIMIT, async move { lp2.shutdown_default_executor().await }).unwrap();
    // A new default executor can be installed.
    lp.set_default_executor(Arc::new(ThreadPoolExecutor::new(1)));
    let again = lp.run_in_executor(|| 2);
    assert_eq!(run_with_timeout(&lp, LIMIT, again).unwrap(), 2);
    lp.close().unwrap();
}

#[test]
fn shutdown_default_executor_before_first_use_also_refuses_work() {
    let lp = Loop::new().unwrap();
    let lp2 = lp.clone();
    run_with_timeout(&lp, LIMIT, async move { lp2.shutdown_default_executor().await }).unwrap();
    let r = run_with_timeout(&lp, LIMIT, lp.run_in_executor(|| 1));
    assert!(matches!(r, Err(Error::ExecutorShutdown)), "{r:?}");
    lp.close().unwrap();
}

#[test]
fn shutdown_default_executor_waits_for_running_jobs() {
    let lp = Loop::new().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let d = done.clone();
    let job = lp.run_in_executor(move || {
        started_tx.send(()).unwrap();
        release_rx.recv_timeout(LIMIT).unwrap();
        d.fetch_add(1, Ordering::SeqCst);
    });
    drop(job); // detached: shutdown must still wait for it
    started_rx.recv_timeout(LIMIT).unwrap();
    let lp2 = lp.clone();
    let d = done.clone();
    let seen = run_with_timeout(&lp, LIMIT, async move {
        let shutdown = lp2.create_task({
            let lp3 = lp2.clone();
            async move { lp3.shutdown_default_executor().await }
        });
        let shutdown = shutdown.unwrap();
        // The loop keeps running while the shutdown waits.
        loop_core::sleep(std::time::Duration::from_millis(1)).await.unwrap();
        assert!(!shutdown.done(), "shutdown did not wait for the running job");
        release_tx.send(()).unwrap();
        shutdown.await.unwrap().unwrap();
        d.load(Ordering::SeqCst)
    });
    assert_eq!(seen, 1);
    lp.close().unwrap();
}

#[derive(Debug, Default)]
struct Counting {
    inner: Arc<AtomicUsize>,
}

impl Executor for Counting {
    fn execute(&self, job: Job) -> loop_core::Result<()> {
        self.inner.fetch_add(1, Ordering::SeqCst);
        std::thread::spawn(job);
        Ok(())
    }
    fn shutdown(&self, _wait: bool) {}
}

#[test]
fn set_default_executor_is_used_and_run_in_takes_any_executor() {
    let lp = Loop::new().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    lp.set_default_executor(Arc::new(Counting { inner: count.clone() }));
    let r = run_with_timeout(&lp, LIMIT, lp.run_in_executor(|| 3));
    assert_eq!(r.unwrap(), 3);
    assert_eq!(count.load(Ordering::SeqCst), 1);

    let other = Counting::default();
    let r = run_with_timeout(&lp, LIMIT, lp.run_in(&other, || 4));
    assert_eq!(r.unwrap(), 4);
    assert_eq!(other.inner.load(Ordering::SeqCst), 1);
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // A shut-down executor passed explicitly refuses the job.
    let pool = ThreadPoolExecutor::new(1);
    pool.shutdown(true);
    let r = run_with_timeout(&lp, LIMIT, lp.run_in(&pool, || 4));
    assert!(matches!(r, Err(Error::ExecutorShutdown)), "{r:?}");
    lp.close().unwrap();
}

#[test]
fn the_default_pool_is_created_lazily_and_bounded() {
    run_child("child_lazy_and_bounded_pool", &[]);
}

#[test]
#[ignore = "run in a child process by the_default_pool_is_created_lazily_and_bounded"]
fn child_lazy_and_bounded_pool() {
    if !is_child() {
        return;
    }
    let lp = Loop::new().unwrap();
    // Creating the loop, running it, and even scheduling work elsewhere
    // starts no executor thread.
    lp.run_until_complete(async {}).unwrap();
    assert_eq!(executor_thread_count(), 0, "threads before first use");

    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let bound = (cpus + 4).min(32);
    // More concurrent blocking jobs than the bound: all get to run (queued),
    // but never on more than `bound` threads.
    const JOBS: usize = 40;
    let started = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let mut jobs = Vec::new();
    for i in 0..JOBS {
        let (s, g) = (started.clone(), gate.clone());
        jobs.push(lp.run_in_executor(move || {
            s.fetch_add(1, Ordering::SeqCst);
            // Every job holds its worker until the gate opens.
            let (open, cv) = &*g;
            let guard = open.lock().unwrap();
            let _ = cv.wait_timeout_while(guard, LIMIT, |open| !*open).unwrap();
            i
        }));
    }
    // Wait until the pool is saturated (every worker runs a job and has set
    // its thread name).
    let deadline = Instant::now() + LIMIT;
    while started.load(Ordering::SeqCst) < bound && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(started.load(Ordering::SeqCst), bound, "jobs running at once");
    let threads = executor_thread_count();
    assert_eq!(threads, bound, "executor threads: {threads}, expected the bound {bound}");
    {
        let (open, cv) = &*gate;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }
    let lp2 = lp.clone();
    let got = run_with_timeout(&lp, LIMIT, async move {
        let mut got = Vec::new();
        for j in jobs {
            got.push(j.await.unwrap());
        }
        let _ = lp2;
        got
    });
    assert_eq!(got, (0..JOBS).collect::<Vec<_>>());
    assert!(executor_thread_count() <= bound, "more threads than the bound");
    lp.close().unwrap();
}

#[test]
fn shutdown_default_executor_gives_up_after_its_timeout_and_warns() {
    use std::time::Duration;
    assert_eq!(loop_core::THREAD_JOIN_TIMEOUT, Duration::from_secs(300), "asyncio's default");
    let lp = Loop::new().unwrap();
    lp.set_default_executor(Arc::new(ThreadPoolExecutor::new(1)));
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    drop(lp.run_in_executor(move || {
        started_tx.send(()).unwrap();
        // Holds its thread past the shutdown's timeout.
        let _ = release_rx.recv_timeout(LIMIT);
    }));
    started_rx.recv_timeout(LIMIT).unwrap();
    let rec = core_util::Recorder::default();
    let lp2 = lp.clone();
    let t0 = Instant::now();
    let out = rec.capture(|| {
        run_with_timeout(&lp, LIMIT, async move {
            lp2.shutdown_default_executor_timeout(Some(Duration::from_millis(100))).await
        })
    });
    let took = t0.elapsed();
    release_tx.send(()).unwrap();
    out.unwrap();
    assert!(took >= Duration::from_millis(100), "returned before the timeout: {took:?}");
    assert!(took < LIMIT / 2, "did not give up after its timeout: {took:?}");
    let warned = rec.matching("did not finish joining its threads");
    assert_eq!(warned.len(), 1, "{:?}", rec.events());
    assert_eq!(warned[0].level, tracing::Level::WARN);
    let refused = futures_lite::future::block_on(lp.run_in_executor(|| ()));
    assert!(matches!(refused, Err(Error::ExecutorShutdown)), "{refused:?}");
    lp.close().unwrap();
}

#[test]
fn run_in_executor_on_a_closed_loop_fails_with_loop_closed() {
    // asyncio: run_in_executor on a closed loop raises "Event loop is
    // closed", whichever executor it names.
    let lp = Loop::new().unwrap();
    lp.close().unwrap();
    let default = futures_lite::future::block_on(lp.run_in_executor(|| 1));
    assert!(matches!(default, Err(Error::LoopClosed)), "{default:?}");
    let pool = ThreadPoolExecutor::new(1);
    let given = futures_lite::future::block_on(lp.run_in(&pool, || 1));
    assert!(matches!(given, Err(Error::LoopClosed)), "{given:?}");
    pool.shutdown(true);
}
