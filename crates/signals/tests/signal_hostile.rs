//! Hostile signal numbers and pids (issue 13, "Bad input"): the ends of
//! `i32`, negative numbers that are wrapped unsigned ones, the real-time
//! numbers glibc reserves for itself, and pids that name no process, every
//! process or a process group. Each gets a typed error at once and leaves
//! nothing behind (no wake-up fd, no disposition changed). 0, -1, 65, 999,
//! SIGKILL, SIGSTOP and the fault signals are pinned in
//! `signal_handlers.rs`.

mod util;

use loop_core::Loop;
use loop_core::test_util::open_fd_count;
use loop_signals::{Signal, SignalError, SignalExt, kill};

use util::serial;

#[test]
fn numbers_that_are_no_signal_are_invalid_and_leave_nothing_behind() {
    let _g = serial();
    let fds = open_fd_count();
    let lp = Loop::new().unwrap();
    let loop_fds = open_fd_count();
    // The ends of i32, and unsigned numbers that wrapped to negative ones
    // (`u32::MAX as i32` is -1; SIGRTMAX + 1 through a u8 is 65).
    let cases = [i32::MIN, i32::MIN + 1, -65, u32::MAX as i32, 65, i32::MAX, 1 << 16];
    for n in cases {
        let err = lp.add_signal_handler(n, || panic!("ran")).unwrap_err();
        assert!(
            matches!(&err, SignalError::InvalidSignal { signal, .. } if signal.as_raw() == n),
            "{n}: {err:?}"
        );
        assert!(matches!(lp.remove_signal_handler(n), Err(SignalError::InvalidSignal { .. })));
        let err = kill(std::process::id(), n).unwrap_err();
        assert!(matches!(err, SignalError::InvalidSignal { .. }), "kill {n}: {err:?}");
    }
    assert_eq!(open_fd_count(), loop_fds, "a refused handler kept its wake-up fd");
    lp.close().unwrap();
    drop(lp);
    assert_eq!(open_fd_count(), fds);
}

/// Signals 32 and 33 exist in the kernel but glibc keeps them for its
/// threads (`SIGRTMIN` is 34): `sigaction` refuses them. That refusal is a
/// typed error, the loop holds no signal resources afterwards, and the
/// disposition is untouched.
#[test]
fn the_real_time_signals_glibc_reserves_are_refused_cleanly() {
    let _g = serial();
    let lp = Loop::new().unwrap();
    let loop_fds = open_fd_count();
    let reserved: Vec<i32> = (32..Signal::rtmin().as_raw()).collect();
    for n in reserved {
        let err = lp.add_signal_handler(n, || panic!("ran")).unwrap_err();
        match &err {
            SignalError::InvalidSignal { signal, .. } | SignalError::Install { signal, .. } => {
                assert_eq!(signal.as_raw(), n, "{err:?}");
            }
            other => panic!("signal {n}: expected a typed refusal, got {other:?}"),
        }
        assert!(!lp.remove_signal_handler(n).unwrap(), "signal {n}: nothing was added");
        assert_eq!(open_fd_count(), loop_fds, "signal {n}: the wake-up fd was kept");
    }
    // A valid handler still works on this loop afterwards.
    lp.add_signal_handler(Signal::SIGUSR2, || {}).unwrap();
    assert!(lp.remove_signal_handler(Signal::SIGUSR2).unwrap());
    lp.close().unwrap();
}

#[test]
fn kill_refuses_pids_that_do_not_name_one_process() {
    let _g = serial();
    // 0 is the caller's process group and -1 (u32::MAX) every process the
    // caller may signal; other negatives are process groups: never sent.
    // (SIGWINCH, ignored by default, in case that ever broke.)
    for pid in [0, u32::MAX, i32::MAX as u32 + 1, u32::MAX - 1] {
        let err = kill(pid, Signal::SIGWINCH).unwrap_err();
        match &err {
            SignalError::Io(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{pid}: {e}");
                assert!(e.to_string().contains(&pid.to_string()), "{e}");
            }
            other => panic!("pid {pid}: {other:?}"),
        }
    }
    // A pid above the kernel's pid_max names nobody: ESRCH, from the OS.
    let err = kill(i32::MAX as u32, Signal::SIGWINCH).unwrap_err();
    match &err {
        SignalError::Io(e) => assert_eq!(e.raw_os_error(), Some(nix::libc::ESRCH), "{e}"),
        other => panic!("{other:?}"),
    }
    // Signal 0 probes for a process in kill(2); here it is no signal.
    let err = kill(std::process::id(), 0).unwrap_err();
    assert!(matches!(err, SignalError::InvalidSignal { .. }), "{err:?}");
}
