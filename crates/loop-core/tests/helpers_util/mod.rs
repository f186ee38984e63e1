//! Shared helpers of the CORE-15 task-helper tests: run on virtual time with
//! a hang guard, and tasks that finish or panic after a virtual delay.

#![allow(dead_code)] // each test binary uses its own subset

use std::future::Future;
use std::time::Duration;

use loop_core::test_util::TestLoop;
use loop_core::{Loop, Task, sleep};

/// How long a test future may take on virtual time before it counts as hung.
pub(crate) const DAY: Duration = Duration::from_secs(86_400);

/// Runs `fut` on virtual time; a hung future fails after one virtual day.
pub(crate) fn run<F>(lp: &TestLoop, fut: F) -> F::Output
where
    F: Future + 'static,
    F::Output: 'static,
{
    let raced = futures_lite::future::or(async move { Some(fut.await) }, async move {
        sleep(DAY).await.expect("sleep");
        None
    });
    lp.run_until_complete(raced).expect("run_until_complete").expect("hung: one virtual day passed")
}

/// `s` seconds.
pub(crate) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A task that sleeps `s` seconds, then returns `value`.
pub(crate) fn after(lp: &Loop, s: u64, value: u32) -> Task<u32> {
    lp.create_task(async move {
        sleep(secs(s)).await.unwrap();
        value
    })
    .unwrap()
}

/// A task that sleeps `s` seconds, then panics.
pub(crate) fn panics_after(lp: &Loop, s: u64) -> Task<u32> {
    lp.create_task(async move {
        sleep(secs(s)).await.unwrap();
        panic!("child failed");
    })
    .unwrap()
}
