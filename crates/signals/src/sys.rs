//! The raw OS parts: the async-signal-safe handler, the process-wide
//! subscriber table, `sigaction`, the wake-up eventfd and `kill`.
//!
//! `unsafe` is left only where no safe wrapper exists: the handler's
//! borrow of a descriptor, `sigaction` (installing a handler is `unsafe`
//! in nix too, and nix's `Signal` enum cannot name real-time signals), and
//! `kill(2)` for real-time signals (nix's safe `kill` takes that enum; the
//! named signals go through it).
//!
//! # The subscriber table
//!
//! A grow-only, lock-free list of slots with no fixed size: a loop with at
//! least one signal handler leases one slot ([`SlotLease`]) and owns its own
//! eventfd. A slot is allocated (on an ordinary thread, under the control
//! mutex) only when no released one is free, is pushed at the head of the
//! list, and is never freed — it goes back to the free list instead — so
//! the OS handler can follow the list's pointers at any time, and the
//! memory is bounded by the most loops that had handlers at once (a few
//! dozen bytes each).
//! A slot holds three atomics the OS handler reads: the eventfd to write
//! (`wake_fd`), the set of signals the loop subscribed to (`subscribed`, bit
//! `n - 1` for signal `n`) and the set of signals received but not yet
//! consumed (`pending`). A fourth, `busy`, counts handlers inside the slot.
//!
//! The OS handler ([`on_signal`]) walks the list; for each that subscribed
//! to the signal it sets the pending bit, then writes 1 to the eventfd. It
//! takes no lock and allocates nothing: atomics and `write(2)` only, and it
//! saves and restores `errno`. Every subscriber gets every delivery (the
//! multi-loop rule); repeated deliveries before the loop consumes them
//! collapse into one pending bit (at least one callback run, never zero).
//!
//! Everything else (leasing a slot, subscribing, changing a disposition)
//! runs on ordinary threads under one `Mutex`, which also counts the
//! subscribers of each signal: the first subscriber installs [`on_signal`]
//! and keeps the action it replaced, the last one restores that action
//! (`SIG_IGN` for a Rust program's `SIGPIPE`, usually `SIG_DFL` otherwise).
//!
//! Releasing a slot clears `subscribed` and `wake_fd`, then waits until
//! `busy` is zero before the eventfd may be closed, so a handler never
//! writes to a closed (or reused) descriptor.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::ptr;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicU64};
use std::sync::{Mutex, MutexGuard, PoisonError};

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet};
use rustix::event::{EventfdFlags, eventfd};

use crate::{Signal, SignalError};

/// The highest signal number the 64-bit masks can hold (Linux's `SIGRTMAX`).
const MAX_SIGNAL: i32 = 64;

/// One loop's entry in the table.
#[derive(Debug)]
struct Slot {
    /// The loop's eventfd, or -1 when the slot is free.
    wake_fd: AtomicI32,
    /// Bit `n - 1`: the loop has a handler for signal `n`.
    subscribed: AtomicU64,
    /// Bit `n - 1`: signal `n` arrived and the loop has not consumed it.
    pending: AtomicU64,
    /// OS handlers currently inside this slot.
    busy: AtomicU32,
    /// The next slot of the list; set once, before the slot is published.
    next: AtomicPtr<Slot>,
}

