//! The echo servers shared by the `tcp` and `scale` benchmarks, one per
//! implementation. Each binds 127.0.0.1 on an ephemeral port, prints the
//! port on stdout and serves until killed.

pub(super) fn run(which: &str) {
    match which {
        "tulip" => tulip_server(new_loop(false), false),
        "tulip-level" => tulip_server(new_loop(true), false),
        "tulip-two-writes" => tulip_server(new_loop(false), true),
        "tokio" => tokio_server(),
        "smol" => smol_server(),
        "floor-epoll" => floor::run(false),
        "floor-epoll-et" => floor::run(true),
        "tulip-udp" => tulip_udp_server(),
        "tokio-udp" => tokio_udp_server(),
        other => panic!("unknown server {other}"),
    }
}

pub(super) fn announce(port: u16) {
    println!("{port}");
    use std::io::Write;
    std::io::stdout().flush().unwrap();
}

/// A loop on the default epoll driver; `level_only` registers every fd
/// level-triggered (the stream transports' edge-triggered watching turned
/// off, to measure what it buys).
fn new_loop(level_only: bool) -> loop_core::Loop {
    use loop_core::driver::{Driver, EpollDriver, Event, Interest, Notify};
    use std::os::fd::BorrowedFd;

    struct LevelOnly(EpollDriver);
    impl Driver for LevelOnly {
        fn register(&mut self, fd: BorrowedFd<'_>, i: Interest) -> std::io::Result<()> {
            self.0.register(fd, i.with_edge(false))
        }
        fn reregister(&mut self, fd: BorrowedFd<'_>, i: Interest) -> std::io::Result<()> {
            self.0.reregister(fd, i.with_edge(false))
        }
        fn deregister(&mut self, fd: BorrowedFd<'_>) -> std::io::Result<()> {
            self.0.deregister(fd)
        }
        fn poll(
            &mut self,
            timeout: Option<std::time::Duration>,
            events: &mut Vec<Event>,
        ) -> std::io::Result<()> {
            self.0.poll(timeout, events)
        }
        fn notifier(&self) -> std::sync::Arc<dyn Notify> {
            self.0.notifier()
        }
        fn close(&mut self) {
            self.0.close()
        }
    }
    if level_only {
        loop_core::Loop::with_driver(Box::new(LevelOnly(EpollDriver::new().unwrap())), None)
    } else {
        loop_core::Loop::new().unwrap()
    }
}

fn tulip_server(lp: loop_core::Loop, two_writes: bool) {
    use loop_transports::{BaseProtocol, NetExt, Protocol, ServerOptions, TransportRef};

    struct Echo {
        t: Option<TransportRef>,
        two: bool,
    }
    impl BaseProtocol for Echo {
        fn connection_made(&mut self, t: TransportRef) {
            self.t = Some(t);
        }
    }
    impl Protocol for Echo {
        fn data_received(&mut self, data: &[u8]) {
            let t = self.t.as_ref().unwrap();
            if self.two {
                let mid = data.len() / 2;
                let _ = t.write(&data[..mid]);
                let _ = t.write(&data[mid..]);
            } else {
                let _ = t.write(data);
            }
        }
    }
    let l = lp.clone();
    lp.run_until_complete(async move {
        let server = l
            .create_server(
                move || Echo { t: None, two: two_writes },
                "127.0.0.1",
                0,
                // tokio's and the floor's backlog (asyncio's default is 100).
                ServerOptions::default().with_backlog(1024),
            )
            .await
            .unwrap();
        announce(server.addresses()[0].port().unwrap());
        server.serve_forever().await.unwrap();
    })
    .unwrap();
}

fn tulip_udp_server() {
    use loop_transports::{
        Address, BaseProtocol, DatagramOptions, DatagramProtocol, DatagramTransportRef, NetExt,
    };

    struct Echo(Option<DatagramTransportRef>);
    impl BaseProtocol<dyn loop_transports::DatagramTransport> for Echo {
        fn connection_made(&mut self, t: DatagramTransportRef) {
            self.0 = Some(t);
        }
    }
    impl DatagramProtocol for Echo {
        fn datagram_received(&mut self, data: &[u8], addr: Address) {
            let _ = self.0.as_ref().unwrap().sendto(data, Some(&addr));
        }
    }
    let lp = loop_core::Loop::new().unwrap();
    let l = lp.clone();
    lp.run_until_complete(async move {
        let (t, _p) = l
            .create_datagram_endpoint(
                || Echo(None),
                DatagramOptions::default()
                    .with_local_addr(Some(loop_transports::Endpoint::inet("127.0.0.1", 0))),
            )
            .await
            .unwrap();
        announce(t.sockname().unwrap().port().unwrap());
        std::future::pending::<()>().await;
    })
    .unwrap();
}

fn tokio_server() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        announce(l.local_addr().unwrap().port());
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            tokio::task::spawn_local(async move {
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
}

fn tokio_udp_server() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        announce(s.local_addr().unwrap().port());
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, from) = s.recv_from(&mut buf).await.unwrap();
            let _ = s.send_to(&buf[..n], from).await;
        }
    });
}

