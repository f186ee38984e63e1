//! CORE-15: `TaskGroup` (asyncio 3.11) — waits for every child; the first
//! failure cancels the siblings and the body; the parent's cancellation
//! cancels the children.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use loop_core::test_util::TestLoop;
use loop_core::{
    Error, ExceptionContext, ExceptionHandler, Loop, Task, TaskGroup, TaskGroupError,
    get_running_loop, sleep,
};

mod helpers_util;
use helpers_util::*;

/// Sets its flag when dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

fn flag() -> Rc<Cell<bool>> {
    Rc::new(Cell::new(false))
}

async fn sleep_then(s: u64, value: u32) -> u32 {
    sleep(secs(s)).await.unwrap();
    value
}

async fn panic_after(s: u64) {
    sleep(secs(s)).await.unwrap();
    panic!("child failed");
}

fn group_errors(err: &Error) -> Vec<Error> {
    TaskGroupError::from_error(err)
        .unwrap_or_else(|| panic!("not a TaskGroupError: {err:?}"))
        .errors()
        .to_vec()
}

#[test]
fn run_waits_for_every_child_and_returns_the_body_value() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    let (a, b, body) = run(&lp, async {
        TaskGroup::run(|tg| async move {
            let a = tg.create_task(sleep_then(5, 1))?;
            let b = tg.create_task(sleep_then(2, 2))?;
            Ok((a, b, "body"))
        })
        .await
        .unwrap()
    });
    assert_eq!(lp.time() - start, secs(5), "run must wait for the slowest child");
    assert!(a.done() && b.done());
    assert_eq!(body, "body");
    let sum = run(&lp, async move { a.await.unwrap() + b.await.unwrap() });
    assert_eq!(sum, 3);
}

#[test]
fn first_failure_cancels_the_siblings_and_the_body() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    let (sibling_dropped, body_dropped) = (flag(), flag());
    let (sd, bd) = (sibling_dropped.clone(), body_dropped.clone());
    let (res, sibling) = run(&lp, async move {
        let sibling_slot: Rc<Cell<Option<loop_core::TaskRef>>> = Rc::default();
        let slot = sibling_slot.clone();
        let res = TaskGroup::run(|tg| async move {
            let guard = DropFlag(sd);
            let sibling = tg.create_task(async move {
                let _guard = guard;
                sleep(secs(60)).await.unwrap();
            })?;
            slot.set(Some(sibling.as_task_ref()));
            tg.create_task(panic_after(1))?;
            let _body_guard = DropFlag(bd);
            sleep(secs(100)).await.unwrap();
            Ok(())
        })
        .await;
        (res, sibling_slot.take().unwrap())
    });
    assert_eq!(lp.time() - start, secs(1), "nobody may wait for the cancelled sleeps");
    let errors = group_errors(&res.unwrap_err());
    assert_eq!(errors.len(), 1);
    assert!(matches!(&errors[0], Error::Panicked(m) if m.contains("child failed")), "{errors:?}");
    assert!(sibling.cancelled(), "the sibling must be cancelled");
    assert!(sibling_dropped.get());
    assert!(body_dropped.get(), "the body must be cancelled (dropped)");
}

#[test]
fn an_err_from_a_try_child_is_a_failure() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    let (res, sibling) = run(&lp, async {
        let tg = TaskGroup::new();
        let sibling = tg.create_task(sleep_then(60, 0)).unwrap();
        let failing = tg
            .create_try_task(async {
                sleep(secs(2)).await?;
                Err::<u32, _>(Error::failed("bad input"))
            })
            .unwrap();
        let res = tg.wait().await;
        let own = failing.await.unwrap();
        assert!(matches!(own, Err(Error::Failed(_))), "the task keeps its own Err output");
        (res, sibling.as_task_ref())
    });
    assert_eq!(lp.time() - start, secs(2));
    let errors = group_errors(&res.unwrap_err());
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].to_string(), "bad input");
    assert!(sibling.cancelled());
}

#[test]
fn a_body_err_cancels_the_children_and_comes_last() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    let (res, child) = run(&lp, async {
        let slot: Rc<Cell<Option<loop_core::TaskRef>>> = Rc::default();
        let s = slot.clone();
        let res: Result<(), Error> = TaskGroup::run(|tg| async move {
            s.set(Some(tg.create_task(sleep_then(60, 0))?.as_task_ref()));
            sleep(secs(3)).await?;
            Err(Error::InvalidArgument("body gave up".into()))
        })
        .await;
        (res, slot.take().unwrap())
    });
    assert_eq!(lp.time() - start, secs(3));
    let errors = group_errors(&res.unwrap_err());
    assert_eq!(errors.len(), 1);
    assert!(matches!(&errors[0], Error::InvalidArgument(m) if m == "body gave up"));
    assert!(child.cancelled());
}

