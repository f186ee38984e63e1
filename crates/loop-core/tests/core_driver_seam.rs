//! CORE-01: the loop's backend is a small public seam ([`Driver`] plus
//! [`Clock`]). A second driver written here from public items only — a
//! `poll(2)` selector — runs callbacks, timers, tasks, fd watching and
//! wake-ups from other threads; the `test-util` fake driver records each
//! poll's timeout and injects readiness.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use loop_core::driver::{Driver, Event, Interest, Notify};
use loop_core::test_util::{FakeDriver, run_once};
use loop_core::{Error, Loop, current_task, get_running_loop, sleep};
use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec, eventfd};

/// A `poll(2)` driver: each registered fd is duplicated (so the driver owns
/// what it polls), and an eventfd wakes it from other threads.
struct PollDriver {
    fds: BTreeMap<RawFd, (OwnedFd, Interest)>,
    wake: Arc<EventFdNotify>,
}

struct EventFdNotify(OwnedFd);

impl Notify for EventFdNotify {
    fn notify(&self) {
        let _ = rustix::io::write(&self.0, &1u64.to_ne_bytes());
    }
}

impl PollDriver {
    fn new() -> PollDriver {
        let efd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).unwrap();
        PollDriver { fds: BTreeMap::new(), wake: Arc::new(EventFdNotify(efd)) }
    }
}

fn flags(i: Interest) -> PollFlags {
    let mut f = PollFlags::empty();
    if i.is_readable() {
        f |= PollFlags::IN;
    }
    if i.is_writable() {
        f |= PollFlags::OUT;
    }
    f
}

