//! Streams over TLS: the factories' `with_tls` options (TCP and Unix), and
//! `StreamWriter::start_tls` upgrading a live stream connection on both
//! ends (STARTTLS), with plaintext buffered before the upgrade, a paused
//! reader, clones of the writer, TLS in TLS, and the typed errors. Every
//! test checks that no fd is left open (`util::run`).

mod util;

use std::cell::Cell;
use std::rc::Rc;

use loop_streams::{
    Error, StreamConnectOptions, StreamReader, StreamServerOptions, StreamWriter,
    UnixStreamConnectOptions, UnixStreamServerOptions, open_connection, open_unix_connection,
    start_server, start_unix_server,
};
use loop_transports::rustls::{CertificateError, Error as RustlsError};
use loop_transports::{ExtraInfo, TlsAccept, UnixAddress};
use util::tls::{Pki, Ver};
use util::{run, wait_until, within};

/// Upper-cases each line until EOF, then closes.
async fn shout(r: StreamReader, w: StreamWriter) -> loop_streams::Result<()> {
    loop {
        let line = r.readline().await?;
        if line.is_empty() {
            w.close();
            return Ok(());
        }
        w.write(&line.to_ascii_uppercase())?;
        w.drain().await?;
    }
}

/// A STARTTLS server: on `STARTTLS\n` it answers `reply` in plain text,
/// upgrades with `accept`, then shouts.
async fn starttls_server(
    r: StreamReader,
    w: StreamWriter,
    accept: TlsAccept,
    reply: &'static [u8],
) -> loop_streams::Result<()> {
    assert_eq!(r.readline().await?, b"STARTTLS\n");
    w.write(reply)?;
    w.start_tls(accept).await?;
    shout(r, w).await
}

fn text(v: Option<ExtraInfo>) -> String {
    match v {
        Some(ExtraInfo::Text(s)) => s,
        other => panic!("expected text, got {other:?}"),
    }
}

