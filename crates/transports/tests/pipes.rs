//! Pipe transports (TR-09): non-blocking, data and EOF on the read side,
//! the write side noticing the reader going away.

mod util;

use std::os::fd::AsFd;

use loop_transports::{Error, NetExt};
use util::{Ev, Recorder, run, wait_until, within};

#[test]
fn read_pipe_gets_data_then_eof_then_lost() {
    run(|lp| async move {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let l2 = lp.clone();
        let (t, p) = lp.connect_read_pipe(move || Recorder::new(&l2), r).await.unwrap();
        assert!(t.get_extra_info("pipe").is_some());
        assert!(t.is_reading());
        assert!(matches!(t.write(b"x"), Err(Error::Unsupported(_))));
        assert!(!t.can_write_eof());
        rustix::io::write(&w, b"through the pipe").unwrap();
        drop(w);
        let lost = p.borrow().lost.clone();
        assert_eq!(within("lost", lost).await, None);
        assert_eq!(Recorder::data(&p.borrow().log), b"through the pipe");
        assert!(p.borrow().log.borrow().contains(&Ev::Eof));
    });
}

#[test]
fn write_pipe_is_non_blocking_and_notices_the_reader_closing() {
    run(|lp| async move {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let l2 = lp.clone();
        let (t, p) = lp.connect_write_pipe(move || Recorder::new(&l2), w).await.unwrap();
        // Far more than a pipe holds: write() never blocks, the rest is
        // buffered.
        t.write(&vec![1u8; 1 << 20]).unwrap();
        assert!(t.get_write_buffer_size() > 0);
        let flags = rustix::fs::fcntl_getfl(r.as_fd()).unwrap();
        let _ = flags;
        drop(r);
        let lost = p.borrow().lost.clone();
        let err = within("lost", lost).await;
        assert!(err.is_some(), "buffered data could not be written: broken pipe");
        assert!(t.is_closing());
    });
}

#[test]
fn write_pipe_write_eof_closes_it() {
    run(|lp| async move {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let l2 = lp.clone();
        let (t, p) = lp.connect_write_pipe(move || Recorder::new(&l2), w).await.unwrap();
        t.write(b"last words").unwrap();
        t.write_eof().unwrap();
        let lost = p.borrow().lost.clone();
        within("lost", lost).await;
        let mut buf = [0u8; 64];
        let n = rustix::io::read(&r, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"last words");
        assert_eq!(rustix::io::read(&r, &mut buf).unwrap(), 0, "EOF");
        wait_until("closed", || t.is_closing()).await;
    });
}

#[test]
fn a_regular_file_is_not_a_pipe() {
    run(|lp| async move {
        let f = std::fs::File::open("/proc/self/status").unwrap();
        let l2 = lp.clone();
        let err = lp.connect_read_pipe(move || Recorder::new(&l2), f.into()).await.err().unwrap();
        assert!(matches!(err, Error::InvalidArgument(_)));
    });
}
