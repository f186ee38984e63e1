//! `sendfile` over a transport (TR-12): while it runs, the transport takes
//! no other data; a peer that goes away mid-file is an OS error.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use loop_core::Loop;
use loop_transports::{ConnectOptions, Error, NetExt, Server, TransportRef};
use util::{Ev, Recorder, recording_server, run, wait_until, within};

/// A task running `sendfile`: its result, and the file back.
type SendfileTask = loop_core::Task<(Result<u64, Error>, std::fs::File)>;

/// Starts `sendfile` in a task; returns the task and a flag that is set
/// when the task has started (in the same step, the first poll of
/// `sendfile` runs until it has to wait).
fn start_sendfile(
    lp: &Loop,
    t: &TransportRef,
    file: std::fs::File,
    fallback: bool,
) -> (SendfileTask, Rc<Cell<bool>>) {
    let started = Rc::new(Cell::new(false));
    let (l, t, s) = (lp.clone(), t.clone(), started.clone());
    let task = lp
        .create_task(async move {
            s.set(true);
            let r = l.sendfile(&t, &file, 0, None, fallback).await;
            (r, file)
        })
        .unwrap();
    (task, started)
}

fn assert_refused(t: &TransportRef) {
    let r = t.write(b"data");
    assert!(matches!(r, Err(Error::SendfileInProgress)), "write during sendfile: {r:?}");
    let r = t.writelines(&[b"da", b"ta"]);
    assert!(matches!(r, Err(Error::SendfileInProgress)), "writelines during sendfile: {r:?}");
    let r = t.write_eof();
    assert!(matches!(r, Err(Error::SendfileInProgress)), "write_eof during sendfile: {r:?}");
}

/// A connection to a recording server whose side starts with reading
/// paused, so a sender fills the socket buffers and then has to wait.
async fn paused_connection(lp: &Loop) -> (Server, TransportRef, Rc<RefCell<Recorder>>) {
    let (server, port, conns) = recording_server(lp, |r| {
        r.on_made = Some(Box::new(|t: &TransportRef| t.pause_reading()));
    })
    .await;
    let l2 = lp.clone();
    let (t, _client) = lp
        .create_connection(move || Recorder::new(&l2), "127.0.0.1", port, ConnectOptions::default())
        .await
        .unwrap();
    wait_until("the server's connection", || !conns.borrow().is_empty()).await;
    let peer = conns.borrow()[0].clone();
    (server, t, peer)
}

/// Resumes the peer, lets `task` finish, writes a tail, closes, and checks
/// the peer received `head`, the file and the tail, in that order, nothing
/// else.
async fn finish_and_check(
    task: SendfileTask,
    t: TransportRef,
    peer: Rc<RefCell<Recorder>>,
    head: &[u8],
    data: &[u8],
) {
    let peer_t = peer.borrow().transport.clone().unwrap();
    peer_t.resume_reading();
    let (r, _f) = task.await.unwrap();
    assert_eq!(r.unwrap(), data.len() as u64);
    t.write(b"TAIL").unwrap();
    t.close();
    let lost = peer.borrow().lost.clone();
    within("the peer's connection_lost", lost).await;
    let mut want = head.to_vec();
    want.extend_from_slice(data);
    want.extend_from_slice(b"TAIL");
    let received = Recorder::data(&peer.borrow().log);
    assert_eq!(received.len(), want.len(), "bytes received");
    assert!(received == want, "the bytes arrived in a different order than written");
    assert!(peer.borrow().log.borrow().contains(&Ev::Eof));
}

#[test]
fn writes_during_a_native_sendfile_are_refused_and_never_interleave() {
    run(|lp| async move {
        let (server, t, peer) = paused_connection(&lp).await;
        let (f, data) = util::temp_file("sendfile-transport", 16 << 20);
        t.write(b"HEAD").unwrap();
        let (task, started) = start_sendfile(&lp, &t, f, false);
        wait_until("the sendfile task started", || started.get()).await;
        assert!(!task.done(), "the paused peer cannot have taken 16 MiB");
        assert_refused(&t);
        assert_eq!(t.get_write_buffer_size(), 0, "nothing refused was buffered");
        // A second sendfile on the same transport is refused too.
        let (f2, _) = util::temp_file("sendfile-transport", 10);
        let r = lp.sendfile(&t, &f2, 0, None, true).await;
        assert!(matches!(r, Err(Error::SendfileInProgress)), "{r:?}");
        finish_and_check(task, t, peer, b"HEAD", &data).await;
        server.close();
    });
}

#[test]
fn writes_during_a_fallback_sendfile_are_refused_and_never_interleave() {
    run(|lp| async move {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        // sendfile(2) refuses an O_APPEND destination: the fallback runs.
        let flags = rustix::fs::fcntl_getfl(&a).unwrap();
        rustix::fs::fcntl_setfl(&a, flags | rustix::fs::OFlags::APPEND).unwrap();
        let l2 = lp.clone();
        let opts = ConnectOptions::default().with_sock(Some(a.into()));
        let (t, _c) = lp.create_connection(move || Recorder::new(&l2), "", 0, opts).await.unwrap();
        let l3 = lp.clone();
        let opts = ConnectOptions::default().with_sock(Some(b.into()));
        let (peer_t, peer) = lp
            .create_connection(
                move || {
                    let mut r = Recorder::new(&l3);
                    r.on_made = Some(Box::new(|t: &TransportRef| t.pause_reading()));
                    r
                },
                "",
                0,
                opts,
            )
            .await
            .unwrap();
        assert!(!peer_t.is_reading());
        let (f, data) = util::temp_file("sendfile-transport", 8 << 20);
        t.write(b"HEAD").unwrap();
        let (task, started) = start_sendfile(&lp, &t, f, true);
        wait_until("the sendfile task started", || started.get()).await;
        assert!(!task.done(), "the paused peer cannot have taken 8 MiB");
        let buffered = t.get_write_buffer_size();
        assert_refused(&t);
        assert_eq!(t.get_write_buffer_size(), buffered, "nothing refused was buffered");
        finish_and_check(task, t, peer, b"HEAD", &data).await;
    });
}
