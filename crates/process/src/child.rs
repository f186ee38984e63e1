//! One child process as the loop tracks it: its pid, how its exit is
//! noticed (a pidfd, or a thread blocked in `waitid`), its exit status once
//! reaped, and signalling that can never reach a recycled pid.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rustix::process::Pid;

use crate::error::{Error, Result};
use crate::status::ExitStatus;
use crate::sys;

/// How the child's exit is noticed.
pub(crate) enum Tracking {
    /// A pidfd, readable once the child exits; `None` once the loop reaped
    /// it. Shared with the close-time reaper thread if the loop closes
    /// first.
    Pidfd(RefCell<Option<Arc<OwnedFd>>>),
    /// A thread blocked in `waitid(WNOWAIT)` (no pidfd on this kernel).
    Threaded(Arc<ThreadShared>),
}

/// What the watcher thread of a pidfd-less child shares with the loop.
#[derive(Debug)]
pub(crate) struct ThreadShared {
    pub(crate) pid: Pid,
    state: Mutex<ThreadState>,
}

/// Changed only under the mutex: reaping and `kill(pid)` exclude each
/// other, so a signal is only sent while the pid is still this child's.
#[derive(Debug, Default)]
pub(crate) struct ThreadState {
    /// The thread saw the child exit (not reaped yet).
    pub(crate) exited: bool,
    /// The loop closed: whoever sees the exit last reaps.
    pub(crate) orphaned: bool,
    /// The status, once reaped (by the loop, or after the loop closed).
    pub(crate) reaped: Option<ExitStatus>,
}

impl ThreadShared {
    pub(crate) fn new(pid: Pid) -> Self {
        ThreadShared { pid, state: Mutex::new(ThreadState::default()) }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ThreadState> {
        // Every update is a single assignment: consistent even if a holder
        // panicked.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reaps the child (the caller holds the lock and knows it exited, or
    /// is about to). A failure other than `ECHILD` leaves it unreaped.
    pub(crate) fn reap_locked(&self, st: &mut ThreadState) -> Option<ExitStatus> {
        if st.reaped.is_none() {
            match sys::try_reap_pid(self.pid) {
                Ok(Some(status)) => st.reaped = Some(status),
                Ok(None) => {}
                Err(e) => tracing::warn!(pid = self.pid.as_raw_pid(), "cannot reap child: {e}"),
            }
        }
        st.reaped
    }
}

/// A child the loop's watcher tracks.
pub(crate) struct Child {
    pid: Pid,
    tracking: Tracking,
    status: Cell<Option<ExitStatus>>,
}

impl Child {
    pub(crate) fn new(pid: Pid, tracking: Tracking) -> Self {
        Child { pid, tracking, status: Cell::new(None) }
    }

    /// The child's pid.
    pub(crate) fn pid(&self) -> u32 {
        self.pid.as_raw_pid() as u32
    }

    pub(crate) fn raw_pid(&self) -> Pid {
        self.pid
    }

    pub(crate) fn tracking(&self) -> &Tracking {
        &self.tracking
    }

    /// The exit status, once the loop reaped the child.
    pub(crate) fn status(&self) -> Option<ExitStatus> {
        self.status.get()
    }

    pub(crate) fn set_status(&self, status: ExitStatus) {
        self.status.set(Some(status));
        if let Tracking::Pidfd(fd) = &self.tracking {
            // The pidfd's job is done; closing it now keeps fd use bounded.
            drop(fd.borrow_mut().take());
        }
    }

    /// Sends signal `signum`: through the pidfd, or with `kill(pid)` while
    /// the child is provably unreaped.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a number that is no signal;
    /// [`Error::ProcessLookup`] once the child has been reaped (nothing is
    /// sent); [`Error::Io`] if the OS refuses.
    pub(crate) fn signal(&self, signum: i32) -> Result<()> {
        let sig = sys::signal(signum)
            .ok_or_else(|| Error::invalid(format!("{signum} is not a signal number")))?;
        let gone = Error::ProcessLookup { pid: self.pid() };
        if self.status.get().is_some() {
            return Err(gone);
        }
        let sent = match &self.tracking {
            Tracking::Pidfd(fd) => match &*fd.borrow() {
                Some(fd) => sys::pidfd_signal(fd.as_fd(), sig),
                None => return Err(gone),
            },
            Tracking::Threaded(shared) => {
                let st = shared.lock();
                if st.reaped.is_some() {
                    return Err(gone);
                }
                // The lock is held: nobody can reap (and free the pid)
                // before the signal is delivered.
                sys::kill(self.pid, sig)
            }
        };
        match sent {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(nix::libc::ESRCH) => Err(gone),
            Err(e) => Err(e.into()),
        }
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match &self.tracking {
            Tracking::Pidfd(_) => "pidfd",
            Tracking::Threaded(_) => "thread",
        };
        f.debug_struct("Child")
            .field("pid", &self.pid())
            .field("watched_by", &how)
            .field("status", &self.status.get())
            .finish()
    }
}
