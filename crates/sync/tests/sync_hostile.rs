//! Hostile sizes for the primitives' constructors and counters (issue 13,
//! "Bad input"): the most negative and the largest initial values, zero
//! and unbounded queue sizes, barriers of one and of `usize::MAX` parties,
//! `notify` of none and of everyone. Each gets a typed error or a defined
//! outcome, decided at once — never a panic, an overflow or a wait that
//! cannot end. (Negative semaphores, `Barrier::new(0)`, `notify` without
//! the lock and `task_done` past the puts are pinned in the per-primitive
//! tests.)

mod util;

use loop_sync::{
    Barrier, BoundedSemaphore, Condition, Error, LifoQueue, PriorityQueue, PutError, Queue,
    Semaphore,
};
use util::Polled;

#[test]
fn semaphores_at_the_ends_of_isize() {
    assert!(matches!(Semaphore::new(isize::MIN), Err(Error::InvalidArgument(_))));
    assert!(matches!(BoundedSemaphore::new(isize::MIN), Err(Error::InvalidArgument(_))));

    let sem = Semaphore::new(isize::MAX).unwrap();
    assert_eq!(sem.value(), isize::MAX as usize);
    let g = sem.try_acquire().expect("a permit is free");
    assert_eq!(sem.value(), isize::MAX as usize - 1);
    drop(g);
    // Releasing past the initial value grows an unbounded semaphore.
    sem.release();
    assert_eq!(sem.value(), isize::MAX as usize + 1);
    assert!(!sem.locked());
}

#[test]
fn a_bounded_semaphore_of_zero_permits_refuses_every_release() {
    let sem = BoundedSemaphore::new(0).unwrap();
    assert_eq!(sem.bound(), 0);
    assert_eq!(sem.release(), Err(Error::ReleasedTooOften));
    assert!(sem.locked());
    assert!(sem.try_acquire().is_none());
    // An acquire waits (it is not an error), and a refused release does
    // not wake it.
    let mut waiting = Polled::pending(Box::pin(sem.acquire()));
    assert_eq!(sem.release(), Err(Error::ReleasedTooOften));
    assert!(waiting.poll().is_pending());
    assert!(!waiting.woken());
    assert_eq!(sem.value(), 0);
}

#[test]
fn a_bounded_semaphore_of_isize_max_permits_still_checks_its_bound() {
    let sem = BoundedSemaphore::new(isize::MAX).unwrap();
    let bound = isize::MAX as usize;
    assert_eq!(sem.bound(), bound);
    assert_eq!(sem.release(), Err(Error::ReleasedTooOften), "every permit is free");
    let g = sem.try_acquire().unwrap();
    g.forget();
    sem.release().unwrap();
    assert_eq!(sem.release(), Err(Error::ReleasedTooOften));
    assert_eq!(sem.value(), bound);
    // A guard whose permit was released by hand gives nothing back twice.
    let g = sem.try_acquire().unwrap();
    sem.release().unwrap();
    drop(g);
    assert_eq!(sem.value(), bound);
}

#[test]
fn a_queue_of_maxsize_usize_max_is_bounded_but_never_full() {
    let q = Queue::new(usize::MAX);
    assert_eq!(q.maxsize(), usize::MAX);
    for i in 0..10_000 {
        q.put_nowait(i).unwrap();
    }
    assert!(!q.full());
    assert_eq!(q.qsize(), 10_000);
    assert_eq!(q.get_nowait(), Ok(0));

    let lifo = LifoQueue::new(usize::MAX);
    let prio = PriorityQueue::new(usize::MAX);
    for i in [3, 1, 2] {
        lifo.put_nowait(i).unwrap();
        prio.put_nowait(i).unwrap();
    }
    assert!(!lifo.full() && !prio.full());
    assert_eq!(lifo.get_nowait(), Ok(2));
    assert_eq!(prio.get_nowait(), Ok(1));
}

#[test]
fn a_queue_of_maxsize_zero_is_unbounded_and_of_one_is_full_at_once() {
    let q = Queue::new(0);
    for i in 0..10_000 {
        q.put_nowait(i).unwrap();
    }
    assert!(!q.full(), "0 means unbounded");

    let q = Queue::new(1);
    q.put_nowait('a').unwrap();
    assert!(q.full());
    match q.put_nowait('b') {
        Err(PutError::Full(item)) => assert_eq!(item, 'b'),
        other => panic!("{other:?}"),
    }
    // A waiting put completes once room is made, and not before.
    let mut put = Polled::pending(Box::pin(q.put('c')));
    assert_eq!(q.get_nowait(), Ok('a'));
    assert!(put.woken());
    assert!(matches!(put.poll(), std::task::Poll::Ready(Ok(()))));
    assert_eq!(q.get_nowait(), Ok('c'));
    assert_eq!(q.get_nowait(), Err(Error::QueueEmpty));
}

#[test]
fn barriers_of_one_and_of_usize_max_parties() {
    let one = Barrier::new(1).unwrap();
    for _ in 0..3 {
        let w = Polled { fut: Box::pin(one.wait()), probe: util::Probe::new() };
        assert_eq!(w.ready(), Ok(0), "a party of one passes at once");
    }
    assert!(!one.broken());

    let huge = Barrier::new(usize::MAX).unwrap();
    assert_eq!(huge.parties(), usize::MAX);
    let mut a = Polled::pending(Box::pin(huge.wait()));
    let mut b = Polled::pending(Box::pin(huge.wait()));
    assert_eq!(huge.n_waiting(), 2);
    // The round can never fill; abort is the way out, and it is typed.
    huge.abort();
    assert!(a.woken() && b.woken());
    assert!(matches!(a.poll(), std::task::Poll::Ready(Err(Error::BrokenBarrier))));
    assert!(matches!(b.poll(), std::task::Poll::Ready(Err(Error::BrokenBarrier))));
    assert!(huge.broken());
}

#[test]
fn notify_of_zero_and_of_usize_max() {
    let cond = Condition::new();
    let guard_a = futures_lite::future::block_on(cond.acquire());
    let mut a = Polled::pending(Box::pin(cond.wait(guard_a)));
    let guard_b = futures_lite::future::block_on(cond.acquire());
    let mut b = Polled::pending(Box::pin(cond.wait(guard_b)));
    let held = futures_lite::future::block_on(cond.acquire());
    assert_eq!(cond.notify(0), Ok(0), "notify(0) wakes nobody");
    assert!(!a.woken() && !b.woken());
    assert_eq!(cond.notify(usize::MAX), Ok(2), "notify(usize::MAX) wakes everyone, no more");
    assert_eq!(cond.notify(usize::MAX), Ok(0));
    drop(held);
    assert!(a.woken());
    let ga = match a.poll() {
        std::task::Poll::Ready(r) => r.expect("re-acquired"),
        std::task::Poll::Pending => panic!("a was notified"),
    };
    drop(ga);
    assert!(b.woken());
    assert!(matches!(b.poll(), std::task::Poll::Ready(Ok(_))));
}
