//! CORE-05 and CORE-06: `call_later`, `call_at`, `time`, `TimerHandle`.
//! Timer logic runs on virtual time (`TestLoop`); one test checks the real
//! clock never fires early.

mod core_util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use core_util::{LIMIT, Watchdog, drop_flag};
use loop_core::test_util::TestLoop;
use loop_core::{Error, Loop, TimerHandle};

const SEC: Duration = Duration::from_secs(1);

/// Runs the loop until a timer at `at` (after everything else) stops it.
fn run_until(t: &TestLoop, at: Instant) {
    let lp = t.handle().clone();
    t.call_at(at, move || lp.stop()).unwrap();
    t.run_forever().unwrap();
}

#[test]
fn timers_run_in_deadline_order_at_their_deadline() {
    let t = TestLoop::new().unwrap();
    let start = t.time();
    let log: Rc<RefCell<Vec<(u32, Duration)>>> = Rc::new(RefCell::new(Vec::new()));
    for secs in [3, 1, 2, 5, 4] {
        let (l, lp) = (log.clone(), t.handle().clone());
        t.call_later(SEC * secs, move || l.borrow_mut().push((secs, lp.time() - start))).unwrap();
    }
    run_until(&t, start + SEC * 10);
    let expected: Vec<_> = (1..=5).map(|s| (s, SEC * s)).collect();
    assert_eq!(*log.borrow(), expected);
    t.close().unwrap();
}

#[test]
fn equal_deadlines_run_in_scheduling_order() {
    let t = TestLoop::new().unwrap();
    let when = t.time() + SEC;
    let order = Rc::new(RefCell::new(Vec::new()));
    for i in 0..200 {
        let o = order.clone();
        // Mix call_at and call_later, both landing on the same instant.
        if i % 2 == 0 {
            t.call_at(when, move || o.borrow_mut().push(i)).unwrap();
        } else {
            let delay = when - t.time();
            t.call_later(delay, move || o.borrow_mut().push(i)).unwrap();
        }
    }
    run_until(&t, when + SEC);
    assert_eq!(*order.borrow(), (0..200).collect::<Vec<_>>());
    t.close().unwrap();
}

#[test]
fn a_timer_never_fires_early_on_virtual_time() {
    let t = TestLoop::new().unwrap();
    let early = Rc::new(Cell::new(0));
    let fired = Rc::new(Cell::new(0));
    let start = t.time();
    for ms in [1u64, 7, 10, 999, 1000, 1001, 60_000] {
        let when = start + Duration::from_millis(ms);
        let (e, f, lp) = (early.clone(), fired.clone(), t.handle().clone());
        let h = t
            .call_at(when, move || {
                if lp.time() < when {
                    e.set(e.get() + 1);
                }
                f.set(f.get() + 1);
            })
            .unwrap();
        assert_eq!(h.when(), when);
    }
    // Advancing to just before a deadline does not fire it.
    t.advance(Duration::from_micros(999));
    t.stop();
    t.run_forever().unwrap();
    assert_eq!(fired.get(), 0, "fired before its deadline");
    run_until(&t, start + Duration::from_secs(61));
    assert_eq!((early.get(), fired.get()), (0, 7));
    t.close().unwrap();
}

#[test]
fn a_timer_never_fires_early_on_the_real_clock() {
    let lp = Loop::new().unwrap();
    let early = Rc::new(RefCell::new(Vec::new()));
    let left = Rc::new(Cell::new(0));
    let delays = [0u64, 1, 10, 100, 500, 999, 1_000, 1_001, 1_500, 2_000, 5_000, 20_000];
    for us in delays {
        let delay = Duration::from_micros(us);
        let scheduled = Instant::now();
        let (e, n, l2) = (early.clone(), left.clone(), lp.clone());
        let h = lp
            .call_later(delay, move || {
                let (now, loop_now) = (Instant::now(), l2.time());
                if now < scheduled + delay || loop_now < scheduled + delay {
                    e.borrow_mut().push(us);
                }
                n.set(n.get() - 1);
                if n.get() == 0 {
                    l2.stop();
                }
            })
            .unwrap();
        assert!(h.when() >= scheduled + delay);
        left.set(left.get() + 1);
    }
    let dog = Watchdog::new(&lp, LIMIT);
    lp.run_forever().unwrap();
    dog.finish();
    assert!(early.borrow().is_empty(), "fired early: {:?} µs", early.borrow());
    lp.close().unwrap();
}

