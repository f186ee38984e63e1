//! Core loop benchmarks: call_soon, task spawn, timers, cross-thread calls.
//!
//! Each figure is printed beside tokio's current-thread runtime (with a
//! `LocalSet`) and smol's `async-executor`, measured in the same run.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::SmallRng};
use tulip_bench::{
    Better, Table, best_of, isolated_case, measure, peak_rss_kib, print_header, run_isolated,
};

const CALLBACKS: usize = 1_000_000;
const TASKS: usize = 1_000_000;
const TIMERS: usize = 200_000;
const THREADSAFE_CALLS: usize = 1_000_000;
const LATENCY_SAMPLES: usize = 2_000;
const RUNS: usize = 3;

fn main() {
    if let Some(case) = isolated_case() {
        match case.split_once(':') {
            Some(("spawn", which)) => println!("{}", spawn_case(which).as_secs_f64()),
            Some(("timers", which)) => run_timer_case(which),
            Some(("latency", which)) => {
                let samples = match which {
                    "tulip" => latency_tulip(),
                    "tokio" => latency_tokio(),
                    "smol" => latency_smol(),
                    other => panic!("unknown latency case {other}"),
                };
                let line: Vec<String> = samples.iter().map(|d| d.as_nanos().to_string()).collect();
                println!("{}", line.join(" "));
            }
            _ => panic!("unknown case {case}"),
        }
        return;
    }
    print_header();
    call_soon_throughput();
    task_spawn();
    timers();
    threadsafe_throughput();
    wakeup_latency();
}

fn tokio_local<F: Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, f)
}

fn mops(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64() / 1e6
}

// ----- call_soon and task spawn vs spawn_local -----
//
// Each implementation runs in its own process: 1M live tasks leave a large
// heap behind, and a peer measured after another in the same process pays
// for the first one's heap layout.

/// Best wall time of [`RUNS`] runs of one spawn case, in this process:
/// `callsoon` (tulip's call_soon), `tulip` (create_task), `tokio`
/// (spawn_local on a LocalSet), `smol` (LocalExecutor::spawn).
fn spawn_case(which: &str) -> Duration {
    let n = TASKS;
    let sample = match which {
        "callsoon" => {
            let lp = tulip::new_event_loop().unwrap();
            let s = best_of(RUNS, || {
                let count = Rc::new(Cell::new(0usize));
                for _ in 0..CALLBACKS {
                    let c = count.clone();
                    lp.call_soon(move || c.set(c.get() + 1)).unwrap();
                }
                let l2 = lp.clone();
                lp.call_soon(move || l2.stop()).unwrap();
                lp.run_forever().unwrap();
                assert_eq!(count.get(), CALLBACKS);
            });
            lp.close().unwrap();
            s
        }
        "tulip" => {
            let lp = tulip::new_event_loop().unwrap();
            let s = best_of(RUNS, || {
                let l2 = lp.clone();
                lp.run_until_complete(async move {
                    let count = Rc::new(Cell::new(0usize));
                    for _ in 0..n {
                        let c = count.clone();
                        drop(l2.create_task(async move { c.set(c.get() + 1) }).unwrap());
                    }
                    while count.get() < n {
                        tulip::sleep(Duration::ZERO).await.unwrap();
                    }
                })
                .unwrap();
            });
            lp.close().unwrap();
            s
        }
        "tokio" => best_of(RUNS, || {
            tokio_local(async {
                let count = Rc::new(Cell::new(0usize));
                for _ in 0..n {
                    let c = count.clone();
                    drop(tokio::task::spawn_local(async move { c.set(c.get() + 1) }));
                }
                while count.get() < n {
                    tokio::task::yield_now().await;
                }
            })
        }),
        "smol" => best_of(RUNS, || {
            let ex = async_executor::LocalExecutor::new();
            let count = Rc::new(Cell::new(0usize));
            for _ in 0..n {
                let c = count.clone();
                ex.spawn(async move { c.set(c.get() + 1) }).detach();
            }
            while ex.try_tick() {}
            assert_eq!(count.get(), n);
        }),
        other => panic!("unknown spawn case {other}"),
    };
    sample.wall
}

