//! SIG-01 / SIG-02 in one process: callbacks run on the loop, errors are
//! typed, bursts are not lost, several loops each get their signals, a
//! blocked loop wakes up, close removes handlers. The tests share the
//! process's signal dispositions, so each takes the `serial()` lock.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::time::Instant;

use loop_core::Loop;
use loop_core::test_util::open_fd_count;
use loop_signals::{Signal, SignalError, SignalExt};
use nix::sys::signal::Signal as NixSignal;

use util::{Counter, TIMEOUT, keep_handled, kill_self, raise, run_until, serial};

#[test]
fn the_callback_runs_on_the_loop_as_its_running_loop() {
    let _g = serial();
    keep_handled();
    let lp = Loop::new().unwrap();
    let seen: Rc<RefCell<Option<(bool, std::thread::ThreadId)>>> = Rc::default();
    let (s2, l2) = (seen.clone(), lp.clone());
    lp.add_signal_handler(Signal::SIGUSR1, move || {
        let running = loop_core::get_running_loop().expect("a running loop in the callback");
        *s2.borrow_mut() = Some((running.ptr_eq(&l2), std::thread::current().id()));
        // The loop may be used freely: schedule a callback that stops it.
        let l3 = l2.clone();
        l2.call_soon(move || l3.stop()).unwrap();
    })
    .unwrap();
    kill_self(Signal::SIGUSR1);
    run_until(&lp, || seen.borrow().is_some());
    let (same_loop, thread) = seen.borrow().unwrap();
    assert!(same_loop, "the callback's running loop is the loop it was added to");
    assert_eq!(thread, std::thread::current().id());
    lp.close().unwrap();
}

#[test]
fn invalid_uncatchable_and_fault_signals_are_typed_errors() {
    let _g = serial();
    let lp = Loop::new().unwrap();
    let cases = [
        (0, "signal 0"),
        (-1, "signal -1"),
        (65, "signal 65"),
        (999, "signal 999"),
        (Signal::SIGKILL.as_raw(), "SIGKILL"),
        (Signal::SIGSTOP.as_raw(), "SIGSTOP"),
        (Signal::SIGSEGV.as_raw(), "SIGSEGV"),
        (Signal::SIGBUS.as_raw(), "SIGBUS"),
        (Signal::SIGFPE.as_raw(), "SIGFPE"),
        (Signal::SIGILL.as_raw(), "SIGILL"),
    ];
    for (n, name) in cases {
        let err = lp.add_signal_handler(n, || {}).unwrap_err();
        match &err {
            SignalError::InvalidSignal { signal, .. } => assert_eq!(signal.as_raw(), n),
            other => panic!("signal {n}: expected InvalidSignal, got {other:?}"),
        }
        assert!(err.to_string().contains(name), "{err} names {name}");
        // The loop-core view of the error is an invalid argument.
        let core: loop_core::Error = err.into();
        assert!(matches!(core, loop_core::Error::InvalidArgument(_)), "{core:?}");
    }
    // Removing: an invalid number is an error, a valid uncatchable one just
    // has no handler.
    for n in [0, 999] {
        assert!(matches!(lp.remove_signal_handler(n), Err(SignalError::InvalidSignal { .. })));
    }
    assert!(!lp.remove_signal_handler(Signal::SIGKILL).unwrap());
    // Nothing was left behind: no reader, no slot.
    assert!(!lp.remove_signal_handler(Signal::SIGUSR1).unwrap());
    lp.close().unwrap();
}

#[test]
fn remove_returns_false_for_an_unknown_handler_and_true_once_for_a_known_one() {
    let _g = serial();
    keep_handled();
    let lp = Loop::new().unwrap();
    assert!(!lp.remove_signal_handler(Signal::SIGUSR2).unwrap());
    lp.add_signal_handler(Signal::SIGUSR2, || {}).unwrap();
    assert!(!lp.remove_signal_handler(Signal::SIGUSR1).unwrap(), "another signal");
    assert!(lp.remove_signal_handler(Signal::SIGUSR2).unwrap());
    assert!(!lp.remove_signal_handler(Signal::SIGUSR2).unwrap());
    lp.close().unwrap();
}

