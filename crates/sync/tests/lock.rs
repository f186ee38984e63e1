//! Lock: FIFO hand-over, no barging, cancellation safety, misuse errors (SPEC SY-01).

mod util;

use std::cell::Cell;
use std::task::Poll;

use async_executor::LocalExecutor;
use futures_lite::future;
use loop_sync::{Error, Lock};
use util::{Polled, Probe, run_until_stalled};

#[test]
fn uncontended_acquire_and_release() {
    let lock = Lock::new();
    assert!(!lock.locked());
    let guard = future::block_on(lock.acquire());
    assert!(lock.locked());
    assert!(lock.try_acquire().is_none());
    drop(guard);
    assert!(!lock.locked());
    let guard = lock.try_acquire().expect("free lock");
    assert!(std::ptr::eq(guard.lock(), &lock));
}

#[test]
fn releasing_an_unlocked_lock_is_an_error() {
    let lock = Lock::new();
    assert_eq!(lock.release(), Err(Error::NotLocked));
    lock.try_acquire().unwrap().forget();
    assert!(lock.locked());
    assert_eq!(lock.release(), Ok(()));
    assert_eq!(lock.release(), Err(Error::NotLocked));
}

#[test]
fn stale_guard_does_not_release_a_later_holding() {
    let lock = Lock::new();
    let first = lock.try_acquire().unwrap();
    lock.release().unwrap(); // asyncio-style release behind the guard's back
    let second = lock.try_acquire().expect("released");
    drop(first); // must not release `second`'s holding
    assert!(lock.locked());
    drop(second);
    assert!(!lock.locked());
}

#[test]
fn waiters_get_the_lock_in_fifo_order() {
    let lock = Lock::new();
    let order = std::cell::RefCell::new(Vec::new());
    let ex = LocalExecutor::new();
    let holder = lock.try_acquire().unwrap();
    for id in 0..5 {
        let (lock, order) = (&lock, &order);
        ex.spawn(async move {
            let _g = lock.acquire().await;
            order.borrow_mut().push(id);
            future::yield_now().await;
        })
        .detach();
    }
    run_until_stalled(&ex);
    assert!(order.borrow().is_empty());
    drop(holder);
    run_until_stalled(&ex);
    assert_eq!(*order.borrow(), [0, 1, 2, 3, 4]);
    assert!(!lock.locked());
}

#[test]
fn a_newcomer_never_barges_past_queued_waiters() {
    let lock = Lock::new();
    let holder = lock.try_acquire().unwrap();
    let mut b = Polled::pending(lock.acquire());
    drop(holder);
    assert!(b.woken(), "the release wakes the first waiter");
    // Between the release and the waiter running, the lock is promised.
    assert!(lock.locked());
    assert!(lock.try_acquire().is_none());
    let mut c = Polled::pending(lock.acquire());
    let b_guard = match b.poll() {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("b was handed the lock"),
    };
    assert!(c.poll().is_pending());
    drop(b_guard);
    assert!(c.woken());
    let _c_guard = c.ready();
}

#[test]
fn a_cancelled_chosen_waiter_passes_the_lock_on() {
    let lock = Lock::new();
    let holder = lock.try_acquire().unwrap();
    let b = Polled::pending(lock.acquire());
    let mut c = Polled::pending(lock.acquire());
    let mut d = Polled::pending(lock.acquire());
    drop(holder);
    assert!(b.woken() && !c.woken());
    drop(b); // cancelled after it was chosen
    assert!(c.woken(), "the wake-up moved on to the next waiter");
    assert!(!d.woken());
    assert!(d.poll().is_pending());
    let c_guard = match c.poll() {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("c holds the lock"),
    };
    drop(c_guard);
    let _d_guard = d.ready();
    assert!(lock.locked());
}

#[test]
fn a_cancelled_queued_waiter_leaves_the_queue() {
    let lock = Lock::new();
    let holder = lock.try_acquire().unwrap();
    let b = Polled::pending(lock.acquire());
    let c = Polled::pending(lock.acquire());
    drop(b);
    drop(holder);
    assert!(c.woken());
    drop(c.ready());
    assert!(!lock.locked());
}

#[test]
fn the_last_cancelled_chosen_waiter_unlocks() {
    let lock = Lock::new();
    let holder = lock.try_acquire().unwrap();
    let b = Polled::pending(lock.acquire());
    drop(holder);
    assert!(lock.locked());
    drop(b);
    assert!(!lock.locked());
}

#[test]
fn explicit_release_hands_over_to_a_waiter() {
    let lock = Lock::new();
    future::block_on(lock.acquire()).forget();
    let b = Polled::pending(lock.acquire());
    lock.release().unwrap();
    assert!(b.woken());
    let guard = b.ready();
    assert!(lock.locked());
    drop(guard);
    assert!(!lock.locked());
}

#[test]
fn polling_after_completion_is_pending_not_a_panic() {
    let lock = Lock::new();
    let probe = Probe::new();
    let mut acquire = lock.acquire();
    let guard = match probe.poll(&mut acquire) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("free lock"),
    };
    assert!(probe.poll(&mut acquire).is_pending());
    drop(guard);
}

#[test]
fn mutual_exclusion_with_many_tasks_on_a_local_executor() {
    let lock = Lock::new();
    let inside = Cell::new(false);
    let total = Cell::new(0);
    let ex = LocalExecutor::new();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            ex.spawn(async {
                for _ in 0..50 {
                    let _g = lock.acquire().await;
                    assert!(!inside.replace(true), "two tasks inside the lock");
                    future::yield_now().await;
                    total.set(total.get() + 1);
                    inside.set(false);
                }
            })
        })
        .collect();
    util::block_on(&ex, async {
        for t in tasks {
            t.await;
        }
    });
    assert_eq!(total.get(), 1000);
    assert!(!lock.locked());
}

#[test]
fn debug_shows_the_state() {
    let lock = Lock::new();
    let _g = lock.try_acquire();
    let s = format!("{lock:?}");
    assert!(s.contains("locked: true"), "{s}");
}