/// Runs a spawn case in a child process and returns its best wall time.
fn isolated_spawn(which: &str) -> Duration {
    let out = run_isolated(&format!("spawn:{which}"));
    Duration::from_secs_f64(out.trim().parse().expect("seconds"))
}

fn call_soon_throughput() {
    let mut t = Table::new("call_soon: 1M callbacks (peers: spawn_local)", "M/s", Better::Higher);
    t.row("tulip call_soon", mops(CALLBACKS, isolated_spawn("callsoon")));
    t.row("tokio spawn_local", mops(CALLBACKS, isolated_spawn("tokio")));
    t.row("smol LocalExecutor spawn", mops(CALLBACKS, isolated_spawn("smol")));
    t.print();
}

fn task_spawn() {
    let mut t = Table::new("tasks: 1M spawn + complete", "M/s", Better::Higher);
    t.row("tulip create_task", mops(TASKS, isolated_spawn("tulip")));
    t.row("tokio spawn_local", mops(TASKS, isolated_spawn("tokio")));
    t.row("smol LocalExecutor spawn", mops(TASKS, isolated_spawn("smol")));
    t.print();
}

// ----- timers -----

fn delays() -> Vec<Duration> {
    let mut rng = SmallRng::seed_from_u64(42);
    (0..TIMERS).map(|_| Duration::from_micros(rng.random_range(0..100_000))).collect()
}

