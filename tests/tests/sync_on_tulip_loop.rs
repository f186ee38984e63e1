//! loop-sync's primitives driven by the tulip loop itself (they are
//! runtime-agnostic; loop-sync's own tests drive them with another
//! executor). Timers run on virtual time.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use loop_core::test_util::TestLoop;
use tulip::sync::{Barrier, BoundedSemaphore, Condition, Event, Lock, Queue, Semaphore};
use tulip::{Error, sleep};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn lock_is_fifo_across_loop_tasks() {
    let t = TestLoop::new().unwrap();
    let lp = t.handle().clone();
    let order = t
        .run_until_complete(async move {
            let lock = Rc::new(Lock::new());
            let order = Rc::new(RefCell::new(Vec::new()));
            let guard = lock.acquire().await;
            let mut tasks = Vec::new();
            for i in 0..5 {
                let (lock, order) = (lock.clone(), order.clone());
                tasks.push(lp.create_task(async move {
                    let _g = lock.acquire().await;
                    order.borrow_mut().push(i);
                    sleep(ms(1)).await.unwrap();
                })?);
                // Let each task queue up before the next one is created.
                sleep(ms(1)).await?;
            }
            drop(guard);
            for task in tasks {
                task.await?;
            }
            let order = order.borrow().clone();
            Ok::<_, Error>(order)
        })
        .unwrap()
        .unwrap();
    assert_eq!(order, vec![0, 1, 2, 3, 4]);
}

#[test]
fn cancelled_lock_waiter_passes_the_lock_on() {
    let t = TestLoop::new().unwrap();
    let lp = t.handle().clone();
    let got = t
        .run_until_complete(async move {
            let lock = Rc::new(Lock::new());
            let guard = lock.acquire().await;
            let (l1, l2) = (lock.clone(), lock.clone());
            let first = lp.create_task(async move {
                let _g = l1.acquire().await;
                "first"
            })?;
            let second = lp.create_task(async move {
                let _g = l2.acquire().await;
                "second"
            })?;
            sleep(ms(1)).await?;
            // Release (the lock is handed to `first`), then cancel `first`
            // before it runs: the lock must pass on to `second`.
            drop(guard);
            first.cancel();
            let first_out = first.await;
            let second_out = second.await?;
            Ok::<_, Error>((first_out.is_err(), second_out, lock.locked()))
        })
        .unwrap()
        .unwrap();
    assert_eq!(got, (true, "second", false));
}

#[test]
fn event_set_wakes_every_waiting_task() {
    let t = TestLoop::new().unwrap();
    let lp = t.handle().clone();
    let woken = t
        .run_until_complete(async move {
            let ev = Rc::new(Event::new());
            let tasks: Vec<_> = (0..10)
                .map(|_| {
                    let ev = ev.clone();
                    lp.create_task(async move { ev.wait().await })
                })
                .collect::<Result<_, _>>()?;
            sleep(ms(5)).await?;
            ev.set();
            let mut n = 0;
            for task in tasks {
                task.await?;
                n += 1;
            }
            Ok::<_, Error>(n)
        })
        .unwrap()
        .unwrap();
    assert_eq!(woken, 10);
}

#[test]
fn condition_notify_wakes_in_order_and_reacquires() {
    let t = TestLoop::new().unwrap();
    let lp = t.handle().clone();
    let log = t
        .run_until_complete(async move {
            let cond = Rc::new(Condition::new());
            let log = Rc::new(RefCell::new(Vec::new()));
            let mut tasks = Vec::new();
            for i in 0..3 {
                let (cond, log) = (cond.clone(), log.clone());
                tasks.push(lp.create_task(async move {
                    let g = cond.acquire().await;
                    let _g = cond.wait(g).await.unwrap();
                    assert!(cond.locked(), "wait returns holding the lock");
                    log.borrow_mut().push(i);
                })?);
            }
            sleep(ms(1)).await?;
            let g = cond.acquire().await;
            cond.notify(2).unwrap();
            drop(g);
            sleep(ms(1)).await?;
            assert_eq!(*log.borrow(), vec![0, 1]);
            let g = cond.acquire().await;
            cond.notify_all().unwrap();
            drop(g);
            for task in tasks {
                task.await?;
            }
            let log = log.borrow().clone();
            Ok::<_, Error>(log)
        })
        .unwrap()
        .unwrap();
    assert_eq!(log, vec![0, 1, 2]);
}

