//! CORE-15: `gather` and `gather_return_exceptions` — input order, first
//! failure, and asyncio's cancellation rules: cancelling (dropping) the
//! gather cancels the children; a cancelled child cancels neither the
//! gather's caller nor its siblings.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use loop_core::test_util::TestLoop;
use loop_core::{Error, ExceptionHandler, Loop, Task, gather, gather_return_exceptions, sleep};

mod helpers_util;
use helpers_util::*;

/// Counts reports to the loop's exception handler.
fn count_reports(lp: &Loop) -> Rc<Cell<usize>> {
    let n = Rc::new(Cell::new(0));
    let n2 = n.clone();
    let handler: ExceptionHandler =
        Rc::new(move |_lp: &Loop, _ctx: &loop_core::ExceptionContext| {
            n2.set(n2.get() + 1);
        });
    lp.set_exception_handler(Some(handler));
    n
}

#[test]
fn outputs_come_in_input_order_not_completion_order() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let out =
        run(
            &lp,
            async move { gather(vec![after(&l, 3, 1), after(&l, 1, 2), after(&l, 2, 3)]).await },
        );
    assert_eq!(out.unwrap(), vec![1, 2, 3]);
    assert_eq!(lp.time() - start, secs(3));
}

#[test]
fn no_tasks_gather_to_an_empty_vec() {
    let lp = TestLoop::new().unwrap();
    let out = run(&lp, async { gather(Vec::<Task<u8>>::new()).await });
    assert_eq!(out.unwrap(), Vec::<u8>::new());
    let all = run(&lp, async { gather_return_exceptions(Vec::<Task<u8>>::new()).await });
    assert!(all.is_empty());
}

#[test]
fn first_failure_propagates_at_once_and_the_others_keep_running() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let finished = Rc::new(Cell::new(false));
    let f = finished.clone();
    let (res, at) = run(&lp, async move {
        let slow = l
            .create_task(async move {
                sleep(secs(5)).await.unwrap();
                f.set(true);
                0
            })
            .unwrap();
        let res = gather(vec![after(&l, 2, 1), panics_after(&l, 1), slow]).await;
        let at = get_time();
        (res, at)
    });
    assert!(matches!(&res, Err(Error::Panicked(m)) if m.contains("child failed")), "{res:?}");
    assert_eq!(at - start, secs(1), "the failure must propagate immediately");
    assert!(!finished.get());
    // The gather was dropped after resolving: that must not cancel the rest.
    run(&lp, async { sleep(secs(10)).await.unwrap() });
    assert!(finished.get(), "a sibling of the failed child was cancelled");
}

fn get_time() -> std::time::Instant {
    loop_core::get_running_loop().unwrap().time()
}

#[test]
fn later_failures_after_the_first_are_retrieved_not_reported() {
    let lp = TestLoop::new().unwrap();
    let reports = count_reports(&lp);
    let l = lp.handle().clone();
    let res = run(&lp, async move { gather(vec![panics_after(&l, 1), panics_after(&l, 2)]).await });
    assert!(res.unwrap_err().is_panic());
    run(&lp, async { sleep(secs(5)).await.unwrap() });
    assert_eq!(reports.get(), 0, "asyncio's gather marks later failures retrieved");
}

#[test]
fn dropping_the_gather_before_it_resolves_cancels_pending_children() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let (done_child, pending_child) = run(&lp, async move {
        let quick = after(&l, 1, 1);
        let slow = after(&l, 60, 2);
        let (quick_ref, slow_ref) = (quick.as_task_ref(), slow.as_task_ref());
        let g = gather(vec![quick, slow]);
        // Abandon the gather after 2 s: a select-style drop.
        let raced = futures_lite::future::or(async { Some(g.await) }, async {
            sleep(secs(2)).await.unwrap();
            None
        })
        .await;
        assert!(raced.is_none());
        sleep(Duration::ZERO).await.unwrap();
        (quick_ref, slow_ref)
    });
    assert!(!done_child.cancelled(), "a child done before the drop stays succeeded");
    assert!(pending_child.cancelled(), "dropping the gather must cancel pending children");
}

