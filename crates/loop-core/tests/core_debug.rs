//! CORE-12: debug mode — `set_debug` / `get_debug`, the `TULIP_DEBUG`
//! environment variable (checked in child processes, so no test races on the
//! environment), slow-callback warnings with their threshold, creation sites
//! in reports, unclosed-resource warnings; all through `tracing`.

mod core_util;

use std::time::Duration;

use core_util::{Captured, Recorder, busy_for, is_child, run_child};
use loop_core::test_util::TestLoop;
use loop_core::{DEBUG_ENV_VAR, DEFAULT_SLOW_CALLBACK_DURATION, Loop};

fn warnings(rec: &Recorder, needle: &str) -> Vec<Captured> {
    rec.events()
        .into_iter()
        .filter(|e| e.level == tracing::Level::WARN && e.text.contains(needle))
        .collect()
}

#[test]
fn set_debug_and_get_debug() {
    let lp = Loop::new().unwrap();
    lp.set_debug(true);
    assert!(lp.get_debug());
    lp.set_debug(false);
    assert!(!lp.get_debug());
    lp.close().unwrap();
}

#[test]
fn the_default_slow_callback_threshold_is_100_ms_and_settable() {
    assert_eq!(DEFAULT_SLOW_CALLBACK_DURATION, Duration::from_millis(100));
    let lp = Loop::new().unwrap();
    assert_eq!(lp.slow_callback_duration(), Duration::from_millis(100));
    lp.set_slow_callback_duration(Duration::from_millis(5));
    assert_eq!(lp.slow_callback_duration(), Duration::from_millis(5));
    lp.close().unwrap();
}

#[test]
fn debug_mode_is_off_without_the_environment_variable() {
    run_child("child_debug_off", &[(DEBUG_ENV_VAR, None)]);
    run_child("child_debug_off", &[(DEBUG_ENV_VAR, Some(""))]);
    run_child("child_debug_off", &[(DEBUG_ENV_VAR, Some("0"))]);
}

#[test]
#[ignore = "run in a child process by debug_mode_is_off_without_the_environment_variable"]
fn child_debug_off() {
    if !is_child() {
        return;
    }
    let lp = Loop::new().unwrap();
    assert!(!lp.get_debug());
    lp.close().unwrap();
    let t = TestLoop::new().unwrap();
    assert!(!t.get_debug());
    t.close().unwrap();
}

#[test]
fn the_environment_variable_turns_debug_mode_on() {
    run_child("child_debug_on", &[(DEBUG_ENV_VAR, Some("1"))]);
    run_child("child_debug_on", &[(DEBUG_ENV_VAR, Some("yes"))]);
}

#[test]
#[ignore = "run in a child process by the_environment_variable_turns_debug_mode_on"]
fn child_debug_on() {
    if !is_child() {
        return;
    }
    let lp = Loop::new().unwrap();
    assert!(lp.get_debug());
    // It can still be turned off per loop.
    lp.set_debug(false);
    assert!(!lp.get_debug());
    lp.close().unwrap();
    let lp = loop_core::new_event_loop().unwrap();
    assert!(lp.get_debug());
    lp.close().unwrap();
}

#[test]
fn a_slow_callback_is_reported_in_debug_mode_with_its_creation_site() {
    let rec = Recorder::default();
    let line = rec.capture(|| {
        let t = TestLoop::new().unwrap();
        t.set_debug(true);
        // Every callback is at least as slow as a zero threshold.
        t.set_slow_callback_duration(Duration::ZERO);
        let line = line!() + 1;
        t.call_soon(|| {}).unwrap();
        t.stop();
        t.run_forever().unwrap();
        t.close().unwrap();
        line
    });
    let hits = warnings(&rec, "Executing");
    assert_eq!(hits.len(), 1, "{:#?}", rec.events());
    assert_eq!(hits[0].target, "tulip");
    let site = format!("core_debug.rs:{line}");
    assert!(hits[0].text.contains(&site), "no creation site {site} in: {}", hits[0].text);
    assert!(hits[0].text.contains("seconds"), "{}", hits[0].text);
}

