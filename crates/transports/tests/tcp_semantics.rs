//! Protocol/transport semantics over real TCP connections on 127.0.0.1
//! (SPEC TR-01, TR-02, TR-14).

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use loop_core::Loop;
use loop_transports::{
    BaseProtocol, BufferedProtocol, ConnectOptions, Error, ExtraInfo, ExtraKey, NetExt, Protocol,
    ServerOptions, StreamProtocolRef, TransportRef, WriteBufferLimits,
};
use util::{Echo, Ev, Recorder, recording_server, run, wait_until, within};

async fn connect(lp: &Loop, port: u16) -> (TransportRef, Rc<RefCell<Recorder>>) {
    let l2 = lp.clone();
    lp.create_connection(move || Recorder::new(&l2), "127.0.0.1", port, ConnectOptions::default())
        .await
        .unwrap()
}

#[test]
fn callback_order_and_exactly_once() {
    run(|lp| async move {
        let (server, port, conns) = recording_server(&lp, |_| {}).await;
        let (t, client) = connect(&lp, port).await;
        assert_eq!(*client.borrow().log.borrow(), vec![Ev::Made], "connection_made before return");
        t.write(b"ping").unwrap();
        t.write_eof().unwrap();
        wait_until("server conn", || !conns.borrow().is_empty()).await;
        let srv = conns.borrow()[0].clone();
        let lost = srv.borrow().lost.clone();
        assert_eq!(within("server lost", lost).await, None);
        let log = srv.borrow().log.borrow().clone();
        assert_eq!(log, vec![Ev::Made, Ev::Data(b"ping".to_vec()), Ev::Eof, Ev::Lost(None)]);
        // The server closed on EOF (eof_received returned false): the client
        // sees EOF then connection_lost, once each.
        let lost = client.borrow().lost.clone();
        within("client lost", lost).await;
        let log = client.borrow().log.borrow().clone();
        assert_eq!(log, vec![Ev::Made, Ev::Eof, Ev::Lost(None)]);
        // Nothing after connection_lost.
        assert!(matches!(t.write(b"x"), Err(Error::Closed)));
        t.close();
        t.abort();
        loop_core::sleep(std::time::Duration::from_millis(20)).await.unwrap();
        assert_eq!(client.borrow().log.borrow().len(), 3);
        assert!(t.get_protocol().is_none());
        server.close();
    });
}

#[test]
fn eof_received_true_keeps_the_connection_half_open() {
    run(|lp| async move {
        let (server, port, conns) = recording_server(&lp, |r| r.keep_open_on_eof = true).await;
        let (t, client) = connect(&lp, port).await;
        t.write_eof().unwrap();
        wait_until("server eof", || {
            conns.borrow().first().is_some_and(|c| c.borrow().log.borrow().contains(&Ev::Eof))
        })
        .await;
        let srv = conns.borrow()[0].clone();
        let st = srv.borrow().transport.clone().unwrap();
        assert!(!st.is_closing(), "kept open");
        st.write(b"after eof").unwrap();
        st.close();
        let lost = client.borrow().lost.clone();
        within("client lost", lost).await;
        assert_eq!(Recorder::data(&client.borrow().log), b"after eof");
        server.close();
    });
}

#[test]
fn close_flushes_then_connection_lost_none() {
    run(|lp| async move {
        let (server, port, conns) = recording_server(&lp, |_| {}).await;
        let (t, client) = connect(&lp, port).await;
        let big = vec![b'z'; 4 * 1024 * 1024];
        t.write(&big).unwrap();
        t.write(b"end").unwrap();
        t.close();
        assert!(t.is_closing());
        assert!(matches!(t.write(b"more"), Err(Error::Closed)), "write after close");
        let lost = client.borrow().lost.clone();
        assert_eq!(within("client lost", lost).await, None);
        wait_until("server got everything", || {
            conns.borrow().first().is_some_and(|c| c.borrow().lost.done())
        })
        .await;
        let srv = conns.borrow()[0].clone();
        assert_eq!(Recorder::data(&srv.borrow().log).len(), big.len() + 3);
        server.close();
    });
}