#[test]
fn a_burst_of_signals_yields_at_least_one_run() {
    let _g = serial();
    keep_handled();
    let lp = Loop::new().unwrap();
    let count = Counter::default();
    lp.add_signal_handler(Signal::SIGUSR1, count.callback()).unwrap();

    // 100 signals while the loop is not running at all.
    for _ in 0..100 {
        kill_self(Signal::SIGUSR1);
    }
    run_until(&lp, || count.get() >= 1);
    let after_first = count.get();
    assert!((1..=100).contains(&after_first), "{after_first} runs");

    // 100 more while the loop is busy running a callback.
    lp.call_soon(|| {
        for _ in 0..100 {
            kill_self(Signal::SIGUSR1);
        }
    })
    .unwrap();
    run_until(&lp, || count.get() > after_first);
    assert!(count.get() - after_first <= 100);
    lp.close().unwrap();
}

#[test]
fn two_loops_on_two_threads_each_get_the_signal() {
    let _g = serial();
    keep_handled();
    let registered = Arc::new(Barrier::new(3));
    let (tx, rx) = mpsc::channel();
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let (registered, tx) = (registered.clone(), tx.clone());
            std::thread::spawn(move || {
                let lp = Loop::new().unwrap();
                let count = Counter::default();
                lp.add_signal_handler(Signal::SIGUSR1, count.callback()).unwrap();
                registered.wait();
                run_until(&lp, || count.get() >= 1);
                lp.close().unwrap();
                tx.send(i).unwrap();
            })
        })
        .collect();
    registered.wait();
    kill_self(Signal::SIGUSR1);
    let mut got: Vec<i32> = (0..2).map(|_| rx.recv_timeout(TIMEOUT).expect("both loops")).collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1]);
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn two_loops_on_one_thread_each_get_the_signal() {
    let _g = serial();
    keep_handled();
    let (a, b) = (Loop::new().unwrap(), Loop::new().unwrap());
    let (ca, cb) = (Counter::default(), Counter::default());
    a.add_signal_handler(Signal::SIGUSR2, ca.callback()).unwrap();
    b.add_signal_handler(Signal::SIGUSR2, cb.callback()).unwrap();
    raise(NixSignal::SIGUSR2);
    run_until(&a, || ca.get() >= 1);
    run_until(&b, || cb.get() >= 1);
    assert_eq!((ca.get(), cb.get()), (1, 1));
    a.close().unwrap();
    b.close().unwrap();
}

/// Whether thread `tid` of this process is asleep (in the selector).
fn is_sleeping(tid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
    // The state follows the parenthesised command name.
    let asleep = stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('S'));
    // Where the kernel says what it waits in, insist on epoll.
    let wchan = std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan")).unwrap_or_default();
    asleep && (wchan.is_empty() || wchan == "0" || wchan.contains("epoll"))
}

#[test]
fn a_loop_blocked_in_the_selector_with_no_timers_wakes_on_a_signal() {
    let _g = serial();
    keep_handled();
    let lp = Loop::new().unwrap();
    let woke = Arc::new(AtomicBool::new(false));
    let (w2, l2) = (woke.clone(), lp.clone());
    lp.add_signal_handler(Signal::SIGUSR1, move || {
        w2.store(true, Ordering::SeqCst);
        l2.stop();
    })
    .unwrap();
    let tid = nix::unistd::gettid().as_raw();
    let remote = lp.remote();
    let w3 = woke.clone();
    let sender = std::thread::spawn(move || {
        let deadline = Instant::now() + TIMEOUT;
        // Polling /proc: the only way to see that another thread blocks.
        while !is_sleeping(tid) && Instant::now() < deadline {
            std::thread::yield_now();
        }
        kill_self(Signal::SIGUSR1);
        while !w3.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::yield_now();
        }
        // Never leave the test hanging: stop the loop from here if the
        // signal did not wake it.
        let _ = remote.stop();
    });
    lp.run_forever().unwrap();
    sender.join().unwrap();
    assert!(woke.load(Ordering::SeqCst), "the signal woke the blocked loop");
    lp.close().unwrap();
}

