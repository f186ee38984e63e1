//! A per-loop resolver (issue 9, item 18): installed on one loop, it answers
//! every name that loop's `create_connection`, `create_server`,
//! `create_datagram_endpoint`, `sock_connect` and `getaddrinfo` resolve;
//! literal addresses never reach it; removing it restores the system's.

mod util;

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;

use loop_core::Loop;
use loop_transports::{
    AddrInfo, AddrInfoHints, BaseProtocol, ConnectOptions, DatagramOptions, DatagramProtocol,
    DatagramTransport, Endpoint, Error, Family, NetExt, ResolveFuture, Resolver, ServerOptions,
    SockExt, SockType,
};
use util::{Recorder, run};

/// Resolves every name ending in `.test` to 127.0.0.1 and records the
/// names it was asked for.
#[derive(Default)]
struct Fake {
    asked: RefCell<Vec<String>>,
}

impl Resolver for Fake {
    fn getaddrinfo(
        &self,
        _lp: &Loop,
        host: Option<String>,
        port: u16,
        hints: AddrInfoHints,
    ) -> ResolveFuture {
        let host = host.unwrap_or_default();
        self.asked.borrow_mut().push(host.clone());
        Box::pin(async move {
            if !host.ends_with(".test") {
                return Ok(Vec::new());
            }
            let socktype =
                if hints.socktype == SockType::Any { SockType::Stream } else { hints.socktype };
            Ok(vec![AddrInfo {
                family: Family::Inet,
                socktype,
                proto: 0,
                canonname: None,
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            }])
        })
    }
}

struct Quiet;
impl BaseProtocol<dyn DatagramTransport> for Quiet {}
impl DatagramProtocol for Quiet {}

#[test]
fn every_factory_resolves_through_the_loops_resolver() {
    run(|lp| async move {
        let fake = Rc::new(Fake::default());
        lp.set_resolver(Some(fake.clone()));

        // create_server binds the name the resolver gives.
        let l3 = lp.clone();
        let server = lp
            .create_server(move || Recorder::new(&l3), "server.test", 0, ServerOptions::default())
            .await
            .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let bound = server.addresses()[0].as_inet().unwrap();
        assert_eq!(bound.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));

        // create_connection reaches it by name.
        let l2 = lp.clone();
        let (t, _c) = lp
            .create_connection(
                move || Recorder::new(&l2),
                "db.test",
                port,
                ConnectOptions::default(),
            )
            .await
            .unwrap();
        t.close();

        // sock_connect too.
        let sock = rustix::net::socket_with(
            rustix::net::AddressFamily::INET,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::NONBLOCK | rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        lp.sock_connect(&sock, ("sock.test", port)).await.unwrap();
        drop(sock);

        // And a datagram endpoint's remote address.
        let (dt, _) = lp
            .create_datagram_endpoint(
                || Quiet,
                DatagramOptions::default().with_remote_addr(Some(Endpoint::inet("udp.test", port))),
            )
            .await
            .unwrap();
        assert_eq!(dt.peername().unwrap().port(), Some(port));
        dt.abort();

        // A literal address never reaches the resolver.
        let l2 = lp.clone();
        let (t, _c) = lp
            .create_connection(
                move || Recorder::new(&l2),
                "127.0.0.1",
                port,
                ConnectOptions::default(),
            )
            .await
            .unwrap();
        t.close();
        assert_eq!(*fake.asked.borrow(), ["server.test", "db.test", "sock.test", "udp.test"]);

        // A name the resolver does not know: a resolution error, typed.
        let l2 = lp.clone();
        let err = lp
            .create_connection(
                move || Recorder::new(&l2),
                "unknown.invalid",
                port,
                ConnectOptions::default(),
            )
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::Resolve { .. }), "{err:?}");

        // Removing it restores the system resolver, which knows no `.test`.
        lp.set_resolver(None);
        let l2 = lp.clone();
        let err = lp
            .create_connection(
                move || Recorder::new(&l2),
                "db.test",
                port,
                ConnectOptions::default(),
            )
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::Resolve { .. }), "{err:?}");
        assert_eq!(fake.asked.borrow().len(), 5, "the removed resolver is not asked");
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn a_resolver_belongs_to_one_loop() {
    let other = Loop::new().unwrap();
    other.set_resolver(Some(Rc::new(Fake::default())));
    run(|lp| async move {
        // This loop has no resolver installed: the system one answers.
        let err =
            lp.getaddrinfo(Some("db.test"), 80, AddrInfoHints::default()).await.err().unwrap();
        assert!(matches!(err, Error::Resolve { .. }), "{err:?}");
    });
    other.close().unwrap();
}
