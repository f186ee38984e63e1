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

#[test]
fn write_pipe_is_closing_as_soon_as_write_eof_is_called_with_data_buffered() {
    run(|lp| async move {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let l2 = lp.clone();
        let (t, p) = lp.connect_write_pipe(move || Recorder::new(&l2), w).await.unwrap();
        let data: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        t.write(&data).unwrap();
        assert!(t.get_write_buffer_size() > 0, "more than the pipe holds stays buffered");
        assert!(!t.is_closing());
        t.write_eof().unwrap();
        assert!(t.is_closing(), "asyncio: closing as soon as write_eof() is called");
        assert!(t.get_write_buffer_size() > 0);
        assert!(matches!(t.write(b"more"), Err(Error::Closed)), "a closing pipe takes no data");
        assert!(matches!(t.write_eof(), Err(Error::InvalidState(_))));
        // A reader takes everything: the buffered bytes still go out, then EOF.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut f = std::fs::File::from(r);
            let mut got = Vec::new();
            let _ = std::io::Read::read_to_end(&mut f, &mut got);
            let _ = tx.send(got);
        });
        let lost = p.borrow().lost.clone();
        assert_eq!(within("lost", lost).await, None, "flushed, then closed cleanly");
        let mut got = None;
        wait_until("the reader saw EOF", || {
            got = rx.try_recv().ok();
            got.is_some()
        })
        .await;
        assert!(got.unwrap() == data, "every buffered byte arrived before EOF");
        assert!(t.is_closing());
    });
}

#[test]
fn close_with_data_buffered_is_closing_at_once() {
    run(|lp| async move {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let l2 = lp.clone();
        let (t, p) = lp.connect_write_pipe(move || Recorder::new(&l2), w).await.unwrap();
        t.write(&vec![7u8; 1 << 20]).unwrap();
        t.close();
        assert!(t.is_closing());
        assert!(t.get_write_buffer_size() > 0);
        drop(r);
        let lost = p.borrow().lost.clone();
        within("lost", lost).await;
    });
}