/// Sets a flag when dropped: shows when a callback's captures are dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn closing_the_loop_removes_its_handlers() {
    let _g = serial();
    keep_handled();
    let fds_before = open_fd_count();
    let closed = Loop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let dropped = Rc::new(Cell::new(false));
    let (r2, flag) = (ran.clone(), DropFlag(dropped.clone()));
    closed
        .add_signal_handler(Signal::SIGUSR1, move || {
            let _keep = &flag;
            r2.set(true);
        })
        .unwrap();
    closed.close().unwrap();
    assert!(dropped.get(), "close dropped the callback");
    assert!(!closed.remove_signal_handler(Signal::SIGUSR1).unwrap(), "nothing left to remove");
    assert!(matches!(
        closed.add_signal_handler(Signal::SIGUSR1, || {}),
        Err(SignalError::Loop(loop_core::Error::LoopClosed))
    ));

    // A signal after close: no crash, the closed loop's callback never runs,
    // another loop still gets it.
    let other = Loop::new().unwrap();
    let count = Counter::default();
    other.add_signal_handler(Signal::SIGUSR1, count.callback()).unwrap();
    kill_self(Signal::SIGUSR1);
    run_until(&other, || count.get() >= 1);
    assert!(!ran.get());
    other.close().unwrap();
    drop((closed, other));
    assert_eq!(open_fd_count(), fds_before, "no fd left behind");
}

#[test]
fn dropping_the_loop_removes_its_handlers() {
    let _g = serial();
    keep_handled();
    let fds_before = open_fd_count();
    let dropped = Rc::new(Cell::new(false));
    {
        let lp = Loop::new().unwrap();
        let flag = DropFlag(dropped.clone());
        lp.add_signal_handler(Signal::SIGUSR2, move || {
            let _keep = &flag;
        })
        .unwrap();
    }
    assert!(dropped.get(), "dropping the loop dropped the callback");
    assert_eq!(open_fd_count(), fds_before, "no fd left behind");
}

#[test]
fn removing_the_last_handler_releases_the_wakeup_descriptor() {
    let _g = serial();
    keep_handled();
    let lp = Loop::new().unwrap();
    let fds_before = open_fd_count();
    lp.add_signal_handler(Signal::SIGUSR1, || {}).unwrap();
    lp.add_signal_handler(Signal::SIGUSR2, || {}).unwrap();
    assert_eq!(open_fd_count(), fds_before + 1, "one eventfd per loop");
    assert!(lp.remove_signal_handler(Signal::SIGUSR1).unwrap());
    assert_eq!(open_fd_count(), fds_before + 1);
    assert!(lp.remove_signal_handler(Signal::SIGUSR2).unwrap());
    assert_eq!(open_fd_count(), fds_before);
    // And the loop can have handlers again.
    let count = Counter::default();
    lp.add_signal_handler(Signal::SIGUSR2, count.callback()).unwrap();
    raise(NixSignal::SIGUSR2);
    run_until(&lp, || count.get() >= 1);
    lp.close().unwrap();
}

#[test]
fn adding_again_replaces_the_handler() {
    let _g = serial();
    keep_handled();
    let lp = Loop::new().unwrap();
    let (first, second) = (Counter::default(), Counter::default());
    lp.add_signal_handler(Signal::SIGUSR1, first.callback()).unwrap();
    lp.add_signal_handler(Signal::SIGUSR1, second.callback()).unwrap();
    raise(NixSignal::SIGUSR1);
    run_until(&lp, || second.get() >= 1);
    assert_eq!((first.get(), second.get()), (0, 1));
    assert!(lp.remove_signal_handler(Signal::SIGUSR1).unwrap());
    assert!(!lp.remove_signal_handler(Signal::SIGUSR1).unwrap(), "one handler per signal");
    lp.close().unwrap();
}

#[test]
fn a_removed_handler_never_runs_even_if_its_run_was_queued() {
    let _g = serial();
    keep_handled();
    let lp = Loop::new().unwrap();
    let order = Rc::new(RefCell::new(Vec::new()));
    let (o1, l1) = (order.clone(), lp.clone());
    // SIGUSR1 (10) runs before SIGUSR2 (12) when both are pending; its
    // callback removes SIGUSR2's, whose run is already queued.
    lp.add_signal_handler(Signal::SIGUSR1, move || {
        o1.borrow_mut().push("usr1");
        assert!(l1.remove_signal_handler(Signal::SIGUSR2).unwrap());
        let l2 = l1.clone();
        l1.call_soon(move || l2.stop()).unwrap();
    })
    .unwrap();
    let o2 = order.clone();
    lp.add_signal_handler(Signal::SIGUSR2, move || o2.borrow_mut().push("usr2")).unwrap();
    raise(NixSignal::SIGUSR1);
    raise(NixSignal::SIGUSR2);
    run_until(&lp, || !order.borrow().is_empty());
    assert_eq!(*order.borrow(), ["usr1"]);
    lp.close().unwrap();
}

