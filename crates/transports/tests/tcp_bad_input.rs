//! Bad input and failing peers: each a clear error, no hang, no fd leaked.

mod util;

use std::net::TcpListener;
use std::time::Duration;

use loop_transports::{ConnectOptions, Error, Hosts, NetExt, ServerOptions};
use util::{Echo, Recorder, run};

fn closed_port() -> u16 {
    // Bind then drop: nothing listens there any more.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn connecting_to_a_closed_port_lists_the_failure() {
    run(|lp| async move {
        let port = closed_port();
        let l2 = lp.clone();
        let err = lp
            .create_connection(
                move || Recorder::new(&l2),
                "127.0.0.1",
                port,
                ConnectOptions::default(),
            )
            .await
            .err()
            .expect("refused");
        let Error::Connect(ce) = &err else { panic!("unexpected {err:?}") };
        assert_eq!(ce.attempts.len(), 1);
        assert_eq!(ce.attempts[0].1.kind(), std::io::ErrorKind::ConnectionRefused);
        let msg = err.to_string();
        assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    });
}

#[test]
fn every_address_is_tried_and_each_failure_listed() {
    run(|lp| async move {
        // "localhost" resolves to ::1 and 127.0.0.1 here; nothing listens.
        let port = closed_port();
        let l2 = lp.clone();
        let err = lp
            .create_connection(
                move || Recorder::new(&l2),
                "localhost",
                port,
                ConnectOptions::default(),
            )
            .await
            .err()
            .expect("refused");
        let Error::Connect(ce) = err else { panic!() };
        assert!(!ce.attempts.is_empty());
        for (_, e) in &ce.attempts {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
        }
    });
}

#[test]
fn an_unresolvable_name_is_a_resolve_error() {
    run(|lp| async move {
        let l2 = lp.clone();
        let err = lp
            .create_connection(
                move || Recorder::new(&l2),
                "no-such-host.invalid",
                80,
                ConnectOptions::default(),
            )
            .await
            .err()
            .expect("does not resolve");
        assert!(
            matches!(&err, Error::Resolve { host, .. } if host == "no-such-host.invalid"),
            "{err:?}"
        );
        let err = lp
            .create_server(Echo::default, "no-such-host.invalid", 0, ServerOptions::default())
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::Resolve { .. }));
    });
}

#[test]
fn conflicting_or_missing_arguments_are_invalid() {
    run(|lp| async move {
        let l2 = lp.clone();
        let err = lp
            .create_connection(move || Recorder::new(&l2), "", 80, ConnectOptions::default())
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::InvalidArgument(_)));
        let sock = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = lp
            .create_server(
                Echo::default,
                "127.0.0.1",
                0,
                ServerOptions::default().with_sock(Some(sock.into())),
            )
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::InvalidArgument(_)));
        let err = lp
            .create_server(Echo::default, Hosts::Any, 0, ServerOptions::default().with_backlog(0))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::InvalidArgument(_)), "zero backlog");
        // A datagram socket is not a stream socket.
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let l2 = lp.clone();
        let err = lp
            .create_connection(
                move || Recorder::new(&l2),
                "",
                0,
                ConnectOptions::default().with_sock(Some(udp.into())),
            )
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::InvalidArgument(_)));
    });
}

#[test]
fn binding_a_busy_port_names_the_address() {
    run(|lp| async move {
        let busy = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = busy.local_addr().unwrap().port();
        let err = lp
            .create_server(
                Echo::default,
                "127.0.0.1",
                port,
                ServerOptions::default().with_reuse_address(Some(false)),
            )
            .await
            .err()
            .unwrap();
        assert_eq!(err.kind(), Some(std::io::ErrorKind::AddrInUse));
        assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
        drop(busy);
        let _ = Duration::ZERO;
    });
}
