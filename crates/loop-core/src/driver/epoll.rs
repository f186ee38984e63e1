//! The default driver: an epoll selector on rustix, with an eventfd for
//! cross-thread wake-ups.
//!
//! One `epoll_pwait` per loop iteration and no other syscall: registration
//! is level-triggered, or edge-triggered (`EPOLLET`) for an fd whose
//! callbacks all consume readiness themselves ([`Interest::is_edge`]: the
//! transports' sockets and pipes), which spares the kernel polling every
//! reported fd again at the next wait — the cost that grows with the
//! number of busy connections. An edge-triggered fd that reports a state a
//! read cannot consume — the peer's half-close or hang-up, an error, urgent
//! data — is then reported again on every poll until it is re-registered
//! or deregistered (a short read, which edge consumers take as "drained",
//! would otherwise leave an EOF nobody is told about). Neither mode re-arms
//! per readiness cycle (unlike oneshot mode),
//! and the timeout goes straight to the syscall, rounded *up* to whole
//! milliseconds so a sub-millisecond wait never busy-loops. A wait
//! interrupted by a signal returns empty, so the loop recomputes the
//! remaining time (a signal storm never restarts the whole timeout).
//! Wake-ups are coalesced: only the first `notify` after a wait writes the
//! eventfd, which is registered edge-triggered and never read (a wake-up
//! costs the waker one `write` and the loop nothing beyond its
//! `epoll_pwait`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::event::{EventfdFlags, Timespec, eventfd};

use super::{Driver, Event, Interest, Notify};

/// The key the wake-up eventfd is registered under (never a valid fd).
const NOTIFY_KEY: u64 = u64::MAX;

/// Events read per `epoll_wait`.
const EVENTS_CAPACITY: usize = 1024;

/// The cross-thread half: wakes a blocked `wait`.
///
/// Other threads share it (through `RemoteLoop` and task wakers) and may
/// outlive the loop, so the loop closes the eventfd itself, at
/// [`close`](Notifier::close): otherwise every closed loop would leave an
/// fd open for as long as any of its thread-safe handles exists. The lock
/// is taken only on the slow path, when a wake-up must really be written.
#[derive(Debug)]
struct Notifier {
    /// `None` once the loop closed.
    eventfd: RwLock<Option<OwnedFd>>,
    pending: AtomicBool,
}

impl Notify for Notifier {
    /// Wakes the selector; repeated calls before the next wait coalesce.
    fn notify(&self) {
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
}

impl Notifier {
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
    fn close(&self) {
        drop(self.eventfd.write().unwrap_or_else(|e| e.into_inner()).take());
    }
}

/// The default [`Driver`]: epoll, level- or edge-triggered per fd (see the
/// module docs).
pub struct EpollDriver {
    /// `None` once closed.
    epfd: Option<OwnedFd>,
    notifier: Arc<Notifier>,
    events: Vec<epoll::Event>,
    /// Per fd number: registered edge-triggered.
    edge: Vec<bool>,
    /// Edge-triggered fds in a sticky state, reported on every poll.
    sticky: Vec<Event>,
    /// Per fd number: the poll that last reported it (to report a sticky fd
    /// once per poll).
    reported: Vec<u64>,
    polls: u64,
}

/// States of an edge-triggered fd that a read does not consume.
const STICKY: EventFlags =
    EventFlags::RDHUP.union(EventFlags::HUP).union(EventFlags::ERR).union(EventFlags::PRI);

fn flags(interest: Interest) -> EventFlags {
    let mut flags = EventFlags::empty();
    if interest.is_readable() {
        // RDHUP only with a reader: for a writer-only registration the
        // peer's half-close is not an event, and as it stays set
        // (level-triggered) it would wake every poll, spinning the loop.
        flags |= EventFlags::IN | EventFlags::RDHUP;
    }
    if interest.is_writable() {
        flags |= EventFlags::OUT;
    }
    if interest.is_edge() {
        // PRI: urgent data stops a read short of the data behind it.
        flags |= EventFlags::ET;
        if interest.is_readable() {
            flags |= EventFlags::PRI;
        }
    }
    flags
}

impl EpollDriver {
    /// A new epoll instance and wake-up eventfd.
    ///
    /// # Errors
    ///
    /// The OS refused them (out of fds).
    pub fn new() -> io::Result<Self> {
        let epfd = epoll::create(CreateFlags::CLOEXEC)?;
        let efd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(&epfd, &efd, EventData::new_u64(NOTIFY_KEY), EventFlags::IN | EventFlags::ET)?;
        Ok(EpollDriver {
            epfd: Some(epfd),
            notifier: Arc::new(Notifier {
                eventfd: RwLock::new(Some(efd)),
                pending: AtomicBool::new(false),
            }),
            events: Vec::with_capacity(EVENTS_CAPACITY),
            edge: Vec::new(),
            sticky: Vec::new(),
            reported: Vec::new(),
            polls: 0,
        })
    }

