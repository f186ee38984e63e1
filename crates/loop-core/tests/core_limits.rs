//! The one per-process limit: `MAX_LOOPS_WITH_TASKS` loops may have tasks
//! at the same time; one more fails with a clear error, and closing a loop
//! gives its place back. (Fake-driver loops hold no fd, so the test can
//! reach the limit.) This file holds one test: the limit is process-wide.

use loop_core::test_util::FakeDriver;
use loop_core::{Error, MAX_LOOPS_WITH_TASKS, sleep};

#[test]
fn loops_with_tasks_are_bounded_by_the_documented_limit() {
    let hold = |lp: &loop_core::Loop| {
        lp.create_task(sleep(std::time::Duration::from_secs(3600))).map(drop)
    };
    let mut loops = Vec::with_capacity(MAX_LOOPS_WITH_TASKS);
    for _ in 0..MAX_LOOPS_WITH_TASKS {
        let (lp, _driver) = FakeDriver::new_loop();
        hold(&lp).unwrap();
        loops.push(lp);
    }
    let (extra, _driver) = FakeDriver::new_loop();
    match hold(&extra) {
        Err(Error::InvalidState(msg)) => assert!(msg.contains("MAX_LOOPS_WITH_TASKS"), "{msg}"),
        other => panic!("expected the limit's error, got {other:?}"),
    }
    // Closing a loop gives its place back.
    loops.pop().unwrap().close().unwrap();
    hold(&extra).unwrap();
    extra.close().unwrap();
    for lp in loops {
        lp.close().unwrap();
    }
}
