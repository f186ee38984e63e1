//! CORE-09: `add_reader` / `remove_reader` / `add_writer` / `remove_writer`
//! on real socketpairs.
//!
//! The tests of this file run one at a time: one of them checks a closed fd
//! number, which another test's new socket could otherwise reuse.

mod core_util;

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::Instant;

use core_util::{LIMIT, Watchdog, drop_flag};
use loop_core::test_util::TestLoop;
use loop_core::{Error, Loop};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

fn assert_invalid_fd(r: Result<(), Error>, fd: RawFd) {
    match r {
        Err(Error::InvalidFd { fd: got, .. }) => assert_eq!(got, fd),
        other => panic!("expected InvalidFd for fd {fd}, got {other:?}"),
    }
}

#[test]
fn a_reader_fires_when_data_arrives_from_another_thread() {
    let _s = serial();
    let lp = Loop::new().unwrap();
    let (a, b) = pair();
    let a = Rc::new(a);
    let got = Rc::new(RefCell::new(Vec::new()));
    let (a2, g, lp2) = (a.clone(), got.clone(), lp.clone());
    lp.add_reader(&*a, move || {
        let mut buf = [0u8; 64];
        let n = (&*a2).read(&mut buf).unwrap();
        g.borrow_mut().extend_from_slice(&buf[..n]);
        if g.borrow().ends_with(b"!") {
            lp2.stop();
        }
    })
    .unwrap();
    // The writer starts once the loop runs, and writes while it blocks.
    let (go_tx, go_rx) = mpsc::channel::<()>();
    lp.call_soon(move || go_tx.send(()).unwrap()).unwrap();
    let writer = std::thread::spawn(move || {
        go_rx.recv_timeout(LIMIT).unwrap();
        (&b).write_all(b"hello!").unwrap();
        b
    });
    let dog = Watchdog::new(&lp, LIMIT);
    lp.run_forever().unwrap();
    dog.finish();
    let _b = writer.join().unwrap();
    assert_eq!(&*got.borrow(), b"hello!");
    assert!(lp.remove_reader(&*a).unwrap());
    lp.close().unwrap();
}

#[test]
fn re_adding_a_reader_replaces_the_callback() {
    let _s = serial();
    let t = TestLoop::new().unwrap();
    let (a, mut b) = pair();
    let first = Rc::new(Cell::new(0));
    let (guard, first_dropped) = drop_flag();
    let f = first.clone();
    t.add_reader(&a, move || {
        let _g = &guard;
        f.set(f.get() + 1);
    })
    .unwrap();
    let second = Rc::new(Cell::new(0));
    let s = second.clone();
    t.add_reader(&a, move || s.set(s.get() + 1)).unwrap();
    assert!(first_dropped.get(), "the replaced callback was kept");
    b.write_all(b"x").unwrap();
    t.stop();
    t.run_forever().unwrap();
    assert_eq!((first.get(), second.get()), (0, 1));
    // Replacing a writer works the same way.
    let w1 = Rc::new(Cell::new(0));
    let w2 = Rc::new(Cell::new(0));
    let c = w1.clone();
    t.add_writer(&a, move || c.set(c.get() + 1)).unwrap();
    let c = w2.clone();
    t.add_writer(&a, move || c.set(c.get() + 1)).unwrap();
    t.stop();
    t.run_forever().unwrap();
    assert_eq!((w1.get(), w2.get()), (0, 1));
    assert!(t.remove_reader(&a).unwrap());
    assert!(t.remove_writer(&a).unwrap());
    t.close().unwrap();
}

#[test]
fn remove_returns_whether_something_was_registered() {
    let _s = serial();
    let t = TestLoop::new().unwrap();
    let (a, mut b) = pair();
    assert!(!t.remove_reader(&a).unwrap());
    assert!(!t.remove_writer(&a).unwrap());
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    t.add_reader(&a, move || r.set(true)).unwrap();
    assert!(!t.remove_writer(&a).unwrap(), "only a reader is registered");
    assert!(t.remove_reader(&a).unwrap());
    assert!(!t.remove_reader(&a).unwrap());
    // Removed: data no longer runs it.
    b.write_all(b"x").unwrap();
    t.stop();
    t.run_forever().unwrap();
    assert!(!ran.get());
    t.add_writer(&a, || {}).unwrap();
    assert!(t.remove_writer(&a).unwrap());
    assert!(!t.remove_writer(&a).unwrap());
    // An fd never watched: nothing registered.
    let (never, _n) = pair();
    assert!(!t.remove_reader(&never).unwrap());
    assert!(!t.remove_writer(&never).unwrap());
    t.close().unwrap();
}

