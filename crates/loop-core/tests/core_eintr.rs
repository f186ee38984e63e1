//! A signal storm must not restart the selector's whole timeout (issue 9,
//! item 1): with a no-op handler installed without `SA_RESTART` and an
//! interval timer signalling the loop's thread 200 times a second, a
//! 200 ms `call_later` still fires on time.
//!
//! This binary holds one test only: the signal handler it installs and the
//! timer signals it aims at its own thread cannot disturb other tests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use loop_core::Loop;
use nix::sys::signal::{
    self, SaFlags, SigAction, SigEvent, SigHandler, SigSet, SigevNotify, Signal,
};
use nix::sys::time::TimeSpec;
use nix::sys::timer::{Expiration, Timer, TimerSetTimeFlags};
use nix::time::ClockId;

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_signal(_: nix::libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn a_signal_storm_does_not_restart_the_poll_timeout() {
    // A no-op handler (it only counts) without SA_RESTART, as a profiler's
    // SIGPROF handler would be: every signal interrupts epoll_wait.
    let action =
        SigAction::new(SigHandler::Handler(count_signal), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler only increments an atomic, which is
    // async-signal-safe; no other code in this test binary handles SIGPROF.
    unsafe { signal::sigaction(Signal::SIGPROF, &action) }.expect("sigaction");

    // 200 signals a second, aimed at this thread only (the loop's).
    let event = SigEvent::new(SigevNotify::SigevThreadId {
        signal: Signal::SIGPROF,
        thread_id: nix::unistd::gettid().as_raw(),
        si_value: 0,
    });
    let mut storm = Timer::new(ClockId::CLOCK_MONOTONIC, event).expect("timer_create");
    let period = TimeSpec::from_duration(Duration::from_millis(5));
    storm.set(Expiration::Interval(period), TimerSetTimeFlags::empty()).expect("timer_settime");

    let lp = Loop::new().unwrap();
    // A loop that retries the interrupted wait with its full timeout never
    // gets to its timer while the storm lasts; this thread wakes it after
    // 3 s so that such a loop fails the test instead of hanging it.
    let remote = lp.remote();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(Duration::from_secs(3)).is_err() {
            let _ = remote.call_soon_threadsafe(|| {});
        }
    });

    let start = Instant::now();
    let fired = std::rc::Rc::new(std::cell::Cell::new(None));
    let (f2, l2) = (fired.clone(), lp.clone());
    lp.call_later(Duration::from_millis(200), move || {
        f2.set(Some(start.elapsed()));
        l2.stop();
    })
    .unwrap();
    let signals_before = SIGNALS.load(Ordering::Relaxed);
    lp.run_forever().unwrap();
    let signals = SIGNALS.load(Ordering::Relaxed) - signals_before;

    drop(storm);
    drop(done_tx);
    watchdog.join().unwrap();
    lp.close().unwrap();

    let took = fired.get().expect("the timer fired");
    assert!(signals >= 10, "the storm hit the loop's thread only {signals} times");
    assert!(took >= Duration::from_millis(200), "the timer fired early: {took:?}");
    assert!(
        took < Duration::from_millis(600),
        "a 200 ms timer fired after {took:?} under a 200 Hz signal storm ({signals} signals)"
    );
}
