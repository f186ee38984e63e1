//! Barrier: arrival indexes, rounds, draining, reset, abort, cancellation (SPEC SY-06).

mod util;

use std::cell::RefCell;

use async_executor::LocalExecutor;
use futures_lite::future;
use loop_sync::{Barrier, Error};
use util::{Polled, Probe};

#[test]
fn zero_parties_is_an_error() {
    assert!(matches!(Barrier::new(0), Err(Error::InvalidArgument(_))));
    assert_eq!(Barrier::new(3).unwrap().parties(), 3);
}

#[test]
fn wait_returns_the_arrival_index_once_all_parties_arrived() {
    let b = Barrier::new(3).unwrap();
    let w0 = Polled::pending(b.wait());
    assert_eq!(b.n_waiting(), 1);
    let w1 = Polled::pending(b.wait());
    assert_eq!(b.n_waiting(), 2);
    // The last party completes the round at once.
    assert_eq!(future::block_on(b.wait()), Ok(2));
    assert!(w0.woken() && w1.woken());
    assert_eq!(b.n_waiting(), 0, "draining");
    assert_eq!(w1.ready(), Ok(1));
    assert_eq!(w0.ready(), Ok(0));
    assert!(!b.broken());
}

#[test]
fn a_single_party_barrier_never_waits() {
    let b = Barrier::new(1).unwrap();
    for _ in 0..3 {
        assert_eq!(future::block_on(b.wait()), Ok(0));
    }
}

#[test]
fn newcomers_wait_while_the_barrier_drains() {
    let b = Barrier::new(2).unwrap();
    let a = Polled::pending(b.wait());
    assert_eq!(future::block_on(b.wait()), Ok(1));
    // a was released but has not left: a newcomer waits for the next round.
    let mut c = Polled::pending(b.wait());
    assert_eq!(b.n_waiting(), 0);
    assert_eq!(a.ready(), Ok(0));
    assert!(c.probe.woken() > 0, "the last one out lets newcomers in");
    assert!(c.poll().is_pending(), "c is now the first of the next round");
    assert_eq!(b.n_waiting(), 1);
    assert_eq!(future::block_on(b.wait()), Ok(1));
    assert_eq!(c.ready(), Ok(0));
}

#[test]
fn reset_breaks_the_waiting_tasks_then_the_barrier_is_usable() {
    let b = Barrier::new(3).unwrap();
    let a = Polled::pending(b.wait());
    let c = Polled::pending(b.wait());
    b.reset();
    assert_eq!(b.n_waiting(), 0);
    assert_eq!(a.ready(), Err(Error::BrokenBarrier));
    assert_eq!(c.ready(), Err(Error::BrokenBarrier));
    assert!(!b.broken());
    let ws: Vec<_> = (0..2).map(|_| Polled::pending(b.wait())).collect();
    assert_eq!(future::block_on(b.wait()), Ok(2));
    for (i, w) in ws.into_iter().enumerate() {
        assert_eq!(w.ready(), Ok(i));
    }
}

#[test]
fn reset_during_draining_breaks_released_tasks_that_have_not_run() {
    // asyncio's behaviour: the state is checked when the task runs.
    let b = Barrier::new(2).unwrap();
    let a = Polled::pending(b.wait());
    assert_eq!(future::block_on(b.wait()), Ok(1));
    b.reset();
    assert_eq!(a.ready(), Err(Error::BrokenBarrier));
    assert_eq!(b.n_waiting(), 0);
    let _w = Polled::pending(b.wait());
    assert_eq!(b.n_waiting(), 1, "filling again once everybody left");
}

#[test]
fn abort_breaks_the_barrier_until_reset() {
    let b = Barrier::new(2).unwrap();
    let a = Polled::pending(b.wait());
    b.abort();
    assert!(b.broken());
    assert_eq!(a.ready(), Err(Error::BrokenBarrier));
    assert_eq!(future::block_on(b.wait()), Err(Error::BrokenBarrier));
    b.reset();
    assert!(!b.broken());
    let a = Polled::pending(b.wait());
    assert_eq!(future::block_on(b.wait()), Ok(1));
    assert_eq!(a.ready(), Ok(0));
}

#[test]
fn a_cancelled_waiter_leaves_without_breaking_the_barrier() {
    let b = Barrier::new(2).unwrap();
    let a = Polled::pending(b.wait());
    assert_eq!(b.n_waiting(), 1);
    drop(a);
    assert_eq!(b.n_waiting(), 0);
    assert!(!b.broken());
    let c = Polled::pending(b.wait());
    assert_eq!(future::block_on(b.wait()), Ok(1));
    assert_eq!(c.ready(), Ok(0));
}

#[test]
fn polling_after_completion_is_pending() {
    let b = Barrier::new(1).unwrap();
    let probe = Probe::new();
    let mut w = b.wait();
    assert!(probe.poll(&mut w).is_ready());
    assert!(probe.poll(&mut w).is_pending());
}

#[test]
fn rounds_on_a_local_executor() {
    let b = Barrier::new(4).unwrap();
    let log = RefCell::new(Vec::new());
    let ex = LocalExecutor::new();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            ex.spawn(async {
                let mut indexes = Vec::new();
                for round in 0..5 {
                    log.borrow_mut().push(round);
                    indexes.push(b.wait().await.unwrap());
                    future::yield_now().await;
                }
                indexes
            })
        })
        .collect();
    let all = util::block_on(&ex, async {
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await);
        }
        all
    });
    // Nobody starts round r + 1 before everybody reached round r.
    let log = log.borrow();
    for (i, chunk) in log.chunks(4).enumerate() {
        assert!(chunk.iter().all(|&r| r == i), "{log:?}");
    }
    for round in 0..5 {
        let mut idx: Vec<_> = all.iter().map(|v| v[round]).collect();
        idx.sort_unstable();
        assert_eq!(idx, [0, 1, 2, 3]);
    }
}
