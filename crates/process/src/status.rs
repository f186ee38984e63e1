//! `ExitStatus`: how a child ended, and asyncio's `returncode` convention.

use std::fmt;

/// How a child process ended.
///
/// [`returncode`](ExitStatus::returncode) gives asyncio's convention: the
/// exit code, or the negated signal number when a signal killed the child
/// (`-9` for `SIGKILL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// The child called `exit` (or returned from `main`) with this code
    /// (0–255).
    Exited(i32),
    /// A signal killed the child.
    Signaled {
        /// The signal's number.
        signal: i32,
        /// Whether the child dumped core.
        core_dumped: bool,
    },
}

impl ExitStatus {
    /// asyncio's `returncode`: the exit code, or `-signal` when a signal
    /// killed the child.
    pub fn returncode(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled { signal, .. } => -signal,
        }
    }

    /// The exit code, if the child exited.
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(code) => Some(code),
            ExitStatus::Signaled { .. } => None,
        }
    }

    /// The signal that killed the child, if one did.
    pub fn signal(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(_) => None,
            ExitStatus::Signaled { signal, .. } => Some(signal),
        }
    }

    /// Whether the child exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }

    /// Reads the status `waitid` reported.
    pub(crate) fn from_waitid(st: &rustix::process::WaitIdStatus) -> ExitStatus {
        if let Some(code) = st.exit_status() {
            return ExitStatus::Exited(code);
        }
        match st.terminating_signal() {
            Some(signal) => ExitStatus::Signaled { signal, core_dumped: st.dumped() },
            // `waitid` was asked for exits only (`WEXITED`), so one of the
            // two holds; asyncio reports an unknown status as 255.
            None => ExitStatus::Exited(UNKNOWN_STATUS),
        }
    }
}

/// The exit code reported when the real status is lost (another part of
/// the program reaped the child first), as asyncio does.
pub(crate) const UNKNOWN_STATUS: i32 = 255;

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exit status {code}"),
            ExitStatus::Signaled { signal, core_dumped: false } => {
                write!(f, "killed by signal {signal}")
            }
            ExitStatus::Signaled { signal, core_dumped: true } => {
                write!(f, "killed by signal {signal} (core dumped)")
            }
        }
    }
}
