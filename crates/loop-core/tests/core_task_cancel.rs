//! CORE-08: how a task's cancellation ends — a cancel requested during the
//! task's last step, and cancellation messages (asyncio 3.9+'s
//! `cancel(msg)`).

use loop_core::test_util::TestLoop;
use loop_core::{Error, current_task};

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
    assert!(matches!(out, Err(Error::Cancelled)), "{out:?}");
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