fn transport_error(e: Error) -> loop_transports::Error {
    match e {
        Error::Transport(t) => t,
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[test]
fn tls_echo_with_open_connection_and_start_server() {
    for ver in [Ver::V13, Ver::V12] {
        run(move |_lp| async move {
            let pki = Pki::localhost();
            let versions: Rc<Cell<usize>> = Rc::default();
            let v2 = versions.clone();
            let server = start_server(
                move |r, w: StreamWriter| {
                    assert!(w.get_extra_info("cipher").is_some(), "the callback runs after TLS");
                    v2.set(v2.get() + 1);
                    shout(r, w)
                },
                "127.0.0.1",
                0,
                StreamServerOptions::default().with_tls(pki.server(ver)).with_limit(1 << 20),
            )
            .await
            .unwrap();
            let port = server.addresses()[0].port().unwrap();
            // The server name defaults to the host, 127.0.0.1 (in the cert).
            let opts = StreamConnectOptions::default().with_tls(pki.client(Ver::Both));
            let (r, w) = within("connect", open_connection("127.0.0.1", port, opts)).await.unwrap();
            let expected = match ver {
                Ver::V12 => "TLSv1.2",
                _ => "TLSv1.3",
            };
            assert_eq!(text(w.get_extra_info("ssl_protocol")), expected);
            match w.get_extra_info("peercert") {
                Some(ExtraInfo::Bytes(chain)) => assert_eq!(chain[0], pki.leaf.as_ref()),
                other => panic!("peercert: {other:?}"),
            }
            assert!(!w.can_write_eof(), "TLS has no half-close");
            for i in 0..20 {
                w.write(format!("line {i}\n").as_bytes()).unwrap();
            }
            // A write bigger than a TLS record and the reader's limit.
            let big = vec![b'x'; 200_000];
            w.writelines(&[&big, b"\n"]).unwrap();
            w.drain().await.unwrap();
            for i in 0..20 {
                let line = within("echo", r.readline()).await.unwrap();
                assert_eq!(line, format!("LINE {i}\n").as_bytes());
            }
            let got = within("big echo", r.readexactly(big.len() + 1)).await.unwrap();
            assert!(got[..big.len()].iter().all(|&b| b == b'X'));
            assert!(matches!(
                w.write_eof().map_err(transport_error),
                Err(loop_transports::Error::Unsupported(_))
            ));
            w.close();
            within("closed", w.wait_closed()).await.unwrap();
            assert_eq!(versions.get(), 1);
            wait_until("server idle", || server.active_connections() == 0).await;
            server.close();
            within("server closed", server.wait_closed()).await;
        });
    }
}

#[test]
fn tls_echo_over_unix_sockets() {
    let path = std::env::temp_dir().join(format!("tulip-streams-tls-{}.sock", std::process::id()));
    run(move |_lp| async move {
        let pki = Pki::localhost();
        let opts = UnixStreamServerOptions::default().with_tls(pki.server(Ver::Both));
        let server = start_unix_server(shout, UnixAddress::path(&path), opts).await.unwrap();
        // No host: without a server name the options are refused, typed.
        let no_name = UnixStreamConnectOptions::default().with_tls(pki.client(Ver::Both));
        let err = open_unix_connection(UnixAddress::path(&path), no_name).await.unwrap_err();
        assert!(
            matches!(transport_error(err), loop_transports::Error::InvalidArgument(_)),
            "a missing server name is an invalid argument"
        );
        let opts = UnixStreamConnectOptions::default()
            .with_tls(pki.client(Ver::Both).server_hostname("localhost"));
        let (r, w) = open_unix_connection(UnixAddress::path(&path), opts).await.unwrap();
        assert_eq!(text(w.get_extra_info("server_hostname")), "localhost");
        w.write(b"over unix\n").unwrap();
        assert_eq!(within("echo", r.readline()).await.unwrap(), b"OVER UNIX\n");
        w.close();
        within("closed", w.wait_closed()).await.unwrap();
        server.close();
        within("server closed", server.wait_closed()).await;
    });
}

#[test]
fn starttls_on_both_ends_keeps_buffered_plaintext_and_upgrades_every_clone() {
    run(|_lp| async move {
        let pki = Pki::localhost();
        let accept = pki.server(Ver::Both);
        // The reply and an extra plaintext line in one write: both are in
        // the client's reader before it upgrades.
        let server = start_server(
            move |r, w| starttls_server(r, w, accept.clone(), b"GO\nEARLY\n"),
            "127.0.0.1",
            0,
            StreamServerOptions::default(),
        )
        .await
        .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let (r, w) = open_connection("127.0.0.1", port, Default::default()).await.unwrap();
        w.write(b"STARTTLS\n").unwrap();
        assert_eq!(within("GO", r.readline()).await.unwrap(), b"GO\n");
        let plain = w.transport();
        let clone = w.clone();
        assert!(w.get_extra_info("ssl_protocol").is_none());
        let tls = pki.client(Ver::Both).server_hostname("localhost");
        within("start_tls", w.start_tls(tls)).await.unwrap();
        // Plaintext read before the upgrade stays readable, first.
        assert_eq!(within("early", r.readline()).await.unwrap(), b"EARLY\n");
        // The clone writes over TLS too, and sees the TLS transport.
        assert_eq!(text(clone.get_extra_info("ssl_protocol")), "TLSv1.3");
        assert!(Rc::ptr_eq(&clone.transport(), &w.transport()));
        assert!(!Rc::ptr_eq(&plain, &w.transport()));
        clone.write(b"secret\n").unwrap();
        assert_eq!(within("echo", r.readline()).await.unwrap(), b"SECRET\n");
        // The old transport refuses plaintext.
        assert!(matches!(plain.write(b"leak"), Err(loop_transports::Error::InvalidState(_))));
        w.close();
        within("closed", clone.wait_closed()).await.unwrap();
        assert_eq!(within("EOF", r.read_to_eof()).await.unwrap(), b"");
        wait_until("server idle", || server.active_connections() == 0).await;
        server.close();
    });
}

#[test]
fn a_reader_paused_over_its_limit_does_not_stall_the_handshake() {
    run(|_lp| async move {
        let pki = Pki::localhost();
        let accept = pki.server(Ver::Both);
        let filler: &'static [u8] =
            b"GO\n0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghij\n";
        let server = start_server(
            move |r, w| starttls_server(r, w, accept.clone(), filler),
            "127.0.0.1",
            0,
            StreamServerOptions::default(),
        )
        .await
        .unwrap();
        let port = server.addresses()[0].port().unwrap();
        // Limit 4: the 63 bytes received at once pause reading beneath.
        let opts = StreamConnectOptions::default().with_limit(4);
        let (r, w) = open_connection("127.0.0.1", port, opts).await.unwrap();
        w.write(b"STARTTLS\n").unwrap();
        assert_eq!(within("GO", r.readexactly(3)).await.unwrap(), b"GO\n");
        assert!(!w.transport().is_reading(), "the reader paused its transport");
        let tls = pki.client(Ver::Both).server_hostname("localhost");
        within("start_tls with a paused reader", w.start_tls(tls)).await.unwrap();
        assert_eq!(within("filler", r.readexactly(filler.len() - 3)).await.unwrap(), &filler[3..]);
        // The reader's flow control now drives the TLS transport.
        w.write(&[b'z'; 100]).unwrap();
        w.write(b"\n").unwrap();
        wait_until("paused again", || !w.transport().is_reading()).await;
        let echo = within("echo", r.readexactly(101)).await.unwrap();
        assert_eq!(&echo[..100], &[b'Z'; 100][..]);
        w.close();
        within("closed", w.wait_closed()).await.unwrap();
        wait_until("server idle", || server.active_connections() == 0).await;
        server.close();
    });
}

#[test]
fn tls_in_tls_with_start_tls_over_a_tls_stream() {
    run(|_lp| async move {
        let outer = Pki::new(&["proxy.test"]);
        let inner = Pki::new(&["inner.test"]);
        let accept = inner.server(Ver::Both);
        let server = start_server(
            move |r, w| starttls_server(r, w, accept.clone(), b"GO\n"),
            "127.0.0.1",
            0,
            StreamServerOptions::default().with_tls(outer.server(Ver::Both)),
        )
        .await
        .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let opts = StreamConnectOptions::default()
            .with_tls(outer.client(Ver::Both).server_hostname("proxy.test"));
        let (r, w) = open_connection("127.0.0.1", port, opts).await.unwrap();
        w.write(b"STARTTLS\n").unwrap();
        assert_eq!(within("GO", r.readline()).await.unwrap(), b"GO\n");
        let tls = inner.client(Ver::Both).server_hostname("inner.test");
        within("inner start_tls", w.start_tls(tls)).await.unwrap();
        match w.get_extra_info("peercert") {
            Some(ExtraInfo::Bytes(chain)) => assert_eq!(chain[0], inner.leaf.as_ref()),
            other => panic!("inner peercert: {other:?}"),
        }
        w.write(b"two layers\n").unwrap();
        assert_eq!(within("echo", r.readline()).await.unwrap(), b"TWO LAYERS\n");
        w.close();
        within("closed", w.wait_closed()).await.unwrap();
        wait_until("server idle", || server.active_connections() == 0).await;
        server.close();
    });
}

#[test]
fn tls_errors_surface_typed_from_open_connection() {
    run(|_lp| async move {
        let pki = Pki::localhost();
        let reached: Rc<Cell<usize>> = Rc::default();
        let r2 = reached.clone();
        let server = start_server(
            move |r, w| {
                r2.set(r2.get() + 1);
                shout(r, w)
            },
            "127.0.0.1",
            0,
            StreamServerOptions::default().with_tls(pki.server(Ver::Both)),
        )
        .await
        .unwrap();
        let port = server.addresses()[0].port().unwrap();
        // A client trusting another CA.
        let stranger = Pki::localhost();
        let opts = StreamConnectOptions::default().with_tls(stranger.client(Ver::Both));
        let err = within("untrusted", open_connection("127.0.0.1", port, opts)).await.unwrap_err();
        match transport_error(err) {
            loop_transports::Error::TlsHandshake(RustlsError::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )) => {}
            other => panic!("untrusted certificate: {other:?}"),
        }
        // The right CA, the wrong name.
        let opts = StreamConnectOptions::default()
            .with_tls(pki.client(Ver::Both).server_hostname("elsewhere.test"));
        let err = within("mismatch", open_connection("127.0.0.1", port, opts)).await.unwrap_err();
        match transport_error(err) {
            loop_transports::Error::TlsHandshake(RustlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => {}
            other => panic!("name mismatch: {other:?}"),
        }
        // A TLS client against a plain server that greets first.
        let plain = start_server(
            |r: StreamReader, w: StreamWriter| async move {
                w.write(b"220 plain text here\n")?;
                r.read_to_eof().await?;
                w.close();
                Ok::<(), loop_streams::Error>(())
            },
            "127.0.0.1",
            0,
            StreamServerOptions::default(),
        )
        .await
        .unwrap();
        let plain_port = plain.addresses()[0].port().unwrap();
        let opts = StreamConnectOptions::default().with_tls(pki.client(Ver::Both));
        let err = within("not TLS", open_connection("127.0.0.1", plain_port, opts)).await;
        assert!(
            matches!(transport_error(err.unwrap_err()), loop_transports::Error::TlsHandshake(_)),
            "a peer that does not speak TLS"
        );
        wait_until("servers idle", || {
            server.active_connections() == 0 && plain.active_connections() == 0
        })
        .await;
        assert_eq!(reached.get(), 0, "a failed handshake never reaches the callback");
        server.close();
        plain.close();
        within("closed", server.wait_closed()).await;
        within("closed", plain.wait_closed()).await;
    });
}

#[test]
fn plaintext_after_the_upgrade_fails_start_tls_with_a_typed_error() {
    run(|_lp| async move {
        let pki = Pki::localhost();
        // The server says GO, then answers the client's hello in plain text.
        let server = start_server(
            |r: StreamReader, w: StreamWriter| async move {
                assert_eq!(r.readline().await?, b"STARTTLS\n");
                w.write(b"GO\n")?;
                let hello = r.read(65536).await?;
                assert_eq!(hello[0], 22, "a TLS handshake record");
                w.write(b"this is not TLS\n")?;
                // Wait for the client to give up.
                r.read_to_eof().await?;
                w.close();
                Ok::<(), loop_streams::Error>(())
            },
            "127.0.0.1",
            0,
            StreamServerOptions::default(),
        )
        .await
        .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let (r, w) = open_connection("127.0.0.1", port, Default::default()).await.unwrap();
        w.write(b"STARTTLS\n").unwrap();
        assert_eq!(within("GO", r.readline()).await.unwrap(), b"GO\n");
        let tls = pki.client(Ver::Both).server_hostname("localhost");
        let err = within("start_tls", w.start_tls(tls)).await.unwrap_err();
        assert!(
            matches!(transport_error(err), loop_transports::Error::TlsHandshake(_)),
            "plaintext where a TLS record belongs"
        );
        // The reader reports the failure too; the connection is gone.
        let read = within("read after failure", r.read(10)).await;
        assert!(matches!(read, Err(Error::Transport(loop_transports::Error::TlsHandshake(_)))));
        assert!(w.write(b"more").is_err());
        within("closed", w.wait_closed()).await.unwrap_err();
        wait_until("server idle", || server.active_connections() == 0).await;
        server.close();
    });
}

#[test]
fn a_second_upgrade_while_one_runs_is_refused() {
    run(|_lp| async move {
        let pki = Pki::localhost();
        let accept = pki.server(Ver::Both);
        let server = start_server(
            move |r, w| starttls_server(r, w, accept.clone(), b"GO\n"),
            "127.0.0.1",
            0,
            StreamServerOptions::default(),
        )
        .await
        .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let (r, w) = open_connection("127.0.0.1", port, Default::default()).await.unwrap();
        w.write(b"STARTTLS\n").unwrap();
        assert_eq!(within("GO", r.readline()).await.unwrap(), b"GO\n");
        let clone = w.clone();
        let tls = pki.client(Ver::Both).server_hostname("localhost");
        let (first, second) = within(
            "two upgrades",
            futures_lite::future::zip(w.start_tls(tls.clone()), clone.start_tls(tls)),
        )
        .await;
        first.unwrap();
        assert!(matches!(
            second.map_err(transport_error),
            Err(loop_transports::Error::InvalidState(_))
        ));
        w.write(b"still fine\n").unwrap();
        assert_eq!(within("echo", r.readline()).await.unwrap(), b"STILL FINE\n");
        w.close();
        within("closed", w.wait_closed()).await.unwrap();
        wait_until("server idle", || server.active_connections() == 0).await;
        server.close();
    });
}