#[test]
fn a_reader_and_a_writer_on_one_fd_are_independent() {
    let _s = serial();
    let t = TestLoop::new().unwrap();
    let (a, mut b) = pair();
    let reads = Rc::new(Cell::new(0));
    let writes = Rc::new(Cell::new(0));
    let r = reads.clone();
    t.add_reader(&a, move || r.set(r.get() + 1)).unwrap();
    let w = writes.clone();
    t.add_writer(&a, move || w.set(w.get() + 1)).unwrap();
    // Writable but nothing to read.
    t.stop();
    t.run_forever().unwrap();
    assert_eq!((reads.get(), writes.get()), (0, 1));
    b.write_all(b"x").unwrap();
    t.stop();
    t.run_forever().unwrap();
    assert_eq!((reads.get(), writes.get()), (1, 2));
    // Removing the writer keeps the reader (the data is still unread).
    assert!(t.remove_writer(&a).unwrap());
    t.stop();
    t.run_forever().unwrap();
    assert_eq!((reads.get(), writes.get()), (2, 2));
    // And the other way round.
    t.add_writer(&a, {
        let w = writes.clone();
        move || w.set(w.get() + 1)
    })
    .unwrap();
    assert!(t.remove_reader(&a).unwrap());
    t.stop();
    t.run_forever().unwrap();
    assert_eq!((reads.get(), writes.get()), (2, 3));
    assert!(t.remove_writer(&a).unwrap());
    t.close().unwrap();
}

#[test]
fn a_writer_fires_when_the_fd_becomes_writable() {
    let _s = serial();
    let lp = Loop::new().unwrap();
    let (a, b) = pair();
    fill_until_blocked(&a);
    let fired = Rc::new(Cell::new(0));
    let (f, lp2) = (fired.clone(), lp.clone());
    lp.add_writer(&a, move || {
        f.set(f.get() + 1);
        lp2.stop();
    })
    .unwrap();
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(fired.get(), 0, "fired while the socket was full");
    // Drain the peer from another thread while the loop waits.
    let (go_tx, go_rx) = mpsc::channel::<()>();
    lp.call_soon(move || go_tx.send(()).unwrap()).unwrap();
    let drainer = std::thread::spawn(move || {
        go_rx.recv_timeout(LIMIT).unwrap();
        b.set_nonblocking(false).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let deadline = Instant::now() + LIMIT;
        b.set_read_timeout(Some(std::time::Duration::from_millis(50))).unwrap();
        while Instant::now() < deadline {
            match (&b).read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => break, // drained (read timed out)
            }
        }
        b
    });
    let dog = Watchdog::new(&lp, LIMIT);
    lp.run_forever().unwrap();
    dog.finish();
    assert_eq!(fired.get(), 1);
    assert!(lp.remove_writer(&a).unwrap());
    let _b = drainer.join().unwrap();
    lp.close().unwrap();
}

#[test]
fn an_fd_the_driver_cannot_watch_is_a_clear_error() {
    let _s = serial();
    let t = TestLoop::new().unwrap();
    // epoll refuses regular files (EPERM). A closed or negative fd number
    // cannot reach the loop at all: the API takes `AsFd`.
    let file = File::open(std::env::current_exe().unwrap()).unwrap();
    let fd = file.as_raw_fd();
    assert_invalid_fd(t.add_reader(&file, || {}), fd);
    assert_invalid_fd(t.add_writer(&file, || {}), fd);
    // Nothing was registered by the failed calls.
    assert!(!t.remove_reader(&file).unwrap());
    // The loop still works and does not hang: one non-blocking pass.
    t.stop();
    t.run_forever().unwrap();
    t.close().unwrap();
}

#[test]
fn a_watched_fd_closed_without_removal_does_not_block_its_reused_number() {
    let _s = serial();
    let t = TestLoop::new().unwrap();
    let (a, _b) = pair();
    let fd = a.as_raw_fd();
    t.add_writer(&a, || {}).unwrap();
    drop(a); // closed without remove_writer: the kernel forgot it
    let (c, mut d) = pair();
    assert_eq!(c.as_raw_fd(), fd, "fds are allocated lowest-first");
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    t.add_reader(&c, move || r.set(true)).unwrap();
    d.write_all(b"x").unwrap();
    t.stop();
    t.run_forever().unwrap();
    assert!(ran.get(), "the new fd's reader ran");
    assert!(t.remove_writer(&c).unwrap());
    assert!(t.remove_reader(&c).unwrap());
    t.close().unwrap();
}

#[test]
fn a_reused_fd_number_can_be_watched_again() {
    let _s = serial();
    let t = TestLoop::new().unwrap();
    let (a, _b) = pair();
    let fd = a.as_raw_fd();
    t.add_reader(&a, || panic!("stale reader ran")).unwrap();
    drop(a); // closed without remove_reader: the kernel forgets it
    drop(_b);
    let (c, mut d) = pair();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    t.add_reader(&c, move || r.set(true)).unwrap();
    d.write_all(b"x").unwrap();
    t.stop();
    t.run_forever().unwrap();
    assert!(ran.get(), "fd {fd} reused as {}: reader did not fire", c.as_raw_fd());
    assert!(t.remove_reader(&c).unwrap());
    t.close().unwrap();
}

