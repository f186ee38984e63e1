//! CORE-15: `shield` protects the inner task; `cancel_on_drop` is its
//! structured counterpart.

use std::cell::Cell;
use std::rc::Rc;

use loop_core::test_util::TestLoop;
use loop_core::{
    Error, ExceptionContext, ExceptionHandler, Loop, Task, cancel_on_drop, gather, shield, sleep,
    timeout,
};

mod helpers_util;
use helpers_util::*;

/// A task that sleeps `s` seconds, sets `flag`, and returns `value`.
fn flagged(lp: &Loop, s: u64, flag: &Rc<Cell<bool>>, value: u32) -> Task<u32> {
    let flag = flag.clone();
    lp.create_task(async move {
        sleep(secs(s)).await.unwrap();
        flag.set(true);
        value
    })
    .unwrap()
}

fn count_reports(lp: &Loop) -> Rc<Cell<usize>> {
    let n = Rc::new(Cell::new(0));
    let n2 = n.clone();
    let handler: ExceptionHandler =
        Rc::new(move |_: &Loop, _: &ExceptionContext| n2.set(n2.get() + 1));
    lp.set_exception_handler(Some(handler));
    n
}

#[test]
fn shield_resolves_to_the_inner_output() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let flag = Rc::new(Cell::new(false));
    let f = flag.clone();
    let out = run(&lp, async move { shield(flagged(&l, 2, &f, 9)).await });
    assert_eq!(out.unwrap(), 9);
    assert!(flag.get());
}

#[test]
fn cancelling_the_awaiter_of_a_shield_leaves_the_inner_task_running() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let flag = Rc::new(Cell::new(false));
    let f = flag.clone();
    let (outer_out, inner) = run(&lp, async move {
        let inner = flagged(&l, 5, &f, 1);
        let inner_ref = inner.as_task_ref();
        let outer = l.create_task(shield(inner)).unwrap();
        sleep(secs(1)).await.unwrap();
        outer.cancel();
        (outer.await, inner_ref)
    });
    assert!(matches!(outer_out, Err(Error::Cancelled { .. })), "the caller is still cancelled");
    assert!(!inner.cancelling() && !inner.done());
    run(&lp, async { sleep(secs(10)).await.unwrap() });
    assert!(flag.get(), "the shielded task must run to completion");
    assert!(inner.done() && !inner.cancelled());
}

#[test]
fn a_shielded_child_survives_the_cancellation_of_its_gather() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let (kept, lost) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
    let (k, lo) = (kept.clone(), lost.clone());
    run(&lp, async move {
        let protected = l.create_task(shield(flagged(&l, 5, &k, 1))).unwrap();
        // The same shape without the shield: the wrapper task cancels its inner one.
        let exposed = l.create_task(cancel_on_drop(flagged(&l, 5, &lo, 2))).unwrap();
        let g = l.create_task(gather(vec![protected, exposed])).unwrap();
        sleep(secs(1)).await.unwrap();
        g.cancel();
        assert!(matches!(g.await, Err(Error::Cancelled { .. })));
        sleep(secs(10)).await.unwrap();
    });
    assert!(kept.get(), "shield must protect the inner task from gather's cancellation");
    assert!(!lost.get(), "the unshielded child must have been cancelled");
}

#[test]
fn shield_times_out_without_cancelling_the_inner_task() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let flag = Rc::new(Cell::new(false));
    let f = flag.clone();
    let out = run(&lp, async move {
        let res = timeout(secs(1), shield(flagged(&l, 3, &f, 1))).await;
        sleep(secs(5)).await.unwrap();
        res
    });
    assert!(matches!(out, Err(Error::TimedOut { .. })));
    assert!(flag.get());
}

#[test]
fn shield_reports_the_inner_task_being_cancelled_by_other_means() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let flag = Rc::new(Cell::new(false));
    let f = flag.clone();
    let out = run(&lp, async move {
        let inner = flagged(&l, 5, &f, 1);
        let inner_ref = inner.as_task_ref();
        let l2 = l.clone();
        l2.call_later(secs(1), move || {
            inner_ref.cancel();
        })
        .unwrap();
        shield(inner).await
    });
    assert!(matches!(out, Err(Error::Cancelled { .. })), "{out:?}");
    assert!(!flag.get());
}

/// Each report's message and error.
type Reports = Rc<std::cell::RefCell<Vec<(String, Option<Error>)>>>;

/// Records every report's message and error.
fn record_reports(lp: &Loop) -> Reports {
    let log = Rc::new(std::cell::RefCell::new(Vec::new()));
    let l2 = log.clone();
    let handler: ExceptionHandler = Rc::new(move |_: &Loop, ctx: &ExceptionContext| {
        l2.borrow_mut().push((ctx.message.clone(), ctx.error.clone()))
    });
    lp.set_exception_handler(Some(handler));
    log
}

#[test]
fn a_shielded_failure_after_the_outer_was_cancelled_is_reported() {
    // asyncio 3.12+: the outer future was cancelled, so nobody will ever
    // see the inner task's exception: it is reported ("exception was never
    // retrieved") instead of being swallowed.
    let lp = TestLoop::new().unwrap();
    let reports = record_reports(&lp);
    let l = lp.handle().clone();
    let inner = run(&lp, async move {
        let inner = l
            .create_task(async {
                sleep(secs(2)).await.unwrap();
                panic!("inner failed");
            })
            .unwrap();
        let inner_ref = inner.as_task_ref();
        let outer = l.create_task(shield::<()>(inner)).unwrap();
        sleep(secs(1)).await.unwrap();
        outer.cancel();
        assert!(matches!(outer.await, Err(Error::Cancelled { .. })));
        sleep(secs(5)).await.unwrap();
        inner_ref
    });
    assert!(inner.done());
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].0, "Task exception was never retrieved");
    assert!(
        matches!(&reports[0].1, Some(Error::Panicked(m)) if m == "inner failed"),
        "{reports:?}"
    );
}

#[test]
fn a_shielded_success_after_the_outer_was_cancelled_is_not_reported() {
    let lp = TestLoop::new().unwrap();
    let reports = count_reports(&lp);
    let l = lp.handle().clone();
    let flag = Rc::new(Cell::new(false));
    let f = flag.clone();
    run(&lp, async move {
        drop(shield(flagged(&l, 2, &f, 1)));
        sleep(secs(5)).await.unwrap();
    });
    assert!(flag.get());
    assert_eq!(reports.get(), 0);
}

#[test]
fn dropping_cancel_on_drop_cancels_the_task_and_awaiting_it_gives_the_output() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let flag = Rc::new(Cell::new(false));
    let f = flag.clone();
    let (value, dropped) = run(&lp, async move {
        let value = cancel_on_drop(l.create_task(async { 4 }).unwrap()).await.unwrap();
        let guarded = cancel_on_drop(flagged(&l, 5, &f, 1));
        let r = guarded.task().as_task_ref();
        drop(guarded);
        sleep(secs(10)).await.unwrap();
        (value, r)
    });
    assert_eq!(value, 4);
    assert!(dropped.cancelled());
    assert!(!flag.get());
}
