//! Semaphore and BoundedSemaphore: counting, FIFO hand-over, cancellation, bounds (SPEC SY-04).

mod util;

use std::cell::{Cell, RefCell};

use async_executor::LocalExecutor;
use futures_lite::future;
use loop_sync::{BoundedSemaphore, Error, Semaphore};
use util::{Polled, run_until_stalled};

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

/// asyncio 3.13: `Semaphore(1)`; c1 holds it, c2 and c3 wait; two releases
/// hand permits to c2 and c3; c2 releases and re-acquires without yielding.
/// c3, woken first, keeps its priority: the order is 1, 2, 3, 4.
#[test]
fn a_woken_waiter_keeps_priority_over_a_re_acquiring_holder() {
    let sem = Semaphore::new(1).unwrap();
    let order = RefCell::new(Vec::new());
    let ex = LocalExecutor::new();
    let g1 = sem.try_acquire().unwrap();
    order.borrow_mut().push(1);
    let c2 = ex.spawn(async {
        let g = sem.acquire().await;
        order.borrow_mut().push(2);
        drop(g);
        let _g = sem.acquire().await;
        order.borrow_mut().push(4);
    });
    let c3 = ex.spawn(async {
        let _g = sem.acquire().await;
        order.borrow_mut().push(3);
    });
    run_until_stalled(&ex);
    assert!(order.borrow().len() == 1, "c2 and c3 wait: {:?}", order.borrow());
    drop(g1);
    sem.release();
    run_until_stalled(&ex);
    assert!(c2.is_finished() && c3.is_finished());
    assert_eq!(*order.borrow(), [1, 2, 3, 4]);
    assert_eq!(sem.value(), 2);
}

/// The same by hand: after c2 gives its permit back, the semaphore stays
/// locked for newcomers until c3 (woken, not yet run) has taken its own.
#[test]
fn a_released_permit_waits_for_the_woken_waiters_to_run() {
    let sem = Semaphore::new(1).unwrap();
    let g1 = sem.try_acquire().unwrap();
    let c2 = Polled::pending(sem.acquire());
    let c3 = Polled::pending(sem.acquire());
    drop(g1);
    sem.release();
    assert!(c2.woken() && c3.woken());
    let g2 = c2.ready();
    drop(g2);
    assert_eq!(sem.value(), 1);
    assert!(sem.locked(), "c3 was woken and has not run: locked, as asyncio");
    assert!(sem.try_acquire().is_none(), "no barging past a woken waiter");
    let mut again = Polled::pending(sem.acquire());
    assert!(!again.woken());
    let g3 = c3.ready();
    assert!(again.woken(), "c3 passed the free permit on when it ran");
    assert_eq!(sem.value(), 0);
    assert!(again.poll().is_ready());
    drop(g3);
}

/// asyncio 3.13: `Semaphore(0)` with one waiter, released three times:
/// `locked()` stays true and newcomers queue until the woken waiter has
/// run; then it wakes them.
#[test]
fn locked_stays_true_until_the_woken_waiter_has_run() {
    let sem = Semaphore::new(0).unwrap();
    let w = Polled::pending(sem.acquire());
    sem.release();
    sem.release();
    sem.release();
    assert!(w.woken());
    assert_eq!(sem.value(), 2);
    assert!(sem.locked(), "a woken waiter has not run yet");
    assert!(sem.try_acquire().is_none());
    let mut n1 = sem.acquire();
    let mut n2 = sem.acquire();
    let (p1, p2) = (util::Probe::new(), util::Probe::new());
    assert!(p1.poll(&mut n1).is_pending(), "a newcomer took a permit before the woken waiter");
    assert!(p2.poll(&mut n2).is_pending(), "a newcomer took a permit before the woken waiter");
    let gw = w.ready();
    assert!(p1.woken() > 0 && p2.woken() > 0, "the woken waiter woke both newcomers");
    assert_eq!(sem.value(), 0);
    let (std::task::Poll::Ready(g1), std::task::Poll::Ready(g2)) =
        (p1.poll(&mut n1), p2.poll(&mut n2))
    else {
        panic!("woken newcomers are served");
    };
    drop((gw, g1, g2));
    assert_eq!(sem.value(), 3);
    assert!(!sem.locked());
}

/// A woken waiter that is dropped before it runs gives its permit back and
/// wakes the waiters queued behind it, as asyncio's cancelled acquire does.
#[test]
fn a_dropped_woken_waiter_wakes_the_newcomers_queued_behind_it() {
    let sem = Semaphore::new(0).unwrap();
    let w = Polled::pending(sem.acquire());
    sem.release();
    sem.release();
    let n = Polled::pending(sem.acquire());
    assert!(!n.woken());
    drop(w);
    assert!(n.woken());
    let g = n.ready();
    assert_eq!(sem.value(), 1);
    drop(g);
    assert_eq!(sem.value(), 2);
}
