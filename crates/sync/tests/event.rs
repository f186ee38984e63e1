//! Event: set wakes every waiter, clear, is_set, cancellation (SPEC SY-02).

mod util;

use std::cell::Cell;

use async_executor::LocalExecutor;
use futures_lite::future;
use loop_sync::Event;
use util::{Polled, Probe, run_until_stalled};

#[test]
fn set_wakes_every_waiter() {
    let event = Event::new();
    let waiters: Vec<_> = (0..5).map(|_| Polled::pending(event.wait())).collect();
    assert!(!event.is_set());
    event.set();
    assert!(event.is_set());
    for w in waiters {
        assert!(w.woken());
        w.ready();
    }
}

#[test]
fn a_wait_after_set_returns_at_once_and_clear_blocks_again() {
    let event = Event::new();
    event.set();
    future::block_on(event.wait());
    event.clear();
    assert!(!event.is_set());
    let mut w = Polled::pending(event.wait());
    event.set();
    assert!(w.poll().is_ready());
}

#[test]
fn woken_waiters_complete_even_if_cleared_before_they_run() {
    let event = Event::new();
    let a = Polled::pending(event.wait());
    let b = Polled::pending(event.wait());
    event.set();
    event.clear();
    a.ready();
    b.ready();
}

#[test]
fn a_cancelled_waiter_does_not_disturb_the_others() {
    let event = Event::new();
    let a = Polled::pending(event.wait());
    let b = Polled::pending(event.wait());
    drop(a);
    event.set();
    b.ready();
    // Setting twice is harmless.
    event.set();
}

#[test]
fn polling_after_completion_is_pending() {
    let event = Event::new();
    event.set();
    let probe = Probe::new();
    let mut wait = event.wait();
    assert!(probe.poll(&mut wait).is_ready());
    assert!(probe.poll(&mut wait).is_pending());
}

#[test]
fn tasks_on_a_local_executor_all_resume() {
    let event = Event::new();
    let resumed = Cell::new(0);
    let ex = LocalExecutor::new();
    for _ in 0..10 {
        ex.spawn(async {
            event.wait().await;
            resumed.set(resumed.get() + 1);
        })
        .detach();
    }
    run_until_stalled(&ex);
    assert_eq!(resumed.get(), 0);
    event.set();
    run_until_stalled(&ex);
    assert_eq!(resumed.get(), 10);
}