#[test]
fn a_callback_may_remove_its_own_handler() {
    let _g = serial();
    keep_handled();
    let lp = Loop::new().unwrap();
    let removed = Rc::new(Cell::new(None));
    let (r2, l2) = (removed.clone(), lp.clone());
    lp.add_signal_handler(Signal::SIGUSR2, move || {
        r2.set(Some(l2.remove_signal_handler(Signal::SIGUSR2).unwrap()));
        l2.stop();
    })
    .unwrap();
    raise(NixSignal::SIGUSR2);
    run_until(&lp, || removed.get().is_some());
    assert_eq!(removed.get(), Some(true));
    lp.close().unwrap();
}

#[test]
fn a_panicking_callback_is_reported_and_its_handler_keeps_working() {
    let _g = serial();
    keep_handled();
    let lp = Loop::new().unwrap();
    let reports = Rc::new(Cell::new(0));
    let r2 = reports.clone();
    lp.set_exception_handler(Some(Rc::new(
        move |_lp: &Loop, _ctx: &loop_core::ExceptionContext| {
            r2.set(r2.get() + 1);
        },
    )));
    let runs = Rc::new(Cell::new(0));
    let (n2, l2) = (runs.clone(), lp.clone());
    lp.add_signal_handler(Signal::SIGUSR1, move || {
        n2.set(n2.get() + 1);
        l2.stop();
        if n2.get() == 1 {
            panic!("first run fails");
        }
    })
    .unwrap();
    raise(NixSignal::SIGUSR1);
    run_until(&lp, || runs.get() >= 1);
    raise(NixSignal::SIGUSR1);
    run_until(&lp, || runs.get() >= 2);
    assert_eq!(reports.get(), 1, "the panic went to the exception handler");
    lp.close().unwrap();
}

#[test]
fn realtime_signals_work() {
    let _g = serial();
    keep_handled();
    let lp = Loop::new().unwrap();
    let count = Counter::default();
    lp.add_signal_handler(Signal::rtmin(), count.callback()).unwrap();
    kill_self(Signal::rtmin());
    run_until(&lp, || count.get() >= 1);
    assert!(lp.remove_signal_handler(Signal::rtmin()).unwrap());
    lp.close().unwrap();
}

#[test]
fn any_number_of_loops_may_have_handlers_and_each_gets_every_delivery() {
    let _g = serial();
    keep_handled();
    // More loops than the old fixed table held (64). SIGWINCH's default
    // action is to ignore it: harmless whatever happens.
    let counts: Vec<(Loop, Counter)> = (0..150)
        .map(|_| {
            let lp = Loop::new().unwrap();
            let count = Counter::default();
            lp.add_signal_handler(Signal::SIGWINCH, count.callback()).unwrap();
            (lp, count)
        })
        .collect();
    loop_signals::kill(std::process::id(), Signal::SIGWINCH).unwrap();
    for (lp, count) in &counts {
        run_until(lp, || count.get() >= 1);
    }
    for (lp, _) in &counts {
        lp.close().unwrap();
    }
}

#[test]
fn errors_convert_into_loop_core_errors() {
    let closed: loop_core::Error = SignalError::Loop(loop_core::Error::LoopClosed).into();
    assert!(matches!(closed, loop_core::Error::LoopClosed));
    let interrupted: loop_core::Error = SignalError::Interrupted.into();
    assert!(matches!(interrupted, loop_core::Error::Interrupted), "{interrupted:?}");
}

#[test]
fn run_with_sigint_returns_the_main_task_output() {
    let _g = serial();
    let out = loop_signals::run_with_sigint(async {
        let lp = loop_core::get_running_loop().unwrap();
        let t = lp.create_task(async { 6 * 7 }).unwrap();
        t.await.unwrap()
    });
    assert_eq!(out.unwrap(), 42);
}

#[test]
fn run_with_sigint_inside_a_running_loop_is_an_error() {
    let _g = serial();
    let lp = Loop::new().unwrap();
    let out = lp
        .run_until_complete(async {
            loop_signals::run_with_sigint(async { 1 }).map_err(|e| e.to_string())
        })
        .unwrap();
    let err = out.unwrap_err();
    assert!(err.contains("another loop"), "{err}");
    lp.close().unwrap();
}
