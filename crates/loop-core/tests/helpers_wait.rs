//! CORE-15: `wait` — FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED,
//! timeout; never cancels, never takes outputs.

use std::time::Duration;

use loop_core::test_util::TestLoop;
use loop_core::{Error, ReturnWhen, Task, sleep, wait};

mod helpers_util;
use helpers_util::*;

fn ids(tasks: &[Task<u32>]) -> Vec<u64> {
    tasks.iter().map(Task::id).collect()
}

#[test]
fn first_completed_returns_at_the_first_completion_and_leaves_the_rest_running() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let (done, pending, expected) = run(&lp, async move {
        let tasks = vec![after(&l, 3, 3), after(&l, 1, 1), after(&l, 2, 2)];
        let expected = ids(&tasks);
        let (done, pending) = wait(tasks, ReturnWhen::FirstCompleted, None).await.unwrap();
        (done, pending, expected)
    });
    assert_eq!(lp.time() - start, secs(1));
    assert_eq!(ids(&done), vec![expected[1]]);
    assert_eq!(ids(&pending), vec![expected[0], expected[2]], "pending keeps input order");
    // Outputs were not taken, and the pending tasks were not cancelled.
    let outs = run(&lp, async move {
        let mut outs = Vec::new();
        for t in done.into_iter().chain(pending) {
            outs.push(t.await.unwrap());
        }
        outs
    });
    assert_eq!(outs, vec![1, 3, 2]);
}

#[test]
fn first_exception_returns_at_the_first_panic() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let (done, pending, expected) = run(&lp, async move {
        // Completing successfully first must not end a FIRST_EXCEPTION wait.
        let tasks = vec![after(&l, 1, 1), panics_after(&l, 2), after(&l, 5, 5)];
        let expected = ids(&tasks);
        let (done, pending) = wait(tasks, ReturnWhen::FirstException, None).await.unwrap();
        (done, pending, expected)
    });
    assert_eq!(lp.time() - start, secs(2));
    assert_eq!(ids(&done), vec![expected[0], expected[1]]);
    assert_eq!(ids(&pending), vec![expected[2]]);
    assert!(done[1].failed());
    let mut failed = done.into_iter().nth(1).unwrap();
    assert!(failed.try_take().unwrap_err().is_panic(), "the failure was not taken by wait");
}

#[test]
fn first_exception_does_not_count_a_cancellation() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let (done, pending) = run(&lp, async move {
        let victim = after(&l, 10, 0);
        victim.cancel();
        let tasks = vec![after(&l, 1, 1), victim, after(&l, 3, 3)];
        wait(tasks, ReturnWhen::FirstException, None).await.unwrap()
    });
    assert_eq!(lp.time() - start, secs(3), "a cancelled task must not end FIRST_EXCEPTION");
    assert_eq!(done.len(), 3);
    assert!(pending.is_empty());
    assert!(done[1].cancelled());
}

#[test]
fn first_exception_does_not_count_an_err_output() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let (done, pending) = run(&lp, async move {
        let err = l
            .create_task(async {
                sleep(secs(1)).await.unwrap();
                Err::<u32, Error>(Error::InvalidArgument("no".into()))
            })
            .unwrap();
        let ok = l
            .create_task(async {
                sleep(secs(2)).await.unwrap();
                Ok(2)
            })
            .unwrap();
        wait(vec![err, ok], ReturnWhen::FirstException, None).await.unwrap()
    });
    assert_eq!(lp.time() - start, secs(2));
    assert_eq!((done.len(), pending.len()), (2, 0));
}

#[test]
fn all_completed_waits_for_the_slowest() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let (done, pending) = run(&lp, async move {
        let tasks = vec![after(&l, 4, 1), panics_after(&l, 1), after(&l, 2, 3)];
        wait(tasks, ReturnWhen::AllCompleted, None).await.unwrap()
    });
    assert_eq!(lp.time() - start, secs(4), "a panic must not end ALL_COMPLETED early");
    assert_eq!((done.len(), pending.len()), (3, 0));
    assert_eq!(ReturnWhen::default(), ReturnWhen::AllCompleted);
}

#[test]
fn timeout_returns_the_split_at_the_deadline_and_cancels_nothing() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let (done, pending) = run(&lp, async move {
        let tasks = vec![after(&l, 1, 1), after(&l, 5, 5), after(&l, 10, 10)];
        wait(tasks, ReturnWhen::AllCompleted, Some(Duration::from_millis(1500))).await.unwrap()
    });
    assert_eq!(lp.time() - start, Duration::from_millis(1500));
    assert_eq!(done.len(), 1);
    assert_eq!(pending.len(), 2);
    assert!(pending.iter().all(|t| !t.done() && !t.cancelled()));
    let outs = run(&lp, async move {
        let mut outs = Vec::new();
        for t in pending {
            outs.push(t.await.unwrap());
        }
        outs
    });
    assert_eq!(outs, vec![5, 10], "pending tasks must keep running after a wait timeout");
}

#[test]
fn tasks_already_done_satisfy_first_completed_without_waiting() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let (done, pending) = run(&lp, async move {
        let quick = l.create_task(async { 1 }).unwrap();
        sleep(Duration::ZERO).await.unwrap();
        sleep(Duration::ZERO).await.unwrap();
        assert!(quick.done());
        wait(vec![after(&l, 60, 0), quick], ReturnWhen::FirstCompleted, Some(secs(30)))
            .await
            .unwrap()
    });
    assert_eq!(lp.time(), start);
    assert_eq!((done.len(), pending.len()), (1, 1));
}

#[test]
fn an_empty_set_is_an_invalid_argument() {
    let lp = TestLoop::new().unwrap();
    let out =
        run(&lp, async { wait(Vec::<Task<u8>>::new(), ReturnWhen::AllCompleted, None).await });
    assert!(matches!(out, Err(Error::InvalidArgument(_))), "{out:?}");
}

#[test]
fn dropping_the_wait_cancels_nothing() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let refs = run(&lp, async move {
        let tasks = vec![after(&l, 5, 1), after(&l, 6, 2)];
        let refs: Vec<_> = tasks.iter().map(Task::as_task_ref).collect();
        let w = wait(tasks, ReturnWhen::AllCompleted, None);
        let raced = futures_lite::future::or(async { Some(w.await) }, async {
            sleep(secs(1)).await.unwrap();
            None
        })
        .await;
        assert!(raced.is_none());
        sleep(secs(10)).await.unwrap();
        refs
    });
    assert!(refs.iter().all(|t| t.done() && !t.cancelled()), "{refs:?}");
}
