//! CORE-08: `create_task` with names, task factories, `current_task`,
//! `all_tasks`, cancellation, and the report of a failure nobody retrieved.

mod core_util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use core_util::drop_flag;
use loop_core::test_util::TestLoop;
use loop_core::{Error, ExceptionContext, Loop, TaskFactory, TaskRef, current_task};

type Reports = Rc<RefCell<Vec<ExceptionContext>>>;

/// Installs a handler that records every context.
fn record_exceptions(lp: &Loop) -> Reports {
    let reports: Reports = Rc::new(RefCell::new(Vec::new()));
    let r = reports.clone();
    lp.set_exception_handler(Some(Rc::new(move |_lp, ctx| r.borrow_mut().push(ctx.clone()))));
    reports
}

fn run_until_idle(t: &TestLoop) {
    // Enough iterations for tasks that yield a few times.
    for _ in 0..5 {
        t.stop();
        t.run_forever().unwrap();
    }
}

#[test]
fn tasks_are_named_task_n_by_default_or_as_given() {
    let t = TestLoop::new().unwrap();
    let a = t.create_task(async {}).unwrap();
    let b = t.create_task(async {}).unwrap();
    assert_eq!(a.name(), format!("Task-{}", a.id()));
    assert_eq!(b.name(), format!("Task-{}", b.id()));
    assert!(b.id() > a.id());
    let c = t.create_named_task("worker", async {}).unwrap();
    assert_eq!(c.name(), "worker");
    assert_eq!(c.as_task_ref().name(), "worker");
    c.set_name("renamed");
    assert_eq!(c.as_task_ref().name(), "renamed");
    assert!(format!("{c:?}").contains("renamed"));
    t.close().unwrap();
}

#[test]
fn the_task_factory_is_used_and_may_rename_and_wrap() {
    let t = TestLoop::new().unwrap();
    assert!(t.task_factory().is_none());
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let factory: TaskFactory = Rc::new(move |lp, task, body| {
        assert!(lp.all_tasks().iter().any(|x| x.ptr_eq(task)), "task registered first");
        task.set_name(format!("factory-{}", task.name()));
        let (l, name) = (l.clone(), task.name());
        Box::pin(async move {
            l.borrow_mut().push(format!("before {name}"));
            body.await;
            l.borrow_mut().push(format!("after {name}"));
        })
    });
    t.set_task_factory(Some(factory.clone()));
    assert!(Rc::ptr_eq(&t.task_factory().unwrap(), &factory));
    let l = log.clone();
    let mut task = t
        .create_named_task("x", async move {
            l.borrow_mut().push("body".to_owned());
            5
        })
        .unwrap();
    assert_eq!(task.name(), "factory-x");
    run_until_idle(&t);
    assert_eq!(task.try_take().unwrap(), 5);
    assert_eq!(*log.borrow(), vec!["before factory-x", "body", "after factory-x"]);

    // Removing it restores plain tasks.
    t.set_task_factory(None);
    assert!(t.task_factory().is_none());
    let plain = t.create_named_task("y", async { 1 }).unwrap();
    assert_eq!(plain.name(), "y");
    assert_eq!(t.run_until_complete(plain).unwrap().unwrap(), 1);
    assert_eq!(log.borrow().len(), 3);
    t.close().unwrap();
}

#[test]
fn a_factory_that_drops_the_body_cancels_the_task() {
    let t = TestLoop::new().unwrap();
    t.set_task_factory(Some(Rc::new(|_, _, body| {
        drop(body);
        Box::pin(async {})
    })));
    let mut task = t.create_task(async { 1 }).unwrap();
    run_until_idle(&t);
    assert!(task.cancelled());
    let r = task.try_take();
    assert!(matches!(r, Err(Error::Cancelled { .. })), "{r:?}");
    t.close().unwrap();
}

#[test]
fn current_task_inside_and_outside() {
    let t = TestLoop::new().unwrap();
    assert!(current_task().is_none());
    let seen: Rc<RefCell<Vec<Option<TaskRef>>>> = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let task = t
        .create_task(async move {
            s.borrow_mut().push(current_task());
            loop_core::sleep(Duration::from_secs(1)).await.unwrap();
            // Still the same task after a suspension.
            s.borrow_mut().push(current_task());
        })
        .unwrap();
    let me = task.as_task_ref();
    // A plain callback is not a task.
    let s = seen.clone();
    t.call_soon(move || s.borrow_mut().push(current_task())).unwrap();
    t.run_until_complete(task).unwrap().unwrap();
    let seen = seen.borrow();
    assert!(seen[0].as_ref().unwrap().ptr_eq(&me));
    assert!(seen[1].is_none(), "current_task inside a plain callback");
    assert!(seen[2].as_ref().unwrap().ptr_eq(&me));
    assert!(current_task().is_none());
    t.close().unwrap();
}