#[test]
fn semaphore_bounds_concurrency_on_the_loop() {
    let t = TestLoop::new().unwrap();
    let lp = t.handle().clone();
    let start = t.time();
    let peak = t
        .run_until_complete(async move {
            let sem = Rc::new(Semaphore::new(3).unwrap());
            let active = Rc::new(RefCell::new((0usize, 0usize)));
            let tasks: Vec<_> = (0..9)
                .map(|_| {
                    let (sem, active) = (sem.clone(), active.clone());
                    lp.create_task(async move {
                        let _p = sem.acquire().await;
                        {
                            let mut a = active.borrow_mut();
                            a.0 += 1;
                            a.1 = a.1.max(a.0);
                        }
                        sleep(ms(10)).await.unwrap();
                        active.borrow_mut().0 -= 1;
                    })
                })
                .collect::<Result<_, _>>()?;
            for task in tasks {
                task.await?;
            }
            let peak = active.borrow().1;
            Ok::<_, Error>(peak)
        })
        .unwrap()
        .unwrap();
    assert_eq!(peak, 3);
    // Nine 10 ms jobs, three at a time: exactly 30 ms of virtual time.
    assert_eq!(t.time() - start, ms(30));
    let bounded = BoundedSemaphore::new(1).unwrap();
    assert!(bounded.release().is_err(), "bounded release over the initial value fails");
}

#[test]
fn queue_producer_consumer_with_join() {
    let t = TestLoop::new().unwrap();
    let lp = t.handle().clone();
    let got = t
        .run_until_complete(async move {
            let q = Rc::new(Queue::new(2));
            let seen = Rc::new(RefCell::new(Vec::new()));
            let (qc, sc) = (q.clone(), seen.clone());
            let consumer = lp.create_task(async move {
                loop {
                    let item = qc.get().await.unwrap();
                    sleep(ms(1)).await.unwrap();
                    sc.borrow_mut().push(item);
                    qc.task_done().unwrap();
                }
            })?;
            for i in 0..10 {
                q.put(i).await?;
            }
            q.join().await;
            consumer.cancel();
            let seen = seen.borrow().clone();
            Ok::<_, Error>(seen)
        })
        .unwrap()
        .unwrap();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
}

#[test]
fn cancelled_get_never_loses_an_item() {
    let t = TestLoop::new().unwrap();
    let lp = t.handle().clone();
    let got = t
        .run_until_complete(async move {
            let q = Rc::new(Queue::<u32>::new(0));
            let (q1, q2) = (q.clone(), q.clone());
            let first = lp.create_task(async move { q1.get().await })?;
            let second = lp.create_task(async move { q2.get().await })?;
            sleep(ms(1)).await?;
            // The item is promised to `first`; cancelling it before it runs
            // must hand the item to `second`.
            q.put_nowait(7)?;
            first.cancel();
            let _ = first.await;
            let v = second.await??;
            Ok::<_, Error>((v, q.qsize()))
        })
        .unwrap()
        .unwrap();
    assert_eq!(got, (7, 0));
}

#[test]
fn barrier_releases_all_parties_together() {
    let t = TestLoop::new().unwrap();
    let lp = t.handle().clone();
    let mut indices = t
        .run_until_complete(async move {
            let b = Rc::new(Barrier::new(3).unwrap());
            let tasks: Vec<_> = (0..3u64)
                .map(|i| {
                    let b = b.clone();
                    lp.create_task(async move {
                        sleep(ms(i * 5)).await.unwrap();
                        b.wait().await.unwrap()
                    })
                })
                .collect::<Result<_, _>>()?;
            let mut out = Vec::new();
            for task in tasks {
                out.push(task.await?);
            }
            Ok::<_, Error>(out)
        })
        .unwrap()
        .unwrap();
    indices.sort();
    assert_eq!(indices, vec![0, 1, 2]);
}
