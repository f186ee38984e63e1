//! CORE-07: `create_future` → `LoopFuture` (asyncio's `Future`): result,
//! error, cancel, done callbacks (scheduled with `call_soon`, never inline),
//! awaiting.

mod core_util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use loop_core::test_util::TestLoop;
use loop_core::{Error, LoopFuture};

#[test]
fn set_result_twice_is_an_invalid_state_error() {
    let t = TestLoop::new().unwrap();
    let fut = t.create_future::<u32>();
    assert!(!fut.done());
    fut.set_result(1).unwrap();
    assert!(fut.done());
    let r = fut.set_result(2);
    assert!(matches!(r, Err(Error::InvalidState(_))), "{r:?}");
    let r = fut.set_exception(Error::failed("late"));
    assert!(matches!(r, Err(Error::InvalidState(_))), "{r:?}");
    assert!(!fut.cancel(), "cancelling a done future reports false");
    // The first outcome stands.
    assert_eq!(fut.result().unwrap(), 1);
    assert!(!fut.cancelled());
    t.close().unwrap();
}

#[test]
fn outcome_accessors_while_pending_are_invalid_state() {
    let t = TestLoop::new().unwrap();
    let fut = t.create_future::<u32>();
    assert!(matches!(fut.result(), Err(Error::InvalidState(_))));
    assert!(matches!(fut.exception(), Err(Error::InvalidState(_))));
    assert!(!fut.cancelled());
    t.close().unwrap();
}

#[test]
fn done_callbacks_are_scheduled_with_call_soon_not_called_inline() {
    let t = TestLoop::new().unwrap();
    let fut = t.create_future::<u32>();
    let seen: Rc<RefCell<Vec<(u32, u64)>>> = Rc::new(RefCell::new(Vec::new()));
    let t = Rc::new(t);
    for tag in 0..3 {
        let (s, t2) = (seen.clone(), t.clone());
        fut.add_done_callback(move |f| {
            assert!(f.done());
            s.borrow_mut().push((tag * 100 + f.result().unwrap(), t2.iterations()));
        });
    }
    // Something already queued runs before the done callbacks.
    let (s, t2) = (seen.clone(), t.clone());
    t.call_soon(move || s.borrow_mut().push((999, t2.iterations()))).unwrap();
    fut.set_result(7).unwrap();
    assert!(seen.borrow().is_empty(), "a done callback ran inside set_result");
    t.stop();
    t.run_forever().unwrap();
    assert_eq!(*seen.borrow(), vec![(999, 1), (7, 1), (107, 1), (207, 1)]);
    t.close().unwrap();
}

#[test]
fn done_callbacks_set_from_a_callback_run_in_the_next_iteration() {
    let t = Rc::new(TestLoop::new().unwrap());
    let fut = t.create_future::<u32>();
    let ran_at = Rc::new(Cell::new(0));
    let (r, t2) = (ran_at.clone(), t.clone());
    fut.add_done_callback(move |_| r.set(t2.iterations()));
    let f2 = fut.clone();
    t.call_soon(move || f2.set_result(1).unwrap()).unwrap();
    t.run_once().unwrap();
    assert_eq!(ran_at.get(), 0, "ran inline");
    t.run_once().unwrap();
    assert_eq!(ran_at.get(), 2);
    t.close().unwrap();
}

#[test]
fn a_callback_added_to_a_done_future_is_scheduled_too() {
    let t = TestLoop::new().unwrap();
    let fut = t.create_future::<u32>();
    fut.set_result(3).unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    fut.add_done_callback(move |f| {
        assert_eq!(f.result().unwrap(), 3);
        r.set(true);
    });
    assert!(!ran.get(), "ran inline");
    t.stop();
    t.run_forever().unwrap();
    assert!(ran.get());
    t.close().unwrap();
}

