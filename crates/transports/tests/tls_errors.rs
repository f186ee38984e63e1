//! TLS failures, each typed, with `connection_lost` at most once, no
//! `connection_made` for a failed handshake, and no fd left open (checked
//! by `util::run`): untrusted certificate, name mismatch, handshake
//! timeout, peer closing mid-handshake, garbage from a non-TLS peer, an
//! alert from the peer, close during the handshake, and a flood of
//! half-finished handshakes.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use loop_transports::rustls::{self, AlertDescription, CertificateError};
use loop_transports::{
    BaseProtocol, ConnectOptions, Error, NetExt, Protocol, ServerOptions, TlsConnect, TransportRef,
};
use util::tls::{Pki, Ver};
use util::{Echo, Recorder, run, wait_until};

/// Counts `connection_made` calls of the server's protocols.
struct Counted(Rc<Cell<usize>>);
impl BaseProtocol for Counted {
    fn connection_made(&mut self, _: TransportRef) {
        self.0.set(self.0.get() + 1);
    }
}
impl Protocol for Counted {}

async fn counted_tls_server(
    lp: &loop_core::Loop,
    pki: &Pki,
    timeout: Duration,
) -> (loop_transports::Server, u16, Rc<Cell<usize>>) {
    let made = Rc::new(Cell::new(0));
    let m2 = made.clone();
    let opts =
        ServerOptions::default().with_tls(Some(pki.server(Ver::Both).handshake_timeout(timeout)));
    let server = lp.create_server(move || Counted(m2.clone()), "127.0.0.1", 0, opts).await.unwrap();
    let port = server.addresses()[0].port().unwrap();
    (server, port, made)
}

/// Connects with TLS and expects failure; checks the protocol never got
/// `connection_made`.
async fn connect_fails(lp: &loop_core::Loop, port: u16, tls: TlsConnect) -> Error {
    let l2 = lp.clone();
    let made = Rc::new(Cell::new(false));
    let m2 = made.clone();
    let opts = ConnectOptions::default().with_tls(Some(tls));
    let r = lp
        .create_connection(
            move || {
                let mut r = Recorder::new(&l2);
                r.on_made = Some(Box::new(move |_| m2.set(true)));
                r
            },
            "127.0.0.1",
            port,
            opts,
        )
        .await;
    assert!(!made.get(), "a failed handshake never calls connection_made");
    match r {
        Ok(_) => panic!("the handshake should have failed"),
        Err(e) => e,
    }
}

#[test]
fn untrusted_certificate() {
    run(|lp| async move {
        let pki = Pki::localhost();
        let other = Pki::localhost();
        let (server, port, made) = counted_tls_server(&lp, &pki, Duration::from_secs(10)).await;
        let e =
            connect_fails(&lp, port, other.client(Ver::Both).server_hostname("localhost")).await;
        assert!(
            matches!(
                e,
                Error::TlsHandshake(rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer
                ))
            ),
            "{e:?}"
        );
        wait_until("server side gone", || server.active_connections() == 0).await;
        assert_eq!(made.get(), 0, "the server's protocol never saw the failed handshake");
        server.close();
    });
}