#[test]
fn cancelling_the_task_awaiting_gather_cancels_every_pending_child() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let children = run(&lp, async move {
        let kids = vec![after(&l, 10, 1), after(&l, 20, 2), after(&l, 30, 3)];
        let refs: Vec<_> = kids.iter().map(Task::as_task_ref).collect();
        let outer = l.create_task(gather(kids)).unwrap();
        sleep(secs(1)).await.unwrap();
        outer.cancel();
        assert!(matches!(outer.await, Err(Error::Cancelled { .. })));
        sleep(Duration::ZERO).await.unwrap();
        refs
    });
    assert!(children.iter().all(|c| c.cancelled()), "{children:?}");
    assert_eq!(lp.time() - start, secs(1), "nothing waited for the children's timers");
}

#[test]
fn a_cancelled_child_resolves_gather_to_cancelled_without_cancelling_siblings() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let finished = Rc::new(Cell::new(false));
    let f = finished.clone();
    let (res, outer_cancelled, sibling) = run(&lp, async move {
        let victim = after(&l, 10, 1);
        let victim_ref = victim.as_task_ref();
        let sibling = l
            .create_task(async move {
                sleep(secs(3)).await.unwrap();
                f.set(true);
                2
            })
            .unwrap();
        let sibling_ref = sibling.as_task_ref();
        let outer = l.create_task(gather(vec![victim, sibling])).unwrap();
        let outer_ref = outer.as_task_ref();
        sleep(secs(1)).await.unwrap();
        victim_ref.cancel();
        let res = outer.await.unwrap();
        (res, outer_ref.cancelled(), sibling_ref)
    });
    assert!(matches!(res, Err(Error::Cancelled { .. })), "{res:?}");
    assert!(!outer_cancelled, "the task awaiting gather must not be cancelled");
    run(&lp, async { sleep(secs(5)).await.unwrap() });
    assert!(!sibling.cancelled());
    assert!(finished.get(), "the sibling of a cancelled child must keep running");
}

#[test]
fn return_exceptions_collects_cancellations_and_panics_in_place() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let (out, outer_cancelled) = run(&lp, async move {
        let victim = after(&l, 10, 2);
        let victim_ref = victim.as_task_ref();
        let outer = l
            .create_task(gather_return_exceptions(vec![
                after(&l, 3, 1),
                victim,
                panics_after(&l, 2),
                after(&l, 4, 4),
            ]))
            .unwrap();
        let outer_ref = outer.as_task_ref();
        sleep(secs(1)).await.unwrap();
        victim_ref.cancel();
        (outer.await.unwrap(), outer_ref.cancelled())
    });
    assert!(!outer_cancelled);
    assert_eq!(out.len(), 4);
    assert_eq!(*out[0].as_ref().unwrap(), 1);
    assert!(matches!(out[1], Err(Error::Cancelled { .. })), "{:?}", out[1]);
    assert!(out[2].as_ref().is_err_and(Error::is_panic), "{:?}", out[2]);
    assert_eq!(*out[3].as_ref().unwrap(), 4);
    assert_eq!(lp.time() - start, secs(4), "return_exceptions waits for every child");
}

#[test]
fn dropping_return_exceptions_gather_early_cancels_pending_children() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let child = run(&lp, async move {
        let slow = after(&l, 60, 1);
        let slow_ref = slow.as_task_ref();
        let g = gather(vec![slow]).return_exceptions();
        drop(g);
        sleep(Duration::ZERO).await.unwrap();
        slow_ref
    });
    assert!(child.cancelled());
}

#[test]
fn panicked_children_in_return_exceptions_mode_are_not_reported() {
    let lp = TestLoop::new().unwrap();
    let reports = count_reports(&lp);
    let l = lp.handle().clone();
    let out = run(&lp, async move { gather_return_exceptions(vec![panics_after(&l, 1)]).await });
    assert!(out[0].as_ref().is_err_and(Error::is_panic));
    run(&lp, async { sleep(Duration::ZERO).await.unwrap() });
    assert_eq!(reports.get(), 0);
}

#[test]
fn children_done_before_the_first_poll_are_collected() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let log = Rc::new(RefCell::new(Vec::new()));
    let lg = log.clone();
    let out = run(&lp, async move {
        let a = l.create_task(async { 1 }).unwrap();
        let b = l.create_task(async { 2 }).unwrap();
        sleep(secs(1)).await.unwrap();
        lg.borrow_mut().push((a.done(), b.done()));
        gather([a, b]).await
    });
    assert_eq!(*log.borrow(), vec![(true, true)]);
    assert_eq!(out.unwrap(), vec![1, 2]);
}