/// Runs one timer case in this (isolated) process and prints
/// `cpu_ms peak_kib`.
fn run_timer_case(case: &str) {
    let delays = delays();
    let sample = match case {
        "tulip" => measure(|| {
            let lp = tulip::new_event_loop().unwrap();
            let fired = Rc::new(Cell::new(0usize));
            let mut handles = Vec::with_capacity(TIMERS);
            for d in &delays {
                let f = fired.clone();
                handles.push(lp.call_later(*d, move || f.set(f.get() + 1)).unwrap());
            }
            for h in handles.iter().step_by(2) {
                h.cancel();
            }
            drop(handles);
            let l2 = lp.clone();
            lp.call_later(Duration::from_millis(101), move || l2.stop()).unwrap();
            lp.run_forever().unwrap();
            assert_eq!(fired.get(), TIMERS / 2);
            lp.close().unwrap();
        }),
        "tokio" => measure(|| {
            tokio_local(async {
                let fired = Rc::new(Cell::new(0usize));
                let mut handles = Vec::with_capacity(TIMERS);
                let t0 = tokio::time::Instant::now();
                for d in &delays {
                    let f = fired.clone();
                    let d = *d;
                    handles.push(tokio::task::spawn_local(async move {
                        tokio::time::sleep_until(t0 + d).await;
                        f.set(f.get() + 1);
                    }));
                }
                for h in handles.iter().step_by(2) {
                    h.abort();
                }
                drop(handles);
                tokio::time::sleep_until(t0 + Duration::from_millis(101)).await;
                while fired.get() < TIMERS / 2 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        }),
        "smol" => measure(|| {
            let ex = async_executor::LocalExecutor::new();
            let fired = Rc::new(Cell::new(0usize));
            let mut tasks = Vec::with_capacity(TIMERS);
            let t0 = Instant::now();
            for d in &delays {
                let f = fired.clone();
                let d = *d;
                tasks.push(ex.spawn(async move {
                    async_io::Timer::at(t0 + d).await;
                    f.set(f.get() + 1);
                }));
            }
            let mut keep = Vec::with_capacity(TIMERS / 2);
            for (i, t) in tasks.into_iter().enumerate() {
                if i % 2 == 1 {
                    keep.push(t);
                }
            }
            futures_lite::future::block_on(ex.run(async {
                for t in keep {
                    t.await;
                }
            }));
            assert_eq!(fired.get(), TIMERS / 2);
        }),
        other => panic!("unknown case {other}"),
    };
    println!("{} {}", sample.cpu.as_secs_f64() * 1e3, peak_rss_kib());
}

fn timers() {
    let mut cpu = Table::new("timers: 200k call_later, half cancelled (CPU)", "ms", Better::Lower);
    let mut mem =
        Table::new("timers: 200k call_later, half cancelled (peak RSS)", "MiB", Better::Lower);
    for (case, name) in [
        ("tulip", "tulip call_later"),
        ("tokio", "tokio sleep tasks"),
        ("smol", "smol Timer tasks"),
    ] {
        let out = run_isolated(&format!("timers:{case}"));
        let mut it = out.split_whitespace().map(|v| v.parse::<f64>().unwrap());
        let (c, m) = (it.next().unwrap(), it.next().unwrap());
        cpu.row(name, c);
        mem.row(name, m / 1024.0);
    }
    cpu.print();
    mem.print();
}

// ----- cross-thread -----

fn threadsafe_throughput() {
    let lp = tulip::new_event_loop().unwrap();
    let remote = lp.remote();
    let done = Arc::new(AtomicUsize::new(0));
    let d2 = done.clone();
    let ours = measure(|| {
        let sender = std::thread::spawn(move || {
            for i in 0..THREADSAFE_CALLS {
                let d = d2.clone();
                let last = i + 1 == THREADSAFE_CALLS;
                remote
                    .call_soon_threadsafe(move || {
                        d.fetch_add(1, Ordering::Relaxed);
                        if last {
                            tulip::get_running_loop().unwrap().stop();
                        }
                    })
                    .unwrap();
            }
        });
        lp.run_forever().unwrap();
        sender.join().unwrap();
    });
    assert_eq!(done.load(Ordering::Relaxed), THREADSAFE_CALLS);
    lp.close().unwrap();

    let tokio = {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let handle = rt.handle().clone();
        let done = Arc::new(AtomicUsize::new(0));
        let d2 = done.clone();
        measure(|| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let sender = std::thread::spawn(move || {
                let mut tx = Some(tx);
                for i in 0..THREADSAFE_CALLS {
                    let d = d2.clone();
                    let tx = if i + 1 == THREADSAFE_CALLS { tx.take() } else { None };
                    drop(handle.spawn(async move {
                        d.fetch_add(1, Ordering::Relaxed);
                        if let Some(tx) = tx {
                            let _ = tx.send(());
                        }
                    }));
                }
            });
            rt.block_on(async {
                rx.await.unwrap();
                while done.load(Ordering::Relaxed) < THREADSAFE_CALLS {
                    tokio::task::yield_now().await;
                }
            });
            sender.join().unwrap();
        })
    };
    let smol = {
        let ex = Arc::new(async_executor::Executor::new());
        let done = Arc::new(AtomicUsize::new(0));
        measure(|| {
            let (ex2, d2) = (ex.clone(), done.clone());
            let sender = std::thread::spawn(move || {
                for _ in 0..THREADSAFE_CALLS {
                    let d = d2.clone();
                    ex2.spawn(async move {
                        d.fetch_add(1, Ordering::Relaxed);
                    })
                    .detach();
                }
            });
            async_io::block_on(ex.run(async {
                while done.load(Ordering::Relaxed) < THREADSAFE_CALLS {
                    futures_lite::future::yield_now().await;
                }
            }));
            sender.join().unwrap();
        })
    };
    let mut t = Table::new("cross-thread: 1M calls from another thread", "M/s", Better::Higher);
    t.row("tulip call_soon_threadsafe", mops(THREADSAFE_CALLS, ours.wall));
    t.row("tokio Handle::spawn", mops(THREADSAFE_CALLS, tokio.wall));
    t.row("smol Executor::spawn", mops(THREADSAFE_CALLS, smol.wall));
    t.print();
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[idx].as_secs_f64() * 1e6
}

/// Idle wake-up latency: the loop is blocked in its selector with nothing
/// to do; another thread schedules a call and we time until it runs. Each
/// implementation runs in its own process (sharing one skews the tail), in
/// three interleaved rounds whose samples are pooled.
fn wakeup_latency() {
    let (mut ours, mut tokio, mut smol) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        ours.extend(isolated_latency("tulip"));
        tokio.extend(isolated_latency("tokio"));
        smol.extend(isolated_latency("smol"));
    }
    for (label, p) in [("p50", 0.5), ("p99", 0.99)] {
        let title = format!("idle wake-up latency {label} (peers parked in their epoll reactor)");
        let mut t = Table::new(title, "µs", Better::Lower);
        t.row("tulip call_soon_threadsafe", percentile(&mut ours, p));
        t.row("tokio Handle::spawn", percentile(&mut tokio, p));
        t.row("smol Executor::spawn", percentile(&mut smol, p));
        t.print();
    }
}

