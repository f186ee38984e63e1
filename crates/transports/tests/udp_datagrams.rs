//! Datagram endpoints (TR-08): UDP and Unix datagrams, connected and not,
//! error_received for ICMP errors, existing sockets, bad arguments.

mod util;

use std::cell::RefCell;
use std::rc::Rc;

use loop_core::LoopFuture;
use loop_transports::{
    Address, BaseProtocol, DatagramOptions, DatagramProtocol, DatagramTransport,
    DatagramTransportRef, Endpoint, Error, Family, NetExt, SockExt, UnixAddress,
};
use util::{run, wait_until, within};

type Log = Rc<RefCell<Vec<(Vec<u8>, Address)>>>;

#[derive(Default)]
struct Dg {
    t: Option<DatagramTransportRef>,
    echo: bool,
    got: Log,
    errors: Rc<RefCell<Vec<String>>>,
    lost: Option<LoopFuture<()>>,
}

impl BaseProtocol<dyn DatagramTransport> for Dg {
    fn connection_made(&mut self, t: DatagramTransportRef) {
        self.t = Some(t);
    }
    fn connection_lost(&mut self, _e: Option<Error>) {
        if let Some(l) = self.lost.take() {
            l.set_result(()).unwrap();
        }
    }
}

impl DatagramProtocol for Dg {
    fn datagram_received(&mut self, data: &[u8], addr: Address) {
        self.got.borrow_mut().push((data.to_vec(), addr.clone()));
        if self.echo {
            self.t.as_ref().unwrap().sendto(data, Some(&addr)).unwrap();
        }
    }
    fn error_received(&mut self, e: Error) {
        self.errors.borrow_mut().push(e.to_string());
    }
}

#[test]
fn udp_echo_between_two_endpoints() {
    run(|lp| async move {
        let lost = lp.create_future::<()>();
        let l2 = lost.clone();
        let (st, _) = lp
            .create_datagram_endpoint(
                move || Dg { echo: true, lost: Some(l2), ..Default::default() },
                DatagramOptions::default().with_local_addr(Some(Endpoint::inet("127.0.0.1", 0))),
            )
            .await
            .unwrap();
        let port = st.sockname().unwrap().port().unwrap();
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = got.clone();
        let (ct, _) = lp
            .create_datagram_endpoint(
                move || Dg { got: g, ..Default::default() },
                DatagramOptions::default()
                    .with_remote_addr(Some(Endpoint::inet("127.0.0.1", port))),
            )
            .await
            .unwrap();
        assert_eq!(ct.peername().unwrap().port(), Some(port));
        ct.sendto(b"one", None).unwrap();
        ct.sendto(b"two", None).unwrap();
        wait_until("echoes", || got.borrow().len() == 2).await;
        assert_eq!(got.borrow()[0].0, b"one");
        assert_eq!(got.borrow()[0].1.port(), Some(port));
        // A connected socket refuses another destination.
        let other: Address = Address::Inet("127.0.0.1:9".parse().unwrap());
        assert!(matches!(ct.sendto(b"x", Some(&other)), Err(Error::InvalidArgument(_))));
        // An unconnected one needs an address.
        assert!(matches!(st.sendto(b"x", None), Err(Error::InvalidArgument(_))));
        ct.close();
        st.close();
        assert!(matches!(st.sendto(b"x", Some(&other)), Err(Error::Closed)));
        within("server lost", lost).await;
    });
}

#[test]
fn icmp_port_unreachable_reaches_error_received() {
    run(|lp| async move {
        let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let errors = Rc::new(RefCell::new(Vec::new()));
        let e = errors.clone();
        let (t, _) = lp
            .create_datagram_endpoint(
                move || Dg { errors: e, ..Default::default() },
                DatagramOptions::default()
                    .with_remote_addr(Some(Endpoint::inet("127.0.0.1", port))),
            )
            .await
            .unwrap();
        t.sendto(b"anyone?", None).unwrap();
        wait_until("error_received", || !errors.borrow().is_empty()).await;
        assert!(errors.borrow()[0].to_lowercase().contains("refused"), "{:?}", errors.borrow());
        assert!(!t.is_closing(), "the transport stays open");
        t.close();
    });
}

#[test]
fn unix_datagrams_existing_socket_and_options() {
    run(|lp| async move {
        let path = std::env::temp_dir().join(format!("tulip-dg-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let (st, _) = lp
            .create_datagram_endpoint(
                || Dg { echo: true, ..Default::default() },
                DatagramOptions::default()
                    .with_local_addr(Some(Endpoint::Unix(UnixAddress::path(&path)))),
            )
            .await
            .unwrap();
        let cpath = std::env::temp_dir().join(format!("tulip-dg-c-{}", std::process::id()));
        let _ = std::fs::remove_file(&cpath);
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = got.clone();
        let (ct, _) = lp
            .create_datagram_endpoint(
                move || Dg { got: g, ..Default::default() },
                DatagramOptions::default()
                    .with_local_addr(Some(Endpoint::Unix(UnixAddress::path(&cpath))))
                    .with_remote_addr(Some(Endpoint::Unix(UnixAddress::path(&path)))),
            )
            .await
            .unwrap();
        ct.sendto(b"over unix", None).unwrap();
        wait_until("echo", || !got.borrow().is_empty()).await;
        assert_eq!(got.borrow()[0].0, b"over unix");
        ct.close();
        st.close();
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&cpath);

        // An existing socket; reuse_port and broadcast options.
        let std_sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (t, _) = lp
            .create_datagram_endpoint(
                Dg::default,
                DatagramOptions::default().with_sock(Some(std_sock.into())),
            )
            .await
            .unwrap();
        t.close();
        let (t, _) = lp
            .create_datagram_endpoint(
                Dg::default,
                DatagramOptions::default()
                    .with_local_addr(Some(Endpoint::inet("127.0.0.1", 0)))
                    .with_reuse_port(true)
                    .with_allow_broadcast(true),
            )
            .await
            .unwrap();
        t.abort();
        // A stream socket is refused.
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = lp
            .create_datagram_endpoint(
                Dg::default,
                DatagramOptions::default().with_sock(Some(tcp.into())),
            )
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::InvalidArgument(_)));
    });
}

