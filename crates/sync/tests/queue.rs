//! Queues: order, sizes, nowait errors, reservations, task_done/join, shutdown (SPEC SY-05).

mod util;

use std::cell::RefCell;
use std::task::Poll;

use async_executor::LocalExecutor;
use futures_lite::future;
use loop_sync::{Error, LifoQueue, PriorityQueue, PutError, Queue};
use util::{Polled, Probe, run_until_stalled};

#[test]
fn fifo_lifo_and_priority_orders() {
    let fifo = Queue::new(0);
    let lifo = LifoQueue::new(0);
    let prio = PriorityQueue::new(0);
    for x in [3, 1, 2] {
        fifo.put_nowait(x).unwrap();
        lifo.put_nowait(x).unwrap();
        prio.put_nowait(x).unwrap();
    }
    let drain =
        |f: &dyn Fn() -> Result<i32, Error>| std::iter::from_fn(|| f().ok()).collect::<Vec<_>>();
    assert_eq!(drain(&|| fifo.get_nowait()), [3, 1, 2]);
    assert_eq!(drain(&|| lifo.get_nowait()), [2, 1, 3]);
    assert_eq!(drain(&|| prio.get_nowait()), [1, 2, 3]);
}

#[test]
fn nowait_errors_and_sizes() {
    let q = Queue::new(2);
    assert_eq!(q.maxsize(), 2);
    assert!(q.empty() && !q.full());
    assert_eq!(q.get_nowait(), Err(Error::QueueEmpty));
    q.put_nowait('a').unwrap();
    q.put_nowait('b').unwrap();
    assert_eq!(q.qsize(), 2);
    assert!(q.full());
    match q.put_nowait('c') {
        Err(PutError::Full(c)) => assert_eq!(c, 'c', "the item comes back"),
        other => panic!("expected Full, got {other:?}"),
    }
    let e: Error = q.put_nowait('d').unwrap_err().into();
    assert_eq!(e, Error::QueueFull);
    assert_eq!(q.get_nowait(), Ok('a'));
    assert!(!q.full());
}

#[test]
fn maxsize_zero_is_unbounded() {
    let q = Queue::new(0);
    for i in 0..10_000 {
        q.put_nowait(i).unwrap();
    }
    assert!(!q.full());
    assert_eq!(q.qsize(), 10_000);
    assert_eq!(q.maxsize(), 0);
    assert_eq!(Queue::<u8>::default().maxsize(), 0);
}

#[test]
fn task_done_more_often_than_puts_is_an_error() {
    let q = Queue::new(0);
    assert_eq!(q.task_done(), Err(Error::TaskDoneTooOften));
    q.put_nowait(1).unwrap();
    q.get_nowait().unwrap();
    assert_eq!(q.task_done(), Ok(()));
    assert_eq!(q.task_done(), Err(Error::TaskDoneTooOften));
}

#[test]
fn join_waits_until_every_item_is_done() {
    let q = Queue::new(0);
    future::block_on(q.join()); // nothing put: returns at once
    q.put_nowait(1).unwrap();
    q.put_nowait(2).unwrap();
    let mut j = Polled::pending(q.join());
    q.get_nowait().unwrap();
    q.get_nowait().unwrap();
    q.task_done().unwrap();
    assert!(!j.woken());
    assert!(j.poll().is_pending(), "one item is still being processed");
    q.task_done().unwrap();
    assert!(j.woken());
    j.ready();
}

#[test]
fn waiting_getters_are_served_in_fifo_order() {
    let q = Queue::new(0);
    let g1 = Polled::pending(q.get());
    let g2 = Polled::pending(q.get());
    let g3 = Polled::pending(q.get());
    q.put_nowait(10).unwrap();
    assert!(g1.woken() && !g2.woken() && !g3.woken());
    q.put_nowait(20).unwrap();
    assert!(g2.woken() && !g3.woken());
    assert_eq!(g1.ready(), Ok(10));
    assert_eq!(g2.ready(), Ok(20));
    drop(g3);
}

#[test]
fn an_item_reserved_for_a_woken_getter_is_not_stolen() {
    let q = Queue::new(0);
    let g = Polled::pending(q.get());
    q.put_nowait('x').unwrap();
    assert!(g.woken());
    assert_eq!(q.qsize(), 0, "the item is promised");
    assert!(q.empty());
    assert_eq!(q.get_nowait(), Err(Error::QueueEmpty));
    let mut late = Polled::pending(q.get());
    assert_eq!(g.ready(), Ok('x'));
    assert!(late.poll().is_pending());
}

#[test]
fn a_get_cancelled_after_an_item_was_reserved_never_loses_it() {
    let q = Queue::new(0);
    let g1 = Polled::pending(q.get());
    let g2 = Polled::pending(q.get());
    q.put_nowait("item").unwrap();
    assert!(g1.woken());
    drop(g1);
    assert!(g2.woken(), "the reservation moved on");
    assert_eq!(g2.ready(), Ok("item"));

    // With nobody behind it, the item goes back to the queue.
    let g = Polled::pending(q.get());
    q.put_nowait("again").unwrap();
    drop(g);
    assert_eq!(q.qsize(), 1);
    assert_eq!(q.get_nowait(), Ok("again"));
}