#[test]
fn a_regular_file_is_a_clear_error() {
    let _s = serial();
    let t = TestLoop::new().unwrap();
    let file = File::open(std::env::current_exe().unwrap()).unwrap();
    let fd = file.as_raw_fd();
    assert_invalid_fd(t.add_reader(&file, || {}), fd);
    assert_invalid_fd(t.add_writer(&file, || {}), fd);
    assert!(!t.remove_reader(&file).unwrap());
    t.close().unwrap();
}

#[test]
fn removing_a_reader_inside_the_batch_prevents_its_queued_run() {
    let _s = serial();
    let t = TestLoop::new().unwrap();
    let (a, mut b) = pair();
    let (c, mut d) = pair();
    let c = Rc::new(c);
    let a = Rc::new(a);
    let ran = Rc::new(RefCell::new(Vec::new()));
    // Whichever reader runs first removes the other one.
    let (r, lp, other) = (ran.clone(), t.handle().clone(), c.clone());
    t.add_reader(&*a, move || {
        r.borrow_mut().push("a");
        lp.remove_reader(&*other).unwrap();
    })
    .unwrap();
    let (r, lp, other) = (ran.clone(), t.handle().clone(), a.clone());
    t.add_reader(&*c, move || {
        r.borrow_mut().push("c");
        lp.remove_reader(&*other).unwrap();
    })
    .unwrap();
    b.write_all(b"x").unwrap();
    d.write_all(b"x").unwrap();
    t.stop();
    t.run_forever().unwrap();
    assert_eq!(ran.borrow().len(), 1, "a removed reader still ran: {:?}", ran.borrow());
    let _ = t.remove_reader(&*a);
    let _ = t.remove_reader(&*c);
    t.close().unwrap();
}

/// A writer waiting on a full socket whose peer shut its sending side down
/// must not busy-loop: the peer's half-close is not an event for a writer.
#[test]
fn a_writer_on_a_half_closed_full_socket_does_not_spin() {
    let _s = serial();
    let t = TestLoop::new().unwrap();
    let (a, b) = pair();
    fill_until_blocked(&a);
    b.shutdown(Shutdown::Write).unwrap(); // `a` sees the peer's half-close
    let fired = Rc::new(Cell::new(0));
    let f = fired.clone();
    t.add_writer(&a, move || f.set(f.get() + 1)).unwrap();
    // A second socket wakes the loop from another thread once it blocks.
    let (wake, mut poke) = pair();
    let poked = Rc::new(Cell::new(false));
    let p = poked.clone();
    t.add_reader(&wake, move || p.set(true)).unwrap();
    let (tid_tx, tid_rx) = mpsc::channel::<u32>();
    let loop_tid: u32 = std::fs::read_link("/proc/thread-self")
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    tid_tx.send(loop_tid).unwrap();
    let poker = std::thread::spawn(move || {
        let tid = tid_rx.recv().unwrap();
        let deadline = Instant::now() + LIMIT;
        // Poke once the loop sleeps in the selector (or after the limit).
        while Instant::now() < deadline {
            let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"));
            let sleeping = stat
                .map(|s| s.rsplit_once(')').map(|x| x.1.trim_start().starts_with('S')))
                .ok()
                .flatten()
                == Some(true);
            if sleeping {
                break;
            }
            std::thread::yield_now();
        }
        poke.write_all(b"!").unwrap();
    });
    // One iteration: it must block until the poke, with nothing else to do.
    t.run_once().unwrap();
    let woke_for_nothing = !poked.get();
    if woke_for_nothing {
        // Let the poker finish before failing.
        t.stop();
        let _ = t.run_forever();
    }
    poker.join().unwrap();
    assert!(!woke_for_nothing, "the loop woke up with nothing to do (spinning)");
    assert_eq!(fired.get(), 0);
    assert!(t.remove_writer(&a).unwrap());
    assert!(t.remove_reader(&wake).unwrap());
    drop(b);
    t.close().unwrap();
}

/// Writes into non-blocking `sock` until the kernel refuses more, so the
/// socket is not writable until its peer reads.
fn fill_until_blocked(mut sock: &UnixStream) {
    let chunk = [0u8; 4096];
    loop {
        match sock.write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn remove_reader_and_remove_writer_after_close_return_false() {
    // asyncio: after close(), remove_reader/remove_writer return False.
    let _one = serial();
    let lp = Loop::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    lp.add_reader(&a, || {}).unwrap();
    lp.add_writer(&a, || {}).unwrap();
    lp.close().unwrap();
    assert!(!lp.remove_reader(&a).unwrap());
    assert!(!lp.remove_writer(&a).unwrap());
    // Adding is still refused.
    assert!(matches!(lp.add_reader(&a, || {}), Err(Error::LoopClosed)));
}
