//! CORE-13: obtaining loops — `get_running_loop`, `get_event_loop`,
//! `set_event_loop`, `new_event_loop`, and event-loop policies.
//!
//! The policy is process-wide, so the tests of this file run one at a time.

mod core_util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use loop_core::{
    DefaultEventLoopPolicy, Error, EventLoopPolicy, Loop, get_event_loop, get_event_loop_policy,
    get_running_loop, new_event_loop, set_event_loop, set_event_loop_policy,
};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn get_running_loop_outside_a_running_loop_is_a_clear_error() {
    let _s = serial();
    assert!(matches!(get_running_loop(), Err(Error::NoRunningLoop)));
    let lp = Loop::new().unwrap();
    // A loop that exists but does not run is not the running loop.
    assert!(matches!(get_running_loop(), Err(Error::NoRunningLoop)));
    lp.run_until_complete(async {}).unwrap();
    assert!(matches!(get_running_loop(), Err(Error::NoRunningLoop)), "still set after the run");
    lp.close().unwrap();
    assert_eq!(Error::NoRunningLoop.to_string(), "no running event loop on this thread");
}

#[test]
fn get_running_loop_inside_is_the_running_loop_in_tasks_and_callbacks() {
    let _s = serial();
    let lp = Loop::new().unwrap();
    let me = lp.clone();
    let in_callback = std::rc::Rc::new(std::cell::Cell::new(false));
    let (c, me2) = (in_callback.clone(), lp.clone());
    lp.call_soon(move || c.set(get_running_loop().unwrap().ptr_eq(&me2))).unwrap();
    let in_task =
        lp.run_until_complete(async move { get_running_loop().unwrap().ptr_eq(&me) }).unwrap();
    assert!(in_task);
    assert!(in_callback.get());
    lp.close().unwrap();
}

#[test]
fn get_running_loop_follows_the_loop_that_runs() {
    let _s = serial();
    let a = Loop::new().unwrap();
    let b = Loop::new().unwrap();
    let a2 = a.clone();
    assert!(a.run_until_complete(async move { get_running_loop().unwrap().ptr_eq(&a2) }).unwrap());
    let b2 = b.clone();
    assert!(b.run_until_complete(async move { get_running_loop().unwrap().ptr_eq(&b2) }).unwrap());
    a.close().unwrap();
    b.close().unwrap();
}

#[test]
fn get_event_loop_and_set_event_loop() {
    let _s = serial();
    set_event_loop(None);
    // Created on first use, then the same one.
    let first = get_event_loop().unwrap();
    let again = get_event_loop().unwrap();
    assert!(first.ptr_eq(&again));
    // set_event_loop replaces it.
    let mine = new_event_loop().unwrap();
    assert!(!mine.ptr_eq(&first));
    set_event_loop(Some(mine.clone()));
    assert!(get_event_loop().unwrap().ptr_eq(&mine));
    // Inside a running loop, get_event_loop is the running loop.
    let other = Loop::new().unwrap();
    let o2 = other.clone();
    assert!(
        other.run_until_complete(async move { get_event_loop().unwrap().ptr_eq(&o2) }).unwrap()
    );
    assert!(get_event_loop().unwrap().ptr_eq(&mine));
    // Clearing it makes the next call create a fresh one.
    set_event_loop(None);
    let fresh = get_event_loop().unwrap();
    assert!(!fresh.ptr_eq(&mine) && !fresh.ptr_eq(&first));
    set_event_loop(None);
    for lp in [first, mine, other, fresh] {
        lp.close().unwrap();
    }
}

#[test]
fn the_current_loop_is_per_thread() {
    let _s = serial();
    set_event_loop(None);
    let here = get_event_loop().unwrap();
    let here_id = here.id();
    let there_id = std::thread::spawn(|| {
        let lp = get_event_loop().unwrap();
        let id = lp.id();
        set_event_loop(None);
        lp.close().unwrap();
        id
    })
    .join()
    .unwrap();
    assert_ne!(here_id, there_id);
    set_event_loop(None);
    here.close().unwrap();
}

#[test]
fn new_event_loop_returns_a_new_open_loop_each_time() {
    let _s = serial();
    let a = new_event_loop().unwrap();
    let b = new_event_loop().unwrap();
    assert!(!a.ptr_eq(&b));
    assert_ne!(a.id(), b.id());
    assert!(!a.is_closed() && !a.is_running());
    assert_eq!(a.run_until_complete(async { 3 }).unwrap(), 3);
    a.close().unwrap();
    b.close().unwrap();
}

/// A policy that counts the loops it makes and keeps one current loop.
#[derive(Default)]
struct CountingPolicy {
    made: AtomicUsize,
    sets: AtomicUsize,
}

impl EventLoopPolicy for CountingPolicy {
    fn get_event_loop(&self) -> loop_core::Result<Loop> {
        // The default behaviour, delegated.
        DefaultEventLoopPolicy.get_event_loop()
    }
    fn set_event_loop(&self, lp: Option<Loop>) {
        self.sets.fetch_add(1, Ordering::SeqCst);
        DefaultEventLoopPolicy.set_event_loop(lp);
    }
    fn new_event_loop(&self) -> loop_core::Result<Loop> {
        self.made.fetch_add(1, Ordering::SeqCst);
        let lp = Loop::new()?;
        lp.set_debug(true); // recognisable
        Ok(lp)
    }
}

#[test]
fn a_custom_policy_is_used_until_reset() {
    let _s = serial();
    let policy = Arc::new(CountingPolicy::default());
    set_event_loop_policy(Some(policy.clone()));
    let restore = scopeguard(|| set_event_loop_policy(None));
    let got = get_event_loop_policy();
    assert!(std::ptr::addr_eq(Arc::as_ptr(&got), Arc::as_ptr(&policy)));

    let lp = new_event_loop().unwrap();
    assert_eq!(policy.made.load(Ordering::SeqCst), 1);
    assert!(lp.get_debug(), "not the policy's loop");
    set_event_loop(Some(lp.clone()));
    assert_eq!(policy.sets.load(Ordering::SeqCst), 1);
    assert!(get_event_loop().unwrap().ptr_eq(&lp));
    // run() obtains its loop from the policy too.
    assert!(loop_core::run(async { get_running_loop().unwrap().get_debug() }).unwrap());
    assert_eq!(policy.made.load(Ordering::SeqCst), 2);
    set_event_loop(None);
    lp.close().unwrap();

    drop(restore);
    let lp = new_event_loop().unwrap();
    assert_eq!(policy.made.load(Ordering::SeqCst), 2, "the reset policy is still used");
    lp.close().unwrap();
}

/// Runs `f` when dropped (resets global state even if an assertion fails).
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}