#[test]
fn cancelling_the_parent_cancels_every_child() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let (out, kids) = run(&lp, async move {
        let slot: Rc<Cell<Vec<loop_core::TaskRef>>> = Rc::default();
        let s = slot.clone();
        let parent = l
            .create_task(TaskGroup::run(|tg| async move {
                let kids = vec![
                    tg.create_task(sleep_then(30, 1))?.as_task_ref(),
                    tg.create_task(sleep_then(40, 2))?.as_task_ref(),
                ];
                s.set(kids);
                Ok(())
            }))
            .unwrap();
        sleep(secs(1)).await.unwrap();
        parent.cancel();
        let out = parent.await;
        sleep(Duration::ZERO).await.unwrap();
        (out, slot.take())
    });
    assert!(matches!(out, Err(Error::Cancelled { .. })));
    assert_eq!(kids.len(), 2);
    assert!(kids.iter().all(|k| k.cancelled()), "{kids:?}");
    assert_eq!(lp.time() - start, secs(1));
}

#[test]
fn an_externally_cancelled_child_is_not_a_failure() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    let out = run(&lp, async {
        TaskGroup::run(|tg| async move {
            let victim = tg.create_task(sleep_then(60, 0))?;
            let other = tg.create_task(sleep_then(3, 3))?;
            sleep(secs(1)).await?;
            victim.cancel();
            Ok((victim, other))
        })
        .await
    });
    let (victim, other) = out.unwrap();
    assert!(victim.cancelled());
    assert!(other.done() && !other.cancelled());
    assert_eq!(lp.time() - start, secs(3));
}

#[test]
fn children_may_spawn_children_and_the_group_waits_for_them() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    let grandchild_done = flag();
    let g = grandchild_done.clone();
    let out = run(&lp, async move {
        let tg = TaskGroup::new();
        let tg2 = tg.clone();
        tg.create_task(async move {
            sleep(secs(1)).await.unwrap();
            let g = g.clone();
            tg2.create_task(async move {
                sleep(secs(5)).await.unwrap();
                g.set(true);
            })
            .unwrap();
        })
        .unwrap();
        tg.wait().await
    });
    out.unwrap();
    assert!(grandchild_done.get());
    assert_eq!(lp.time() - start, secs(6));
}

#[test]
fn create_task_fails_once_finished_or_shutting_down() {
    let lp = TestLoop::new().unwrap();
    let (after_finish, while_aborting) = run(&lp, async {
        let tg = TaskGroup::new();
        tg.create_task(sleep_then(1, 1)).unwrap();
        tg.wait().await.unwrap();
        let after_finish = tg.create_task(async {}).map(drop);

        let tg = TaskGroup::new();
        tg.create_task(panic_after(1)).unwrap();
        sleep(secs(2)).await.unwrap();
        assert!(tg.is_aborting());
        let while_aborting = tg.create_task(async {}).map(drop);
        assert!(tg.wait().await.is_err());
        (after_finish, while_aborting)
    });
    assert!(matches!(after_finish, Err(Error::InvalidState(_))), "{after_finish:?}");
    assert!(matches!(while_aborting, Err(Error::InvalidState(_))), "{while_aborting:?}");
}

#[test]
fn a_child_failure_is_retrieved_by_the_group_not_reported() {
    let lp = TestLoop::new().unwrap();
    let reports = Rc::new(Cell::new(0));
    let r = reports.clone();
    let handler: ExceptionHandler =
        Rc::new(move |_: &Loop, _: &ExceptionContext| r.set(r.get() + 1));
    lp.set_exception_handler(Some(handler));
    let res = run(&lp, async {
        TaskGroup::run(|tg| async move {
            // The handle is dropped at once.
            tg.create_task(panic_after(1))?;
            Ok(())
        })
        .await
    });
    assert!(group_errors(&res.unwrap_err())[0].is_panic());
    run(&lp, async { sleep(Duration::ZERO).await.unwrap() });
    assert_eq!(reports.get(), 0, "the group answered for the failure");
}

#[test]
fn wait_on_an_empty_group_is_ok_at_once_and_create_task_needs_a_running_loop() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    run(&lp, async { TaskGroup::new().wait().await }).unwrap();
    assert_eq!(lp.time(), start);
    let tg = TaskGroup::new();
    assert!(matches!(tg.create_task(async {}), Err(Error::NoRunningLoop)));
    assert!(tg.is_empty());
}

#[test]
fn dropping_wait_early_cancels_the_children() {
    let lp = TestLoop::new().unwrap();
    let kids: Vec<Task<u32>> = run(&lp, async {
        let tg = TaskGroup::new();
        let kids = vec![
            tg.create_task(sleep_then(10, 1)).unwrap(),
            tg.create_task(sleep_then(20, 2)).unwrap(),
        ];
        let raced = futures_lite::future::or(async { Some(tg.wait().await) }, async {
            sleep(secs(1)).await.unwrap();
            None
        })
        .await;
        assert!(raced.is_none());
        assert!(tg.is_aborting());
        sleep(Duration::ZERO).await.unwrap();
        assert!(tg.is_empty());
        let _ = get_running_loop().unwrap();
        kids
    });
    assert!(kids.iter().all(Task::cancelled));
}