/// asyncio: with `allow_broadcast`, `remote_addr` is not connected; it
/// becomes the transport's fixed destination instead.
#[test]
fn allow_broadcast_with_a_remote_address_does_not_connect() {
    run(|lp| async move {
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver.set_nonblocking(true).unwrap();
        let to = receiver.local_addr().unwrap();
        let got: Log = Rc::default();
        let g = got.clone();
        let (t, _) = lp
            .create_datagram_endpoint(
                move || Dg { got: g, ..Default::default() },
                DatagramOptions::default()
                    .with_local_addr(Some(Endpoint::inet("127.0.0.1", 0)))
                    .with_remote_addr(Some(Endpoint::inet("127.0.0.1", to.port())))
                    .with_allow_broadcast(true),
            )
            .await
            .unwrap();
        assert_eq!(t.peername(), None, "not connected: no peername, as asyncio");
        // sendto(None) goes to remote_addr; another address is refused.
        t.sendto(b"to the fixed destination", None).unwrap();
        let (data, _) = lp.sock_recvfrom(&receiver, 100).await.unwrap();
        assert_eq!(data, b"to the fixed destination");
        let other = Address::Inet("127.0.0.1:9".parse().unwrap());
        assert!(matches!(t.sendto(b"x", Some(&other)), Err(Error::InvalidArgument(_))));
        t.sendto(b"again", Some(&Address::Inet(to))).unwrap();
        let (data, _) = lp.sock_recvfrom(&receiver, 100).await.unwrap();
        assert_eq!(data, b"again");
        // An unconnected socket receives from anyone (a connected one only
        // from its peer).
        let stranger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        stranger.send_to(b"from a stranger", t.sockname().unwrap().as_inet().unwrap()).unwrap();
        wait_until("the stranger's datagram", || !got.borrow().is_empty()).await;
        assert_eq!(got.borrow()[0].0, b"from a stranger");
        t.close();
    });
}

/// The message of an `InvalidArgument`, or a panic.
fn invalid_message(r: Result<(DatagramTransportRef, Rc<RefCell<Dg>>), Error>) -> String {
    match r {
        Err(Error::InvalidArgument(m)) => m,
        Err(e) => panic!("expected InvalidArgument, got {e:?}"),
        Ok(_) => panic!("expected InvalidArgument, got an endpoint"),
    }
}

/// asyncio 3.13's argument checks of `create_datagram_endpoint`.
#[test]
fn datagram_endpoint_arguments_are_checked_as_asyncio_does() {
    run(|lp| async move {
        // No address and no family: asyncio's "unexpected address family".
        let m = invalid_message(lp.create_datagram_endpoint(Dg::default, Default::default()).await);
        assert!(m.contains("family"), "{m}");
        // With a family and no address: an unbound socket of that family.
        let (t, _) = lp
            .create_datagram_endpoint(
                Dg::default,
                DatagramOptions::default().with_family(Family::Inet),
            )
            .await
            .unwrap();
        t.close();
        // `sock` with any socket modifier: each is named.
        type Modifier = (&'static str, fn(&mut DatagramOptions));
        let modifiers: [Modifier; 7] = [
            ("family", |o| o.family = Family::Inet),
            ("proto", |o| o.proto = 17),
            ("flags", |o| o.flags = loop_transports::AI_PASSIVE),
            ("reuse_port", |o| o.reuse_port = true),
            ("allow_broadcast", |o| o.allow_broadcast = true),
            ("local_addr", |o| o.local_addr = Some(Endpoint::inet("127.0.0.1", 0))),
            ("remote_addr", |o| o.remote_addr = Some(Endpoint::inet("127.0.0.1", 9))),
        ];
        for (name, set) in modifiers {
            let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut opts = DatagramOptions::default().with_sock(Some(sock.into()));
            set(&mut opts);
            let m = invalid_message(lp.create_datagram_endpoint(Dg::default, opts).await);
            assert!(m.contains(name), "{name}: {m}");
        }
        // Several at once: all named.
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let opts = DatagramOptions::default()
            .with_sock(Some(sock.into()))
            .with_family(Family::Inet)
            .with_reuse_port(true);
        let m = invalid_message(lp.create_datagram_endpoint(Dg::default, opts).await);
        assert!(m.contains("family") && m.contains("reuse_port"), "{m}");
        // Addresses of the wrong kind for the family.
        let unix = Endpoint::Unix(UnixAddress::path("/nonexistent/tulip-dg"));
        let opts = DatagramOptions::default()
            .with_family(Family::Inet)
            .with_local_addr(Some(unix.clone()));
        let m = invalid_message(lp.create_datagram_endpoint(Dg::default, opts).await);
        assert!(m.contains("local_addr"), "{m}");
        let opts = DatagramOptions::default()
            .with_family(Family::Unix)
            .with_remote_addr(Some(Endpoint::inet("127.0.0.1", 9)));
        let m = invalid_message(lp.create_datagram_endpoint(Dg::default, opts).await);
        assert!(m.contains("remote_addr"), "{m}");
    });
}
