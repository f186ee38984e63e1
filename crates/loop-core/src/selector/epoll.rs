//! A minimal level-triggered epoll selector on rustix, with an eventfd for
//! cross-thread wake-ups.
//!
//! One `epoll_pwait` per loop iteration and no other syscall: registration
//! is level-triggered (no re-arm per readiness cycle, unlike oneshot mode),
//! and the timeout goes straight to the syscall, rounded *up* to whole
//! milliseconds so a sub-millisecond wait never busy-loops. Wake-ups are
//! coalesced: only the first `notify` after a wait writes the eventfd, which
//! is registered edge-triggered and never read (a wake-up costs the waker
//! one `write` and the loop nothing beyond its `epoll_pwait`).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::event::{EventfdFlags, Timespec, eventfd};

/// The key the wake-up eventfd is registered under (never a valid fd).
const NOTIFY_KEY: u64 = u64::MAX;

/// Events read per `epoll_wait`.
const EVENTS_CAPACITY: usize = 1024;

/// Readiness reported for one fd.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Readiness {
    pub(crate) fd: RawFd,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
}

/// The cross-thread half: wakes a blocked `wait`.
///
/// Other threads share it (through `RemoteLoop` and task wakers) and may
/// outlive the loop, so the loop closes the eventfd itself, at
/// [`close`](Notifier::close): otherwise every closed loop would leave an
/// fd open for as long as any of its thread-safe handles exists. The lock
/// is taken only on the slow path, when a wake-up must really be written.
#[derive(Debug)]
pub(crate) struct Notifier {
    /// `None` once the loop closed.
    eventfd: RwLock<Option<OwnedFd>>,
    pending: AtomicBool,
}

impl Notifier {
    /// Wakes the selector; repeated calls before the next wait coalesce.
    pub(crate) fn notify(&self) {
        if !self.pending.swap(true, Ordering::SeqCst) {
            // Under the read lock, the fd cannot be closed (and its number
            // reused) while we write to it.
            if let Some(fd) = &*self.eventfd.read().unwrap_or_else(|e| e.into_inner()) {
                // EAGAIN means the counter is already non-zero: the loop will
                // wake anyway.
                let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
            }
        }
    }

    /// Re-arms coalescing after a wake-up was seen. The eventfd is
    /// edge-triggered, so it is never read: every write is a new edge even
    /// while the counter is non-zero, and skipping the `read` saves a
    /// syscall per wake-up. (The counter grows by at most one per loop
    /// wake-up; it would take centuries at millions per second to reach its
    /// 2^64 - 2 limit.)
    fn clear(&self) {
        self.pending.store(false, Ordering::SeqCst);
    }

    /// Closes the eventfd (loop close); later wake-ups do nothing.
    pub(crate) fn close(&self) {
        drop(self.eventfd.write().unwrap_or_else(|e| e.into_inner()).take());
    }
}

/// The loop-thread half.
pub(crate) struct Epoll {
    epfd: OwnedFd,
    notifier: Arc<Notifier>,
    events: Vec<epoll::Event>,
}

fn interest(readable: bool, writable: bool) -> EventFlags {
    let mut flags = EventFlags::empty();
    if readable {
        // RDHUP only with a reader: for a writer-only registration the
        // peer's half-close is not an event, and as it stays set
        // (level-triggered) it would wake every poll, spinning the loop.
        flags |= EventFlags::IN | EventFlags::RDHUP;
    }
    if writable {
        flags |= EventFlags::OUT;
    }
    flags
}

/// Borrows a raw fd for the duration of one `epoll_ctl` call.
fn with_fd<T>(fd: RawFd, f: impl FnOnce(BorrowedFd<'_>) -> io::Result<T>) -> io::Result<T> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(rustix::io::Errno::BADF.raw_os_error()));
    }
    // SAFETY: the borrowed fd lives only for this call, during which the
    // kernel validates it: a closed or reused number makes `epoll_ctl` fail
    // with EBADF or act on the live file, never touch freed memory. Nothing
    // is read or written through it in userspace.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    f(fd)
}

impl Epoll {
    pub(crate) fn new() -> io::Result<Self> {
        let epfd = epoll::create(CreateFlags::CLOEXEC)?;
        let efd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(&epfd, &efd, EventData::new_u64(NOTIFY_KEY), EventFlags::IN | EventFlags::ET)?;
        Ok(Epoll {
            epfd,
            notifier: Arc::new(Notifier {
                eventfd: RwLock::new(Some(efd)),
                pending: AtomicBool::new(false),
            }),
            events: Vec::with_capacity(EVENTS_CAPACITY),
        })
    }

    pub(crate) fn notifier(&self) -> Arc<Notifier> {
        self.notifier.clone()
    }

    /// Starts watching `fd`.
    pub(crate) fn add(&self, fd: RawFd, readable: bool, writable: bool) -> io::Result<()> {
        with_fd(fd, |b| {
            epoll::add(&self.epfd, b, EventData::new_u64(fd as u64), interest(readable, writable))
                .map_err(Into::into)
        })
    }

    /// Changes what `fd` is watched for; re-adds it if the kernel dropped it
    /// (the fd was closed and its number reused).
    pub(crate) fn modify(&self, fd: RawFd, readable: bool, writable: bool) -> io::Result<()> {
        let r = with_fd(fd, |b| {
            epoll::modify(
                &self.epfd,
                b,
                EventData::new_u64(fd as u64),
                interest(readable, writable),
            )
            .map_err(Into::into)
        });
        match r {
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error()) => {
                self.add(fd, readable, writable)
            }
            r => r,
        }
    }

    /// Stops watching `fd`. A closed fd is already gone from the set.
    pub(crate) fn delete(&self, fd: RawFd) {
        let _ = with_fd(fd, |b| epoll::delete(&self.epfd, b).map_err(Into::into));
    }

    /// Waits for readiness (`None` = forever) and calls `out` per fd.
    /// `EINTR` is retried with the same timeout.
    pub(crate) fn wait(
        &mut self,
        timeout: Option<Duration>,
        mut out: impl FnMut(Readiness),
    ) -> io::Result<()> {
        let ts = timeout.map(|t| {
            // Round up to whole milliseconds (mio's habit).
            let ms = t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i64;
            Timespec { tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000 }
        });
        self.events.clear();
        loop {
            match epoll::wait(
                &self.epfd,
                rustix::buffer::spare_capacity(&mut self.events),
                ts.as_ref(),
            ) {
                Ok(_) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        for ev in &self.events {
            let key = ev.data.u64();
            if key == NOTIFY_KEY {
                self.notifier.clear();
                continue;
            }
            let flags = ev.flags;
            let err = flags.intersects(EventFlags::ERR | EventFlags::HUP);
            out(Readiness {
                fd: key as RawFd,
                readable: err
                    || flags.intersects(EventFlags::IN | EventFlags::RDHUP | EventFlags::PRI),
                writable: err || flags.contains(EventFlags::OUT),
            });
        }
        Ok(())
    }
}

impl std::fmt::Debug for Epoll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Epoll").field("epfd", &self.epfd).finish()
    }
}

impl AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epfd.as_fd()
    }
}
