//! Socket operations (TR-10), DNS (TR-11) and sendfile (TR-12).

mod util;

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;

use loop_transports::{
    AddrInfoHints, ConnectOptions, Endpoint, Error, Family, NI_NUMERICHOST, NI_NUMERICSERV, NetExt,
    SockExt, SockType,
};
use util::{Recorder, run};

fn nonblocking_listener() -> std::net::TcpListener {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    l
}

#[test]
fn sock_accept_connect_sendall_recv() {
    run(|lp| async move {
        let listener = nonblocking_listener();
        let port = listener.local_addr().unwrap().port();
        let client = rustix::net::socket_with(
            rustix::net::AddressFamily::INET,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::NONBLOCK,
            None,
        )
        .unwrap();
        let l2 = lp.clone();
        let accept = lp
            .create_task(async move { l2.sock_accept(&listener).await.map(|(c, _)| (c, listener)) })
            .unwrap();
        lp.sock_connect(&client, ("localhost", port)).await.unwrap_or_else(|_| {
            panic!("connect");
        });
        let (conn, _listener) = accept.await.unwrap().unwrap();
        let big = vec![9u8; 3 << 20];
        let l2 = lp.clone();
        let b2 = big.clone();
        let sender = lp
            .create_task(async move {
                let r = l2.sock_sendall(&client, &b2).await;
                (r, client)
            })
            .unwrap();
        let mut got = Vec::new();
        while got.len() < big.len() {
            let chunk = lp.sock_recv(&conn, 65536).await.unwrap();
            assert!(!chunk.is_empty());
            got.extend_from_slice(&chunk);
        }
        let (r, client) = sender.await.unwrap();
        r.unwrap();
        assert_eq!(got, big);
        drop(client);
        let mut buf = [0u8; 8];
        assert_eq!(lp.sock_recv_into(&conn, &mut buf).await.unwrap(), 0, "EOF");
    });
}

#[test]
fn sock_ops_refuse_blocking_sockets() {
    run(|lp| async move {
        let blocking = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(matches!(lp.sock_recv(&blocking, 10).await, Err(Error::BlockingSocket)));
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(matches!(lp.sock_accept(&l).await, Err(Error::BlockingSocket)));
    });
}

#[test]
fn sock_sendto_and_recvfrom() {
    run(|lp| async move {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        let baddr = loop_transports::Address::Inet(b.local_addr().unwrap());
        assert_eq!(lp.sock_sendto(&a, b"dgram", &baddr).await.unwrap(), 5);
        let (data, from) = lp.sock_recvfrom(&b, 100).await.unwrap();
        assert_eq!(data, b"dgram");
        assert_eq!(from.as_inet(), Some(a.local_addr().unwrap()));
        lp.sock_sendto(&a, b"again", &baddr).await.unwrap();
        let mut buf = [0u8; 3];
        let (n, _) = lp.sock_recvfrom_into(&b, &mut buf).await.unwrap();
        assert_eq!(n, 3, "truncated to the buffer");
        let _ = Endpoint::inet("x", 1);
    });
}

#[test]
fn getaddrinfo_and_getnameinfo_off_the_loop() {
    run(|lp| async move {
        let infos = lp
            .getaddrinfo(
                Some("localhost"),
                80,
                AddrInfoHints { socktype: SockType::Stream, ..Default::default() },
            )
            .await
            .unwrap();
        assert!(infos.iter().any(|i| i.addr.to_string() == "127.0.0.1:80"));
        assert!(infos.iter().all(|i| i.socktype == SockType::Stream));
        let v4 = lp
            .getaddrinfo(
                Some("localhost"),
                80,
                AddrInfoHints { family: Family::Inet, ..Default::default() },
            )
            .await
            .unwrap();
        assert!(v4.iter().all(|i| i.family == Family::Inet));
        let err = lp
            .getaddrinfo(Some("nothing-here.invalid"), 80, AddrInfoHints::default())
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::Resolve { .. }));
        let (host, serv) = lp
            .getnameinfo("127.0.0.1:8080".parse().unwrap(), NI_NUMERICHOST | NI_NUMERICSERV)
            .await
            .unwrap();
        assert_eq!((host.as_str(), serv.as_str()), ("127.0.0.1", "8080"));
    });
}

