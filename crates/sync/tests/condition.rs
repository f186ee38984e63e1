//! Condition: wait/notify, lock checks, re-acquisition, cancellation (SPEC SY-03).

mod util;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Poll;

use async_executor::LocalExecutor;
use futures_lite::future;
use loop_sync::{Condition, Error, Lock};
use util::{Polled, run_until_stalled};

#[test]
fn notify_without_the_lock_is_an_error() {
    let cond = Condition::new();
    assert_eq!(cond.notify(1), Err(Error::NotLocked));
    assert_eq!(cond.notify_all(), Err(Error::NotLocked));
    let _g = cond.try_acquire().unwrap();
    assert_eq!(cond.notify(1), Ok(0), "no-op without waiters");
}

#[test]
fn wait_with_a_guard_of_another_lock_is_an_error() {
    let cond = Condition::new();
    let other = Lock::new();
    let guard = other.try_acquire().unwrap();
    assert_eq!(future::block_on(cond.wait(guard)).err(), Some(Error::NotLocked));
    assert!(!other.locked(), "the foreign guard was dropped");
    let guard = other.try_acquire().unwrap();
    assert_eq!(future::block_on(cond.wait_for(guard, || true)).err(), Some(Error::NotLocked));
}

#[test]
fn wait_with_a_stale_guard_is_an_error() {
    let cond = Condition::new();
    let guard = cond.try_acquire().unwrap();
    cond.release().unwrap();
    assert_eq!(future::block_on(cond.wait(guard)).err(), Some(Error::NotLocked));
}

#[test]
fn wait_releases_the_lock_and_returns_holding_it_again() {
    let cond = Condition::new();
    let guard = cond.try_acquire().unwrap();
    let mut w = Polled::pending(cond.wait(guard));
    assert!(!cond.locked(), "released while waiting");
    let notifier = cond.try_acquire().unwrap();
    assert_eq!(cond.notify(1), Ok(1));
    assert!(w.woken());
    // Notified, but the notifier still holds the lock: not back yet.
    assert!(w.poll().is_pending());
    drop(notifier);
    let guard = match w.poll() {
        Poll::Ready(Ok(g)) => g,
        other => panic!("expected the lock back, got {:?}", other.map(|r| r.err())),
    };
    assert!(cond.locked());
    assert!(std::ptr::eq(guard.lock(), &**cond.underlying_lock()));
    drop(guard);
    assert!(!cond.locked());
}

#[test]
fn notify_n_wakes_n_waiters_in_fifo_order_and_notify_all_the_rest() {
    let cond = Condition::new();
    let ws: Vec<_> =
        (0..5).map(|_| Polled::pending(cond.wait(cond.try_acquire().unwrap()))).collect();
    let g = cond.try_acquire().unwrap();
    assert_eq!(cond.notify(2), Ok(2));
    let woken: Vec<bool> = ws.iter().map(Polled::woken).collect();
    assert_eq!(woken, [true, true, false, false, false]);
    assert_eq!(cond.notify_all(), Ok(3));
    assert!(ws.iter().all(Polled::woken));
    drop(g);
    // They re-acquire one after another.
    for w in ws {
        let g = w.ready().unwrap();
        drop(g);
    }
}

#[test]
fn wait_for_checks_the_predicate_first_and_after_each_wake_up() {
    let cond = Condition::new();
    let calls = Cell::new(0);
    let guard = cond.try_acquire().unwrap();
    let g = future::block_on(cond.wait_for(guard, || {
        calls.set(calls.get() + 1);
        true
    }))
    .unwrap();
    assert_eq!(calls.get(), 1);
    drop(g);

    let ready = Cell::new(false);
    let mut w = Polled::pending(cond.wait_for(cond.try_acquire().unwrap(), || ready.get()));
    for _ in 0..3 {
        let _g = cond.try_acquire().unwrap();
        cond.notify_all().unwrap();
        drop(_g);
        assert!(w.poll().is_pending(), "predicate still false: waits again");
    }
    let g = cond.try_acquire().unwrap();
    ready.set(true);
    cond.notify(1).unwrap();
    drop(g);
    let g = match w.poll() {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("predicate is true"),
    };
    assert!(cond.locked());
    drop(g);
}