    /// Records how `fd` is registered (`None`: not at all), forgetting any
    /// sticky state: epoll reports a re-registered fd's current readiness.
    fn track(&mut self, fd: RawFd, interest: Option<Interest>) {
        let idx = fd as usize;
        if self.edge.len() <= idx {
            self.edge.resize(idx + 1, false);
        }
        self.edge[idx] = interest.is_some_and(Interest::is_edge);
        self.sticky.retain(|e| e.fd != fd);
    }

    fn epfd(&self) -> io::Result<&OwnedFd> {
        self.epfd.as_ref().ok_or_else(closed)
    }
}

/// The error for a call on a closed driver.
fn closed() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::BADF.raw_os_error())
}

impl Driver for EpollDriver {
    fn register(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        let key = EventData::new_u64(fd.as_raw_fd() as u64);
        epoll::add(self.epfd()?, fd, key, flags(interest))?;
        self.track(fd.as_raw_fd(), Some(interest));
        Ok(())
    }

    /// Re-adds the fd if the kernel dropped it (it was closed and its number
    /// reused since it was registered).
    fn reregister(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        let key = EventData::new_u64(fd.as_raw_fd() as u64);
        match epoll::modify(self.epfd()?, fd, key, flags(interest)) {
            Err(rustix::io::Errno::NOENT) => self.register(fd, interest),
            r => {
                r?;
                self.track(fd.as_raw_fd(), Some(interest));
                Ok(())
            }
        }
    }

    fn deregister(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.track(fd.as_raw_fd(), None);
        Ok(epoll::delete(self.epfd()?, fd)?)
    }

    fn poll(&mut self, timeout: Option<Duration>, events: &mut Vec<Event>) -> io::Result<()> {
        let ts = timeout.map(|t| {
            // Round up to whole milliseconds (mio's habit).
            let ms = t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i64;
            Timespec { tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000 }
        });
        // A sticky fd is ready now: do not block.
        let ts = if self.sticky.is_empty() { ts } else { Some(Timespec { tv_sec: 0, tv_nsec: 0 }) };
        self.events.clear();
        self.polls += 1;
        let epfd = self.epfd.as_ref().ok_or_else(closed)?;
        match epoll::wait(epfd, rustix::buffer::spare_capacity(&mut self.events), ts.as_ref()) {
            Ok(_) => {}
            // A signal: return empty; the loop recomputes the remaining time.
            Err(rustix::io::Errno::INTR) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        for ev in &self.events {
            let key = ev.data.u64();
            if key == NOTIFY_KEY {
                self.notifier.clear();
                continue;
            }
            let flags = ev.flags;
            let err = flags.intersects(EventFlags::ERR | EventFlags::HUP);
            let event = Event {
                fd: key as RawFd,
                readable: err
                    || flags.intersects(EventFlags::IN | EventFlags::RDHUP | EventFlags::PRI),
                writable: err || flags.contains(EventFlags::OUT),
            };
            let idx = key as usize;
            if flags.intersects(STICKY)
                && self.edge.get(idx).copied().unwrap_or(false)
                && !self.sticky.iter().any(|e| e.fd == event.fd)
            {
                self.sticky.push(event);
            }
            // Stamped only while some fd is sticky (the common case pays
            // nothing): a sticky fd the kernel reported is not repeated.
            if !self.sticky.is_empty() {
                if self.reported.len() <= idx {
                    self.reported.resize(idx + 1, 0);
                }
                self.reported[idx] = self.polls;
            }
            events.push(event);
        }
        for e in &self.sticky {
            if self.reported[e.fd as usize] != self.polls {
                events.push(*e);
            }
        }
        Ok(())
    }

    fn notifier(&self) -> Arc<dyn Notify> {
        self.notifier.clone()
    }

    fn close(&mut self) {
        self.notifier.close();
        self.epfd = None;
    }
}

impl std::fmt::Debug for EpollDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpollDriver").field("epfd", &self.epfd).finish()
    }
}
