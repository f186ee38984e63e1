//! The raw OS parts of child handling: pidfds, signals, `waitid` on one
//! child, the pre-exec `setsid`, and the poll of the close-time reaper.
//!
//! Everything goes through `rustix` and `nix`; `unsafe` is left where no
//! safe wrapper exists: naming a real-time signal (rustix's safe
//! constructor knows the named signals only), testing a signal mask for
//! real-time signals (nix's `SigSet` compares the named ones only), and the
//! `pre_exec` hooks that reset the signal mask and call `setsid` (std's
//! `setsid` option is not stable).
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

/// Whether the calling thread blocks no signal at all, real-time signals
/// included. A child inherits the mask of the thread that spawns it, so
/// from such a thread it starts with an empty mask without any help.
pub(crate) fn thread_mask_is_empty() -> bool {
    let Ok(mask) = nix::sys::signal::SigSet::thread_get_mask() else {
        return false;
    };
    let raw: &nix::libc::sigset_t = mask.as_ref();
    (1..=nix::libc::SIGRTMAX()).all(|sig| {
        // SAFETY: `raw` points to an initialised `sigset_t` (filled in by
        // `pthread_sigmask`) that lives across the call, and `sigismember`
        // only reads it; `sig` lies in 1..=SIGRTMAX, a valid signal number.
        unsafe { nix::libc::sigismember(raw, sig) == 0 }
    })
}

/// Makes the child empty its signal mask between `fork` and `exec` (it
/// inherits the spawning thread's mask otherwise), and reset `SIGPIPE`
/// (which Rust programs ignore, and an ignored signal stays ignored across
/// `exec`) to its default. Handled signals — the loop's — are reset to
/// their defaults by `exec` itself.
///
/// Only needed when the spawning thread blocks signals (see
/// [`thread_mask_is_empty`]): std's `Command` keeps the mask, but resets
/// `SIGPIPE` by itself on every path (`POSIX_SPAWN_SETSIGDEF` for
/// `posix_spawn`, `signal` before `exec` otherwise) unless the program
/// was built with the unstable `-Zon-broken-pipe`. A `pre_exec` hook makes
/// std spawn with `fork` + `exec` rather than `posix_spawn`, which costs
/// a `fork` of the whole address space, so it is installed only when the
/// mask needs it.
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

#[cfg(test)]
mod tests {
    use nix::libc;
    use nix::sys::signal::SigSet;

    use super::thread_mask_is_empty;

    /// Blocks or unblocks signal number `signum` (named or real-time, which
    /// nix's `Signal` cannot name) on this thread.
    fn set_blocked(signum: i32, block: bool) {
        let mut set = *SigSet::empty().as_ref();
        // SAFETY: `set` is an initialised, empty `sigset_t` and `signum` a
        // valid signal number (a named one, or within SIGRTMIN..=SIGRTMAX).
        assert_eq!(unsafe { libc::sigaddset(&mut set, signum) }, 0);
        let how = if block { libc::SIG_BLOCK } else { libc::SIG_UNBLOCK };
        // SAFETY: `set` is a valid set that lives across the call; the old
        // mask is not asked for (null).
        assert_eq!(unsafe { libc::pthread_sigmask(how, &set, std::ptr::null_mut()) }, 0);
    }

    #[test]
    fn a_blocked_signal_named_or_real_time_makes_the_mask_non_empty() {
        // A thread of its own: the mask changes stay there.
        std::thread::spawn(|| {
            SigSet::empty().thread_set_mask().unwrap();
            assert!(thread_mask_is_empty());
            for signum in [libc::SIGUSR2, libc::SIGRTMIN() + 2, libc::SIGRTMAX()] {
                set_blocked(signum, true);
                assert!(!thread_mask_is_empty(), "signal {signum} is blocked");
                set_blocked(signum, false);
                assert!(thread_mask_is_empty(), "signal {signum} is unblocked again");
            }
        })
        .join()
        .unwrap();
    }
}
