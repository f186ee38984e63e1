//! The raw OS parts of child handling: pidfds, signals, `waitid` on one
//! child, the pre-exec `setsid`, and the poll of the close-time reaper.
//!
//! Everything goes through `rustix`; `unsafe` is left in two places where no
//! safe wrapper exists: naming a real-time signal (rustix's safe
//! constructor knows the named signals only) and the `pre_exec` hook that
//! calls `setsid` (std's `setsid` option is not stable).
//!
//! Only one child is ever waited for at a time, by pid or by pidfd:
//! nothing here calls `waitpid(-1)`, so other code's children are never
//! reaped.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal, WaitId, WaitIdOptions};

use crate::status::{ExitStatus, UNKNOWN_STATUS};

/// `SIGTERM`'s number.
pub(crate) const SIGTERM: i32 = nix::libc::SIGTERM;
/// `SIGKILL`'s number.
pub(crate) const SIGKILL: i32 = nix::libc::SIGKILL;

/// A child's pid as rustix's `Pid`.
pub(crate) fn pid(raw: u32) -> Option<Pid> {
    i32::try_from(raw).ok().and_then(Pid::from_raw)
}

/// `signum` as a signal that may be sent: a named signal, or a real-time
/// signal the C library does not reserve.
pub(crate) fn signal(signum: i32) -> Option<Signal> {
    if let Some(sig) = Signal::from_named_raw(signum) {
        return Some(sig);
    }
    if (nix::libc::SIGRTMIN()..=nix::libc::SIGRTMAX()).contains(&signum) {
        // SAFETY: `signum` is between the C library's `SIGRTMIN` and
        // `SIGRTMAX`, so it is a valid, non-zero signal number, and not one
        // of the real-time signals the C library reserves for itself (those
        // lie below `SIGRTMIN()`), which is what the contract forbids
        // sending.
        return Some(unsafe { Signal::from_raw_unchecked(signum) });
    }
    None
}

/// `pidfd_open(pid)`: a descriptor that names this process and no other,
/// readable once it exits.
pub(crate) fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    Ok(rustix::process::pidfd_open(pid, PidfdFlags::empty())?)
}

/// `pidfd_send_signal`: signals the process the pidfd names. Fails with
/// `ESRCH` once it has been reaped — never reaches a recycled pid.
pub(crate) fn pidfd_signal(pidfd: BorrowedFd<'_>, sig: Signal) -> io::Result<()> {
    Ok(rustix::process::pidfd_send_signal(pidfd, sig)?)
}

/// `kill(pid, sig)`, for a child that has no pidfd. The caller guarantees
/// the child is not reaped yet, so the pid is still its own.
pub(crate) fn kill(pid: Pid, sig: Signal) -> io::Result<()> {
    Ok(rustix::process::kill_process(pid, sig)?)
}

/// Reaps the child named by `pidfd` if it has exited (`waitid(P_PIDFD,
/// WEXITED | WNOHANG)`); `None` while it runs.
pub(crate) fn try_reap_pidfd(pidfd: BorrowedFd<'_>) -> io::Result<Option<ExitStatus>> {
    reaped(rustix::process::waitid(
        WaitId::PidFd(pidfd),
        WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
    ))
}

/// Reaps child `pid` if it has exited (`waitid(P_PID, WEXITED |
/// WNOHANG)`); `None` while it runs.
pub(crate) fn try_reap_pid(pid: Pid) -> io::Result<Option<ExitStatus>> {
    reaped(rustix::process::waitid(WaitId::Pid(pid), WaitIdOptions::EXITED | WaitIdOptions::NOHANG))
}

