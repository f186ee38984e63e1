//! CORE-15: `timeout`, `timeout_at`, `wait_for` on virtual time.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use loop_core::test_util::TestLoop;
use loop_core::{Error, cancel_on_drop, get_running_loop, sleep, timeout, timeout_at, wait_for};

mod helpers_util;
use helpers_util::*;

/// Sets its flag when dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn inner_completing_first_gives_its_output_at_its_own_time() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    let out = run(&lp, async {
        timeout(secs(10), async {
            sleep(secs(3)).await.unwrap();
            7
        })
        .await
    });
    assert_eq!(out.unwrap(), 7);
    assert_eq!(lp.time() - start, secs(3));
}

#[test]
fn deadline_passing_first_gives_timed_out_exactly_at_the_deadline() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    let out = run(&lp, async { timeout(secs(10), sleep(secs(3600))).await });
    assert!(matches!(out, Err(Error::TimedOut { .. })), "{out:?}");
    assert_eq!(lp.time() - start, secs(10));
}

#[test]
fn timeout_drops_the_inner_future_when_it_fires() {
    let lp = TestLoop::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    let out = run(&lp, async move {
        let guard = DropFlag(d.clone());
        let mut t = Box::pin(timeout(secs(1), async move {
            let _guard = guard;
            sleep(secs(3600)).await
        }));
        let res = t.as_mut().await;
        // Dropped when the timeout fires, not when the `Timeout` goes away.
        let dropped_at_timeout = d.get();
        drop(t);
        (res, dropped_at_timeout)
    });
    assert!(matches!(out.0, Err(Error::TimedOut { .. })));
    assert!(out.1, "the inner future was still alive when TimedOut was returned");
    assert!(dropped.get());
}

#[test]
fn ready_inner_wins_over_a_zero_timeout_and_pending_inner_loses_it() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    let (ready, pending) = run(&lp, async {
        let ready = timeout(Duration::ZERO, async { 5 }).await;
        let pending = timeout(Duration::ZERO, sleep(secs(1))).await;
        (ready, pending)
    });
    assert_eq!(ready.unwrap(), 5);
    assert!(matches!(pending, Err(Error::TimedOut { .. })), "{pending:?}");
    assert_eq!(lp.time(), start, "a zero timeout fires on the next iteration");
}

#[test]
fn zero_timeout_still_lets_the_inner_future_run_until_it_waits() {
    let lp = TestLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let out = run(&lp, async move {
        timeout(Duration::ZERO, async move {
            r.set(true);
            sleep(secs(1)).await
        })
        .await
    });
    assert!(matches!(out, Err(Error::TimedOut { .. })));
    assert!(ran.get());
}

#[test]
fn timeout_at_uses_the_absolute_deadline_and_reports_it() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    let deadline = start + secs(42);
    let out = run(&lp, async move {
        let t = timeout_at(deadline, sleep(secs(3600)));
        assert_eq!(t.deadline(), Some(deadline));
        t.await
    });
    assert!(matches!(out, Err(Error::TimedOut { .. })));
    assert_eq!(lp.time() - start, secs(42));
}

#[test]
fn relative_deadline_is_fixed_at_the_first_poll() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    let out = run(&lp, async move {
        let t = timeout(secs(5), sleep(secs(3600)));
        assert_eq!(t.deadline(), None);
        // Created now, first polled 10 s later: the limit counts from then.
        sleep(secs(10)).await.unwrap();
        let mut t = Box::pin(t);
        let first = futures_lite::future::poll_once(t.as_mut()).await;
        assert!(first.is_none());
        assert_eq!(t.deadline(), Some(get_running_loop().unwrap().time() + secs(5)));
        let res = t.as_mut().await;
        (res, t.expired())
    });
    assert!(matches!(out.0, Err(Error::TimedOut { .. })));
    assert!(out.1);
    assert_eq!(lp.time() - start, secs(15));
}

#[test]
fn wait_for_none_never_times_out() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    let out = run(&lp, async {
        wait_for(
            async {
                sleep(secs(3600)).await.unwrap();
                "late"
            },
            None,
        )
        .await
    });
    assert_eq!(out.unwrap(), "late");
    assert_eq!(lp.time() - start, secs(3600));
}

#[test]
fn wait_for_some_times_out_like_timeout() {
    let lp = TestLoop::new().unwrap();
    let start = lp.time();
    let out = run(&lp, async { wait_for(sleep(secs(3600)), Some(secs(2))).await });
    assert!(matches!(out, Err(Error::TimedOut { .. })));
    assert_eq!(lp.time() - start, secs(2));
}

#[test]
fn a_limit_beyond_the_clock_means_no_limit() {
    let lp = TestLoop::new().unwrap();
    let out = run(&lp, async {
        timeout(Duration::MAX, async {
            sleep(secs(60)).await.unwrap();
            1
        })
        .await
    });
    assert_eq!(out.unwrap(), 1);
}

