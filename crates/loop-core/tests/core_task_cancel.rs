//! CORE-08: how a task's cancellation ends — a cancel requested during the
//! task's last step, and cancellation messages (asyncio 3.9+'s
//! `cancel(msg)`).

use std::time::Duration;

use loop_core::test_util::TestLoop;
use loop_core::{Error, current_task, sleep};

#[test]
fn a_cancel_requested_during_the_last_step_ends_the_task_cancelled() {
    let t = TestLoop::new().unwrap();
    let task = t
        .create_task(async {
            // asyncio: the task cancels itself, then returns without
            // awaiting; it still ends cancelled ("Task is cancelled right
            // before coro stops").
            assert!(current_task().unwrap().cancel());
            7
        })
        .unwrap();
    let tr = task.as_task_ref();
    let out = t.run_until_complete(task).unwrap();
    assert!(matches!(out, Err(Error::Cancelled { message: None })), "{out:?}");
    assert!(tr.cancelled());
    assert!(tr.done());
}

#[test]
fn a_panic_during_the_last_step_wins_over_a_cancel_requested_in_it() {
    // asyncio: an exception raised after cancel() is the task's outcome.
    let t = TestLoop::new().unwrap();
    let task = t
        .create_task(async {
            current_task().unwrap().cancel();
            panic!("after cancel");
        })
        .unwrap();
    let out = t.run_until_complete(task).unwrap();
    assert!(matches!(&out, Err(Error::Panicked(m)) if m == "after cancel"), "{out:?}");
}

#[test]
fn the_awaiter_of_a_task_cancelled_with_a_message_sees_the_message() {
    let t = TestLoop::new().unwrap();
    let lp = t.handle().clone();
    let (out, exception) = t
        .run_until_complete(async move {
            let task = lp.create_task(sleep(Duration::from_secs(60))).unwrap();
            let tr = task.as_task_ref();
            sleep(Duration::ZERO).await.unwrap();
            assert!(task.cancel_with("shutting down"));
            // A later request does not replace the first one's message (the
            // cancellation is already on its way).
            assert!(tr.cancel_with("again"));
            let out = task.await;
            (out, tr.exception())
        })
        .unwrap();
    let err = out.unwrap_err();
    assert_eq!(err.cancel_message(), Some("shutting down"), "{err:?}");
    assert!(err.is_cancelled());
    assert_eq!(err.to_string(), "the operation was cancelled: shutting down");
    let exception = exception.expect("a cancelled task has an exception");
    assert_eq!(exception.cancel_message(), Some("shutting down"));
}

#[test]
fn cancel_without_a_message_keeps_working_and_carries_none() {
    let t = TestLoop::new().unwrap();
    let lp = t.handle().clone();
    let out = t
        .run_until_complete(async move {
            let task = lp.create_task(sleep(Duration::from_secs(60))).unwrap();
            sleep(Duration::ZERO).await.unwrap();
            assert!(task.cancel());
            task.await
        })
        .unwrap();
    let err = out.unwrap_err();
    assert!(matches!(err, Error::Cancelled { message: None }), "{err:?}");
    assert_eq!(err.to_string(), "the operation was cancelled");
}

#[test]
fn a_task_cancelling_itself_with_a_message_in_its_last_step_carries_it() {
    let t = TestLoop::new().unwrap();
    let task = t
        .create_task(async {
            current_task().unwrap().cancel_with("bye");
        })
        .unwrap();
    let out = t.run_until_complete(task).unwrap();
    assert_eq!(out.unwrap_err().cancel_message(), Some("bye"));
}

#[test]
fn a_loop_future_cancelled_with_a_message_hands_it_to_its_awaiters() {
    let t = TestLoop::new().unwrap();
    let fut = t.create_future::<u8>();
    assert!(fut.cancel_with("no longer needed"));
    assert!(fut.cancelled());
    let err = fut.result().unwrap_err();
    assert_eq!(err.cancel_message(), Some("no longer needed"));
    assert_eq!(fut.exception().unwrap().unwrap().cancel_message(), Some("no longer needed"));
    let awaited = t.run_until_complete(fut.clone()).unwrap();
    assert_eq!(awaited.unwrap_err().cancel_message(), Some("no longer needed"));
}

#[test]
fn the_constructors_build_the_variant() {
    assert!(matches!(Error::cancelled(), Error::Cancelled { message: None }));
    let e = Error::cancelled_with("why");
    assert!(e.is_cancelled());
    assert_eq!(e.cancel_message(), Some("why"));
    assert_eq!(Error::LoopClosed.cancel_message(), None);
}