#[test]
fn abort_drops_the_buffer() {
    run(|lp| async move {
        let (server, port, conns) = recording_server(&lp, |_| {}).await;
        let (t, client) = connect(&lp, port).await;
        wait_until("accepted", || !conns.borrow().is_empty()).await;
        // Make the peer stop reading so data stays buffered.
        conns.borrow()[0].borrow().transport.as_ref().unwrap().pause_reading();
        let big = vec![b'a'; 16 * 1024 * 1024];
        t.write(&big).unwrap();
        assert!(t.get_write_buffer_size() > 0, "the socket refused some");
        t.abort();
        assert_eq!(t.get_write_buffer_size(), 0, "dropped");
        let lost = client.borrow().lost.clone();
        assert_eq!(within("client lost", lost).await, None);
        let srv = conns.borrow()[0].clone();
        srv.borrow().transport.as_ref().unwrap().resume_reading();
        let lost = srv.borrow().lost.clone();
        within("server lost", lost).await;
        assert!(Recorder::data(&srv.borrow().log).len() < big.len());
        server.close();
    });
}

#[test]
fn write_and_close_from_inside_callbacks() {
    run(|lp| async move {
        // Server: echo "<data>!" then close, from inside data_received.
        let (server, port, _) = recording_server(&lp, |r| {
            r.on_data = Some(Box::new(|t, d| {
                t.write(d).unwrap();
                t.write(b"!").unwrap();
                t.close();
            }))
        })
        .await;
        let (t, client) = connect(&lp, port).await;
        t.write(b"hi").unwrap();
        let lost = client.borrow().lost.clone();
        within("client lost", lost).await;
        assert_eq!(Recorder::data(&client.borrow().log), b"hi!");
        server.close();

        // Closing from inside connection_made.
        let (server, port, conns) = recording_server(&lp, |r| {
            r.on_made = Some(Box::new(|t| {
                t.write(b"bye").unwrap();
                t.close();
            }))
        })
        .await;
        let (_t, client) = connect(&lp, port).await;
        let lost = client.borrow().lost.clone();
        within("client lost", lost).await;
        assert_eq!(Recorder::data(&client.borrow().log), b"bye");
        let srv = conns.borrow()[0].clone();
        let lost = srv.borrow().lost.clone();
        within("server lost", lost).await;
        assert_eq!(*srv.borrow().log.borrow(), vec![Ev::Made, Ev::Lost(None)]);
        server.close();
    });
}

#[test]
fn write_eof_twice_and_write_after_eof_are_errors() {
    run(|lp| async move {
        let (server, port, _) = recording_server(&lp, |_| {}).await;
        let (t, client) = connect(&lp, port).await;
        assert!(t.can_write_eof());
        t.write_eof().unwrap();
        assert!(matches!(t.write_eof(), Err(Error::InvalidState(_))));
        assert!(matches!(t.write(b"x"), Err(Error::InvalidState(_))));
        let lost = client.borrow().lost.clone();
        within("client lost", lost).await;
        server.close();
    });
}

#[test]
fn extra_info_typed_and_by_name() {
    run(|lp| async move {
        let (server, port, _) = recording_server(&lp, |_| {}).await;
        let (t, _client) = connect(&lp, port).await;
        let peer = t.peername().unwrap();
        assert_eq!(peer.port(), Some(port));
        assert_eq!(t.get_extra_info("peername"), Some(ExtraInfo::Address(peer.clone())));
        let local = t.sockname().unwrap();
        assert_eq!(t.extra_info(ExtraKey::SockName), Some(ExtraInfo::Address(local)));
        let fd = t.get_extra_info("socket").and_then(|i| i.as_fd()).unwrap();
        assert!(fd >= 0);
        assert_eq!(t.get_extra_info("pipe"), None);
        assert_eq!(t.get_extra_info("no-such-key"), None);
        t.close();
        server.close();
    });
}

#[test]
fn pause_and_resume_reading() {
    run(|lp| async move {
        let (server, port, conns) = recording_server(&lp, |_| {}).await;
        let (t, client) = connect(&lp, port).await;
        assert!(t.is_reading());
        t.pause_reading();
        t.pause_reading();
        assert!(!t.is_reading());
        wait_until("accepted", || !conns.borrow().is_empty()).await;
        let st = conns.borrow()[0].borrow().transport.clone().unwrap();
        st.write(b"data").unwrap();
        // Give the data time to arrive; it must not be delivered.
        let l = lp.clone();
        let f = l.create_future::<()>();
        let f2 = f.clone();
        l.call_later(std::time::Duration::from_millis(50), move || {
            f2.set_result(()).unwrap();
        })
        .unwrap();
        f.await.unwrap();
        assert_eq!(Recorder::data(&client.borrow().log), b"");
        t.resume_reading();
        assert!(t.is_reading());
        wait_until("data after resume", || Recorder::data(&client.borrow().log) == b"data").await;
        t.close();
        server.close();
    });
}