#[test]
fn huge_delays_are_accepted() {
    let t = TestLoop::new().unwrap();
    let ten_years = Duration::from_secs(10 * 365 * 24 * 3600);
    let start = t.time();
    let at = Rc::new(Cell::new(None));
    let (a, lp) = (at.clone(), t.handle().clone());
    let h = t
        .call_later(ten_years, move || {
            a.set(Some(lp.time()));
            lp.stop();
        })
        .unwrap();
    assert_eq!(h.when(), start + ten_years);
    t.run_forever().unwrap();
    assert_eq!(at.get(), Some(start + ten_years));
    t.close().unwrap();

    // The real loop accepts it too (and is not woken early by it).
    let lp = Loop::new().unwrap();
    let h = lp.call_later(ten_years, || panic!("fired")).unwrap();
    let h2 = lp.call_at(lp.time() + ten_years * 3, || panic!("fired")).unwrap();
    lp.stop();
    lp.run_forever().unwrap();
    assert!(!h.cancelled() && !h2.cancelled());
    lp.close().unwrap();
}

#[test]
fn an_unrepresentable_delay_is_an_invalid_argument() {
    let t = TestLoop::new().unwrap();
    let r = t.call_later(Duration::MAX, || {});
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    let lp = Loop::new().unwrap();
    let r = lp.call_later(Duration::MAX, || {});
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    let r = lp.call_later(Duration::new(u64::MAX / 2, 0), || {});
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    // Nothing was scheduled.
    assert_eq!(t.timer_count(), 0);
    t.close().unwrap();
    lp.close().unwrap();
}

#[test]
fn a_timer_in_the_past_runs_on_the_next_iteration() {
    let t = TestLoop::new().unwrap();
    t.advance(SEC);
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let past = t.time() - SEC;
    t.call_at(past, move || r.set(true)).unwrap();
    t.stop();
    t.run_forever().unwrap();
    assert!(ran.get());
    assert_eq!(t.iterations(), 1);
    t.close().unwrap();
}

#[test]
fn a_cancelled_timer_never_runs_and_its_closure_is_released() {
    let t = TestLoop::new().unwrap();
    let (guard, dropped) = drop_flag();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let h = t
        .call_later(SEC, move || {
            let _g = &guard;
            r.set(true);
        })
        .unwrap();
    assert!(!h.cancelled());
    h.cancel();
    assert!(h.cancelled());
    assert!(dropped.get(), "cancel keeps the closure alive");
    run_until(&t, t.time() + SEC * 5);
    assert!(!ran.get());
    t.close().unwrap();
}

#[test]
fn cancel_after_run_and_cancel_twice_are_no_ops() {
    let t = TestLoop::new().unwrap();
    let n = Rc::new(Cell::new(0));
    let n2 = n.clone();
    let h = t.call_later(SEC, move || n2.set(n2.get() + 1)).unwrap();
    let twice = t.call_later(SEC, || panic!("cancelled")).unwrap();
    twice.cancel();
    twice.cancel();
    assert!(twice.cancelled());
    run_until(&t, t.time() + SEC * 2);
    assert_eq!(n.get(), 1);
    h.cancel();
    h.cancel();
    run_until(&t, t.time() + SEC * 2);
    assert_eq!(n.get(), 1);
    assert_eq!(t.timer_count(), 0);
    t.close().unwrap();
}

#[test]
fn cancel_from_an_earlier_callback_of_the_same_batch_prevents_the_run() {
    let t = TestLoop::new().unwrap();
    let when = t.time() + SEC;
    let victim: Rc<RefCell<Option<TimerHandle>>> = Rc::new(RefCell::new(None));
    let v = victim.clone();
    t.call_at(when, move || v.borrow().as_ref().unwrap().cancel()).unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    *victim.borrow_mut() = Some(t.call_at(when, move || r.set(true)).unwrap());
    // A plain callback cancelling a timer that is due in the same batch.
    let victim2: Rc<RefCell<Option<TimerHandle>>> = Rc::new(RefCell::new(None));
    let ran2 = Rc::new(Cell::new(false));
    let r2 = ran2.clone();
    *victim2.borrow_mut() = Some(t.call_at(when, move || r2.set(true)).unwrap());
    let (v2, lp) = (victim2.clone(), t.handle().clone());
    t.call_at(when, move || {
        v2.borrow().as_ref().unwrap().cancel();
        lp.stop();
    })
    .unwrap();
    t.run_forever().unwrap();
    assert_eq!(t.iterations(), 1, "all four were in one batch");
    assert!(!ran.get(), "a timer cancelled earlier in its batch still ran");
    // victim2 was scheduled before its canceller: it ran first, as it should.
    assert!(ran2.get());
    t.close().unwrap();
}

