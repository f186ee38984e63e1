//! CORE-03: `call_soon` is FIFO, runs each callback exactly once, on the
//! next iteration, never re-entrantly. CORE-06 for plain `Handle`s: cancel.

mod core_util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use loop_core::Handle;
use loop_core::test_util::TestLoop;

/// Runs `t` until no callback is left: stops through a callback scheduled
/// behind everything (and rescheduled while work remains).
fn run_until_idle(t: &TestLoop) {
    let lp = t.handle().clone();
    t.call_soon(move || lp.stop()).unwrap();
    t.run_forever().unwrap();
}

#[test]
fn callbacks_run_in_fifo_order() {
    let t = TestLoop::new().unwrap();
    let order = Rc::new(RefCell::new(Vec::new()));
    for i in 0..1000 {
        let o = order.clone();
        t.call_soon(move || o.borrow_mut().push(i)).unwrap();
    }
    run_until_idle(&t);
    assert_eq!(*order.borrow(), (0..1000).collect::<Vec<_>>());
    t.close().unwrap();
}

#[test]
fn each_callback_runs_exactly_once() {
    let t = TestLoop::new().unwrap();
    let counts: Rc<Vec<Cell<u32>>> = Rc::new((0..50).map(|_| Cell::new(0)).collect());
    for i in 0..50 {
        let c = counts.clone();
        t.call_soon(move || c[i].set(c[i].get() + 1)).unwrap();
    }
    // Many more iterations than needed (stop() first: an idle loop would
    // block in the selector).
    for _ in 0..10 {
        t.stop();
        t.run_forever().unwrap();
    }
    assert_eq!(t.iterations(), 10);
    assert!(counts.iter().all(|c| c.get() == 1), "{counts:?}");
    t.close().unwrap();
}

#[test]
fn call_soon_never_runs_the_callback_before_returning() {
    let t = TestLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let lp = t.handle().clone();
    let inner_ran_inline = Rc::new(Cell::new(None));
    let iri = inner_ran_inline.clone();
    t.call_soon(move || {
        let r2 = r.clone();
        lp.call_soon(move || r2.set(true)).unwrap();
        // Scheduled from a running callback: still not run yet.
        iri.set(Some(r.get()));
    })
    .unwrap();
    assert!(!ran.get());
    t.run_once().unwrap();
    assert_eq!(inner_ran_inline.get(), Some(false), "ran re-entrantly inside call_soon");
    assert!(!ran.get(), "ran in the batch that scheduled it");
    t.run_once().unwrap();
    assert!(ran.get());
    t.close().unwrap();
}

#[test]
fn callbacks_scheduled_by_a_batch_run_in_the_next_iteration() {
    let t = TestLoop::new().unwrap();
    let t = Rc::new(t);
    let log: Rc<RefCell<Vec<(&str, u64)>>> = Rc::new(RefCell::new(Vec::new()));
    let (l, t2) = (log.clone(), t.clone());
    t.call_soon(move || {
        l.borrow_mut().push(("a", t2.iterations()));
        let (l2, t3) = (l.clone(), t2.clone());
        t2.call_soon(move || {
            l2.borrow_mut().push(("c", t3.iterations()));
            let (l3, t4) = (l2.clone(), t3.clone());
            t3.call_soon(move || l3.borrow_mut().push(("d", t4.iterations()))).unwrap();
        })
        .unwrap();
    })
    .unwrap();
    let (l, t2) = (log.clone(), t.clone());
    t.call_soon(move || l.borrow_mut().push(("b", t2.iterations()))).unwrap();
    for _ in 0..3 {
        t.run_once().unwrap();
    }
    assert_eq!(*log.borrow(), vec![("a", 1), ("b", 1), ("c", 2), ("d", 3)]);
    t.close().unwrap();
}