#[test]
fn set_and_get_protocol() {
    run(|lp| async move {
        let (server, port, conns) = recording_server(&lp, |_| {}).await;
        let (t, first) = connect(&lp, port).await;
        let current = t.get_protocol().unwrap();
        assert!(current.ptr_eq(&StreamProtocolRef::streaming(first.clone())));
        let second = Rc::new(RefCell::new(Recorder::new(&lp)));
        t.set_protocol(StreamProtocolRef::streaming(second.clone()));
        assert!(t.get_protocol().unwrap().ptr_eq(&StreamProtocolRef::streaming(second.clone())));
        wait_until("accepted", || !conns.borrow().is_empty()).await;
        conns.borrow()[0].borrow().transport.as_ref().unwrap().write(b"to second").unwrap();
        wait_until("second gets data", || Recorder::data(&second.borrow().log) == b"to second")
            .await;
        assert_eq!(Recorder::data(&first.borrow().log), b"");
        t.close();
        let lost = second.borrow().lost.clone();
        within("second lost", lost).await;
        server.close();
    });
}

#[test]
fn buffered_protocol_reads_into_its_own_buffer() {
    struct Buf {
        buf: Vec<u8>,
        got: Rc<RefCell<Vec<u8>>>,
        eof: Rc<Cell<bool>>,
    }
    impl BaseProtocol for Buf {}
    impl BufferedProtocol for Buf {
        fn get_buffer(&mut self, hint: usize) -> &mut [u8] {
            assert!(hint > 0);
            &mut self.buf[..]
        }
        fn buffer_updated(&mut self, n: usize) {
            self.got.borrow_mut().extend_from_slice(&self.buf[..n]);
        }
        fn eof_received(&mut self) -> bool {
            self.eof.set(true);
            false
        }
    }
    run(|lp| async move {
        let server = lp.create_server(Echo::default, "127.0.0.1", 0, ServerOptions::default());
        let server = server.await.unwrap();
        let port = server.addresses()[0].port().unwrap();
        let got = Rc::new(RefCell::new(Vec::new()));
        let eof = Rc::new(Cell::new(false));
        let (g, e) = (got.clone(), eof.clone());
        let (t, _) = lp
            .create_connection(
                move || Buf { buf: vec![0; 7], got: g, eof: e },
                "127.0.0.1",
                port,
                ConnectOptions::default(),
            )
            .await
            .unwrap();
        let msg: Vec<u8> = (0..100u8).collect();
        t.write(&msg).unwrap();
        wait_until("echo", || got.borrow().len() == 100).await;
        assert_eq!(*got.borrow(), msg);
        t.close();
        server.close();
    });
}

#[test]
fn flow_control_pause_strictly_over_high_resume_at_low() {
    run(|lp| async move {
        let (server, port, conns) = recording_server(&lp, |_| {}).await;
        let (t, client) = connect(&lp, port).await;
        wait_until("accepted", || !conns.borrow().is_empty()).await;
        let peer = conns.borrow()[0].borrow().transport.clone().unwrap();
        peer.pause_reading();
        assert_eq!(t.get_write_buffer_limits(), WriteBufferLimits { low: 16384, high: 65536 });
        assert!(matches!(
            t.set_write_buffer_limits(Some(10), Some(11)),
            Err(Error::InvalidArgument(_))
        ));
        t.set_write_buffer_limits(Some(0), None).unwrap();
        assert_eq!(t.get_write_buffer_limits(), WriteBufferLimits { low: 0, high: 0 });
        // Fill the socket until it refuses data.
        t.set_write_buffer_limits(Some(usize::MAX / 2), None).unwrap();
        let chunk = vec![1u8; 1 << 20];
        while t.get_write_buffer_size() == 0 {
            t.write(&chunk).unwrap();
        }
        // Let the loop settle, then put the high mark exactly at the size.
        loop_core::sleep(std::time::Duration::from_millis(20)).await.unwrap();
        let size = t.get_write_buffer_size();
        t.set_write_buffer_limits(Some(size), Some(0)).unwrap();
        loop_core::sleep(std::time::Duration::from_millis(20)).await.unwrap();
        assert!(!client.borrow().log.borrow().contains(&Ev::Pause), "equal to high: no pause");
        t.write(b"x").unwrap();
        assert!(!client.borrow().log.borrow().contains(&Ev::Pause), "never from inside write");
        wait_until("pause", || client.borrow().log.borrow().contains(&Ev::Pause)).await;
        t.write(b"more").unwrap();
        loop_core::sleep(std::time::Duration::from_millis(20)).await.unwrap();
        peer.resume_reading();
        wait_until("resume", || client.borrow().log.borrow().contains(&Ev::Resume)).await;
        assert_eq!(t.get_write_buffer_size(), 0, "low mark 0: resumed only when empty");
        let pauses = client.borrow().log.borrow().iter().filter(|e| **e == Ev::Pause).count();
        let resumes = client.borrow().log.borrow().iter().filter(|e| **e == Ev::Resume).count();
        assert_eq!((pauses, resumes), (1, 1), "paired");
        t.close();
        server.close();
    });
}

