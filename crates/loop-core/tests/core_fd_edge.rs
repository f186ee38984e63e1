//! Edge-triggered fd watching (`add_reader_edge` / `add_writer_edge`, not in
//! asyncio) on the default epoll driver, beside CORE-09's level-triggered
//! `add_reader`: reported once per change, readiness that exists when the
//! callback is added reported, hang-ups reported on every iteration until
//! the callback goes, and level reports whenever a level callback shares
//! the fd.

mod core_util;

use std::cell::Cell;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use loop_core::Loop;
use loop_core::test_util::run_once;

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// Runs `n` iterations that never block (a callback is always ready).
fn spin(lp: &Loop, n: usize) {
    for _ in 0..n {
        lp.call_soon(|| {}).unwrap();
        run_once(lp).unwrap();
    }
}

fn counter() -> (Rc<Cell<usize>>, impl FnMut() + 'static) {
    let n = Rc::new(Cell::new(0));
    let m = n.clone();
    (n, move || m.set(m.get() + 1))
}

#[test]
fn an_edge_reader_runs_once_per_arrival_where_a_level_reader_runs_every_iteration() {
    let lp = Loop::new().unwrap();
    let (a, mut b) = pair();
    let (c, d) = pair();
    let (mut d_w, _keep) = (d.try_clone().unwrap(), d);
    // Neither callback reads: the data stays.
    let (edge, f) = counter();
    lp.add_reader_edge(&a, f).unwrap();
    let (level, g) = counter();
    lp.add_reader(&c, g).unwrap();
    b.write_all(b"x").unwrap();
    d_w.write_all(b"x").unwrap();
    spin(&lp, 5);
    assert_eq!(edge.get(), 1, "the edge reader is told once");
    assert_eq!(level.get(), 5, "the level reader every iteration");
    b.write_all(b"y").unwrap();
    spin(&lp, 3);
    assert_eq!(edge.get(), 2, "new data is a new edge");
    assert!(lp.remove_reader(&a).unwrap());
    lp.close().unwrap();
}

#[test]
fn readiness_present_when_an_edge_reader_is_added_is_reported() {
    let lp = Loop::new().unwrap();
    let (a, mut b) = pair();
    b.write_all(b"early").unwrap();
    let (n, f) = counter();
    lp.add_reader_edge(&a, f).unwrap();
    spin(&lp, 3);
    assert_eq!(n.get(), 1);
    // Removed and added again (a paused and resumed transport): reported
    // again, as the data is still there.
    assert!(lp.remove_reader(&a).unwrap());
    let (m, g) = counter();
    lp.add_reader_edge(&a, g).unwrap();
    spin(&lp, 3);
    assert_eq!(m.get(), 1);
    lp.close().unwrap();
}

#[test]
fn a_hang_up_is_reported_every_iteration_until_the_edge_reader_goes() {
    let lp = Loop::new().unwrap();
    let (a, mut b) = pair();
    let (n, f) = counter();
    lp.add_reader_edge(&a, f).unwrap();
    // Data and the hang-up arrive together: a reader that takes a short read
    // as "drained" must still be told again, or it never sees the EOF.
    b.write_all(b"last words").unwrap();
    drop(b);
    spin(&lp, 4);
    assert_eq!(n.get(), 4, "a hang-up is a state, reported on every poll");
    assert!(lp.remove_reader(&a).unwrap());
    spin(&lp, 2);
    assert_eq!(n.get(), 4, "nothing after removal");
    lp.close().unwrap();
}

#[test]
fn a_level_writer_on_the_same_fd_makes_the_edge_reader_level_until_it_goes() {
    let lp = Loop::new().unwrap();
    let (a, mut b) = pair();
    b.write_all(b"x").unwrap();
    let (reads, f) = counter();
    lp.add_reader_edge(&a, f).unwrap();
    let (writes, g) = counter();
    lp.add_writer(&a, g).unwrap();
    spin(&lp, 4);
    assert_eq!(reads.get(), 4, "level while a level writer shares the fd");
    assert_eq!(writes.get(), 4);
    assert!(lp.remove_writer(&a).unwrap());
    let before = reads.get();
    spin(&lp, 4);
    // Back to edge: re-registering reports the data still there once.
    assert_eq!(reads.get(), before + 1);
    lp.close().unwrap();
}

#[test]
fn an_edge_writer_is_told_when_the_fd_becomes_writable_again() {
    let lp = Loop::new().unwrap();
    let (a, b) = pair();
    // Fill a's send buffer.
    let mut filled = 0usize;
    loop {
        match (&a).write(&[0u8; 65536]) {
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(filled > 0);
    let (n, f) = counter();
    lp.add_writer_edge(&a, f).unwrap();
    spin(&lp, 3);
    assert_eq!(n.get(), 0, "not writable: no call");
    // The peer drains everything: space frees, one edge.
    let mut buf = vec![0u8; 1 << 20];
    let mut drained = 0;
    while drained < filled {
        match std::io::Read::read(&mut &b, &mut buf) {
            Ok(k) => drained += k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    spin(&lp, 3);
    assert_eq!(n.get(), 1, "one edge when space frees");
    lp.close().unwrap();
}