#[test]
fn a_waiter_cancelled_after_notify_passes_the_notification_on() {
    let cond = Condition::new();
    let a = Polled::pending(cond.wait(cond.try_acquire().unwrap()));
    let b = Polled::pending(cond.wait(cond.try_acquire().unwrap()));
    let c = Polled::pending(cond.wait(cond.try_acquire().unwrap()));
    let g = cond.try_acquire().unwrap();
    cond.notify(1).unwrap();
    assert!(a.woken() && !b.woken());
    drop(a);
    assert!(b.woken(), "no lost notification");
    assert!(!c.woken());
    drop(g);
    drop(b.ready().unwrap());
    assert!(!cond.locked());
    drop(c);
}

#[test]
fn a_waiter_cancelled_while_reacquiring_leaves_no_phantom_holder() {
    let cond = Condition::new();
    let mut a = Polled::pending(cond.wait(cond.try_acquire().unwrap()));
    let b = Polled::pending(cond.wait(cond.try_acquire().unwrap()));
    let g = cond.try_acquire().unwrap();
    cond.notify(1).unwrap();
    assert!(a.poll().is_pending(), "a now queues for the lock");
    drop(a); // cancelled while re-acquiring
    assert!(b.woken(), "the notification moved on");
    drop(g);
    let g = b.ready().unwrap();
    drop(g);
    assert!(!cond.locked(), "nobody holds the lock on a's behalf");
}

#[test]
fn a_waiter_cancelled_after_the_lock_was_handed_to_it_passes_the_lock_on() {
    let cond = Condition::new();
    let mut a = Polled::pending(cond.wait(cond.try_acquire().unwrap()));
    let g = cond.try_acquire().unwrap();
    cond.notify(1).unwrap();
    assert!(a.poll().is_pending());
    let mut other = Polled::pending(cond.acquire());
    drop(g); // hands the lock to a's re-acquisition
    assert!(cond.locked());
    drop(a);
    assert!(other.woken(), "the lock passed on to the next lock waiter");
    assert!(other.poll().is_ready());
}

#[test]
fn two_conditions_share_one_lock_for_a_bounded_buffer() {
    let lock = Rc::new(Lock::new());
    let not_empty = Condition::with_lock(lock.clone());
    let not_full = Condition::with_lock(lock.clone());
    let buf = RefCell::new(VecDeque::new());
    let got = RefCell::new(Vec::new());
    let ex = LocalExecutor::new();
    let consumer = ex.spawn(async {
        for _ in 0..100 {
            let g = not_empty.acquire().await;
            let g = not_empty.wait_for(g, || !buf.borrow().is_empty()).await.unwrap();
            got.borrow_mut().push(buf.borrow_mut().pop_front().unwrap());
            not_full.notify(1).unwrap();
            drop(g);
        }
    });
    let producer = ex.spawn(async {
        for i in 0..100 {
            let g = not_full.acquire().await;
            let g = not_full.wait_for(g, || buf.borrow().len() < 3).await.unwrap();
            buf.borrow_mut().push_back(i);
            not_empty.notify(1).unwrap();
            drop(g);
        }
    });
    util::block_on(&ex, async {
        producer.await;
        consumer.await;
    });
    assert_eq!(*got.borrow(), (0..100).collect::<Vec<_>>());
    assert!(!lock.locked());
}

#[test]
fn notify_all_on_a_local_executor_resumes_every_waiter_with_the_lock() {
    let cond = Condition::new();
    let resumed = Cell::new(0);
    let ex = LocalExecutor::new();
    for _ in 0..5 {
        ex.spawn(async {
            let g = cond.acquire().await;
            let _g = cond.wait(g).await.unwrap();
            assert!(cond.locked());
            resumed.set(resumed.get() + 1);
        })
        .detach();
    }
    run_until_stalled(&ex);
    let g = future::block_on(cond.acquire());
    assert_eq!(cond.notify_all(), Ok(5));
    run_until_stalled(&ex);
    assert_eq!(resumed.get(), 0, "they wait for the notifier's release");
    drop(g);
    run_until_stalled(&ex);
    assert_eq!(resumed.get(), 5);
    assert!(!cond.locked());
}