#[test]
fn many_cancelled_timers_do_not_grow_the_heap() {
    let t = TestLoop::new().unwrap();
    // One live timer far out keeps the heap's top alive, so cancelled
    // entries below it are only reclaimed by purging.
    let keep = t.call_later(SEC * 1_000_000, || {}).unwrap();
    let mut peak = 0;
    for round in 0..100 {
        for i in 0..100u32 {
            let h = t.call_later(SEC * (1000 + round * 100 + i), || {}).unwrap();
            h.cancel();
        }
        t.stop();
        t.run_forever().unwrap();
        peak = peak.max(t.timer_count());
    }
    // 10 000 cancelled timers went through; the heap stays near the purge
    // threshold (more than 100 timers and more than half cancelled).
    assert!(peak <= 202, "heap grew to {peak}");
    assert!(t.timer_count() <= 202);
    assert!(!keep.cancelled());
    t.close().unwrap();
}

#[test]
fn cancelled_timers_mixed_with_live_ones_are_purged() {
    let t = TestLoop::new().unwrap();
    let fired = Rc::new(Cell::new(0u32));
    let mut live = Vec::new();
    for i in 0..1000u32 {
        let f = fired.clone();
        let h = t.call_later(SEC * (10 + i), move || f.set(f.get() + 1)).unwrap();
        if i % 4 == 0 {
            live.push(h);
        } else {
            h.cancel();
        }
    }
    t.stop();
    t.run_forever().unwrap();
    assert_eq!(t.timer_count(), 250, "cancelled entries were not purged");
    run_until(&t, t.time() + SEC * 2000);
    assert_eq!(fired.get(), 250);
    t.close().unwrap();
}

#[test]
fn time_is_monotonic_and_when_is_the_deadline() {
    let lp = Loop::new().unwrap();
    let a = lp.time();
    let b = lp.time();
    assert!(b >= a);
    let h = lp.call_at(a + SEC * 3, || {}).unwrap();
    assert_eq!(h.when(), a + SEC * 3);
    let before = lp.time();
    let h2 = lp.call_later(SEC, || {}).unwrap();
    assert!(h2.when() >= before + SEC && h2.when() <= lp.time() + SEC);
    lp.close().unwrap();

    let t = TestLoop::new().unwrap();
    let t0 = t.time();
    t.advance(SEC * 2);
    assert_eq!(t.time() - t0, SEC * 2);
    t.close().unwrap();
}

#[test]
fn a_cancelled_timer_at_the_head_is_dropped_every_iteration_even_when_busy() {
    // asyncio drops cancelled timers from the head of its heap at every
    // iteration, not only when it computes a blocking timeout.
    let t = TestLoop::new().unwrap();
    let head = t.call_later(10 * SEC, || {}).unwrap();
    t.call_later(20 * SEC, || {}).unwrap();
    head.cancel();
    // Something is ready: the iteration polls without blocking.
    t.call_soon(|| {}).unwrap();
    t.run_once().unwrap();
    assert_eq!(t.timer_count(), 1, "the cancelled head is still in the heap");
}

#[test]
fn cancelling_a_timer_through_its_handle_counts_toward_purging() {
    // `TimerHandle::handle().cancel()` is a cancellation like
    // `TimerHandle::cancel()`: the heap is purged once more than half of
    // more than 100 timers are cancelled.
    let t = TestLoop::new().unwrap();
    let timers: Vec<TimerHandle> =
        (0..200).map(|i| t.call_later((100 + i) * SEC, || {}).unwrap()).collect();
    // The later ones, so that none of them is at the head of the heap.
    for timer in &timers[50..] {
        timer.handle().cancel();
    }
    t.call_soon(|| {}).unwrap(); // the iteration does not wait for a timer
    t.run_once().unwrap();
    assert_eq!(t.timer_count(), 50, "the cancelled timers were not purged");
}
