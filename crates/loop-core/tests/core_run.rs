//! CORE-14: `run(fut)` (asyncio.run): a new loop, run, cancel leftover
//! tasks, shut the executor down, close.

mod core_util;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use core_util::{busy_for, drop_flag};
use loop_core::{Error, Loop, TaskRef, get_running_loop, run, sleep};

#[test]
fn run_returns_the_output_and_closes_its_loop() {
    let seen: Rc<RefCell<Option<Loop>>> = Rc::new(RefCell::new(None));
    let s = seen.clone();
    let out = run(async move {
        let lp = get_running_loop().unwrap();
        assert!(lp.is_running());
        *s.borrow_mut() = Some(lp);
        sleep(Duration::from_millis(1)).await.unwrap();
        "done"
    })
    .unwrap();
    assert_eq!(out, "done");
    let lp = seen.borrow_mut().take().unwrap();
    assert!(lp.is_closed());
    assert!(!lp.is_running());
    assert!(matches!(get_running_loop(), Err(Error::NoRunningLoop)));
}

#[test]
fn run_uses_a_new_loop_each_time() {
    let a = run(async { get_running_loop().unwrap().id() }).unwrap();
    let b = run(async { get_running_loop().unwrap().id() }).unwrap();
    assert_ne!(a, b);
}

#[test]
fn run_cancels_leftover_tasks() {
    let (guard, dropped) = drop_flag();
    let leftover: Rc<RefCell<Option<TaskRef>>> = Rc::new(RefCell::new(None));
    let l = leftover.clone();
    // A task that would otherwise run forever, detached.
    let saw_cancel = Rc::new(std::cell::Cell::new(false));
    let s = saw_cancel.clone();
    run(async move {
        let lp = get_running_loop().unwrap();
        let never = lp.create_future::<()>();
        let task = lp
            .create_named_task("leftover", async move {
                let _g = guard;
                let _ = never.await;
            })
            .unwrap();
        let t = task.as_task_ref();
        t.add_done_callback(move |t| s.set(t.cancelled()));
        *l.borrow_mut() = Some(t);
        drop(task);
        sleep(Duration::from_millis(1)).await.unwrap();
    })
    .unwrap();
    let t = leftover.borrow_mut().take().unwrap();
    assert!(t.done() && t.cancelled(), "{t:?}");
    assert!(dropped.get(), "the leftover task's future was not dropped");
    assert!(saw_cancel.get(), "done callbacks of cancelled leftovers ran");
}

#[test]
fn run_shuts_the_default_executor_down_and_waits_for_it() {
    let finished = Arc::new(AtomicBool::new(false));
    let f = finished.clone();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    run(async move {
        let lp = get_running_loop().unwrap();
        // Detached: nobody awaits it, run() must still wait for it.
        drop(lp.run_in_executor(move || {
            release_rx.recv_timeout(core_util::LIMIT).unwrap();
            // Still busy when the main future has returned.
            busy_for(Duration::from_millis(100));
            f.store(true, Ordering::SeqCst);
        }));
        release_tx.send(()).unwrap();
    })
    .unwrap();
    assert!(finished.load(Ordering::SeqCst), "run() returned before the executor finished");
}

#[test]
fn the_loop_refuses_executor_work_after_run() {
    let seen: Rc<RefCell<Option<Loop>>> = Rc::new(RefCell::new(None));
    let s = seen.clone();
    run(async move {
        let lp = get_running_loop().unwrap();
        assert_eq!(lp.run_in_executor(|| 1).await.unwrap(), 1);
        *s.borrow_mut() = Some(lp);
    })
    .unwrap();
    let lp = seen.borrow_mut().take().unwrap();
    // run() closed the loop (asyncio: "Event loop is closed").
    let r = futures_lite::future::block_on(lp.run_in_executor(|| 1));
    assert!(matches!(r, Err(Error::LoopClosed)), "{r:?}");
}

#[test]
fn run_inside_a_running_loop_is_an_error() {
    let lp = Loop::new().unwrap();
    let r = lp.run_until_complete(async { run(async { 1 }).map(drop) }).unwrap();
    assert!(matches!(r, Err(Error::AnotherLoopRunning)), "{r:?}");
    let inner = run(async { run(async { 1 }).map(drop) }).unwrap();
    assert!(matches!(inner, Err(Error::AnotherLoopRunning)), "{inner:?}");
    lp.close().unwrap();
}

#[test]
fn a_panicking_main_future_is_an_error_and_the_loop_is_still_closed() {
    let seen: Rc<RefCell<Option<Loop>>> = Rc::new(RefCell::new(None));
    let s = seen.clone();
    let r: Result<(), Error> = run(async move {
        *s.borrow_mut() = Some(get_running_loop().unwrap());
        panic!("main boom");
    });
    assert!(matches!(&r, Err(Error::Panicked(m)) if m.contains("main boom")), "{r:?}");
    assert!(seen.borrow().as_ref().unwrap().is_closed());
}

#[test]
fn run_makes_its_loop_the_current_loop_and_clears_it_after() {
    let current = run(async {
        let running = get_running_loop().unwrap();
        // Outside the running-loop lookup, the policy's current loop is the
        // same one.
        let policy_loop = loop_core::get_event_loop_policy().get_event_loop().unwrap();
        policy_loop.ptr_eq(&running)
    })
    .unwrap();
    assert!(current);
}

#[test]
fn run_until_complete_with_another_loop_s_task_or_future_is_an_argument_error() {
    let lp = Loop::new().unwrap();
    let other = Loop::new().unwrap();
    let task = other.create_task(async { 1 }).unwrap();
    // The race with a sleep on `lp` turns a hang into a failure.
    let out = core_util::run_with_timeout(&lp, Duration::from_secs(2), task);
    assert!(
        matches!(&out, Err(Error::InvalidArgument(m)) if m.contains("another event loop")),
        "{out:?}"
    );
    let fut = other.create_future::<u8>();
    let out = core_util::run_with_timeout(&lp, Duration::from_secs(2), fut);
    assert!(matches!(&out, Err(Error::InvalidArgument(_))), "{out:?}");
    // Its own loop still runs it.
    let mut task = other.create_task(async { 2 }).unwrap();
    other.run_until_complete(async {}).unwrap();
    assert_eq!(task.try_take().unwrap(), 2);
    lp.close().unwrap();
    other.close().unwrap();
}