/// Runs one latency case in a child process and returns its samples.
fn isolated_latency(which: &str) -> Vec<Duration> {
    run_isolated(&format!("latency:{which}"))
        .split_whitespace()
        .map(|n| Duration::from_nanos(n.parse().expect("nanoseconds")))
        .collect()
}

/// Sends [`LATENCY_SAMPLES`] timestamps from another thread, 200 µs apart,
/// through `send(t0, last)`; returns once `wait` returns.
fn latency_sender(send: impl Fn(Instant, bool) + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for i in 0..LATENCY_SAMPLES {
            std::thread::sleep(Duration::from_micros(200));
            send(Instant::now(), i + 1 == LATENCY_SAMPLES);
        }
    })
}

fn latency_tulip() -> Vec<Duration> {
    let lp = tulip::new_event_loop().unwrap();
    let remote = lp.remote();
    let (tx, rx) = mpsc::channel::<Duration>();
    let sender = latency_sender(move |t0, last| {
        let tx = tx.clone();
        remote
            .call_soon_threadsafe(move || {
                let _ = tx.send(t0.elapsed());
                if last {
                    tulip::get_running_loop().unwrap().stop();
                }
            })
            .unwrap();
    });
    lp.run_forever().unwrap();
    sender.join().unwrap();
    lp.close().unwrap();
    rx.try_iter().collect()
}

fn latency_tokio() -> Vec<Duration> {
    // With its I/O driver, so it parks in epoll as a loop that watches fds
    // must (without it, tokio parks on a futex).
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let handle = rt.handle().clone();
    let (tx, rx) = mpsc::channel::<Duration>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let done_tx = std::sync::Mutex::new(Some(done_tx));
    let sender = latency_sender(move |t0, last| {
        let tx = tx.clone();
        let d = if last { done_tx.lock().unwrap().take() } else { None };
        drop(handle.spawn(async move {
            let _ = tx.send(t0.elapsed());
            if let Some(d) = d {
                let _ = d.send(());
            }
        }));
    });
    rt.block_on(async { done_rx.await.unwrap() });
    sender.join().unwrap();
    rx.try_iter().collect()
}

fn latency_smol() -> Vec<Duration> {
    let ex = Arc::new(async_executor::Executor::new());
    let (tx, rx) = mpsc::channel::<Duration>();
    let (done_tx, done_rx) = async_channel::bounded::<()>(1);
    let ex2 = ex.clone();
    let sender = latency_sender(move |t0, last| {
        let tx = tx.clone();
        let d = last.then(|| done_tx.clone());
        ex2.spawn(async move {
            let _ = tx.send(t0.elapsed());
            if let Some(d) = d {
                let _ = d.send(()).await;
            }
        })
        .detach();
    });
    // smol's own block_on, which parks in the async-io reactor (epoll).
    async_io::block_on(ex.run(async { done_rx.recv().await.unwrap() }));
    sender.join().unwrap();
    rx.try_iter().collect()
}