fn smol_server() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let ex = async_executor::LocalExecutor::new();
    async_io::block_on(ex.run(async {
        let l = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        announce(l.local_addr().unwrap().port());
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            ex.spawn(async move {
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            })
            .detach();
        }
    }));
}

mod floor {
    //! The floor: a minimal epoll echo loop — one `epoll_wait` per
    //! iteration, one `read` and one `write` per message, no allocation per
    //! message. Level-triggered (`floor-epoll`): a connection's interest
    //! switches between IN and OUT with `epoll_ctl` when a reply cannot be
    //! written whole. Edge-triggered (`floor-epoll-et`, as mio and tokio
    //! register): each connection is registered once for IN|OUT|ET and read
    //! until a short read.

    use std::collections::HashMap;
    use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

    use rustix::event::epoll::{self, EventData, EventFlags};
    use rustix::io::Errno;
    use rustix::net::{AddressFamily, SendFlags, SocketFlags, SocketType};

    struct Conn {
        fd: OwnedFd,
        pending: Vec<u8>,
    }

    pub(super) fn run(edge: bool) {
        let l = rustix::net::socket_with(
            AddressFamily::INET,
            SocketType::STREAM,
            SocketFlags::NONBLOCK,
            None,
        )
        .unwrap();
        rustix::net::sockopt::set_socket_reuseaddr(&l, true).unwrap();
        let addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        rustix::net::bind(&l, &addr).unwrap();
        rustix::net::listen(&l, 1024).unwrap();
        let local: std::net::SocketAddr = rustix::net::getsockname(&l).unwrap().try_into().unwrap();
        super::announce(local.port());
        let ep = epoll::create(epoll::CreateFlags::CLOEXEC).unwrap();
        let lkey = u64::MAX;
        epoll::add(&ep, &l, EventData::new_u64(lkey), EventFlags::IN).unwrap();
        let conn_flags =
            if edge { EventFlags::IN | EventFlags::OUT | EventFlags::ET } else { EventFlags::IN };
        // Level-triggered only: switch a connection's interest.
        let set = |c: &Conn, flags: EventFlags| {
            let key = EventData::new_u64(c.fd.as_raw_fd() as u64);
            epoll::modify(&ep, c.fd.as_fd(), key, flags).unwrap();
        };
        let mut conns: HashMap<RawFd, Conn> = HashMap::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut events: Vec<epoll::Event> = Vec::with_capacity(1024);
        loop {
            events.clear();
            match epoll::wait(&ep, rustix::buffer::spare_capacity(&mut events), None) {
                Ok(_) => {}
                Err(Errno::INTR) => continue,
                Err(e) => panic!("epoll_wait: {e}"),
            }
            for ev in &events {
                let key = ev.data.u64();
                let flags = ev.flags;
                if key == lkey {
                    while let Ok(c) = rustix::net::accept_with(&l, SocketFlags::NONBLOCK) {
                        rustix::net::sockopt::set_tcp_nodelay(&c, true).unwrap();
                        let raw = c.as_raw_fd();
                        epoll::add(&ep, &c, EventData::new_u64(raw as u64), conn_flags).unwrap();
                        conns.insert(raw, Conn { fd: c, pending: Vec::new() });
                    }
                    continue;
                }
                let raw = key as RawFd;
                let Some(conn) = conns.get_mut(&raw) else { continue };
                let mut close = false;
                let mut flushed = false;
                if flags.contains(EventFlags::OUT) && !conn.pending.is_empty() {
                    match rustix::net::send(&conn.fd, &conn.pending, SendFlags::NOSIGNAL) {
                        Ok(n) => {
                            conn.pending.drain(..n);
                        }
                        Err(Errno::AGAIN) => {}
                        Err(_) => close = true,
                    }
                    if conn.pending.is_empty() {
                        flushed = true;
                        if !edge {
                            set(conn, EventFlags::IN);
                        }
                    }
                }
                let readable = flags.intersects(EventFlags::IN | EventFlags::HUP | EventFlags::ERR)
                    || (edge && flushed);
                while !close && readable && conn.pending.is_empty() {
                    match rustix::io::read(&conn.fd, &mut buf[..]) {
                        Ok(0) => close = true,
                        Ok(n) => {
                            let sent =
                                match rustix::net::send(&conn.fd, &buf[..n], SendFlags::NOSIGNAL) {
                                    Ok(m) => m,
                                    Err(Errno::AGAIN) => 0,
                                    Err(_) => {
                                        close = true;
                                        break;
                                    }
                                };
                            if sent < n {
                                conn.pending.extend_from_slice(&buf[sent..n]);
                                if !edge {
                                    set(conn, EventFlags::OUT);
                                }
                            }
                            // Level-triggered: one read per wake-up. Edge:
                            // until a short read drained the socket.
                            if !edge || n < buf.len() {
                                break;
                            }
                        }
                        Err(Errno::AGAIN) => break,
                        Err(_) => close = true,
                    }
                }
                if close && let Some(c) = conns.remove(&raw) {
                    let _ = epoll::delete(&ep, &c.fd);
                }
            }
        }
    }
}