impl Slot {
    const fn free() -> Slot {
        Slot {
            wake_fd: AtomicI32::new(-1),
            subscribed: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            busy: AtomicU32::new(0),
            next: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Records one delivery of the signal with mask `bit` and wakes the
    /// loop. Async-signal-safe.
    fn deliver(&self, bit: u64) {
        if self.subscribed.load(SeqCst) & bit == 0 {
            return;
        }
        self.busy.fetch_add(1, SeqCst);
        // Checked again now that `busy` holds the slot: a release that
        // cleared the subscription before we entered is seen here.
        if self.subscribed.load(SeqCst) & bit != 0 {
            self.pending.fetch_or(bit, SeqCst);
            let fd = self.wake_fd.load(SeqCst);
            if fd >= 0 {
                // SAFETY: `busy` is non-zero, and the slot's owner clears
                // `wake_fd` and then waits for `busy` to reach zero before it
                // closes the descriptor; so `fd` is open for the duration of
                // this borrow.
                let fd = unsafe { BorrowedFd::borrow_raw(fd) };
                // A failure leaves nothing to do: the pending bit is set, and
                // the only possible error (EAGAIN) means the counter is
                // already non-zero, so the loop is awake anyway.
                let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
            }
        }
        self.busy.fetch_sub(1, SeqCst);
    }
}

/// The head of the list of every slot ever allocated. Written only under
/// [`CONTROL`]; read by the OS handler.
static SLOTS: AtomicPtr<Slot> = AtomicPtr::new(ptr::null_mut());

/// Every slot of the list, from the head. Async-signal-safe: atomic loads
/// only.
fn slots() -> impl Iterator<Item = &'static Slot> {
    let mut next = SLOTS.load(SeqCst);
    std::iter::from_fn(move || {
        // SAFETY: every pointer in the list comes from `Box::leak` in
        // `SlotLease::acquire` and was fully initialised before it was
        // published with a SeqCst store; slots are never freed, so the
        // reference is valid for 'static.
        let slot: &'static Slot = unsafe { next.as_ref()? };
        next = slot.next.load(SeqCst);
        Some(slot)
    })
}

/// The state changed only under [`CONTROL`], never by the OS handler.
struct Control {
    /// Released slots, ready to be leased again.
    free: Vec<&'static Slot>,
    /// How many slots subscribe to each signal, indexed by number.
    subscribers: [u32; MAX_SIGNAL as usize + 1],
    /// The action each signal had before its first subscriber installed
    /// [`on_signal`], restored when the last one goes; indexed by number.
    previous: [Option<libc::sigaction>; MAX_SIGNAL as usize + 1],
}

static CONTROL: Mutex<Control> = Mutex::new(Control {
    free: Vec::new(),
    subscribers: [0; MAX_SIGNAL as usize + 1],
    previous: [None; MAX_SIGNAL as usize + 1],
});

fn control() -> MutexGuard<'static, Control> {
    // The guarded data stays consistent even if a holder panicked: every
    // update is a single assignment.
    CONTROL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The mask bit of signal `sig`, if the masks can hold it.
fn signal_bit(sig: i32) -> Option<u64> {
    (1..=MAX_SIGNAL).contains(&sig).then(|| 1u64 << (sig - 1))
}

/// The process-wide OS handler. Async-signal-safe: atomics and `write(2)`
/// only; `errno` is preserved.
extern "C" fn on_signal(sig: libc::c_int) {
    let saved = Errno::last_raw();
    if let Some(bit) = signal_bit(sig) {
        for slot in slots() {
            slot.deliver(bit);
        }
    }
    Errno::set_raw(saved);
}

/// Installs [`on_signal`] for `sig`; returns the action it replaced.
fn install_handler(sig: i32) -> io::Result<libc::sigaction> {
    let flags = SaFlags::SA_RESTART | SaFlags::SA_ONSTACK;
    let handler = SigHandler::Handler(on_signal);
    swap_action(sig, &SigAction::new(handler, flags, SigSet::empty()).into())
}

/// Sets the action of `sig`; returns the one it replaced.
///
/// Only two kinds of action reach this function: [`on_signal`]'s (from
/// [`install_handler`]) and an action that was in place before this crate
/// installed its handler and that it now puts back (or `SIG_DFL`).
fn swap_action(sig: i32, action: &libc::sigaction) -> io::Result<libc::sigaction> {
    let mut old = MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: `action` is a valid, fully initialised `sigaction` and `old`
    // a writable one. The handler installed is either `on_signal`, which is
    // async-signal-safe (atomics and write(2) only, errno preserved), or
    // the action that was in place before `on_signal` replaced it: code
    // that chose it for signal context, restored as it was (or SIG_DFL).
    let rc = unsafe { libc::sigaction(sig, action, old.as_mut_ptr()) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sigaction succeeded, so it initialised `old`.
    Ok(unsafe { old.assume_init() })
}

/// The `SIG_DFL` action.
fn default_action() -> libc::sigaction {
    SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty()).into()
}

/// Whether `action` is this crate's handler.
fn is_ours(action: &libc::sigaction) -> bool {
    action.sa_sigaction == on_signal as *const () as libc::sighandler_t
}

/// The current handler address of `sig` (`SIG_DFL`, `SIG_IGN` or a
/// function).
fn current_handler(sig: i32) -> io::Result<libc::sighandler_t> {
    let mut old = MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: a null new action only queries the current one, which the
    // kernel writes into `old`, a valid, writable `sigaction`.
    let rc = unsafe { libc::sigaction(sig, ptr::null(), old.as_mut_ptr()) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sigaction succeeded, so it initialised `old`.
    Ok(unsafe { old.assume_init() }.sa_sigaction)
}

/// Whether SIGINT has its default disposition or is handled by this crate
/// (so that `run_with_sigint` may take it over without overriding a
/// handler installed by someone else, or an inherited `SIG_IGN`).
pub(crate) fn sigint_is_default_or_ours() -> bool {
    match current_handler(libc::SIGINT) {
        Ok(h) => h == libc::SIG_DFL || h == on_signal as *const () as libc::sighandler_t,
        Err(_) => false,
    }
}

/// Fails unless `sig` is a signal number of this system.
pub(crate) fn check_number(sig: Signal) -> Result<(), SignalError> {
    let n = sig.as_raw();
    if n < 1 || n > libc::SIGRTMAX().min(MAX_SIGNAL) {
        return Err(SignalError::InvalidSignal {
            signal: sig,
            reason: "no such signal number on this system",
        });
    }
    Ok(())
}

/// Fails unless a loop may handle `sig`: a valid number, catchable, and not
/// a fault signal.
pub(crate) fn check_catchable(sig: Signal) -> Result<(), SignalError> {
    check_number(sig)?;
    let reason = match sig.as_raw() {
        libc::SIGKILL | libc::SIGSTOP => "it cannot be caught",
        libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL => {
            "it signals a fault: a handler that only records it would fault again forever \
             (and the Rust runtime uses it to report stack overflows)"
        }
        _ => return Ok(()),
    };
    Err(SignalError::InvalidSignal { signal: sig, reason })
}

/// Sends `sig` to process `pid` (`kill(2)`): nix's safe `kill` for the
/// signals its `Signal` enum names, `libc::kill` for the real-time ones.
pub(crate) fn kill(pid: i32, sig: Signal) -> io::Result<()> {
    let pid = nix::unistd::Pid::from_raw(pid);
    if let Ok(named) = nix::sys::signal::Signal::try_from(sig.as_raw()) {
        return nix::sys::signal::kill(pid, named).map_err(io::Error::from);
    }
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    // nix's safe `kill` cannot name a real-time signal.
    let rc = unsafe { libc::kill(pid.as_raw(), sig.as_raw()) };
    if rc == -1 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// A loop's lease on one slot of the table, with the loop's eventfd.
/// Dropping it unsubscribes every signal (restoring the previous action
/// where it was the last subscriber), frees the slot and closes the eventfd.
#[derive(Debug)]
pub(crate) struct SlotLease {
    slot: &'static Slot,
    fd: OwnedFd,
}

impl SlotLease {
    /// Leases a slot (a released one, or a new one) with a new eventfd.
    ///
    /// # Errors
    ///
    /// [`SignalError::Io`] when the eventfd cannot be created.
    pub(crate) fn acquire() -> Result<SlotLease, SignalError> {
        let fd =
            eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).map_err(io::Error::from)?;
        let mut ctl = control();
        let slot = match ctl.free.pop() {
            Some(slot) => slot,
            None => {
                let slot: &'static Slot = Box::leak(Box::new(Slot::free()));
                // Only this thread (holding CONTROL) writes the head.
                slot.next.store(SLOTS.load(SeqCst), SeqCst);
                SLOTS.store(ptr::from_ref(slot).cast_mut(), SeqCst);
                slot
            }
        };
        slot.subscribed.store(0, SeqCst);
        slot.pending.store(0, SeqCst);
        slot.wake_fd.store(fd.as_raw_fd(), SeqCst);
        Ok(SlotLease { slot, fd })
    }

    /// The eventfd the loop watches.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn slot(&self) -> &'static Slot {
        self.slot
    }

    /// Subscribes this slot to `sig` and (re)installs the OS handler.
    /// Idempotent.
    ///
    /// # Errors
    ///
    /// [`SignalError::InvalidSignal`] when the OS refuses the signal;
    /// [`SignalError::Install`] for any other failure of `sigaction`.
    pub(crate) fn subscribe(&self, sig: Signal) -> Result<(), SignalError> {
        let n = sig.as_raw();
        let Some(bit) = signal_bit(n) else {
            return Err(SignalError::InvalidSignal {
                signal: sig,
                reason: "no such signal number on this system",
            });
        };
        let mut ctl = control();
        let slot = self.slot();
        let new = slot.subscribed.load(SeqCst) & bit == 0;
        if new {
            // Subscribe first, so a delivery right after the handler is
            // installed is recorded.
            slot.subscribed.fetch_or(bit, SeqCst);
            ctl.subscribers[n as usize] += 1;
        }
        // Installed on every call, like asyncio's `signal.signal` in
        // `add_signal_handler`: this also takes the signal back from a
        // handler someone else installed in between. The action replaced
        // by the first subscriber is the one to restore at the end.
        match install_handler(n) {
            Ok(old) => {
                if new && ctl.subscribers[n as usize] == 1 {
                    ctl.previous[n as usize] = (!is_ours(&old)).then_some(old);
                }
                Ok(())
            }
            Err(err) => {
                if new {
                    slot.subscribed.fetch_and(!bit, SeqCst);
                    ctl.subscribers[n as usize] -= 1;
                }
                Err(if err.raw_os_error() == Some(libc::EINVAL) {
                    SignalError::InvalidSignal {
                        signal: sig,
                        reason: "the operating system does not let it be caught",
                    }
                } else {
                    SignalError::install(sig, err)
                })
            }
        }
    }

    /// Unsubscribes this slot from `sig`; the last subscriber of the
    /// process restores the action `sig` had before the first one
    /// subscribed. Does nothing if not subscribed.
    ///
    /// # Errors
    ///
    /// [`SignalError::Install`] if that action cannot be restored (the slot
    /// is unsubscribed anyway).
    pub(crate) fn unsubscribe(&self, sig: Signal) -> Result<(), SignalError> {
        let mut ctl = control();
        Self::unsubscribe_locked(&mut ctl, self.slot(), sig.as_raw())
            .map_err(|e| SignalError::install(sig, e))
    }

    fn unsubscribe_locked(ctl: &mut Control, slot: &Slot, n: i32) -> io::Result<()> {
        let Some(bit) = signal_bit(n) else { return Ok(()) };
        if slot.subscribed.load(SeqCst) & bit == 0 {
            return Ok(());
        }
        ctl.subscribers[n as usize] -= 1;
        // Restore the previous action before dropping the subscription: a
        // delivery in between is recorded for a loop that ignores it,
        // rather than being lost without the previous action.
        let restored = if ctl.subscribers[n as usize] == 0 {
            let previous = ctl.previous[n as usize].take().unwrap_or_else(default_action);
            swap_action(n, &previous).map(drop)
        } else {
            Ok(())
        };
        slot.subscribed.fetch_and(!bit, SeqCst);
        restored
    }

    /// Consumes the wake-up and returns the signals received since the last
    /// call, as a mask (bit `n - 1` for signal `n`).
    pub(crate) fn take_pending(&self) -> u64 {
        // Read the counter first: a signal arriving after the swap below
        // writes it again, so it is seen on the next wake-up.
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(&self.fd, &mut buf);
        self.slot().pending.swap(0, SeqCst)
    }
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        let mut ctl = control();
        let slot = self.slot();
        let subscribed = slot.subscribed.load(SeqCst);
        for n in 1..=MAX_SIGNAL {
            if subscribed & (1 << (n - 1)) != 0 {
                if let Err(err) = Self::unsubscribe_locked(&mut ctl, slot, n) {
                    tracing::warn!(
                        target: "tulip",
                        signal = %Signal::from_raw(n),
                        "cannot restore the previous signal disposition: {err}"
                    );
                }
            }
        }
        slot.wake_fd.store(-1, SeqCst);
        // Wait for handlers that loaded the old descriptor. A handler never
        // blocks, and one that interrupted this thread has returned by now,
        // so this ends at once in practice.
        while slot.busy.load(SeqCst) != 0 {
            std::thread::yield_now();
        }
        slot.pending.store(0, SeqCst);
        ctl.free.push(self.slot);
        // `self.fd` closes after this, with no handler able to write to it.
    }
}