#[test]
fn name_mismatch() {
    run(|lp| async move {
        let pki = Pki::localhost();
        let (server, port, _) = counted_tls_server(&lp, &pki, Duration::from_secs(10)).await;
        let e =
            connect_fails(&lp, port, pki.client(Ver::Both).server_hostname("example.com")).await;
        assert!(
            matches!(
                e,
                Error::TlsHandshake(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{e:?}"
        );
        // Turned off only by the loudly named constructor.
        let lax = TlsConnect::dangerous_no_hostname_check(pki.roots())
            .unwrap()
            .server_hostname("example.com");
        let l2 = lp.clone();
        let opts = ConnectOptions::default().with_tls(Some(lax));
        let (t, _) = lp
            .create_connection(move || Recorder::new(&l2), "127.0.0.1", port, opts)
            .await
            .unwrap();
        t.abort();
        // An empty name never turns checking off.
        let empty = pki.client(Ver::Both).server_hostname("");
        let l3 = lp.clone();
        let opts = ConnectOptions::default().with_tls(Some(empty));
        let r = lp.create_connection(move || Recorder::new(&l3), "127.0.0.1", port, opts).await;
        assert!(matches!(r, Err(Error::InvalidArgument(_))));
        wait_until("server side gone", || server.active_connections() == 0).await;
        server.close();
    });
}

#[test]
fn handshake_timeout_on_both_sides() {
    run(|lp| async move {
        let pki = Pki::localhost();
        // A plain server that never answers: the client times out.
        let ls = lp.clone();
        let silent =
            lp.create_server(move || Recorder::new(&ls), "127.0.0.1", 0, ServerOptions::default());
        let silent = silent.await.unwrap();
        let port = silent.addresses()[0].port().unwrap();
        let tls = pki
            .client(Ver::Both)
            .server_hostname("localhost")
            .handshake_timeout(Duration::from_millis(200));
        let e = connect_fails(&lp, port, tls).await;
        assert!(
            matches!(e, Error::TlsHandshakeTimeout(d) if d == Duration::from_millis(200)),
            "{e:?}"
        );
        wait_until("silent server's side gone", || silent.active_connections() == 0).await;
        silent.close();
        // A TLS server whose client never speaks: the server times out and
        // closes the connection.
        let (server, port, made) = counted_tls_server(&lp, &pki, Duration::from_millis(200)).await;
        let l2 = lp.clone();
        let (t, c) = lp
            .create_connection(
                move || Recorder::new(&l2),
                "127.0.0.1",
                port,
                ConnectOptions::default(),
            )
            .await
            .unwrap();
        let lost = c.borrow().lost.clone();
        util::within("server closes the silent client", lost).await;
        assert_eq!(made.get(), 0);
        drop(t);
        wait_until("server side gone", || server.active_connections() == 0).await;
        server.close();
    });
}

#[test]
fn peer_closing_mid_handshake_and_close_during_handshake() {
    run(|lp| async move {
        let pki = Pki::localhost();
        // A plain server that closes as soon as the client hello arrives.
        let l2 = lp.clone();
        let closer = lp
            .create_server(
                move || {
                    let mut r = Recorder::new(&l2);
                    r.on_data = Some(Box::new(|t, _| t.close()));
                    r
                },
                "127.0.0.1",
                0,
                ServerOptions::default(),
            )
            .await
            .unwrap();
        let port = closer.addresses()[0].port().unwrap();
        let e = connect_fails(&lp, port, pki.client(Ver::Both).server_hostname("localhost")).await;
        assert!(matches!(e, Error::TlsHandshakeEof), "{e:?}");
        closer.close();
        // A silent server; the client's future is dropped mid-handshake:
        // the connection closes cleanly, its fd too.
        let ls = lp.clone();
        let silent =
            lp.create_server(move || Recorder::new(&ls), "127.0.0.1", 0, ServerOptions::default());
        let silent = silent.await.unwrap();
        let port = silent.addresses()[0].port().unwrap();
        let l3 = lp.clone();
        let opts = ConnectOptions::default()
            .with_tls(Some(pki.client(Ver::Both).server_hostname("localhost")));
        let fut = lp.create_connection(move || Recorder::new(&l3), "127.0.0.1", port, opts);
        let r = loop_core::timeout(Duration::from_millis(100), fut).await;
        assert!(r.is_err(), "still handshaking when dropped");
        wait_until("silent server's side gone", || silent.active_connections() == 0).await;
        silent.close();
    });
}

#[test]
fn garbage_from_a_non_tls_peer_and_an_alert_from_the_peer() {
    run(|lp| async move {
        let pki = Pki::localhost();
        // The client gets HTTP instead of a server hello.
        let l2 = lp.clone();
        let http = lp
            .create_server(
                move || {
                    let mut r = Recorder::new(&l2);
                    r.on_data = Some(Box::new(|t, _| {
                        let _ = t.write(b"HTTP/1.1 400 Bad Request\r\n\r\n");
                    }));
                    r
                },
                "127.0.0.1",
                0,
                ServerOptions::default(),
            )
            .await
            .unwrap();
        let port = http.addresses()[0].port().unwrap();
        let e = connect_fails(&lp, port, pki.client(Ver::Both).server_hostname("localhost")).await;
        assert!(matches!(e, Error::TlsHandshake(_)), "{e:?}");
        http.close();
        // The TLS server gets plain text: it fails the handshake; the
        // plain client sees the connection close (after an alert).
        let (server, port, made) = counted_tls_server(&lp, &pki, Duration::from_secs(10)).await;
        let l3 = lp.clone();
        let (t, c) = lp
            .create_connection(
                move || Recorder::new(&l3),
                "127.0.0.1",
                port,
                ConnectOptions::default(),
            )
            .await
            .unwrap();
        t.write(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let lost = c.borrow().lost.clone();
        util::within("server closes", lost).await;
        assert_eq!(made.get(), 0);
        wait_until("server side gone", || server.active_connections() == 0).await;
        // An alert: a TLS 1.3-only client against a TLS 1.2-only server.
        let opts = ServerOptions::default().with_tls(Some(pki.server(Ver::V12)));
        let v12 = lp.create_server(Echo::default, "127.0.0.1", 0, opts).await.unwrap();
        let port12 = v12.addresses()[0].port().unwrap();
        let e = connect_fails(&lp, port12, pki.client(Ver::V13).server_hostname("localhost")).await;
        assert!(
            matches!(
                e,
                Error::TlsHandshake(rustls::Error::AlertReceived(
                    AlertDescription::ProtocolVersion
                ))
            ),
            "{e:?}"
        );
        wait_until("1.2 server idle", || v12.active_connections() == 0).await;
        v12.close();
        server.close();
    });
}

#[test]
fn shutdown_timeout_aborts_when_the_peer_never_answers_close_notify() {
    run(|lp| async move {
        let pki = Pki::localhost();
        // The server's protocol stops reading as soon as it is connected:
        // the client's close_notify is never read, so never answered.
        let l2 = lp.clone();
        let opts = ServerOptions::default().with_tls(Some(pki.server(Ver::Both)));
        let server = lp
            .create_server(
                move || {
                    let mut r = Recorder::new(&l2);
                    r.on_made = Some(Box::new(|t| t.pause_reading()));
                    r
                },
                "127.0.0.1",
                0,
                opts,
            )
            .await
            .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let l3 = lp.clone();
        let tls = pki
            .client(Ver::Both)
            .server_hostname("localhost")
            .shutdown_timeout(Duration::from_millis(200));
        let opts = ConnectOptions::default().with_tls(Some(tls));
        let (t, c) = lp
            .create_connection(move || Recorder::new(&l3), "127.0.0.1", port, opts)
            .await
            .unwrap();
        wait_until("server connected", || server.active_connections() == 1).await;
        t.close();
        let lost = c.borrow().lost.clone();
        let err = util::within("client lost", lost).await;
        assert_eq!(err, Some(Error::TlsShutdownTimeout(Duration::from_millis(200)).to_string()));
        server.abort_clients();
        wait_until("server side gone", || server.active_connections() == 0).await;
        server.close();
    });
}

#[test]
fn handshake_flood_memory_and_fds_return_to_baseline() {
    run(|lp| async move {
        let pki = Pki::localhost();
        let (server, port, made) = counted_tls_server(&lp, &pki, Duration::from_secs(60)).await;
        let fds_before = loop_core::test_util::open_fd_count();
        let rss_before = rss_kib();
        for round in 0..3 {
            // 200 clients connect (from another thread, so the loop keeps
            // accepting) and send nothing.
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let holder = std::thread::spawn(move || {
                let clients: Vec<_> = (0..200)
                    .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
                    .collect();
                let _ = rx.recv_timeout(util::TIMEOUT);
                drop(clients);
            });
            wait_until("all accepted", || server.active_connections() == 200).await;
            tx.send(()).unwrap();
            wait_until("all gone", || server.active_connections() == 0).await;
            holder.join().unwrap();
            assert_eq!(loop_core::test_util::open_fd_count(), fds_before, "round {round}: fds");
        }
        assert_eq!(made.get(), 0);
        let grown = rss_kib().saturating_sub(rss_before);
        assert!(grown < 16 * 1024, "memory grew by {grown} KiB over 600 half-finished handshakes");
        server.close();
    });
}

/// Resident set size of this process.
fn rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