#[test]
fn a_self_rescheduling_callback_does_not_starve_the_loop() {
    // If a batch ran what it scheduled, this would never return.
    let t = Rc::new(TestLoop::new().unwrap());
    let n = Rc::new(Cell::new(0u32));
    fn again(t: Rc<TestLoop>, n: Rc<Cell<u32>>) {
        n.set(n.get() + 1);
        let t2 = t.clone();
        t.call_soon(move || again(t2, n)).unwrap();
    }
    let (t2, n2) = (t.clone(), n.clone());
    t.call_soon(move || again(t2, n2)).unwrap();
    t.run_once().unwrap();
    assert_eq!(n.get(), 1);
    t.run_once().unwrap();
    assert_eq!(n.get(), 2);
    t.close().unwrap();
}

#[test]
fn cancelled_handle_does_not_run_and_cancel_is_idempotent() {
    let t = TestLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let h = t.call_soon(move || r.set(true)).unwrap();
    assert!(!h.cancelled());
    h.cancel();
    assert!(h.cancelled());
    h.cancel();
    assert!(h.cancelled());
    run_until_idle(&t);
    assert!(!ran.get());
    t.close().unwrap();
}

#[test]
fn cancel_after_run_is_a_no_op() {
    let t = TestLoop::new().unwrap();
    let n = Rc::new(Cell::new(0));
    let n2 = n.clone();
    let h = t.call_soon(move || n2.set(n2.get() + 1)).unwrap();
    run_until_idle(&t);
    assert_eq!(n.get(), 1);
    h.cancel();
    h.cancel();
    run_until_idle(&t);
    assert_eq!(n.get(), 1);
    t.close().unwrap();
}

#[test]
fn cancel_from_an_earlier_callback_of_the_same_batch_prevents_the_run() {
    let t = TestLoop::new().unwrap();
    let slot: Rc<RefCell<Option<Handle>>> = Rc::new(RefCell::new(None));
    let s = slot.clone();
    t.call_soon(move || s.borrow().as_ref().unwrap().cancel()).unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    *slot.borrow_mut() = Some(t.call_soon(move || r.set(true)).unwrap());
    t.run_once().unwrap();
    assert!(!ran.get(), "a handle cancelled earlier in its batch still ran");
    t.close().unwrap();
}

#[test]
fn cancel_releases_the_closure_at_once() {
    let t = TestLoop::new().unwrap();
    let (guard, dropped) = core_util::drop_flag();
    let h = t.call_soon(move || drop(guard)).unwrap();
    h.cancel();
    assert!(dropped.get());
    t.close().unwrap();
}

#[test]
fn handles_record_where_they_were_created() {
    let t = TestLoop::new().unwrap();
    let line = line!() + 1;
    let h = t.call_soon(|| {}).unwrap();
    assert!(h.site().file().ends_with("core_call_soon.rs"), "{}", h.site());
    assert_eq!(h.site().line(), line);
    assert!(format!("{h:?}").contains("core_call_soon.rs"));
    t.close().unwrap();
}

#[test]
fn call_before_poll_runs_after_the_batch_and_before_the_next_poll() {
    let t = Rc::new(TestLoop::new().unwrap());
    let log: Rc<RefCell<Vec<(&str, u64)>>> = Rc::new(RefCell::new(Vec::new()));
    let (l, t2) = (log.clone(), t.clone());
    t.call_soon(move || {
        l.borrow_mut().push(("a", t2.iterations()));
        let (l2, t3) = (l.clone(), t2.clone());
        t2.call_before_poll(move || l2.borrow_mut().push(("flush", t3.iterations()))).unwrap();
        let (l2, t3) = (l.clone(), t2.clone());
        t2.call_soon(move || l2.borrow_mut().push(("next", t3.iterations()))).unwrap();
    })
    .unwrap();
    let (l, t2) = (log.clone(), t.clone());
    t.call_soon(move || l.borrow_mut().push(("b", t2.iterations()))).unwrap();
    let cancelled = t.call_before_poll(|| panic!("cancelled")).unwrap();
    cancelled.cancel();
    t.run_once().unwrap();
    t.run_once().unwrap();
    assert_eq!(*log.borrow(), vec![("a", 1), ("b", 1), ("flush", 1), ("next", 2)]);
    t.close().unwrap();
}