#[test]
fn remove_done_callback() {
    let t = TestLoop::new().unwrap();
    let fut = t.create_future::<u32>();
    let log = Rc::new(RefCell::new(Vec::new()));
    let ids: Vec<_> = (0..3)
        .map(|i| {
            let l = log.clone();
            fut.add_done_callback(move |_| l.borrow_mut().push(i))
        })
        .collect();
    assert_eq!(fut.remove_done_callback(ids[1]), 1);
    assert_eq!(fut.remove_done_callback(ids[1]), 0, "already removed");
    fut.set_result(0).unwrap();
    assert_eq!(fut.remove_done_callback(ids[2]), 0, "already scheduled");
    t.stop();
    t.run_forever().unwrap();
    assert_eq!(*log.borrow(), vec![0, 2]);
    t.close().unwrap();
}

#[test]
fn cancel_marks_the_future_cancelled_and_runs_done_callbacks() {
    let t = TestLoop::new().unwrap();
    let fut = t.create_future::<u32>();
    let seen = Rc::new(Cell::new(false));
    let s = seen.clone();
    fut.add_done_callback(move |f| s.set(f.cancelled()));
    assert!(fut.cancel());
    assert!(fut.done() && fut.cancelled());
    assert!(!fut.cancel(), "second cancel");
    assert!(matches!(fut.result(), Err(Error::Cancelled { .. })));
    assert!(matches!(fut.exception(), Ok(Some(Error::Cancelled { .. }))));
    assert!(matches!(fut.set_result(1), Err(Error::InvalidState(_))));
    t.stop();
    t.run_forever().unwrap();
    assert!(seen.get());
    t.close().unwrap();
}

#[test]
fn set_exception_is_reported_by_result_exception_and_await() {
    let t = TestLoop::new().unwrap();
    let fut = t.create_future::<u32>();
    fut.set_exception(Error::failed("boom")).unwrap();
    assert!(fut.done() && !fut.cancelled());
    let e = fut.exception().unwrap().expect("an error");
    assert_eq!(e.to_string(), "boom");
    assert!(matches!(fut.result(), Err(Error::Failed(_))));
    let f2 = fut.clone();
    let awaited = t.run_until_complete(f2).unwrap();
    assert!(matches!(&awaited, Err(Error::Failed(e)) if e.to_string() == "boom"), "{awaited:?}");
    // A successful future has no exception.
    let ok = t.create_future::<u32>();
    ok.set_result(1).unwrap();
    assert!(matches!(ok.exception(), Ok(None)));
    t.close().unwrap();
}

#[test]
fn awaiting_yields_the_result_to_every_awaiter() {
    let t = TestLoop::new().unwrap();
    let fut: LoopFuture<String> = t.create_future();
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let f = fut.clone();
            t.create_task(f).unwrap()
        })
        .collect();
    let f = fut.clone();
    t.call_later(std::time::Duration::from_secs(5), move || f.set_result("hi".into()).unwrap())
        .unwrap();
    let lp = t.handle().clone();
    let out = t
        .run_until_complete(async move {
            let mut out = Vec::new();
            for task in tasks {
                out.push(task.await.unwrap().unwrap());
            }
            let _ = lp;
            out
        })
        .unwrap();
    assert_eq!(out, vec!["hi", "hi", "hi"]);
    t.close().unwrap();
}

#[test]
fn awaiting_a_cancelled_future_yields_cancelled() {
    let t = TestLoop::new().unwrap();
    let fut = t.create_future::<u32>();
    let f = fut.clone();
    let task = t.create_task(f).unwrap();
    let f = fut.clone();
    t.call_soon(move || assert!(f.cancel())).unwrap();
    let r = t.run_until_complete(task).unwrap().unwrap();
    assert!(matches!(r, Err(Error::Cancelled { .. })), "{r:?}");
    t.close().unwrap();
}

#[test]
fn get_loop_returns_the_owning_loop() {
    let t = TestLoop::new().unwrap();
    let fut = t.create_future::<()>();
    assert!(fut.get_loop().unwrap().ptr_eq(t.handle()));
    t.close().unwrap();
}
