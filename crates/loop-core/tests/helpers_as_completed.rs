//! CORE-15: `as_completed` — completion order, failures in place, timeout.

use std::time::Instant;

use futures_lite::StreamExt;
use loop_core::test_util::TestLoop;
use loop_core::{Error, Task, as_completed, get_running_loop, sleep};

mod helpers_util;
use helpers_util::*;

fn now() -> Instant {
    get_running_loop().unwrap().time()
}

#[test]
fn outputs_come_in_completion_order_each_as_soon_as_ready() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let got = run(&lp, async move {
        let mut it = as_completed(vec![after(&l, 3, 30), after(&l, 1, 10), after(&l, 2, 20)]);
        assert_eq!(it.len(), 3);
        let mut got = Vec::new();
        while let Some(out) = it.next().await {
            got.push((out.unwrap(), now()));
        }
        assert!(it.is_empty());
        got
    });
    let got: Vec<_> = got.into_iter().map(|(v, t)| (v, (t - start).as_secs())).collect();
    assert_eq!(got, vec![(10, 1), (20, 2), (30, 3)]);
}

#[test]
fn failures_are_yielded_in_their_place() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let got = run(&lp, async move {
        let boom = l
            .create_task(async {
                sleep(secs(2)).await.unwrap();
                panic!("boom");
            })
            .unwrap();
        let victim = after(&l, 10, 0);
        victim.cancel();
        let mut it = as_completed(vec![after(&l, 3, 3), boom, victim]);
        let mut got = Vec::new();
        while let Some(out) = it.next().await {
            got.push(out);
        }
        got
    });
    assert_eq!(got.len(), 3);
    assert!(matches!(got[0], Err(Error::Cancelled { .. })), "{:?}", got[0]);
    assert!(got[1].as_ref().is_err_and(Error::is_panic), "{:?}", got[1]);
    assert_eq!(*got[2].as_ref().unwrap(), 3);
}

#[test]
fn timeout_yields_timed_out_for_each_pending_task_and_cancels_none() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let start = lp.time();
    let (got, refs) = run(&lp, async move {
        let tasks = vec![after(&l, 5, 5), after(&l, 1, 1), after(&l, 10, 10)];
        let refs: Vec<_> = tasks.iter().map(Task::as_task_ref).collect();
        let mut it = as_completed(tasks).with_timeout(secs(3));
        let mut got = Vec::new();
        while let Some(out) = it.next().await {
            got.push((out, (now() - start).as_secs()));
        }
        (got, refs)
    });
    assert_eq!(got.len(), 3);
    assert_eq!(*got[0].0.as_ref().unwrap(), 1);
    assert_eq!(got[0].1, 1);
    assert!(matches!(got[1], (Err(Error::TimedOut { .. }), 3)), "{:?}", got[1]);
    assert!(matches!(got[2], (Err(Error::TimedOut { .. }), 3)), "{:?}", got[2]);
    assert!(refs.iter().all(|t| !t.cancelled()));
    run(&lp, async { sleep(secs(20)).await.unwrap() });
    assert!(refs.iter().all(|t| t.done() && !t.cancelled()), "timed-out tasks keep running");
}

#[test]
fn a_task_done_after_the_deadline_but_before_next_is_still_yielded() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let got = run(&lp, async move {
        let mut it = as_completed(vec![after(&l, 1, 1), after(&l, 60, 60), after(&l, 5, 5)])
            .with_timeout(secs(2));
        let mut got = vec![it.next().await.unwrap()];
        // The deadline passes: the first pending task (in input order) times out.
        got.push(it.next().await.unwrap());
        // Dawdle past the third task's completion: it is yielded, not timed out.
        sleep(secs(10)).await.unwrap();
        while let Some(out) = it.next().await {
            got.push(out);
        }
        got
    });
    assert_eq!(got.len(), 3);
    assert_eq!(*got[0].as_ref().unwrap(), 1);
    assert!(matches!(got[1], Err(Error::TimedOut { .. })), "{:?}", got[1]);
    assert_eq!(*got[2].as_ref().unwrap(), 5);
}

#[test]
fn into_pending_hands_back_the_tasks_not_yielded() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let outs = run(&lp, async move {
        let mut it = as_completed(vec![after(&l, 2, 2), after(&l, 1, 1), after(&l, 3, 3)]);
        assert_eq!(it.next().await.unwrap().unwrap(), 1);
        let rest = it.into_pending();
        let mut outs = Vec::new();
        for t in rest {
            outs.push(t.await.unwrap());
        }
        outs
    });
    assert_eq!(outs, vec![2, 3]);
}

#[test]
fn works_as_a_stream_and_an_empty_set_ends_at_once() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let (got, empty) = run(&lp, async move {
        let got: Vec<u32> = as_completed(vec![after(&l, 2, 2), after(&l, 1, 1)])
            .map(Result::unwrap)
            .collect()
            .await;
        let empty = as_completed(Vec::<Task<u32>>::new()).next().await;
        (got, empty)
    });
    assert_eq!(got, vec![1, 2]);
    assert!(empty.is_none());
}

#[test]
fn dropping_a_next_future_loses_no_output() {
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let got = run(&lp, async move {
        let mut it = as_completed(vec![after(&l, 2, 2)]);
        let abandoned = futures_lite::future::or(async { Some(it.next().await) }, async {
            sleep(secs(1)).await.unwrap();
            None
        })
        .await;
        assert!(abandoned.is_none());
        it.next().await
    });
    assert_eq!(got.unwrap().unwrap(), 2);
}