/// Blocks until child `pid` exits and reaps it. Used only on a child just
/// sent `SIGKILL`.
pub(crate) fn reap_pid_blocking(pid: Pid) -> io::Result<ExitStatus> {
    loop {
        match reaped(rustix::process::waitid(WaitId::Pid(pid), WaitIdOptions::EXITED)) {
            Ok(Some(st)) => return Ok(st),
            Ok(None) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Blocks until child `pid` exits, leaving it unreaped (`WNOWAIT`), so its
/// pid stays its own until the loop reaps it. Returns when it has exited,
/// or when it cannot be waited for (already reaped by other code).
pub(crate) fn wait_exit_unreaped(pid: Pid) {
    loop {
        match rustix::process::waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        ) {
            Ok(Some(_)) => return,
            Ok(None) | Err(Errno::INTR) => continue,
            Err(_) => return,
        }
    }
}

/// A `waitid` outcome as an exit status. `ECHILD` (another part of the
/// program reaped the child) gives asyncio's 255, with a warning.
fn reaped(
    r: Result<Option<rustix::process::WaitIdStatus>, Errno>,
) -> io::Result<Option<ExitStatus>> {
    match r {
        Ok(Some(st)) => Ok(Some(ExitStatus::from_waitid(&st))),
        Ok(None) => Ok(None),
        Err(Errno::CHILD) => {
            tracing::warn!(
                "a child was reaped by other code; its exit status is lost (reported as 255)"
            );
            Ok(Some(ExitStatus::Exited(UNKNOWN_STATUS)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Blocks until at least one of `pidfds` is readable (its process exited);
/// returns their indexes.
pub(crate) fn poll_exited(pidfds: &[impl AsFd]) -> Vec<usize> {
    let mut polls: Vec<PollFd<'_>> =
        pidfds.iter().map(|fd| PollFd::new(fd, PollFlags::IN)).collect();
    loop {
        match rustix::event::poll(&mut polls, None) {
            Ok(_) => break,
            Err(Errno::INTR) => continue,
            // Cannot happen with valid descriptors; treat every one as done
            // rather than spin.
            Err(_) => return (0..pidfds.len()).collect(),
        }
    }
    polls.iter().enumerate().filter(|(_, p)| !p.revents().is_empty()).map(|(i, _)| i).collect()
}

/// Makes the child reset its signal state between `fork` and `exec`: an
/// empty signal mask (the spawning thread's mask is inherited otherwise),
/// and `SIGPIPE` back to its default (Rust programs ignore it, and an
/// ignored signal stays ignored across `exec`). Handled signals — the
/// loop's — are reset to their defaults by `exec` itself.
///
/// std's `Command` does neither on every path, so this hook is always
/// installed; it makes std spawn with `fork` + `exec` rather than
/// `posix_spawn`.
pub(crate) fn reset_signals(cmd: &mut Command) {
    // SAFETY: the hook runs in the forked child before `exec`, where only
    // async-signal-safe work is allowed. It calls `sigprocmask` and
    // `sigaction` (through nix, on a `sigset_t` built on the stack with
    // `sigemptyset`), all async-signal-safe, allocates nothing, takes no
    // lock, and builds an `io::Error` from an errno (no allocation).
    // Setting `SIG_DFL` runs no code in the child, so no handler can break
    // a signal-safety rule.
    unsafe {
        cmd.pre_exec(|| {
            use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal as NixSignal};
            let errno = |e: nix::errno::Errno| io::Error::from_raw_os_error(e as i32);
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
                .map_err(errno)?;
            nix::sys::signal::signal(NixSignal::SIGPIPE, SigHandler::SigDfl).map_err(errno)?;
            Ok(())
        });
    }
}

/// Makes the child call `setsid()` between `fork` and `exec`: it leads a
/// new session and a new process group, with no controlling terminal.
pub(crate) fn new_session(cmd: &mut Command) {
    // SAFETY: the hook runs in the forked child before `exec`, where only
    // async-signal-safe work is allowed. It makes one raw system call
    // (`setsid`, through rustix: no allocation, no lock, no libc state) and
    // turns a failure into an `io::Error` from the errno, which does not
    // allocate either.
    unsafe {
        cmd.pre_exec(|| match rustix::process::setsid() {
            Ok(_) => Ok(()),
            Err(e) => Err(io::Error::from_raw_os_error(e.raw_os_error())),
        });
    }
}
