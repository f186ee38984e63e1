//! Datagram endpoints (TR-08): UDP and Unix datagrams, connected and not,
//! error_received for ICMP errors, existing sockets, bad arguments.

mod util;

use std::cell::RefCell;
use std::rc::Rc;

use loop_core::LoopFuture;
use loop_transports::{
    Address, BaseProtocol, DatagramOptions, DatagramProtocol, DatagramTransport,
    DatagramTransportRef, Endpoint, Error, NetExt, UnixAddress,
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
                DatagramOptions {
                    local_addr: Some(Endpoint::inet("127.0.0.1", 0)),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let port = st.sockname().unwrap().port().unwrap();
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = got.clone();
        let (ct, _) = lp
            .create_datagram_endpoint(
                move || Dg { got: g, ..Default::default() },
                DatagramOptions {
                    remote_addr: Some(Endpoint::inet("127.0.0.1", port)),
                    ..Default::default()
                },
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
                DatagramOptions {
                    remote_addr: Some(Endpoint::inet("127.0.0.1", port)),
                    ..Default::default()
                },
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
                DatagramOptions {
                    local_addr: Some(Endpoint::Unix(UnixAddress::path(&path))),
                    ..Default::default()
                },
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
                DatagramOptions {
                    local_addr: Some(Endpoint::Unix(UnixAddress::path(&cpath))),
                    remote_addr: Some(Endpoint::Unix(UnixAddress::path(&path))),
                    ..Default::default()
                },
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
                DatagramOptions { sock: Some(std_sock.into()), ..Default::default() },
            )
            .await
            .unwrap();
        t.close();
        let (t, _) = lp
            .create_datagram_endpoint(
                Dg::default,
                DatagramOptions {
                    local_addr: Some(Endpoint::inet("127.0.0.1", 0)),
                    reuse_port: true,
                    allow_broadcast: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        t.abort();
        // A stream socket is refused.
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = lp
            .create_datagram_endpoint(
                Dg::default,
                DatagramOptions { sock: Some(tcp.into()), ..Default::default() },
            )
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::InvalidArgument(_)));
    });
}