#[test]
fn writelines_sends_everything_in_order() {
    run(|lp| async move {
        let (server, port, conns) = recording_server(&lp, |_| {}).await;
        let (t, _) = connect(&lp, port).await;
        let big = vec![b'b'; 40 * 1024];
        t.writelines(&[b"small-", &big, b"-tail"]).unwrap();
        t.writelines(&[b"x", b"y"]).unwrap();
        t.close();
        wait_until("server lost", || {
            conns.borrow().first().is_some_and(|c| c.borrow().lost.done())
        })
        .await;
        let data = Recorder::data(&conns.borrow()[0].borrow().log);
        let mut want = b"small-".to_vec();
        want.extend_from_slice(&big);
        want.extend_from_slice(b"-tailxy");
        assert_eq!(data, want);
        server.close();
    });
}

#[test]
fn panic_in_data_received_is_reported_and_closes_only_that_connection() {
    struct Bomb;
    impl BaseProtocol for Bomb {}
    impl Protocol for Bomb {
        fn data_received(&mut self, d: &[u8]) {
            if d.starts_with(b"boom") {
                panic!("protocol exploded");
            }
        }
    }
    run(|lp| async move {
        let seen = util::capture_exceptions(&lp);
        let server = lp.create_server(|| Bomb, "127.0.0.1", 0, ServerOptions::default());
        let server = server.await.unwrap();
        let port = server.addresses()[0].port().unwrap();
        let (t, client) = connect(&lp, port).await;
        t.write(b"boom").unwrap();
        let lost = client.borrow().lost.clone();
        within("client lost", lost).await;
        assert_eq!(seen.borrow().len(), 1);
        let ctx = seen.borrow()[0].clone();
        assert!(ctx.message.contains("data_received"), "{}", ctx.message);
        assert!(ctx.protocol.as_deref().unwrap().contains("Bomb"));
        assert!(ctx.transport.is_some());
        // The server keeps serving.
        let (t2, c2) = connect(&lp, port).await;
        t2.write(b"fine").unwrap();
        t2.close();
        let lost = c2.borrow().lost.clone();
        within("second client lost", lost).await;
        assert!(server.is_serving());
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn peer_reset_mid_write_reports_connection_lost_with_error() {
    run(|lp| async move {
        // The server aborts with SO_LINGER 0 semantics: it resets.
        let (server, port, conns) = recording_server(&lp, |_| {}).await;
        let (t, client) = connect(&lp, port).await;
        wait_until("accepted", || !conns.borrow().is_empty()).await;
        let st = conns.borrow()[0].borrow().transport.clone().unwrap();
        st.pause_reading();
        let fd = st.get_extra_info("socket").and_then(|i| i.as_fd()).unwrap();
        let chunk = vec![3u8; 1 << 20];
        while t.get_write_buffer_size() == 0 {
            t.write(&chunk).unwrap();
        }
        assert!(fd >= 0);
        // The peer goes away with unread data: the kernel resets.
        st.abort();
        let lost = client.borrow().lost.clone();
        let err = within("client lost", lost).await;
        // Either a reset error or a plain EOF, depending on timing; never a
        // hang, and the buffer is dropped.
        let _ = err;
        assert_eq!(t.get_write_buffer_size(), 0);
        assert!(matches!(t.write(b"x"), Err(Error::Closed)));
        server.close();
    });
}