#[test]
fn all_tasks_lists_pending_tasks_only() {
    let t = TestLoop::new().unwrap();
    assert!(t.all_tasks().is_empty());
    let quick = t.create_named_task("quick", async {}).unwrap();
    let gate = t.create_future::<()>();
    let g = gate.clone();
    let slow = t.create_named_task("slow", async move { g.await.unwrap() }).unwrap();
    let mut names: Vec<_> = t.all_tasks().iter().map(TaskRef::name).collect();
    names.sort();
    assert_eq!(names, vec!["quick", "slow"]);
    run_until_idle(&t);
    assert!(quick.done());
    let names: Vec<_> = t.all_tasks().iter().map(TaskRef::name).collect();
    assert_eq!(names, vec!["slow"]);
    // A detached task is still listed while pending.
    drop(slow);
    assert_eq!(t.all_tasks().len(), 1);
    gate.set_result(()).unwrap();
    run_until_idle(&t);
    assert!(t.all_tasks().is_empty());
    t.close().unwrap();
}

#[test]
fn a_cancelled_task_s_awaiter_sees_cancelled_and_its_future_is_dropped() {
    let t = TestLoop::new().unwrap();
    let (guard, dropped) = drop_flag();
    let never = t.create_future::<()>();
    let n = never.clone();
    let victim = t
        .create_task(async move {
            let _g = guard;
            n.await.unwrap();
            "finished"
        })
        .unwrap();
    let v = victim.as_task_ref();
    let v2 = v.clone();
    let lp = t.handle().clone();
    let out = t
        .run_until_complete(async move {
            let awaiter = lp.create_task(victim).unwrap();
            loop_core::sleep(Duration::from_secs(1)).await.unwrap();
            assert!(!v.done());
            assert!(v.cancel());
            assert!(v.cancelling());
            awaiter.await
        })
        .unwrap();
    assert!(matches!(out, Ok(Err(Error::Cancelled { .. }))), "{out:?}");
    assert!(dropped.get(), "the cancelled task's future was not dropped");
    assert!(!v2.cancelling() && v2.cancelled() && v2.done());
    t.close().unwrap();
}

#[test]
fn cancelling_before_the_first_poll_never_runs_the_body() {
    let t = TestLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let task = t.create_task(async move { r.set(true) }).unwrap();
    assert!(task.cancel());
    let r = t.run_until_complete(task).unwrap();
    assert!(matches!(r, Err(Error::Cancelled { .. })), "{r:?}");
    assert!(!ran.get());
    t.close().unwrap();
}

#[test]
fn cancelling_a_done_task_returns_false() {
    let t = TestLoop::new().unwrap();
    let task = t.create_task(async { 3 }).unwrap();
    let r = task.as_task_ref();
    run_until_idle(&t);
    assert!(task.done() && !task.cancelled());
    assert!(!task.cancel());
    assert!(!r.cancel());
    assert_eq!(t.run_until_complete(task).unwrap().unwrap(), 3);
    t.close().unwrap();
}

#[test]
fn a_panicking_task_reports_panicked_to_its_awaiter_and_nothing_to_the_handler() {
    let t = TestLoop::new().unwrap();
    let reports = record_exceptions(&t);
    let task = t.create_task(async { panic!("task boom") }).unwrap();
    let r: Result<(), Error> = t.run_until_complete(task).unwrap();
    assert!(matches!(&r, Err(Error::Panicked(m)) if m.contains("task boom")), "{r:?}");
    run_until_idle(&t);
    assert!(reports.borrow().is_empty(), "a retrieved failure was reported: {reports:?}");
    t.close().unwrap();
}

#[test]
fn a_failure_nobody_retrieves_is_reported_when_the_handle_was_dropped_first() {
    let t = TestLoop::new().unwrap();
    let reports = record_exceptions(&t);
    let task = t.create_named_task("doomed", async { panic!("lost boom") }).unwrap();
    drop(task);
    run_until_idle(&t);
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let ctx = &reports[0];
    assert!(ctx.message.contains("exception was never retrieved"), "{}", ctx.message);
    assert!(matches!(&ctx.error, Some(Error::Panicked(m)) if m.contains("lost boom")), "{ctx:?}");
    assert_eq!(ctx.task.as_ref().unwrap().name(), "doomed");
    t.close().unwrap();
}

