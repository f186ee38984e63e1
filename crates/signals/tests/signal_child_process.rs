//! SIG-01 in child processes: what happens to the process after a handler
//! is removed or its loop closed (the default disposition: the signal
//! terminates it), `run_with_sigint`'s Ctrl-C behaviour, and the `signals`
//! example's program driven by real signals. Each child is this test binary
//! run again with `LOOP_SIGNALS_TEST_CHILD` naming what it should do.

mod util;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use loop_core::Loop;
use loop_signals::{Signal, SignalError, SignalExt, run_with_sigint};
use nix::sys::signal::{SigHandler, Signal as NixSignal};

use util::{
    Counter, child_args, child_program, raise, read_until_line, run_child, run_until, set_sigint,
    spawn_child, wait_child,
};

/// The entry point of every child program; does nothing in the parent.
#[test]
fn child_main() {
    let Some(program) = child_program() else { return };
    match program.as_str() {
        "sigint_removed" => sigint_removed(),
        "closed_sigterm" => closed_sigterm(),
        "run_interrupted" => run_interrupted(),
        "run_sigint_ignored" => run_sigint_ignored(),
        "run_finished_first" => run_finished_first(),
        "example" => example(child_args().iter().any(|a| a == "--wait")),
        "sigpipe_restored" => sigpipe_restored(),
        other => panic!("unknown child program {other}"),
    }
    std::process::exit(0);
}

fn assert_killed_by(out: &util::ChildOutput, sig: Signal) {
    assert_eq!(
        out.status.signal(),
        Some(sig.as_raw()),
        "expected death by {sig}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        out.stdout,
        out.stderr
    );
}

fn assert_success(out: &util::ChildOutput) {
    assert!(
        out.status.success(),
        "{:?}\nstdout: {}\nstderr: {}",
        out.status,
        out.stdout,
        out.stderr
    );
}

/// Handles one SIGINT on a loop, removes the handler, raises SIGINT again.
fn sigint_removed() {
    let lp = Loop::new().unwrap();
    let count = Counter::default();
    lp.add_signal_handler(Signal::SIGINT, count.callback()).unwrap();
    raise(NixSignal::SIGINT);
    run_until(&lp, || count.get() >= 1);
    println!("handled SIGINT on the loop");
    assert!(lp.remove_signal_handler(Signal::SIGINT).unwrap());
    raise(NixSignal::SIGINT);
    println!("still alive after the second SIGINT");
}

#[test]
fn removing_the_sigint_handler_restores_the_default_interrupt() {
    let out = run_child("child_main", "sigint_removed", &[]);
    assert!(out.stdout.contains("handled SIGINT on the loop"), "{out:?}");
    assert!(!out.stdout.contains("still alive"), "{out:?}");
    assert_killed_by(&out, Signal::SIGINT);
}

/// Handles SIGTERM on a loop, closes the loop, raises SIGTERM.
fn closed_sigterm() {
    let lp = Loop::new().unwrap();
    let count = Counter::default();
    lp.add_signal_handler(Signal::SIGTERM, count.callback()).unwrap();
    raise(NixSignal::SIGTERM);
    run_until(&lp, || count.get() >= 1);
    println!("handled SIGTERM on the loop");
    lp.close().unwrap();
    raise(NixSignal::SIGTERM);
    println!("still alive after closing");
}

#[test]
fn closing_the_loop_restores_the_default_disposition() {
    let out = run_child("child_main", "closed_sigterm", &[]);
    assert!(out.stdout.contains("handled SIGTERM on the loop"), "{out:?}");
    assert!(!out.stdout.contains("still alive"), "{out:?}");
    assert_killed_by(&out, Signal::SIGTERM);
}