#[test]
fn sendfile_over_a_transport_with_offset_and_count() {
    run(|lp| async move {
        let server = lp
            .create_server(
                {
                    let l = lp.clone();
                    move || Recorder::new(&l)
                },
                "127.0.0.1",
                0,
                Default::default(),
            )
            .await
            .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let (t, _c) = util::connect_recorder(&lp, port).await;
        let (mut f, data) = util::temp_file("sendfile", 2 << 20);
        t.write(b"HEAD").unwrap();
        let sent = lp.sendfile(&t, &f, 100, Some(1_000_000), false).await.unwrap();
        assert_eq!(sent, 1_000_000);
        assert_eq!(f.stream_position().unwrap(), 1_000_100, "file position updated");
        let rest = lp.sendfile(&t, &f, 1_000_100, None, false).await.unwrap();
        assert_eq!(rest, data.len() as u64 - 1_000_100);
        t.close();
        server.close();
        let mut tail = Vec::new();
        f.read_to_end(&mut tail).unwrap();
        assert!(tail.is_empty());
    });
}

#[test]
fn sock_sendfile_and_not_available_without_fallback() {
    run(|lp| async move {
        let (f, data) = util::temp_file("sendfile", 300_000);
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        let l2 = lp.clone();
        let reader = lp
            .create_task(async move {
                let mut got = Vec::new();
                while got.len() < 300_000 - 10 {
                    got.extend(l2.sock_recv(&b, 65536).await.unwrap());
                }
                got
            })
            .unwrap();
        let n = lp.sock_sendfile(&a, &f, 10, None, false).await.unwrap();
        assert_eq!(n, 300_000 - 10);
        assert_eq!(reader.await.unwrap(), data[10..]);
        // asyncio's ValueError for a count of 0.
        let r = lp.sock_sendfile(&a, &f, 0, Some(0), true).await;
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
        // sock_sendfile is for stream sockets only.
        let (u1, _u2) = std::os::unix::net::UnixDatagram::pair().unwrap();
        u1.set_nonblocking(true).unwrap();
        let r = lp.sock_sendfile(u1.as_fd(), &f, 0, Some(10), false).await;
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    });
}

/// Receives `n` bytes from `sock` on the loop (a task).
fn recv_task(
    lp: &loop_core::Loop,
    sock: std::os::unix::net::UnixStream,
    n: usize,
) -> loop_core::Task<Vec<u8>> {
    let l2 = lp.clone();
    lp.create_task(async move {
        let mut got = Vec::new();
        while got.len() < n {
            let chunk = l2.sock_recv(&sock, 65536).await.unwrap();
            assert!(!chunk.is_empty(), "EOF after {} of {n} bytes", got.len());
            got.extend(chunk);
        }
        got
    })
    .unwrap()
}

fn set_append(fd: impl AsFd) {
    let flags = rustix::fs::fcntl_getfl(&fd).unwrap();
    rustix::fs::fcntl_setfl(&fd, flags | rustix::fs::OFlags::APPEND).unwrap();
}

#[test]
fn sendfile_not_available_on_an_append_socket_falls_back_and_moves_the_position() {
    // sendfile(2) refuses a destination opened with O_APPEND (EINVAL): a
    // real "not available" case with a regular file.
    run(|lp| async move {
        let (f, data) = util::temp_file("sendfile", 600_000);
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        set_append(&a);
        let l2 = lp.clone();
        let opts = ConnectOptions::default().with_sock(Some(a.into()));
        let (t, _c) = lp.create_connection(move || Recorder::new(&l2), "", 0, opts).await.unwrap();
        let mut f = f;
        f.seek(SeekFrom::Start(7)).unwrap();
        let r = lp.sendfile(&t, &f, 1000, Some(500_000), false).await;
        assert!(matches!(r, Err(Error::SendfileNotAvailable(_))), "{r:?}");
        assert_eq!(f.stream_position().unwrap(), 1000, "position: nothing sent from 1000");
        let reader = recv_task(&lp, b, 500_000);
        let n = lp.sendfile(&t, &f, 1000, Some(500_000), true).await.unwrap();
        assert_eq!(n, 500_000);
        assert_eq!(f.stream_position().unwrap(), 501_000, "position after the last byte sent");
        let got = reader.await.unwrap();
        assert_eq!(got, data[1000..501_000]);
        // The same through sock_sendfile.
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        set_append(&a);
        let r = lp.sock_sendfile(&a, &f, 5, None, false).await;
        assert!(matches!(r, Err(Error::SendfileNotAvailable(_))), "{r:?}");
        assert_eq!(f.stream_position().unwrap(), 5);
        let reader = recv_task(&lp, b, data.len() - 5);
        let n = lp.sock_sendfile(&a, &f, 5, None, true).await.unwrap();
        assert_eq!(n, data.len() as u64 - 5);
        assert_eq!(f.stream_position().unwrap(), data.len() as u64);
        assert_eq!(reader.await.unwrap(), data[5..]);
        t.close();
    });
}