#[test]
fn a_failure_nobody_retrieves_is_reported_when_the_handle_is_dropped_later() {
    let t = TestLoop::new().unwrap();
    let reports = record_exceptions(&t);
    let task = t.create_task(async { panic!("late boom") }).unwrap();
    run_until_idle(&t);
    assert!(task.done() && task.failed());
    assert!(reports.borrow().is_empty(), "reported while the handle is alive");
    drop(task);
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].message.contains("exception was never retrieved"));
    t.close().unwrap();
}

#[test]
fn a_cancelled_task_is_not_reported_as_an_unretrieved_failure() {
    let t = TestLoop::new().unwrap();
    let reports = record_exceptions(&t);
    let task = t.create_task(std::future::pending::<()>()).unwrap();
    run_until_idle(&t);
    task.cancel();
    drop(task);
    run_until_idle(&t);
    assert!(reports.borrow().is_empty(), "{reports:?}");
    t.close().unwrap();
}

#[test]
fn tasks_and_callbacks_interleave_in_fifo_order() {
    let t = TestLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    t.call_soon(move || l.borrow_mut().push("cb1")).unwrap();
    let l = log.clone();
    let _a = t.create_task(async move { l.borrow_mut().push("task1") }).unwrap();
    let l = log.clone();
    t.call_soon(move || l.borrow_mut().push("cb2")).unwrap();
    let l = log.clone();
    let _b = t
        .create_task(async move {
            l.borrow_mut().push("task2");
            // A yield puts the task at the back of the queue.
            loop_core::sleep(Duration::ZERO).await.unwrap();
            l.borrow_mut().push("task2-again");
        })
        .unwrap();
    let l = log.clone();
    t.call_soon(move || l.borrow_mut().push("cb3")).unwrap();
    run_until_idle(&t);
    assert_eq!(*log.borrow(), vec!["cb1", "task1", "cb2", "task2", "cb3", "task2-again"]);
    t.close().unwrap();
}

#[test]
fn a_task_wakes_through_the_ready_queue_not_inline() {
    let t = Rc::new(TestLoop::new().unwrap());
    let fut = t.create_future::<u32>();
    let resumed_at = Rc::new(Cell::new(0));
    let (f, r, t2) = (fut.clone(), resumed_at.clone(), t.clone());
    let _task = t
        .create_task(async move {
            f.await.unwrap();
            r.set(t2.iterations());
        })
        .unwrap();
    t.stop();
    t.run_forever().unwrap(); // iteration 1: the task waits
    let f = fut.clone();
    t.call_soon(move || f.set_result(1).unwrap()).unwrap();
    t.stop();
    t.run_forever().unwrap(); // iteration 2: result set, task woken
    assert_eq!(resumed_at.get(), 0, "the task resumed inside set_result");
    t.stop();
    t.run_forever().unwrap();
    assert_eq!(resumed_at.get(), 3);
    t.close().unwrap();
}

#[test]
fn tasks_record_where_they_were_created() {
    let t = TestLoop::new().unwrap();
    let line = line!() + 1;
    let task = t.create_task(async {}).unwrap();
    let site = task.as_task_ref().site();
    assert!(site.file().ends_with("core_tasks.rs"), "{site}");
    assert_eq!(site.line(), line);
    assert!(format!("{task:?}").contains("core_tasks.rs"));
    t.close().unwrap();
}

#[test]
fn a_task_of_a_closed_loop_never_reaches_a_later_loop() {
    let a = TestLoop::new().unwrap();
    let task = a.create_task(async { panic!("old boom") }).unwrap();
    run_until_idle(&a);
    a.close().unwrap();
    // A later loop of this thread may get the closed loop's index.
    let b = TestLoop::new().unwrap();
    let reports = record_exceptions(&b);
    drop(b.create_task(async {}).unwrap());
    run_until_idle(&b);
    let ran = std::rc::Rc::new(std::cell::Cell::new(false));
    let r = ran.clone();
    task.add_done_callback(move |_| r.set(true));
    drop(task);
    run_until_idle(&b);
    assert!(!ran.get(), "a closed loop's done callback ran on another loop");
    assert!(reports.borrow().is_empty(), "{reports:?}");
    b.close().unwrap();
}