/// A main task sleeping for an hour, interrupted by SIGINT; then SIGINT
/// again, which must terminate the process.
fn run_interrupted() {
    set_sigint(SigHandler::SigDfl);
    let leftover_cancelled = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = leftover_cancelled.clone();
    let out = run_with_sigint(async move {
        struct OnDrop(std::rc::Rc<std::cell::Cell<bool>>);
        impl Drop for OnDrop {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let lp = loop_core::get_running_loop().unwrap();
        // A leftover task that run_with_sigint must cancel on the way out.
        let guard = OnDrop(flag);
        let _leftover = lp.create_task(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        raise(NixSignal::SIGINT);
        loop_core::sleep(Duration::from_secs(3600)).await.unwrap();
        "slept an hour"
    });
    assert!(matches!(out, Err(SignalError::Interrupted)), "{out:?}");
    assert!(leftover_cancelled.get(), "leftover tasks were cancelled");
    println!("interrupted");
    raise(NixSignal::SIGINT);
    println!("still alive after the second SIGINT");
}

#[test]
fn run_with_sigint_cancels_the_main_task_and_restores_sigint() {
    let out = run_child("child_main", "run_interrupted", &[]);
    assert!(out.stdout.contains("interrupted"), "{out:?}");
    assert!(!out.stdout.contains("still alive"), "{out:?}");
    assert_killed_by(&out, Signal::SIGINT);
}

/// SIGINT ignored before `run_with_sigint`: it stays ignored, the main task
/// is not cancelled.
fn run_sigint_ignored() {
    set_sigint(SigHandler::SigIgn);
    let out = run_with_sigint(async {
        raise(NixSignal::SIGINT);
        // Had a handler been installed, its callback would run within the
        // next two iterations: give the loop three.
        for _ in 0..3 {
            loop_core::sleep(Duration::ZERO).await.unwrap();
        }
        7
    });
    assert_eq!(out.unwrap(), 7);
    raise(NixSignal::SIGINT);
    println!("SIGINT still ignored");
}

#[test]
fn run_with_sigint_leaves_an_ignored_sigint_alone() {
    let out = run_child("child_main", "run_sigint_ignored", &[]);
    assert_success(&out);
    assert!(out.stdout.contains("SIGINT still ignored"), "{out:?}");
}

/// SIGINT arrives as the main task finishes: its output wins.
fn run_finished_first() {
    set_sigint(SigHandler::SigDfl);
    let out = run_with_sigint(async {
        raise(NixSignal::SIGINT);
        5
    });
    assert_eq!(out.unwrap(), 5);
    println!("finished");
}

#[test]
fn run_with_sigint_returns_the_output_of_a_finished_main_task() {
    let out = run_child("child_main", "run_finished_first", &[]);
    assert_success(&out);
    assert!(out.stdout.contains("finished"), "{out:?}");
}

/// The `signals` example's program (crates/tulip/examples/signals.rs):
/// handlers for SIGINT and SIGTERM stop the loop; without `--wait` the
/// process sends itself SIGTERM after a short delay.
fn example(wait: bool) {
    let lp = loop_core::new_event_loop().unwrap();
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        let l2 = lp.clone();
        lp.add_signal_handler(sig, move || {
            println!("got signal {sig}: exit");
            l2.stop();
        })
        .unwrap();
    }
    println!("Event loop running forever, press Ctrl+C to interrupt.");
    println!("pid {}: send SIGINT or SIGTERM to exit.", std::process::id());
    if !wait {
        lp.call_later(Duration::from_millis(100), || {
            let _ = loop_signals::kill(std::process::id(), Signal::SIGTERM);
        })
        .unwrap();
    }
    lp.run_forever().unwrap();
    lp.close().unwrap();
}

#[test]
fn example_program_stops_on_the_sigterm_it_sends_itself() {
    let out = run_child("child_main", "example", &[]);
    assert_success(&out);
    assert!(out.stdout.contains(": send SIGINT or SIGTERM to exit."), "{out:?}");
    assert!(out.stdout.contains("got signal SIGTERM: exit"), "{out:?}");
}

#[test]
fn example_program_stops_on_sigint_from_outside() {
    let mut child = spawn_child("child_main", "example", &["--wait"]);
    let seen = read_until_line(&mut child, "send SIGINT or SIGTERM to exit");
    let pid = child.id();
    assert!(seen.contains(&format!("pid {pid}:")), "{seen}");
    loop_signals::kill(pid, Signal::SIGINT).unwrap();
    let out = wait_child(child, seen);
    assert_success(&out);
    assert!(out.stdout.contains("got signal SIGINT: exit"), "{out:?}");
}

/// Writes to a pipe whose read end is closed, with plain `write(2)` (no
/// `MSG_NOSIGNAL`): `EPIPE` if SIGPIPE is ignored; with `SIG_DFL` the
/// process dies of SIGPIPE before `write` returns.
fn write_to_closed_pipe() -> std::io::Result<usize> {
    let (r, w) = rustix::pipe::pipe()?;
    drop(r);
    Ok(rustix::io::write(&w, b"x")?)
}

/// The Rust runtime starts programs with SIGPIPE ignored. A SIGPIPE handler
/// added and removed, and one whose loop is closed, leave it ignored.
fn sigpipe_restored() {
    let err = write_to_closed_pipe().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(nix::libc::EPIPE), "SIGPIPE starts ignored");
    let lp = Loop::new().unwrap();
    let count = Counter::default();
    lp.add_signal_handler(Signal::SIGPIPE, count.callback()).unwrap();
    raise(NixSignal::SIGPIPE);
    run_until(&lp, || count.get() >= 1);
    println!("handled SIGPIPE on the loop");
    assert!(lp.remove_signal_handler(Signal::SIGPIPE).unwrap());
    let err = write_to_closed_pipe().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(nix::libc::EPIPE));
    println!("EPIPE after remove_signal_handler");
    lp.add_signal_handler(Signal::SIGPIPE, || {}).unwrap();
    lp.close().unwrap();
    let err = write_to_closed_pipe().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(nix::libc::EPIPE));
    println!("EPIPE after closing the loop");
}

#[test]
fn removing_a_sigpipe_handler_restores_the_ignored_disposition() {
    let out = run_child("child_main", "sigpipe_restored", &[]);
    assert_success(&out);
    assert!(out.stdout.contains("handled SIGPIPE on the loop"), "{out:?}");
    assert!(out.stdout.contains("EPIPE after remove_signal_handler"), "{out:?}");
    assert!(out.stdout.contains("EPIPE after closing the loop"), "{out:?}");
}