#[test]
fn a_timed_out_task_is_detached_but_cancel_on_drop_cancels_it() {
    let lp = TestLoop::new().unwrap();
    let l2 = lp.handle().clone();
    let (plain, guarded) = run(&lp, async move {
        let plain = l2.create_task(sleep(secs(60))).unwrap();
        let plain_ref = plain.as_task_ref();
        let guarded = l2.create_task(sleep(secs(60))).unwrap();
        let guarded_ref = guarded.as_task_ref();
        assert!(matches!(timeout(secs(1), plain).await, Err(Error::TimedOut { .. })));
        assert!(matches!(
            wait_for(cancel_on_drop(guarded), Some(secs(1))).await,
            Err(Error::TimedOut { .. })
        ));
        // Let the cancellation be delivered.
        sleep(Duration::ZERO).await.unwrap();
        (plain_ref, guarded_ref)
    });
    assert!(!plain.done(), "timeout must not cancel a task it only awaited");
    assert!(guarded.cancelled(), "cancel_on_drop must cancel the task on timeout");
}

#[test]
fn arming_a_timeout_outside_a_running_loop_is_an_error() {
    let out =
        futures_lite::future::block_on(timeout(secs(1), futures_lite::future::pending::<()>()));
    assert!(matches!(out, Err(Error::NoRunningLoop)), "{out:?}");
    // A future that is ready needs no loop at all.
    let ready = futures_lite::future::block_on(timeout(secs(1), async { 3 }));
    assert_eq!(ready.unwrap(), 3);
}

/// A task that holds `guard` and sleeps a minute (its cleanup is the guard's
/// drop).
fn sleeper_holding(lp: &loop_core::Loop, guard: DropFlag) -> loop_core::Task<()> {
    lp.create_task(async move {
        let _guard = guard;
        sleep(secs(60)).await.unwrap();
    })
    .unwrap()
}

#[test]
fn wait_for_on_a_task_times_out_only_once_the_task_is_done_cancelling() {
    // asyncio: wait_for(task, t) cancels the task and waits for it, so when
    // TimeoutError is seen the task is cancelled and its cleanup has run.
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let (out, done, cancelled, cleaned_up) = run(&lp, async move {
        let cleaned = Rc::new(Cell::new(false));
        let task = sleeper_holding(&l, DropFlag(cleaned.clone()));
        let tr = task.as_task_ref();
        let out = wait_for(cancel_on_drop(task), Some(secs(1))).await;
        (out, tr.done(), tr.cancelled(), cleaned.get())
    });
    assert!(matches!(out, Err(Error::TimedOut { .. })), "{out:?}");
    assert!(done, "the task is still pending when TimedOut is seen");
    assert!(cancelled);
    assert!(cleaned_up, "the task's cleanup has not run when TimedOut is seen");
}

#[test]
fn timed_out_carries_the_inner_cancellation_as_its_source() {
    use std::error::Error as _;
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let (of_task, of_future) = run(&lp, async move {
        let task = sleeper_holding(&l, DropFlag(Rc::new(Cell::new(false))));
        let of_task = wait_for(cancel_on_drop(task), Some(secs(1))).await.unwrap_err();
        let of_future = timeout(secs(1), sleep(secs(60))).await.unwrap_err();
        (of_task, of_future)
    });
    for err in [&of_task, &of_future] {
        let source = err.source().unwrap_or_else(|| panic!("no source: {err:?}"));
        let source = source.downcast_ref::<Error>().expect("a loop_core::Error source");
        assert!(source.is_cancelled(), "{source:?}");
    }
}

#[test]
fn wait_for_with_a_zero_limit_cancels_before_the_future_starts() {
    // asyncio: wait_for(aw, 0) (or a negative timeout) cancels `aw` before
    // it runs at all, unlike timeout(0).
    let lp = TestLoop::new().unwrap();
    let l = lp.handle().clone();
    let (plain, started, task_out, task_ran, task_cancelled) = run(&lp, async move {
        let started = Rc::new(Cell::new(false));
        let s = started.clone();
        let plain = wait_for(async move { s.set(true) }, Some(Duration::ZERO)).await;
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        let task = l.create_task(async move { r.set(true) }).unwrap();
        let tr = task.as_task_ref();
        let task_out = wait_for(cancel_on_drop(task), Some(Duration::ZERO)).await;
        (plain, started.get(), task_out, ran.get(), tr.cancelled())
    });
    assert!(matches!(plain, Err(Error::TimedOut { .. })), "{plain:?}");
    assert!(!started, "the future was run");
    assert!(matches!(task_out, Err(Error::TimedOut { .. })), "{task_out:?}");
    assert!(!task_ran, "the task's body ran");
    assert!(task_cancelled);
}