#[test]
fn a_really_slow_callback_is_reported_with_the_default_threshold() {
    let rec = Recorder::default();
    rec.capture(|| {
        let t = TestLoop::new().unwrap();
        t.set_debug(true);
        // The callback under test is slow on purpose.
        t.call_soon(|| busy_for(Duration::from_millis(150))).unwrap();
        t.stop();
        t.run_forever().unwrap();
        t.close().unwrap();
    });
    assert_eq!(warnings(&rec, "Executing").len(), 1, "{:#?}", rec.events());
}

#[test]
fn callbacks_under_the_threshold_or_outside_debug_mode_are_not_reported() {
    let rec = Recorder::default();
    rec.capture(|| {
        let t = TestLoop::new().unwrap();
        t.set_debug(true);
        t.set_slow_callback_duration(Duration::from_secs(3600));
        t.call_soon(|| {}).unwrap();
        let _task = t.create_task(async {}).unwrap();
        t.stop();
        t.run_forever().unwrap();
        // Debug off: even a zero threshold reports nothing.
        t.set_debug(false);
        t.set_slow_callback_duration(Duration::ZERO);
        t.call_soon(|| {}).unwrap();
        let _task = t.create_task(async {}).unwrap();
        t.stop();
        t.run_forever().unwrap();
        t.close().unwrap();
    });
    assert!(warnings(&rec, "Executing").is_empty(), "{:#?}", rec.events());
}

#[test]
fn a_slow_task_step_is_reported_with_the_task_and_its_creation_site() {
    let rec = Recorder::default();
    let line = rec.capture(|| {
        let t = TestLoop::new().unwrap();
        t.set_debug(true);
        t.set_slow_callback_duration(Duration::ZERO);
        let line = line!() + 1;
        let task = t.create_named_task("sluggish", async {}).unwrap();
        t.stop();
        t.run_forever().unwrap();
        assert!(task.done());
        t.close().unwrap();
        line
    });
    let hits = warnings(&rec, "Executing");
    assert_eq!(hits.len(), 1, "{:#?}", rec.events());
    assert!(hits[0].text.contains("sluggish"), "task not named in: {}", hits[0].text);
    let site = format!("core_debug.rs:{line}");
    assert!(hits[0].text.contains(&site), "no creation site {site} in: {}", hits[0].text);
}

#[test]
fn an_unclosed_loop_is_reported_when_dropped() {
    let rec = Recorder::default();
    rec.capture(|| {
        let lp = Loop::new().unwrap();
        lp.call_soon(|| {}).unwrap();
        drop(lp);
        // A closed loop is not reported.
        let lp = Loop::new().unwrap();
        lp.close().unwrap();
        drop(lp);
    });
    let hits = warnings(&rec, "unclosed event loop");
    assert_eq!(hits.len(), 1, "{:#?}", rec.events());
    assert_eq!(hits[0].target, "tulip");
}

#[test]
fn an_unretrieved_task_failure_is_logged_with_the_task_s_creation_site() {
    let rec = Recorder::default();
    let line = rec.capture(|| {
        let t = TestLoop::new().unwrap();
        let line = line!() + 1;
        let task = t.create_named_task("lost", async { panic!("never looked at") }).unwrap();
        drop(task);
        t.stop();
        t.run_forever().unwrap();
        t.close().unwrap();
        line
    });
    let hits = rec.matching("never retrieved");
    assert_eq!(hits.len(), 1, "{:#?}", rec.events());
    assert_eq!(hits[0].level, tracing::Level::ERROR);
    assert!(hits[0].text.contains("never looked at"), "{}", hits[0].text);
    assert!(hits[0].text.contains("lost"), "{}", hits[0].text);
    let site = format!("core_debug.rs:{line}");
    assert!(hits[0].text.contains(&site), "no creation site {site} in: {}", hits[0].text);
}
