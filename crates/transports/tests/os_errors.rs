//! Wherever an OS call fails, the error carries the original `io::Error`:
//! `io_error()`, `kind()` and `raw_os_error()` give the errno (DESIGN,
//! Errors). Real sockets on 127.0.0.1 and real paths.

mod util;

use std::io::Read;
use std::os::fd::AsFd;
use std::time::Duration;

use loop_transports::{
    ConnectOptions, Error, NetExt, ServerOptions, UnixAddress, UnixServerOptions,
};
use rustix::io::Errno;
use util::{Echo, Recorder, run, wait_until};

/// The checks every OS error must pass: the errno is there, through every
/// accessor.
#[track_caller]
fn assert_errno(err: &Error, want: &[Errno]) {
    let raw = err.raw_os_error();
    assert!(
        want.iter().any(|e| raw == Some(e.raw_os_error())),
        "expected one of {want:?}, got raw_os_error {raw:?} from {err:?}"
    );
    let io = err.io_error().expect("io_error() is Some");
    assert_eq!(io.raw_os_error(), raw);
    assert_eq!(err.kind(), Some(io.kind()));
}

#[test]
fn a_bind_error_keeps_its_errno_and_names_the_address() {
    run(|lp| async move {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = lp
            .create_server(Echo::default, "127.0.0.1", port, ServerOptions::default())
            .await
            .expect_err("the port is taken");
        assert_errno(&err, &[Errno::ADDRINUSE]);
        assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");

        let path = std::env::temp_dir().join("tulip-no-such-dir").join("x.sock");
        let err = lp
            .create_unix_server(
                Echo::default,
                Some(UnixAddress::path(&path)),
                UnixServerOptions::default(),
            )
            .await
            .expect_err("the directory does not exist");
        assert_errno(&err, &[Errno::NOENT]);
        assert!(err.to_string().contains("tulip-no-such-dir"), "{err}");
    });
}

#[test]
fn a_connect_error_keeps_its_errno() {
    run(|lp| async move {
        // Bound, not listening: refused.
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        let l2 = lp.clone();
        let err = lp
            .create_connection(move || Recorder::new(&l2), "127.0.0.1", port, Default::default())
            .await
            .err()
            .expect("refused");
        assert!(matches!(err, Error::Connect(_)), "{err:?}");
        assert_errno(&err, &[Errno::CONNREFUSED]);
        assert_eq!(err.kind(), Some(std::io::ErrorKind::ConnectionRefused));

        // A local address that cannot be bound.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = taken.local_addr().unwrap().port();
        let l2 = lp.clone();
        let opts = ConnectOptions::default().with_local_addr(Some(("127.0.0.1".into(), local)));
        let err = lp
            .create_connection(
                move || Recorder::new(&l2),
                "127.0.0.1",
                server.local_addr().unwrap().port(),
                opts,
            )
            .await
            .err()
            .expect("the local port is taken");
        assert_errno(&err, &[Errno::ADDRINUSE]);

        // A Unix path with nobody listening.
        let path = std::env::temp_dir().join(format!("tulip-{}-nobody.sock", std::process::id()));
        let l2 = lp.clone();
        let err = lp
            .create_unix_connection(
                move || Recorder::new(&l2),
                Some(UnixAddress::path(&path)),
                None,
            )
            .await
            .err()
            .expect("nothing listens there");
        assert_errno(&err, &[Errno::NOENT]);
        assert!(err.to_string().contains("nobody.sock"), "{err}");
    });
}

/// A peer that reads part of a file sent with `sendfile`, stops reading
/// until the sender is blocked, then resets the connection: the transport's
/// reader sees the reset first (it runs before the sendfile's wait in the
/// same poll), and `sendfile` must still fail with the OS error, not
/// `Closed`.
#[test]
fn sendfile_interrupted_by_a_peer_reset_is_the_os_error() {
    run(|lp| async move {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (read_tx, read_rx) = std::sync::mpsc::channel::<usize>();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = 0;
            let mut buf = vec![0u8; 65536];
            while got < 200_000 {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "EOF after {got} bytes");
                got += n;
            }
            read_tx.send(got).unwrap();
            // Reset only once the sender is blocked.
            let _ = go_rx.recv_timeout(util::TIMEOUT);
            // SO_LINGER 0: close sends a reset.
            rustix::net::sockopt::set_socket_linger(s.as_fd(), Some(Duration::ZERO)).unwrap();
            drop(s);
        });
        let stream = std::net::TcpStream::connect(addr).unwrap();
        // A second descriptor of the same socket, to see it blocked.
        let probe = stream.try_clone().unwrap();
        let l2 = lp.clone();
        let opts = ConnectOptions::default().with_sock(Some(stream.into()));
        let (t, client) =
            lp.create_connection(move || Recorder::new(&l2), "", 0, opts).await.unwrap();
        let path = std::env::temp_dir().join(format!("tulip-reset-{}", std::process::id()));
        std::fs::write(&path, vec![5u8; 64 << 20]).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let (l3, t3) = (lp.clone(), t.clone());
        let task =
            lp.create_task(async move { l3.sendfile(&t3, &f, 0, None, false).await }).unwrap();
        wait_until("the peer read its share", || read_rx.try_recv().is_ok()).await;
        // The peer reads no more: once the socket stops being writable,
        // sendfile waits for it.
        wait_until("the sender is blocked", || !writable(&probe)).await;
        go_tx.send(()).unwrap();
        let err = task.await.unwrap().expect_err("the peer reset");
        assert_errno(&err, &[Errno::CONNRESET, Errno::PIPE]);
        let lost = client.borrow().lost.clone();
        let lost = util::within("connection_lost", lost).await;
        assert!(lost.is_some(), "connection_lost carries the reset");
        assert!(t.is_closing());
        drop(probe);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(peer.join().is_ok()));
        let mut joined = None;
        wait_until("the peer thread", || {
            joined = rx.try_recv().ok();
            joined.is_some()
        })
        .await;
        assert_eq!(joined, Some(true));
    });
}

/// Whether a socket can take more data now (`poll` with no timeout).
fn writable(s: &std::net::TcpStream) -> bool {
    let mut fds = [rustix::event::PollFd::new(s, rustix::event::PollFlags::OUT)];
    let now = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
    rustix::event::poll(&mut fds, Some(&now)).unwrap();
    fds[0].revents().contains(rustix::event::PollFlags::OUT)
}