#[test]
fn putters_on_a_full_queue_are_served_in_fifo_order() {
    let q = Queue::new(1);
    q.put_nowait('a').unwrap();
    let p1 = Polled::pending(q.put('b'));
    let mut p2 = Polled::pending(q.put('c'));
    let mut p3 = Polled::pending(q.put('d'));
    assert_eq!(q.get_nowait(), Ok('a'));
    assert!(p1.woken() && !p2.woken());
    // The freed slot is promised to p1: a newcomer cannot take it.
    assert!(q.full());
    assert!(matches!(q.put_nowait('z'), Err(PutError::Full('z'))));
    assert_eq!(q.get_nowait(), Err(Error::QueueEmpty));
    assert!(p3.poll().is_pending());
    assert_eq!(p1.ready(), Ok(()));
    assert_eq!(q.get_nowait(), Ok('b'));
    assert!(p2.woken() && !p3.woken());
    assert!(p2.poll().is_ready());
    assert_eq!(q.get_nowait(), Ok('c'));
    assert_eq!(p3.ready(), Ok(()));
    assert_eq!(q.get_nowait(), Ok('d'));
}

#[test]
fn a_put_cancelled_after_its_slot_was_reserved_passes_the_slot_on() {
    let q = Queue::new(1);
    q.put_nowait(1).unwrap();
    let p1 = Polled::pending(q.put(2));
    let p2 = Polled::pending(q.put(3));
    assert_eq!(q.get_nowait(), Ok(1));
    assert!(p1.woken());
    drop(p1); // its item was never put
    assert!(p2.woken());
    assert_eq!(p2.ready(), Ok(()));
    assert_eq!(q.get_nowait(), Ok(3));
    assert!(q.empty());
    assert_eq!(q.task_done(), Ok(()));
    assert_eq!(q.task_done(), Ok(()));
    assert_eq!(q.task_done(), Err(Error::TaskDoneTooOften), "two items went through");
}

#[test]
fn shutdown_fails_puts_wakes_everyone_and_drains() {
    let q = Queue::new(1);
    q.put_nowait(1).unwrap();
    let putter = Polled::pending(q.put(2));
    q.shutdown();
    assert!(q.is_shutdown());
    assert!(putter.woken());
    assert!(matches!(putter.ready(), Err(PutError::ShutDown(2))), "item handed back");
    assert!(matches!(q.put_nowait(3), Err(PutError::ShutDown(3))));
    assert!(matches!(future::block_on(q.put(4)), Err(PutError::ShutDown(4))));
    // Remaining items are still delivered, then gets fail.
    assert_eq!(future::block_on(q.get()), Ok(1));
    assert_eq!(future::block_on(q.get()), Err(Error::QueueShutDown));
    assert_eq!(q.get_nowait(), Err(Error::QueueShutDown));
}

#[test]
fn shutdown_wakes_waiting_getters_with_an_error() {
    let q = Queue::<u8>::new(0);
    let g = Polled::pending(q.get());
    q.shutdown();
    assert!(g.woken());
    assert_eq!(g.ready(), Err(Error::QueueShutDown));
}

#[test]
fn a_getter_woken_before_shutdown_still_gets_its_item() {
    let q = Queue::new(0);
    let g = Polled::pending(q.get());
    q.put_nowait(7).unwrap();
    q.shutdown();
    assert_eq!(g.ready(), Ok(7));
}

#[test]
fn shutdown_immediate_returns_the_items_and_releases_join() {
    let q = LifoQueue::new(0);
    for i in 0..3 {
        q.put_nowait(i).unwrap();
    }
    let j = Polled::pending(q.join());
    assert_eq!(q.shutdown_immediate(), [2, 1, 0], "in the order get would have returned them");
    assert!(j.woken());
    j.ready();
    assert_eq!(q.get_nowait(), Err(Error::QueueShutDown));
    assert_eq!(q.task_done(), Err(Error::TaskDoneTooOften));
}

#[test]
fn polling_after_completion_is_pending() {
    let q = Queue::new(0);
    let probe = Probe::new();
    let mut put = q.put(1);
    assert_eq!(probe.poll(&mut put), Poll::Ready(Ok(())));
    assert!(probe.poll(&mut put).is_pending());
    let mut get = q.get();
    assert_eq!(probe.poll(&mut get), Poll::Ready(Ok(1)));
    assert!(probe.poll(&mut get).is_pending());
    assert!(q.empty(), "no second item was taken");
}

#[test]
fn producer_and_consumer_on_a_local_executor() {
    let q = Queue::new(16);
    let got = RefCell::new(Vec::new());
    let ex = LocalExecutor::new();
    let consumer = ex.spawn(async {
        for _ in 0..10_000 {
            let x = q.get().await.unwrap();
            got.borrow_mut().push(x);
            q.task_done().unwrap();
        }
    });
    let producer = ex.spawn(async {
        for i in 0..10_000 {
            q.put(i).await.unwrap();
            assert!(q.qsize() <= 16);
        }
        q.join().await;
    });
    util::block_on(&ex, async {
        producer.await;
        consumer.await;
    });
    assert_eq!(*got.borrow(), (0..10_000).collect::<Vec<_>>());
}

#[test]
fn priority_queue_wakes_a_getter_with_the_lowest_item_at_run_time() {
    let q = PriorityQueue::new(0);
    let got = RefCell::new(Vec::new());
    let ex = LocalExecutor::new();
    for _ in 0..3 {
        ex.spawn(async {
            let x = q.get().await.unwrap();
            got.borrow_mut().push(x);
        })
        .detach();
    }
    run_until_stalled(&ex);
    for x in [5, 1, 3] {
        q.put_nowait(x).unwrap();
    }
    run_until_stalled(&ex);
    // All three were put before any getter ran: they come out lowest first.
    assert_eq!(*got.borrow(), [1, 3, 5]);
}