#[test]
fn sendfile_from_a_pipe_or_a_socket_is_not_available_and_falls_back() {
    run(|lp| async move {
        let data: Vec<u8> = (0..50_000).map(|i| (i % 251) as u8).collect();
        // A (blocking) pipe as the source: read on the executor.
        let (pr, pw) = rustix::pipe::pipe().unwrap();
        rustix::io::write(&pw, &data).unwrap();
        drop(pw);
        let pipe = std::fs::File::from(pr);
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        let r = lp.sock_sendfile(&a, &pipe, 0, Some(20_000), false).await;
        assert!(matches!(r, Err(Error::SendfileNotAvailable(_))), "{r:?}");
        // A pipe cannot seek to an offset (asyncio: ESPIPE from seek).
        let r = lp.sock_sendfile(&a, &pipe, 3, Some(20_000), true).await;
        assert_eq!(r.as_ref().err().and_then(Error::kind), Some(std::io::ErrorKind::NotSeekable));
        let reader = recv_task(&lp, b, data.len());
        assert_eq!(lp.sock_sendfile(&a, &pipe, 0, Some(20_000), true).await.unwrap(), 20_000);
        // Without a count: up to EOF.
        assert_eq!(lp.sock_sendfile(&a, &pipe, 0, None, true).await.unwrap(), 30_000);
        assert_eq!(reader.await.unwrap(), data, "nothing lost by the failed attempts");

        // A (non-blocking) socket as the source of a transport's sendfile.
        let log: std::rc::Rc<std::cell::RefCell<Vec<util::Ev>>> = Default::default();
        let server = lp
            .create_server(
                {
                    let (l, log) = (lp.clone(), log.clone());
                    move || Recorder { log: log.clone(), ..Recorder::new(&l) }
                },
                "127.0.0.1",
                0,
                Default::default(),
            )
            .await
            .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let (t, _c) = util::connect_recorder(&lp, port).await;
        let (src, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
        src.set_nonblocking(true).unwrap();
        let src = std::fs::File::from(std::os::fd::OwnedFd::from(src));
        let r = lp.sendfile(&t, &src, 0, None, false).await;
        assert!(matches!(r, Err(Error::SendfileNotAvailable(_))), "{r:?}");
        let writer = std::thread::spawn(move || {
            peer.write_all(&data).unwrap();
            peer.shutdown(std::net::Shutdown::Write).unwrap();
            (peer, data)
        });
        let n = lp.sendfile(&t, &src, 0, None, true).await.unwrap();
        let (_peer, data) = writer.join().unwrap();
        assert_eq!(n, data.len() as u64);
        util::wait_until("the server got the bytes", || Recorder::data(&log).len() >= data.len())
            .await;
        assert_eq!(Recorder::data(&log), data);
        t.close();
        server.close();
    });
}

#[test]
fn sendfile_moves_the_position_when_the_peer_goes_away() {
    run(|lp| async move {
        let (f, _data) = util::temp_file("sendfile", 8 << 20);
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        // The peer reads 100 000 bytes, then closes.
        let l2 = lp.clone();
        let reader = lp
            .create_task(async move {
                let mut got = 0;
                while got < 100_000 {
                    got += l2.sock_recv(&b, 65536).await.unwrap().len();
                }
                got
            })
            .unwrap();
        let mut f = f;
        let r = lp.sock_sendfile(&a, &f, 10, None, false).await;
        assert!(matches!(r, Err(Error::Io(_))), "{r:?}");
        let read = reader.await.unwrap() as u64;
        let pos = f.stream_position().unwrap();
        assert!(
            pos >= 10 + read && pos < 8 << 20,
            "position {pos} after an error (peer read {read})"
        );
    });
}
