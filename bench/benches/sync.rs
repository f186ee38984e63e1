//! Sync benchmarks: `loop-sync`'s Lock and Queue against tokio and smol's peers.
//!
//! Every implementation runs on a single-threaded executor: smol's
//! `async_executor::LocalExecutor` driven by `futures_lite::future::block_on`
//! (the same harness for all, so the primitive is what differs), plus tokio's
//! current-thread runtime with a `LocalSet` for tokio's own primitives.
//! tulip's loop is not used here: `loop-sync` needs no loop, and measuring it
//! on a shared executor isolates the primitive.

use std::future::Future;
use std::hint::black_box;
use std::time::Duration;

use async_executor::LocalExecutor;
use futures_lite::future;
use tulip::sync::{Lock, Queue};
use tulip_bench::{Better, Table, best_of, print_header};

const UNCONTENDED: usize = 1_000_000;
const CONTENDED_TASKS: usize = 100;
const CONTENDED_ROUNDS: usize = 10_000;
const ITEMS: usize = 1_000_000;
const CAPACITY: usize = 1024;
const RUNS: usize = 5;

fn main() {
    print_header();
    uncontended_lock();
    contended_lock();
    queue_throughput();
}

/// Runs `f` to completion on a fresh local executor.
fn smol_local<'a, F: Future + 'a>(ex: &LocalExecutor<'a>, f: F) -> F::Output {
    future::block_on(ex.run(f))
}

/// Runs `f` on tokio's current-thread runtime inside a `LocalSet`.
fn tokio_local<F: Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, f)
}

fn ns_per(n: usize, d: Duration) -> f64 {
    d.as_nanos() as f64 / n as f64
}

// ----- uncontended acquire + release -----

fn uncontended_lock() {
    let mut t = Table::new(
        format!("Lock uncontended acquire+release ×{UNCONTENDED}"),
        "ns/op",
        Better::Lower,
    );
    let ours = best_of(RUNS, || {
        let lock = Lock::new();
        let ex = LocalExecutor::new();
        smol_local(&ex, async {
            for _ in 0..UNCONTENDED {
                drop(black_box(black_box(&lock).acquire().await));
            }
        });
    });
    t.row("tulip loop_sync::Lock", ns_per(UNCONTENDED, ours.wall));
    let tokio_mutex = best_of(RUNS, || {
        let lock = tokio::sync::Mutex::new(());
        let ex = LocalExecutor::new();
        smol_local(&ex, async {
            for _ in 0..UNCONTENDED {
                drop(black_box(black_box(&lock).lock().await));
            }
        });
    });
    t.row("tokio::sync::Mutex", ns_per(UNCONTENDED, tokio_mutex.wall));
    let async_lock = best_of(RUNS, || {
        let lock = async_lock::Mutex::new(());
        let ex = LocalExecutor::new();
        smol_local(&ex, async {
            for _ in 0..UNCONTENDED {
                drop(black_box(black_box(&lock).lock().await));
            }
        });
    });
    t.row("async_lock::Mutex", ns_per(UNCONTENDED, async_lock.wall));
    t.print();
}

// ----- contended: many tasks, each yields while holding -----