/// Test support: how many slots exist (leased or free).
#[cfg(test)]
pub(crate) fn slot_count() -> usize {
    let _ctl = control();
    slots().count()
}

/// Test support: how many slots subscribe to `sig`.
#[cfg(test)]
pub(crate) fn subscriber_count(sig: Signal) -> u32 {
    control().subscribers[sig.as_raw() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_cover_one_to_sixty_four() {
        assert_eq!(signal_bit(0), None);
        assert_eq!(signal_bit(1), Some(1));
        assert_eq!(signal_bit(64), Some(1 << 63));
        assert_eq!(signal_bit(65), None);
        assert_eq!(signal_bit(-3), None);
    }

    #[test]
    fn numbers_are_checked() {
        for n in [0, -1, 65, 999] {
            assert!(matches!(
                check_number(Signal::from_raw(n)),
                Err(SignalError::InvalidSignal { .. })
            ));
        }
        assert!(check_number(Signal::SIGKILL).is_ok());
        assert!(check_catchable(Signal::SIGKILL).is_err());
        assert!(check_catchable(Signal::SIGSEGV).is_err());
        assert!(check_catchable(Signal::SIGUSR1).is_ok());
        assert!(check_catchable(Signal::rtmax()).is_ok());
    }

    #[test]
    fn a_released_lease_unsubscribes_and_frees_its_slot() {
        // SIGWINCH's default action is to ignore it, so this test cannot
        // kill the test process whatever the timing.
        let lease = SlotLease::acquire().unwrap();
        let slot = lease.slot;
        lease.subscribe(Signal::SIGWINCH).unwrap();
        lease.subscribe(Signal::SIGWINCH).unwrap();
        assert!(subscriber_count(Signal::SIGWINCH) >= 1);
        kill(std::process::id() as i32, Signal::SIGWINCH).unwrap();
        drop(lease);
        assert_eq!(slot.wake_fd.load(SeqCst), -1);
        assert_eq!(slot.subscribed.load(SeqCst), 0);
        assert!(control().free.iter().any(|s| std::ptr::eq(*s, slot)));
    }

    #[test]
    fn the_table_grows_past_any_fixed_size_and_reuses_released_slots() {
        let leases: Vec<SlotLease> = (0..200).map(|_| SlotLease::acquire().unwrap()).collect();
        let grown = slot_count();
        assert!(grown >= 200, "{grown} slots for 200 leases");
        // Every leased slot is in the list the handler walks.
        for lease in &leases {
            assert!(slots().any(|s| std::ptr::eq(s, lease.slot)));
        }
        drop(leases);
        let again: Vec<SlotLease> = (0..200).map(|_| SlotLease::acquire().unwrap()).collect();
        assert!(slot_count() <= grown + 4, "released slots are reused, not leaked");
        drop(again);
    }
}