impl Driver for PollDriver {
    fn register(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        self.fds.insert(fd.as_raw_fd(), (fd.try_clone_to_owned()?, interest));
        Ok(())
    }
    fn reregister(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        let entry = self.fds.get_mut(&fd.as_raw_fd()).ok_or(io::ErrorKind::NotFound)?;
        entry.1 = interest;
        Ok(())
    }
    fn deregister(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.fds.remove(&fd.as_raw_fd()).map(drop).ok_or(io::ErrorKind::NotFound.into())
    }
    fn poll(&mut self, timeout: Option<Duration>, events: &mut Vec<Event>) -> io::Result<()> {
        let mut pfds: Vec<PollFd<'_>> = vec![PollFd::new(&self.wake.0, PollFlags::IN)];
        pfds.extend(self.fds.values().map(|(fd, i)| PollFd::new(fd, flags(*i))));
        let ts = timeout.map(|t| Timespec::try_from(t).unwrap());
        match rustix::event::poll(&mut pfds, ts.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        if !pfds[0].revents().is_empty() {
            let mut buf = [0u8; 8];
            let _ = rustix::io::read(&self.wake.0, &mut buf);
        }
        for ((raw, _), p) in self.fds.iter().zip(&pfds[1..]) {
            let r = p.revents();
            let err = r.intersects(PollFlags::ERR | PollFlags::HUP);
            let (readable, writable) =
                (err || r.contains(PollFlags::IN), err || r.contains(PollFlags::OUT));
            if readable || writable {
                events.push(Event { fd: *raw, readable, writable });
            }
        }
        Ok(())
    }
    fn notifier(&self) -> Arc<dyn Notify> {
        self.wake.clone()
    }
    fn close(&mut self) {
        self.fds.clear();
    }
}

fn poll_loop() -> Loop {
    Loop::with_driver(Box::new(PollDriver::new()), None)
}

#[test]
fn callbacks_timers_and_tasks_run_on_a_second_driver() {
    let lp = poll_loop();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    lp.call_soon(move || l.borrow_mut().push("soon")).unwrap();
    let (l, lp2) = (log.clone(), lp.clone());
    let out = lp
        .run_until_complete(async move {
            // Every callback and task sees its loop as the running loop.
            assert!(get_running_loop().unwrap().ptr_eq(&lp2));
            assert!(current_task().is_some());
            let l3 = l.clone();
            lp2.call_later(Duration::from_millis(5), move || l3.borrow_mut().push("timer"))
                .unwrap();
            sleep(Duration::from_millis(10)).await.unwrap();
            let child = lp2.create_task(async { 21 }).unwrap();
            child.await.unwrap() * 2
        })
        .unwrap();
    assert_eq!(out, 42);
    assert_eq!(*log.borrow(), vec!["soon", "timer"]);
    lp.close().unwrap();
}

#[test]
fn fd_watching_and_cross_thread_wake_ups_work_on_a_second_driver() {
    let lp = poll_loop();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let got = Rc::new(RefCell::new(Vec::new()));
    let (g, lp2, a2) = (got.clone(), lp.clone(), a.try_clone().unwrap());
    lp.add_reader(&a, move || {
        let mut buf = [0u8; 16];
        let n = rustix::io::read(&a2, &mut buf).unwrap();
        g.borrow_mut().extend_from_slice(&buf[..n]);
        assert!(get_running_loop().is_ok(), "fd callbacks run in the running loop");
        lp2.stop();
    })
    .unwrap();
    // Another thread writes to the socket and then wakes the loop with a
    // call; the loop blocks in poll(2) with no timeout until then.
    let remote = lp.remote();
    let t = std::thread::spawn(move || {
        rustix::io::write(&b, b"hi").unwrap();
        remote.call_soon_threadsafe(|| {}).unwrap();
        b
    });
    lp.run_forever().unwrap();
    let _b = t.join().unwrap();
    assert_eq!(*got.borrow(), b"hi");
    assert!(lp.remove_reader(&a).unwrap());
    assert!(!lp.remove_reader(&a).unwrap());
    lp.close().unwrap();
}

#[test]
fn the_fake_driver_records_each_polls_timeout() {
    let (lp, driver) = FakeDriver::new_loop();
    let start = lp.time();
    let l2 = lp.clone();
    lp.call_later(Duration::from_secs(3), || {}).unwrap();
    lp.call_later(Duration::from_secs(10), move || l2.stop()).unwrap();
    lp.run_forever().unwrap();
    // Waits of exactly the time to the next timer, on virtual time.
    assert_eq!(driver.polls(), vec![Some(Duration::from_secs(3)), Some(Duration::from_secs(7))]);
    assert_eq!(lp.time() - start, Duration::from_secs(10));
    // Something ready: the next poll does not block.
    lp.call_soon(|| {}).unwrap();
    run_once(&lp).unwrap();
    assert_eq!(driver.polls().last(), Some(&Some(Duration::ZERO)));
    lp.close().unwrap();
    assert!(driver.is_closed());
}

#[test]
fn the_fake_driver_tracks_interest_and_delivers_injected_readiness() {
    let (lp, driver) = FakeDriver::new_loop();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let runs = Rc::new(RefCell::new(Vec::new()));
    let r = runs.clone();
    lp.add_reader(&a, move || r.borrow_mut().push("read")).unwrap();
    assert_eq!(driver.interest(&a), Some(Interest::READABLE));
    let r = runs.clone();
    lp.add_writer(&a, move || r.borrow_mut().push("write")).unwrap();
    assert_eq!(driver.interest(&a), Some(Interest::BOTH));

    driver.inject(&a, true, false);
    lp.call_later(Duration::from_secs(1), || {}).unwrap();
    run_once(&lp).unwrap();
    assert_eq!(*runs.borrow(), vec!["read"]);
    driver.inject(&a, true, true);
    run_once(&lp).unwrap();
    assert_eq!(*runs.borrow(), vec!["read", "read", "write"]);

    assert!(lp.remove_reader(&a).unwrap());
    assert_eq!(driver.interest(&a), Some(Interest::WRITABLE));
    // Readiness for a direction no longer watched is not delivered.
    driver.inject(&a, true, false);
    run_once(&lp).unwrap();
    assert_eq!(runs.borrow().len(), 3);
    assert!(lp.remove_writer(&a).unwrap());
    assert_eq!(driver.registered(), vec![]);
    lp.close().unwrap();
}

#[test]
fn a_fake_driver_asked_to_block_forever_fails_instead_of_hanging() {
    let (lp, _driver) = FakeDriver::new_loop();
    match lp.run_forever() {
        Err(Error::Io(e)) => assert!(e.to_string().contains("block forever"), "{e}"),
        other => panic!("expected the fake's error, got {other:?}"),
    }
    // A wake-up from another thread is something to deliver.
    let remote = lp.remote();
    std::thread::spawn(move || remote.stop().unwrap()).join().unwrap();
    lp.run_forever().unwrap();
    lp.close().unwrap();
}

#[test]
fn the_borrowed_fd_api_accepts_owned_and_borrowed_fds() {
    let (lp, driver) = FakeDriver::new_loop();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let owned: OwnedFd = a.into();
    lp.add_reader(owned.as_fd(), || {}).unwrap();
    assert!(driver.interest(&owned).is_some());
    assert!(lp.remove_reader(&owned).unwrap());
    lp.close().unwrap();
}
