//! `Signal`: a Unix signal number, named as asyncio's `signal` module names
//! it.

use std::fmt;

use nix::libc;

/// A Unix signal number (what asyncio code passes as `signal.SIGINT` …).
///
/// Any `i32` converts into a `Signal`; whether the number is valid is
/// checked where it is used ([`SignalExt`](crate::SignalExt) and
/// [`kill`](crate::kill) return
/// [`SignalError::InvalidSignal`](crate::SignalError::InvalidSignal) for a
/// number this system does not have). `Display` gives the conventional name
/// (`SIGINT`, `SIGRTMIN+2`), or `signal 999` for an unknown number.
///
/// ```
/// use loop_signals::Signal;
///
/// assert_eq!(Signal::SIGTERM.to_string(), "SIGTERM");
/// assert_eq!(Signal::from(2), Signal::SIGINT);
/// assert_eq!(Signal::from_raw(999).to_string(), "signal 999");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

impl Signal {
    /// Hangup (`SIGHUP`).
    pub const SIGHUP: Signal = Signal(libc::SIGHUP);
    /// Interrupt from the keyboard, Ctrl-C (`SIGINT`).
    pub const SIGINT: Signal = Signal(libc::SIGINT);
    /// Quit from the keyboard, Ctrl-\ (`SIGQUIT`).
    pub const SIGQUIT: Signal = Signal(libc::SIGQUIT);
    /// Illegal instruction (`SIGILL`); a fault signal, refused by
    /// [`add_signal_handler`](crate::SignalExt::add_signal_handler).
    pub const SIGILL: Signal = Signal(libc::SIGILL);
    /// Trace or breakpoint trap (`SIGTRAP`).
    pub const SIGTRAP: Signal = Signal(libc::SIGTRAP);
    /// Abort (`SIGABRT`).
    pub const SIGABRT: Signal = Signal(libc::SIGABRT);
    /// Bus error (`SIGBUS`); a fault signal, refused by
    /// [`add_signal_handler`](crate::SignalExt::add_signal_handler).
    pub const SIGBUS: Signal = Signal(libc::SIGBUS);
    /// Arithmetic exception (`SIGFPE`); a fault signal, refused by
    /// [`add_signal_handler`](crate::SignalExt::add_signal_handler).
    pub const SIGFPE: Signal = Signal(libc::SIGFPE);
    /// Kill (`SIGKILL`); cannot be caught.
    pub const SIGKILL: Signal = Signal(libc::SIGKILL);
    /// User-defined signal 1 (`SIGUSR1`).
    pub const SIGUSR1: Signal = Signal(libc::SIGUSR1);
    /// Invalid memory reference (`SIGSEGV`); a fault signal, refused by
    /// [`add_signal_handler`](crate::SignalExt::add_signal_handler).
    pub const SIGSEGV: Signal = Signal(libc::SIGSEGV);
    /// User-defined signal 2 (`SIGUSR2`).
    pub const SIGUSR2: Signal = Signal(libc::SIGUSR2);
    /// Write to a pipe with no reader (`SIGPIPE`).
    pub const SIGPIPE: Signal = Signal(libc::SIGPIPE);
    /// Timer from `alarm` (`SIGALRM`).
    pub const SIGALRM: Signal = Signal(libc::SIGALRM);
    /// Termination request (`SIGTERM`).
    pub const SIGTERM: Signal = Signal(libc::SIGTERM);
    /// Child stopped or terminated (`SIGCHLD`).
    pub const SIGCHLD: Signal = Signal(libc::SIGCHLD);
    /// Continue if stopped (`SIGCONT`).
    pub const SIGCONT: Signal = Signal(libc::SIGCONT);
    /// Stop (`SIGSTOP`); cannot be caught.
    pub const SIGSTOP: Signal = Signal(libc::SIGSTOP);
    /// Stop typed at the terminal, Ctrl-Z (`SIGTSTP`).
    pub const SIGTSTP: Signal = Signal(libc::SIGTSTP);
    /// Terminal input for a background process (`SIGTTIN`).
    pub const SIGTTIN: Signal = Signal(libc::SIGTTIN);
    /// Terminal output for a background process (`SIGTTOU`).
    pub const SIGTTOU: Signal = Signal(libc::SIGTTOU);
    /// Urgent condition on a socket (`SIGURG`).
    pub const SIGURG: Signal = Signal(libc::SIGURG);
    /// CPU time limit exceeded (`SIGXCPU`).
    pub const SIGXCPU: Signal = Signal(libc::SIGXCPU);
    /// File size limit exceeded (`SIGXFSZ`).
    pub const SIGXFSZ: Signal = Signal(libc::SIGXFSZ);
    /// Virtual alarm clock (`SIGVTALRM`).
    pub const SIGVTALRM: Signal = Signal(libc::SIGVTALRM);
    /// Profiling timer expired (`SIGPROF`).
    pub const SIGPROF: Signal = Signal(libc::SIGPROF);
    /// Window resize (`SIGWINCH`).
    pub const SIGWINCH: Signal = Signal(libc::SIGWINCH);
    /// I/O now possible (`SIGIO`).
    pub const SIGIO: Signal = Signal(libc::SIGIO);
    /// Bad system call (`SIGSYS`).
    pub const SIGSYS: Signal = Signal(libc::SIGSYS);

    /// The signal with number `signum`, valid or not (checked where used).
    pub const fn from_raw(signum: i32) -> Signal {
        Signal(signum)
    }

    /// The signal's number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }

    /// The first real-time signal this process may use (`SIGRTMIN`; the C
    /// library reserves a few below it).
    pub fn rtmin() -> Signal {
        Signal(libc::SIGRTMIN())
    }

    /// The last real-time signal (`SIGRTMAX`).
    pub fn rtmax() -> Signal {
        Signal(libc::SIGRTMAX())
    }
}

impl From<i32> for Signal {
    fn from(signum: i32) -> Signal {
        Signal(signum)
    }
}

impl From<Signal> for i32 {
    fn from(sig: Signal) -> i32 {
        sig.0
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Ok(named) = nix::sys::signal::Signal::try_from(self.0) {
            return f.write_str(named.as_str());
        }
        let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
        if self.0 == min {
            f.write_str("SIGRTMIN")
        } else if self.0 == max {
            f.write_str("SIGRTMAX")
        } else if self.0 > min && self.0 < max {
            write!(f, "SIGRTMIN+{}", self.0 - min)
        } else {
            write!(f, "signal {}", self.0)
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signal({self})")
    }
}
