//! `FakeDriver`: a driver a test scripts by hand (asyncio's test suite
//! drives its selector the same way).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::Loop;
use crate::driver::{Driver, Event, Interest, Notify};

use super::VirtualClock;

#[derive(Debug, Default)]
struct State {
    registered: BTreeMap<RawFd, Interest>,
    injected: Vec<Event>,
    polls: Vec<Option<Duration>>,
    closed: bool,
}

#[derive(Debug, Default)]
struct Notifications {
    count: AtomicUsize,
    seen: AtomicUsize,
}

impl Notify for Notifications {
    fn notify(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }
}

/// A [`Driver`] that touches no OS resource: it records every registration
/// and every poll's timeout, delivers the readiness a test
/// [`inject`](FakeDriver::inject)s, and moves its virtual clock by each
/// poll's timeout instead of waiting. Clones share one state: keep a clone
/// to script and inspect the driver a loop owns.
///
/// A poll with no timeout and nothing to deliver would block forever; the
/// fake fails it instead (`run_forever` returns the error), so a test that
/// forgot to schedule something fails rather than hangs.
///
/// ```
/// use std::time::Duration;
/// use loop_core::test_util::FakeDriver;
///
/// let (lp, driver) = FakeDriver::new_loop();
/// let l2 = lp.clone();
/// lp.call_later(Duration::from_secs(5), move || l2.stop()).unwrap();
/// lp.run_forever().unwrap();
/// // The loop waited for its timer: one poll of exactly five seconds.
/// assert_eq!(driver.polls(), vec![Some(Duration::from_secs(5))]);
/// lp.close().unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct FakeDriver {
    state: Rc<RefCell<State>>,
    notify: Arc<Notifications>,
    clock: Rc<VirtualClock>,
}

impl FakeDriver {
    /// A fake driver on a new virtual clock.
    pub fn new() -> Self {
        FakeDriver {
            state: Rc::default(),
            notify: Arc::default(),
            clock: Rc::new(VirtualClock::new()),
        }
    }

    /// A loop over a new fake driver (and its virtual clock), and a clone of
    /// the driver to script it.
    pub fn new_loop() -> (Loop, FakeDriver) {
        let driver = FakeDriver::new();
        let lp = Loop::with_driver(Box::new(driver.clone()), Some(driver.clock.clone()));
        (lp, driver)
    }

    /// The virtual clock the driver advances.
    pub fn clock(&self) -> &Rc<VirtualClock> {
        &self.clock
    }

    /// Makes the next poll report `fd` ready, for what it is registered for
    /// at that time (an fd no longer registered is not reported).
    pub fn inject(&self, fd: impl AsFd, readable: bool, writable: bool) {
        self.state.borrow_mut().injected.push(Event {
            fd: fd.as_fd().as_raw_fd(),
            readable,
            writable,
        });
    }

    /// The timeout of every poll so far, in order (`None`: no timeout).
    pub fn polls(&self) -> Vec<Option<Duration>> {
        self.state.borrow().polls.clone()
    }

    /// What `fd` is registered for, if it is.
    pub fn interest(&self, fd: impl AsFd) -> Option<Interest> {
        self.state.borrow().registered.get(&fd.as_fd().as_raw_fd()).copied()
    }

    /// Every registered fd and its interest, by fd number.
    pub fn registered(&self) -> Vec<(RawFd, Interest)> {
        self.state.borrow().registered.iter().map(|(fd, i)| (*fd, *i)).collect()
    }

    /// How many wake-ups other threads sent ([`Notify::notify`]).
    pub fn notifications(&self) -> usize {
        self.notify.count.load(Ordering::SeqCst)
    }

    /// Whether the loop closed the driver.
    pub fn is_closed(&self) -> bool {
        self.state.borrow().closed
    }
}

impl Default for FakeDriver {
    fn default() -> Self {
        Self::new()
    }
}

fn refused(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("FakeDriver: {msg}"))
}

impl Driver for FakeDriver {
    fn register(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        let mut st = self.state.borrow_mut();
        if st.registered.insert(fd.as_raw_fd(), interest).is_some() {
            return Err(refused("fd registered twice"));
        }
        Ok(())
    }

    fn reregister(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        match self.state.borrow_mut().registered.get_mut(&fd.as_raw_fd()) {
            Some(slot) => {
                *slot = interest;
                Ok(())
            }
            None => Err(refused("reregister of an fd that is not registered")),
        }
    }

    fn deregister(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        match self.state.borrow_mut().registered.remove(&fd.as_raw_fd()) {
            Some(_) => Ok(()),
            None => Err(refused("deregister of an fd that is not registered")),
        }
    }

    fn poll(&mut self, timeout: Option<Duration>, events: &mut Vec<Event>) -> io::Result<()> {
        let mut st = self.state.borrow_mut();
        st.polls.push(timeout);
        let woken = {
            let count = self.notify.count.load(Ordering::SeqCst);
            self.notify.seen.swap(count, Ordering::SeqCst) != count
        };
        for ev in std::mem::take(&mut st.injected) {
            if let Some(i) = st.registered.get(&ev.fd) {
                let (readable, writable) =
                    (ev.readable && i.is_readable(), ev.writable && i.is_writable());
                if readable || writable {
                    events.push(Event { fd: ev.fd, readable, writable });
                }
            }
        }
        match timeout {
            None if events.is_empty() && !woken => {
                Err(refused("poll without a timeout and nothing to deliver would block forever"))
            }
            None => Ok(()),
            Some(t) => {
                if events.is_empty() && !woken {
                    self.clock.advance(t);
                }
                Ok(())
            }
        }
    }

    fn notifier(&self) -> Arc<dyn Notify> {
        self.notify.clone()
    }

    fn close(&mut self) {
        let mut st = self.state.borrow_mut();
        st.closed = true;
        st.registered.clear();
    }
}
