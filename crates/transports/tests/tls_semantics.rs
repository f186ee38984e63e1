//! TLS between tulip clients and servers: echo over TLS 1.2 and 1.3,
//! extra info, close with close_notify, abort, flow control, `start_tls`
//! and TLS in TLS. fd counts are checked by `util::run`.

mod util;

use std::cell::RefCell;
use std::rc::Rc;

use loop_transports::{
    ConnectOptions, Error, ExtraInfo, ExtraKey, NetExt, ServerOptions, StreamProtocolRef,
    TransportRef,
};
use util::tls::{Pki, Ver};
use util::{Echo, Ev, Recorder, run, wait_until, within};

async fn tls_echo_server(
    lp: &loop_core::Loop,
    pki: &Pki,
    v: Ver,
) -> (loop_transports::Server, u16) {
    let opts = ServerOptions::default().with_tls(Some(pki.server(v)));
    let server = lp.create_server(Echo::default, "127.0.0.1", 0, opts).await.unwrap();
    let port = server.addresses()[0].port().unwrap();
    (server, port)
}

fn echo_roundtrip(v: Ver, expect_version: &'static str) {
    run(move |lp| async move {
        let pki = Pki::localhost();
        let (server, port) = tls_echo_server(&lp, &pki, v).await;
        let l2 = lp.clone();
        let opts =
            ConnectOptions::default().with_tls(Some(pki.client(v).server_hostname("localhost")));
        let (t, client) = lp
            .create_connection(move || Recorder::new(&l2), "127.0.0.1", port, opts)
            .await
            .unwrap();
        assert_eq!(client.borrow().log.borrow()[0], Ev::Made, "connection_made after handshake");
        assert_eq!(
            t.get_extra_info("ssl_protocol"),
            Some(ExtraInfo::Text(expect_version.to_owned()))
        );
        assert!(
            matches!(t.get_extra_info("cipher"), Some(ExtraInfo::Text(c)) if c.starts_with("TLS"))
        );
        match t.extra_info(ExtraKey::PeerCert) {
            Some(ExtraInfo::Bytes(chain)) => assert_eq!(chain[0], pki.leaf.as_ref().to_vec()),
            other => panic!("peercert: {other:?}"),
        }
        assert_eq!(
            t.get_extra_info("server_hostname"),
            Some(ExtraInfo::Text("localhost".to_owned()))
        );
        assert!(t.peername().is_some(), "peername comes from the socket beneath");
        assert!(!t.can_write_eof());
        assert!(matches!(t.write_eof(), Err(Error::Unsupported(_))));
        // Small and large writes (a large one spans several records).
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        t.write(b"hello ").unwrap();
        t.writelines(&[b"tls", b" world"]).unwrap();
        t.write(&big).unwrap();
        let mut want = b"hello tls world".to_vec();
        want.extend_from_slice(&big);
        let log = client.borrow().log.clone();
        wait_until("echo", || Recorder::data(&log).len() >= want.len()).await;
        assert_eq!(Recorder::data(&log), want);
        t.close();
        assert!(matches!(t.write(b"late"), Err(Error::Closed)), "write after close is refused");
        let lost = client.borrow().lost.clone();
        assert_eq!(within("connection_lost", lost).await, None);
        let evs = log.borrow().clone();
        assert_eq!(evs.iter().filter(|e| matches!(e, Ev::Lost(_))).count(), 1);
        wait_until("server connections closed", || server.active_connections() == 0).await;
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn echo_over_tls13() {
    echo_roundtrip(Ver::V13, "TLSv1.3");
}

#[test]
fn echo_over_tls12() {
    echo_roundtrip(Ver::V12, "TLSv1.2");
}

/// ALPN and SNI as the server saw them.
type Seen = (Option<ExtraInfo>, Option<ExtraInfo>);

#[test]
fn alpn_and_server_side_sni_are_reported() {
    run(|lp| async move {
        let pki = Pki::localhost();
        let seen: Rc<RefCell<Option<Seen>>> = Rc::default();
        let s2 = seen.clone();
        let opts = ServerOptions::default().with_tls(Some(loop_transports::TlsAccept::new(
            pki.server_config(Ver::Both, &[b"h2", b"http/1.1"]),
        )));
        let l2 = lp.clone();
        let server = lp
            .create_server(
                move || {
                    let mut r = Recorder::new(&l2);
                    let s3 = s2.clone();
                    r.on_made = Some(Box::new(move |t: &TransportRef| {
                        *s3.borrow_mut() = Some((
                            t.get_extra_info("alpn_protocol"),
                            t.get_extra_info("server_hostname"),
                        ));
                    }));
                    r
                },
                "127.0.0.1",
                0,
                opts,
            )
            .await
            .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let tls = loop_transports::TlsConnect::new(pki.client_config(Ver::Both, &[b"http/1.1"]));
        let opts = ConnectOptions::default().with_tls(Some(tls.server_hostname("localhost")));
        let l3 = lp.clone();
        let (t, _c) = lp
            .create_connection(move || Recorder::new(&l3), "127.0.0.1", port, opts)
            .await
            .unwrap();
        assert_eq!(t.get_extra_info("alpn_protocol"), Some(ExtraInfo::Text("http/1.1".into())));
        wait_until("server connection_made", || seen.borrow().is_some()).await;
        let (alpn, sni) = seen.borrow().clone().unwrap();
        assert_eq!(alpn, Some(ExtraInfo::Text("http/1.1".into())));
        assert_eq!(sni, Some(ExtraInfo::Text("localhost".into())));
        t.abort();
        wait_until("server connection gone", || server.active_connections() == 0).await;
        server.close();
    });
}

#[test]
fn server_hostname_defaults_to_the_host() {
    run(|lp| async move {
        let pki = Pki::localhost();
        let (server, port) = tls_echo_server(&lp, &pki, Ver::Both).await;
        // "localhost" is both the host connected to and the name checked.
        let opts = ConnectOptions::default().with_tls(Some(pki.client(Ver::Both)));
        let l2 = lp.clone();
        let (t, _c) = lp
            .create_connection(move || Recorder::new(&l2), "localhost", port, opts)
            .await
            .unwrap();
        assert_eq!(t.get_extra_info("server_hostname"), Some(ExtraInfo::Text("localhost".into())));
        t.close();
        wait_until("server connection gone", || server.active_connections() == 0).await;
        server.close();
    });
}

#[test]
fn abort_sends_nothing() {
    run(|lp| async move {
        let pki = Pki::localhost();
        let (server, port, conns) = tls_recording_server(&lp, &pki).await;
        let opts = ConnectOptions::default()
            .with_tls(Some(pki.client(Ver::V13).server_hostname("localhost")));
        let l2 = lp.clone();
        let (t, client) = lp
            .create_connection(move || Recorder::new(&l2), "127.0.0.1", port, opts)
            .await
            .unwrap();
        t.write(b"dropped or not").unwrap();
        t.abort();
        let lost = client.borrow().lost.clone();
        assert_eq!(within("client lost", lost).await, None);
        wait_until("server side lost", || {
            conns.borrow().first().is_some_and(|c| c.borrow().lost.done())
        })
        .await;
        // The write was still buffered: abort dropped it, and sent no
        // close_notify (the server sees EOF or a reset, never data).
        let log = conns.borrow()[0].borrow().log.borrow().clone();
        assert!(!log.iter().any(|e| matches!(e, Ev::Data(_))), "nothing was sent: {log:?}");
        assert_eq!(log.iter().filter(|e| matches!(e, Ev::Lost(_))).count(), 1);
        server.close();
    });
}

/// A TLS server recording its connections.
async fn tls_recording_server(
    lp: &loop_core::Loop,
    pki: &Pki,
) -> (loop_transports::Server, u16, util::Conns) {
    let conns: util::Conns = Rc::default();
    let c2 = conns.clone();
    let l2 = lp.clone();
    let opts = ServerOptions::default().with_tls(Some(pki.server(Ver::Both)));
    let server = lp
        .create_server(
            move || {
                let r = Rc::new(RefCell::new(Recorder::new(&l2)));
                c2.borrow_mut().push(r.clone());
                util::SharedRecorder(r)
            },
            "127.0.0.1",
            0,
            opts,
        )
        .await
        .unwrap();
    let port = server.addresses()[0].port().unwrap();
    (server, port, conns)
}

#[test]
fn close_sends_close_notify_and_the_peer_answers() {
    run(|lp| async move {
        let pki = Pki::localhost();
        let (server, port, conns) = tls_recording_server(&lp, &pki).await;
        let opts = ConnectOptions::default()
            .with_tls(Some(pki.client(Ver::V13).server_hostname("localhost")));
        let l2 = lp.clone();
        let (t, client) = lp
            .create_connection(move || Recorder::new(&l2), "127.0.0.1", port, opts)
            .await
            .unwrap();
        t.write(b"last words").unwrap();
        t.close();
        assert!(t.is_closing());
        let lost = client.borrow().lost.clone();
        assert_eq!(within("client lost", lost).await, None);
        wait_until("server side lost", || {
            conns.borrow().first().is_some_and(|c| c.borrow().lost.done())
        })
        .await;
        let c = conns.borrow()[0].clone();
        assert_eq!(Recorder::data(&c.borrow().log), b"last words", "flushed before close_notify");
        let log = c.borrow().log.borrow().clone();
        assert!(log.contains(&Ev::Eof), "close_notify reaches eof_received: {log:?}");
        assert_eq!(log.last(), Some(&Ev::Lost(None)));
        server.close();
    });
}

#[test]
fn flow_control_counts_ciphertext_and_pauses_and_resumes() {
    run(|lp| async move {
        let pki = Pki::localhost();
        // The server reads nothing until told to.
        let (server, port, conns) = tls_recording_server(&lp, &pki).await;
        let opts = ConnectOptions::default()
            .with_tls(Some(pki.client(Ver::V13).server_hostname("localhost")));
        let l2 = lp.clone();
        let (t, client) = lp
            .create_connection(move || Recorder::new(&l2), "127.0.0.1", port, opts)
            .await
            .unwrap();
        wait_until("server made", || {
            conns.borrow().first().is_some_and(|c| c.borrow().transport.is_some())
        })
        .await;
        let server_t = conns.borrow()[0].borrow().transport.clone().unwrap();
        server_t.pause_reading();
        assert!(!server_t.is_reading());
        t.set_write_buffer_limits(Some(64 * 1024), Some(16 * 1024)).unwrap();
        assert_eq!(t.get_write_buffer_limits().high, 64 * 1024);
        let chunk = vec![7u8; 64 * 1024];
        let log = client.borrow().log.clone();
        let mut sent = 0usize;
        while !log.borrow().contains(&Ev::Pause) {
            t.write(&chunk).unwrap();
            sent += chunk.len();
            assert!(sent < 512 * 1024 * 1024, "never paused");
            loop_core::sleep(std::time::Duration::from_millis(1)).await.unwrap();
        }
        assert!(t.get_write_buffer_size() > 64 * 1024, "paused over the high-water mark");
        server_t.resume_reading();
        wait_until("resume_writing", || log.borrow().contains(&Ev::Resume)).await;
        let c = conns.borrow()[0].clone();
        wait_until("all data", || Recorder::data(&c.borrow().log).len() == sent).await;
        t.close();
        let lost = client.borrow().lost.clone();
        within("client lost", lost).await;
        server.close();
    });
}

/// A protocol that sends a plain greeting, then is upgraded with
/// `start_tls` by the test.
#[test]
fn start_tls_upgrades_a_plain_connection_and_the_old_transport_is_unusable() {
    run(|lp| async move {
        let pki = Pki::localhost();
        // Plain server: on "STARTTLS" it upgrades (server side).
        let l2 = lp.clone();
        let accept = pki.server(Ver::Both);
        let upgraded: Rc<RefCell<Option<TransportRef>>> = Rc::default();
        let up2 = upgraded.clone();
        let server_proto: Rc<RefCell<Option<Rc<RefCell<Recorder>>>>> = Rc::default();
        let sp2 = server_proto.clone();
        let server = lp
            .create_server(
                move || {
                    let l3 = l2.clone();
                    let accept = accept.clone();
                    let up3 = up2.clone();
                    let mut r = Recorder::new(&l2);
                    let me: Rc<RefCell<Option<StreamProtocolRef>>> = Rc::default();
                    let me2 = me.clone();
                    r.on_data = Some(Box::new(move |t, data| {
                        if data == b"STARTTLS\n" {
                            t.write(b"GO\n").unwrap();
                            let (t, l4, accept, up4) =
                                (t.clone(), l3.clone(), accept.clone(), up3.clone());
                            // Taken, not cloned: this closure lives in the
                            // protocol it names, so keeping the name would be
                            // a reference cycle (LeakSanitizer reported it).
                            let p = me2.borrow_mut().take().unwrap();
                            l3.create_task(async move {
                                let tt = l4.start_tls(&t, p, accept).await.unwrap();
                                *up4.borrow_mut() = Some(tt);
                            })
                            .unwrap();
                        }
                    }));
                    let r = Rc::new(RefCell::new(r));
                    *me.borrow_mut() = Some(StreamProtocolRef::from_dyn(
                        Rc::new(RefCell::new(util::SharedRecorder(r.clone()))),
                        "server",
                    ));
                    *sp2.borrow_mut() = Some(r.clone());
                    util::SharedRecorder(r)
                },
                "127.0.0.1",
                0,
                ServerOptions::default(),
            )
            .await
            .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let l5 = lp.clone();
        let (plain, client) = lp
            .create_connection(
                move || Recorder::new(&l5),
                "127.0.0.1",
                port,
                ConnectOptions::default(),
            )
            .await
            .unwrap();
        plain.write(b"STARTTLS\n").unwrap();
        let log = client.borrow().log.clone();
        wait_until("GO", || Recorder::data(&log) == b"GO\n").await;
        let proto = StreamProtocolRef::streaming(client.clone());
        let tls = pki.client(Ver::Both).server_hostname("localhost");
        let t = lp.start_tls(&plain, proto, tls).await.unwrap();
        assert_eq!(t.get_extra_info("ssl_protocol"), Some(ExtraInfo::Text("TLSv1.3".into())));
        // The old transport refuses plaintext; the new one works.
        assert!(matches!(plain.write(b"leak"), Err(Error::InvalidState(_))));
        assert!(!plain.can_write_eof());
        // It cannot be upgraded a second time (the shim would be stolen).
        let tls = pki.client(Ver::Both).server_hostname("localhost");
        let again = lp.start_tls(&plain, StreamProtocolRef::streaming(client.clone()), tls).await;
        assert!(matches!(again, Err(Error::InvalidState(_))), "{again:?}");
        t.write(b"secret").unwrap();
        wait_until("server upgraded", || upgraded.borrow().is_some()).await;
        let sr = server_proto.borrow().clone().unwrap();
        wait_until("secret", || Recorder::data(&sr.borrow().log).ends_with(b"secret")).await;
        // Closing the old handle closes the TLS connection, with close_notify.
        plain.close();
        let lost = client.borrow().lost.clone();
        assert_eq!(within("client lost", lost).await, None);
        let made = log.borrow().iter().filter(|e| **e == Ev::Made).count();
        assert_eq!(made, 1, "start_tls does not call connection_made again");
        wait_until("server lost", || sr.borrow().lost.done()).await;
        server.close();
    });
}

#[test]
fn tls_in_tls_through_a_tls_proxy_hop() {
    run(|lp| async move {
        // Inner server: TLS echo for "inner.test". Proxy: TLS server for
        // "proxy.test" that relays bytes to the inner server over TCP.
        let inner_pki = Pki::new(&["inner.test"]);
        let proxy_pki = Pki::new(&["proxy.test"]);
        let (inner, inner_port) = tls_echo_server(&lp, &inner_pki, Ver::Both).await;
        let l2 = lp.clone();
        let opts = ServerOptions::default().with_tls(Some(proxy_pki.server(Ver::Both)));
        let proxy = lp
            .create_server(move || util::Relay::new(&l2, inner_port), "127.0.0.1", 0, opts)
            .await
            .unwrap();
        let proxy_port = proxy.addresses()[0].port().unwrap();
        let l3 = lp.clone();
        let opts = ConnectOptions::default()
            .with_tls(Some(proxy_pki.client(Ver::Both).server_hostname("proxy.test")));
        let (outer, client) = lp
            .create_connection(move || Recorder::new(&l3), "127.0.0.1", proxy_port, opts)
            .await
            .unwrap();
        let proto = StreamProtocolRef::streaming(client.clone());
        let tls = inner_pki.client(Ver::Both).server_hostname("inner.test");
        let t = lp.start_tls(&outer, proto, tls).await.unwrap();
        match t.extra_info(ExtraKey::PeerCert) {
            Some(ExtraInfo::Bytes(chain)) => assert_eq!(chain[0], inner_pki.leaf.as_ref().to_vec()),
            other => panic!("inner peercert: {other:?}"),
        }
        t.write(b"through two layers").unwrap();
        let log = client.borrow().log.clone();
        wait_until("echo", || Recorder::data(&log) == b"through two layers").await;
        t.close();
        let lost = client.borrow().lost.clone();
        assert_eq!(within("client lost", lost).await, None);
        wait_until("proxy idle", || proxy.active_connections() == 0).await;
        wait_until("inner idle", || inner.active_connections() == 0).await;
        proxy.close();
        inner.close();
    });
}