fn contended_lock() {
    let total = CONTENDED_TASKS * CONTENDED_ROUNDS;
    let mut t = Table::new(
        format!(
            "Lock contended: {CONTENDED_TASKS} tasks × {CONTENDED_ROUNDS}, yield while holding"
        ),
        "ns/acquisition",
        Better::Lower,
    );
    let ours = best_of(RUNS, || {
        let lock = Lock::new();
        let ex = LocalExecutor::new();
        let tasks: Vec<_> = (0..CONTENDED_TASKS)
            .map(|_| {
                ex.spawn(async {
                    for _ in 0..CONTENDED_ROUNDS {
                        let guard = lock.acquire().await;
                        future::yield_now().await;
                        drop(guard);
                    }
                })
            })
            .collect();
        smol_local(&ex, async {
            for task in tasks {
                task.await;
            }
        });
    });
    t.row("tulip loop_sync::Lock (smol LocalExecutor)", ns_per(total, ours.wall));
    let tokio_smol = best_of(RUNS, || {
        let lock = tokio::sync::Mutex::new(());
        let ex = LocalExecutor::new();
        let tasks: Vec<_> = (0..CONTENDED_TASKS)
            .map(|_| {
                ex.spawn(async {
                    for _ in 0..CONTENDED_ROUNDS {
                        let guard = lock.lock().await;
                        future::yield_now().await;
                        drop(guard);
                    }
                })
            })
            .collect();
        smol_local(&ex, async {
            for task in tasks {
                task.await;
            }
        });
    });
    t.row("tokio::sync::Mutex (smol LocalExecutor)", ns_per(total, tokio_smol.wall));
    let tokio_rt = best_of(RUNS, || {
        tokio_local(async {
            let lock = std::rc::Rc::new(tokio::sync::Mutex::new(()));
            let tasks: Vec<_> = (0..CONTENDED_TASKS)
                .map(|_| {
                    let lock = lock.clone();
                    tokio::task::spawn_local(async move {
                        for _ in 0..CONTENDED_ROUNDS {
                            let guard = lock.lock().await;
                            tokio::task::yield_now().await;
                            drop(guard);
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
        });
    });
    t.row("tokio::sync::Mutex (tokio current-thread)", ns_per(total, tokio_rt.wall));
    let async_lock = best_of(RUNS, || {
        let lock = async_lock::Mutex::new(());
        let ex = LocalExecutor::new();
        let tasks: Vec<_> = (0..CONTENDED_TASKS)
            .map(|_| {
                ex.spawn(async {
                    for _ in 0..CONTENDED_ROUNDS {
                        let guard = lock.lock().await;
                        future::yield_now().await;
                        drop(guard);
                    }
                })
            })
            .collect();
        smol_local(&ex, async {
            for task in tasks {
                task.await;
            }
        });
    });
    t.row("async_lock::Mutex (smol LocalExecutor)", ns_per(total, async_lock.wall));
    t.print();
}

// ----- queue: one producer, one consumer, bounded -----

fn queue_throughput() {
    let mut t = Table::new(
        format!("Queue 1 producer → 1 consumer, {ITEMS} items, bounded {CAPACITY}"),
        "ns/item",
        Better::Lower,
    );
    let ours = best_of(RUNS, || {
        let q = Queue::new(CAPACITY);
        let ex = LocalExecutor::new();
        let consumer = ex.spawn(async {
            let mut sum = 0usize;
            for _ in 0..ITEMS {
                sum += q.get().await.expect("open queue");
            }
            sum
        });
        let producer = ex.spawn(async {
            for i in 0..ITEMS {
                q.put(i).await.expect("open queue");
            }
        });
        let sum = smol_local(&ex, async {
            producer.await;
            consumer.await
        });
        assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
    });
    t.row("tulip loop_sync::Queue (smol LocalExecutor)", ns_per(ITEMS, ours.wall));
    let mpsc_smol = best_of(RUNS, || {
        let (tx, mut rx) = tokio::sync::mpsc::channel(CAPACITY);
        let ex = LocalExecutor::new();
        let consumer = ex.spawn(async move {
            let mut sum = 0usize;
            while let Some(i) = rx.recv().await {
                sum += i;
            }
            sum
        });
        let producer = ex.spawn(async move {
            for i in 0..ITEMS {
                tx.send(i).await.expect("open channel");
            }
        });
        let sum = smol_local(&ex, async {
            producer.await;
            consumer.await
        });
        assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
    });
    t.row("tokio::sync::mpsc (smol LocalExecutor)", ns_per(ITEMS, mpsc_smol.wall));
    let mpsc_tokio = best_of(RUNS, || {
        let sum = tokio_local(async {
            let (tx, mut rx) = tokio::sync::mpsc::channel(CAPACITY);
            let consumer = tokio::task::spawn_local(async move {
                let mut sum = 0usize;
                while let Some(i) = rx.recv().await {
                    sum += i;
                }
                sum
            });
            let producer = tokio::task::spawn_local(async move {
                for i in 0..ITEMS {
                    tx.send(i).await.expect("open channel");
                }
            });
            producer.await.expect("producer");
            consumer.await.expect("consumer")
        });
        assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
    });
    t.row("tokio::sync::mpsc (tokio current-thread)", ns_per(ITEMS, mpsc_tokio.wall));
    let channel = best_of(RUNS, || {
        let (tx, rx) = async_channel::bounded(CAPACITY);
        let ex = LocalExecutor::new();
        let consumer = ex.spawn(async move {
            let mut sum = 0usize;
            while let Ok(i) = rx.recv().await {
                sum += i;
            }
            sum
        });
        let producer = ex.spawn(async move {
            for i in 0..ITEMS {
                tx.send(i).await.expect("open channel");
            }
        });
        let sum = smol_local(&ex, async {
            producer.await;
            consumer.await
        });
        assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
    });
    t.row("async_channel::bounded (smol LocalExecutor)", ns_per(ITEMS, channel.wall));
    t.print();
}
