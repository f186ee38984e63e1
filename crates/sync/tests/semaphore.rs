//! Semaphore and BoundedSemaphore: counting, FIFO hand-over, cancellation, bounds (SPEC SY-04).

mod util;

use std::cell::Cell;

use async_executor::LocalExecutor;
use futures_lite::future;
use loop_sync::{BoundedSemaphore, Error, Semaphore};
use util::Polled;

#[test]
fn a_negative_initial_value_is_an_error() {
    assert!(matches!(Semaphore::new(-1), Err(Error::InvalidArgument(_))));
    assert!(matches!(BoundedSemaphore::new(-5), Err(Error::InvalidArgument(_))));
    assert_eq!(Semaphore::new(0).unwrap().value(), 0);
    assert_eq!(Semaphore::default().value(), 1, "asyncio's default value is 1");
}

#[test]
fn acquire_counts_down_and_release_up() {
    let sem = Semaphore::new(2).unwrap();
    let a = future::block_on(sem.acquire());
    assert_eq!(sem.value(), 1);
    assert!(!sem.locked());
    let b = sem.try_acquire().unwrap();
    assert!(sem.locked());
    assert!(sem.try_acquire().is_none());
    drop(a);
    drop(b);
    assert_eq!(sem.value(), 2);
    sem.release(); // an unbounded semaphore may grow
    assert_eq!(sem.value(), 3);
}

#[test]
fn permits_are_handed_over_in_fifo_order_without_barging() {
    let sem = Semaphore::new(0).unwrap();
    let a = Polled::pending(sem.acquire());
    let mut b = Polled::pending(sem.acquire());
    sem.release();
    assert!(a.woken() && !b.woken());
    assert_eq!(sem.value(), 0, "the permit went to the waiter, not the counter");
    assert!(sem.locked());
    assert!(sem.try_acquire().is_none(), "no barging past the chosen waiter");
    let _a = a.ready();
    assert!(b.poll().is_pending());
    sem.release();
    let _b = b.ready();
}

#[test]
fn a_cancelled_chosen_waiter_passes_its_permit_on() {
    let sem = Semaphore::new(0).unwrap();
    let a = Polled::pending(sem.acquire());
    let b = Polled::pending(sem.acquire());
    let mut c = Polled::pending(sem.acquire());
    sem.release();
    assert!(a.woken());
    drop(a);
    assert!(b.woken(), "the permit moved on");
    assert!(!c.woken());
    let guard = b.ready();
    assert!(c.poll().is_pending());
    drop(guard);
    let _c = c.ready();
    assert_eq!(sem.value(), 0);
}

#[test]
fn a_cancelled_chosen_waiter_with_nobody_behind_returns_the_permit() {
    let sem = Semaphore::new(0).unwrap();
    let a = Polled::pending(sem.acquire());
    sem.release();
    drop(a);
    assert_eq!(sem.value(), 1);
}

#[test]
fn no_starvation_when_every_other_waiter_is_cancelled() {
    let sem = Semaphore::new(0).unwrap();
    let mut waiters: Vec<_> = (0..10).map(|_| Some(Polled::pending(sem.acquire()))).collect();
    // Cancel the odd ones, some before and some after they are chosen.
    for i in (1..10).step_by(4) {
        waiters[i] = None;
    }
    let mut served = Vec::new();
    for _ in 0..5 {
        sem.release();
        // Drop any chosen waiter that we decided to cancel late.
        for i in (3..10).step_by(4) {
            if waiters[i].as_ref().is_some_and(|w| w.woken()) {
                waiters[i] = None;
            }
        }
        let next = waiters.iter().position(|w| w.as_ref().is_some_and(|w| w.woken()));
        let i = next.expect("someone was woken");
        let guard = waiters[i].take().unwrap().ready();
        served.push(i);
        guard.forget();
    }
    assert_eq!(served, [0, 2, 4, 6, 8]);
    assert!(waiters.iter().all(Option::is_none));
}

#[test]
fn bounded_release_over_the_initial_value_is_an_error() {
    let sem = BoundedSemaphore::new(2).unwrap();
    assert_eq!(sem.bound(), 2);
    assert_eq!(sem.release(), Err(Error::ReleasedTooOften));
    let g = sem.try_acquire().unwrap();
    g.forget();
    assert_eq!(sem.value(), 1);
    assert_eq!(sem.release(), Ok(()));
    assert_eq!(sem.release(), Err(Error::ReleasedTooOften));
    assert_eq!(sem.value(), 2);
}

#[test]
fn bounded_counts_permits_in_flight_to_chosen_waiters() {
    let sem = BoundedSemaphore::new(1).unwrap();
    let g = sem.try_acquire().unwrap();
    let w = Polled::pending(sem.acquire());
    drop(g); // handed to w, which has not run yet
    assert_eq!(sem.value(), 0);
    assert_eq!(sem.release(), Err(Error::ReleasedTooOften));
    let g = w.ready();
    drop(g);
    assert_eq!(sem.value(), 1);
}

#[test]
fn a_guard_released_by_hand_does_not_over_release_a_bounded_semaphore() {
    let sem = BoundedSemaphore::new(1).unwrap();
    let g = sem.try_acquire().unwrap();
    sem.release().unwrap();
    drop(g); // refused silently: nothing left to give back, no panic
    assert_eq!(sem.value(), 1);
}

#[test]
fn limits_concurrency_on_a_local_executor() {
    let sem = Semaphore::new(3).unwrap();
    let inside = Cell::new(0);
    let peak = Cell::new(0);
    let ex = LocalExecutor::new();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            ex.spawn(async {
                for _ in 0..10 {
                    let _permit = sem.acquire().await;
                    inside.set(inside.get() + 1);
                    peak.set(peak.get().max(inside.get()));
                    future::yield_now().await;
                    inside.set(inside.get() - 1);
                }
            })
        })
        .collect();
    util::block_on(&ex, async {
        for t in tasks {
            t.await;
        }
    });
    assert_eq!(peak.get(), 3);
    assert_eq!(sem.value(), 3);
}
