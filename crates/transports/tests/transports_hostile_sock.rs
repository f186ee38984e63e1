//! Hostile input to the socket operations (`SockExt`) and `sendfile`
//! (issue 13, "Bad input"): a closed fd number, fds that are not sockets,
//! sockets of the wrong kind or state, receive sizes of 0 and beyond what
//! can be allocated, addresses with NUL bytes or too long, and sendfile
//! offsets and counts at the ends of `u64`. Each call must end promptly
//! (a deadline fails the test) with a typed error — the OS errno kept —
//! or a defined result; `util::run` checks that no fd leaked. Blocking
//! sockets and a zero count are pinned in `sock_ops_dns_sendfile.rs`.

mod util;

use std::future::Future;
use std::io::Write;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::time::Duration;

use loop_transports::{Address, Error, SockExt, UnixAddress};
use rustix::io::Errno;
use util::run;

/// How long one hostile call may take: far more than any of them needs.
const PROMPT: Duration = Duration::from_secs(2);

/// Awaits `fut`, failing the test if it does not finish within [`PROMPT`].
async fn prompt<T>(what: &str, fut: impl Future<Output = T>) -> T {
    loop_core::timeout(PROMPT, fut).await.unwrap_or_else(|e| panic!("{what}: no answer ({e})"))
}

/// Fails unless `r` is an OS error with one of `want`'s errnos.
#[track_caller]
fn assert_errno<T: std::fmt::Debug>(what: &str, r: Result<T, Error>, want: &[Errno]) {
    match r {
        Err(e) => {
            let raw = e.raw_os_error();
            assert!(
                want.iter().any(|w| raw == Some(w.raw_os_error())),
                "{what}: expected one of {want:?}, got {e:?}"
            );
        }
        Ok(v) => panic!("{what}: expected one of {want:?}, got Ok({v:?})"),
    }
}

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(what: &str, r: Result<T, Error>) {
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{what}: {r:?}");
}

/// An fd number that is not open in this process (above any descriptor
/// the tests open; the kernel hands out the lowest free number).
const CLOSED_FD: RawFd = 1_000_000;

fn closed_fd() -> BorrowedFd<'static> {
    // SAFETY: the number is not open (checked below), and nothing in this
    // test binary opens a million descriptors, so a syscall made through
    // this borrow cannot reach another owner's resource: each fails with
    // EBADF, which is what the tests check.
    let fd = unsafe { BorrowedFd::borrow_raw(CLOSED_FD) };
    assert_eq!(rustix::io::fcntl_getfd(fd), Err(Errno::BADF), "fd {CLOSED_FD} is open");
    fd
}

fn set_nonblocking(fd: impl AsFd) {
    let flags = rustix::fs::fcntl_getfl(&fd).unwrap();
    rustix::fs::fcntl_setfl(&fd, flags | rustix::fs::OFlags::NONBLOCK).unwrap();
}

/// A connected, non-blocking TCP pair on 127.0.0.1.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

fn udp() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_nonblocking(true).unwrap();
    s
}

fn temp_path(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tulip-hostile-{}-{tag}", std::process::id()))
}

#[test]
fn every_sock_op_on_a_closed_fd_is_ebadf() {
    run(|lp| async move {
        let fd = closed_fd();
        let bad = [Errno::BADF];
        let to = Address::Inet("127.0.0.1:9".parse().unwrap());
        let mut buf = [0u8; 8];
        assert_errno("sock_recv", prompt("sock_recv", lp.sock_recv(fd, 8)).await, &bad);
        assert_errno(
            "sock_recv_into",
            prompt("sock_recv_into", lp.sock_recv_into(fd, &mut buf)).await,
            &bad,
        );
        assert_errno("sock_recvfrom", prompt("sock_recvfrom", lp.sock_recvfrom(fd, 8)).await, &bad);
        assert_errno(
            "sock_recvfrom_into",
            prompt("sock_recvfrom_into", lp.sock_recvfrom_into(fd, &mut buf)).await,
            &bad,
        );
        assert_errno("sock_sendall", prompt("sock_sendall", lp.sock_sendall(fd, b"x")).await, &bad);
        assert_errno(
            "sock_sendto",
            prompt("sock_sendto", lp.sock_sendto(fd, b"x", &to)).await,
            &bad,
        );
        assert_errno(
            "sock_connect",
            prompt("sock_connect", lp.sock_connect(fd, ("127.0.0.1", 9))).await,
            &bad,
        );
        assert_errno("sock_accept", prompt("sock_accept", lp.sock_accept(fd)).await, &bad);
        let (file, _) = util::temp_file("hostile-closed", 10);
        assert_errno(
            "sock_sendfile",
            prompt("sock_sendfile", lp.sock_sendfile(fd, &file, 0, None, true)).await,
            &bad,
        );
    });
}

#[test]
fn sock_ops_on_fds_that_are_not_sockets_are_enotsock() {
    run(|lp| async move {
        let (r, w) = rustix::pipe::pipe().unwrap();
        set_nonblocking(&r);
        set_nonblocking(&w);
        let path = temp_path("regular");
        let file = std::fs::File::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        set_nonblocking(&file);
        let not = [Errno::NOTSOCK];
        let to = Address::Inet("127.0.0.1:9".parse().unwrap());
        for (name, fd) in [("pipe", r.as_fd()), ("file", file.as_fd())] {
            assert_errno(name, prompt(name, lp.sock_recv(fd, 8)).await, &not);
            assert_errno(name, prompt(name, lp.sock_recvfrom(fd, 8)).await, &not);
            assert_errno(name, prompt(name, lp.sock_accept(fd)).await, &not);
            assert_errno(name, prompt(name, lp.sock_connect(fd, ("127.0.0.1", 9))).await, &not);
            assert_errno(name, prompt(name, lp.sock_sendto(fd, b"x", &to)).await, &not);
        }
        for (name, fd) in [("pipe", w.as_fd()), ("file", file.as_fd())] {
            assert_errno(name, prompt(name, lp.sock_sendall(fd, b"x")).await, &not);
            let (src, _) = util::temp_file("hostile-notsock", 10);
            assert_errno(name, prompt(name, lp.sock_sendfile(fd, &src, 0, None, true)).await, &not);
        }
    });
}

#[test]
fn sock_ops_on_sockets_of_the_wrong_kind_or_state() {
    run(|lp| async move {
        let (a, _b) = tcp_pair();
        let u = udp();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let fresh = rustix::net::socket_with(
            rustix::net::AddressFamily::INET,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::NONBLOCK | rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        // Accepting on a datagram socket, or on a connected stream.
        assert_errno(
            "accept udp",
            prompt("accept udp", lp.sock_accept(&u)).await,
            &[Errno::OPNOTSUPP],
        );
        assert_errno(
            "accept connected",
            prompt("accept", lp.sock_accept(&a)).await,
            &[Errno::INVAL],
        );
        // Receiving on a listening socket or one never connected.
        assert_errno(
            "recv listening",
            prompt("recv", lp.sock_recv(&listener, 8)).await,
            &[Errno::NOTCONN],
        );
        assert_errno(
            "recv fresh",
            prompt("recv", lp.sock_recv(&fresh, 8)).await,
            &[Errno::NOTCONN],
        );
        // Sending on them.
        assert_errno(
            "sendall listening",
            prompt("sendall", lp.sock_sendall(&listener, b"x")).await,
            &[Errno::PIPE, Errno::NOTCONN],
        );
        assert_errno(
            "sendall fresh",
            prompt("sendall", lp.sock_sendall(&fresh, b"x")).await,
            &[Errno::PIPE, Errno::NOTCONN],
        );
        // Connecting a connected socket.
        let peer = a.peer_addr().unwrap();
        assert_errno(
            "connect connected",
            prompt("connect", lp.sock_connect(&a, peer)).await,
            &[Errno::ISCONN],
        );
        // sendfile needs a stream socket.
        let (file, _) = util::temp_file("hostile-kind", 10);
        assert_invalid(
            "sendfile udp",
            prompt("sendfile", lp.sock_sendfile(&u, &file, 0, None, true)).await,
        );
    });
}

#[test]
fn receive_sizes_of_zero_and_beyond_memory() {
    run(|lp| async move {
        let (a, mut b) = tcp_pair();
        // Zero, as in asyncio: completes, empty, once the socket is
        // readable, and consumes nothing.
        let (l2, a2) = (lp.clone(), a.try_clone().unwrap());
        let waiting = lp.create_task(async move { l2.sock_recv(&a2, 0).await }).unwrap();
        loop_core::sleep(Duration::from_millis(20)).await.unwrap();
        assert!(!waiting.done(), "recv(0) completed with nothing to read");
        b.write_all(b"hello").unwrap();
        assert!(prompt("recv 0", waiting).await.unwrap().unwrap().is_empty());
        assert!(prompt("recv 0", lp.sock_recv(&a, 0)).await.unwrap().is_empty());
        assert_eq!(prompt("recv_into []", lp.sock_recv_into(&a, &mut [])).await.unwrap(), 0);
        // Sizes no allocator can give: a typed error, not a capacity
        // overflow panic or an abort, and the data stays.
        for n in [usize::MAX, isize::MAX as usize, 1 << 60] {
            assert_invalid("recv huge", prompt("recv huge", lp.sock_recv(&a, n)).await);
        }
        let u = udp();
        for n in [usize::MAX, isize::MAX as usize] {
            assert_invalid("recvfrom huge", prompt("recvfrom", lp.sock_recvfrom(&u, n)).await);
        }
        // A large size that can be reserved is reserved, not touched: the
        // read returns what there is.
        let got = prompt("recv 1 GiB", lp.sock_recv(&a, 1 << 30)).await.unwrap();
        assert_eq!(got, b"hello");
        assert!(got.capacity() < 1 << 20, "the 1 GiB buffer was handed back");
    });
}

#[test]
fn empty_sends_complete_at_once() {
    run(|lp| async move {
        let (a, _b) = tcp_pair();
        prompt("sendall []", lp.sock_sendall(&a, &[])).await.unwrap();
        let (u, v) = (udp(), udp());
        let to = Address::Inet(v.local_addr().unwrap());
        assert_eq!(prompt("sendto []", lp.sock_sendto(&u, &[], &to)).await.unwrap(), 0);
        let (n, from) = prompt("recvfrom", lp.sock_recvfrom_into(&v, &mut [0u8; 4])).await.unwrap();
        assert_eq!((n, from), (0, Address::Inet(u.local_addr().unwrap())));
    });
}

#[test]
fn hostile_addresses_for_sock_connect_and_sock_sendto() {
    run(|lp| async move {
        let unix = || {
            let (s, _) = UnixStream::pair().unwrap();
            s.set_nonblocking(true).unwrap();
            s
        };
        let nul = UnixAddress::path("/tmp/a\0b");
        let long = UnixAddress::path(format!("/tmp/{}", "l".repeat(200)));
        let long_abstract = UnixAddress::abstract_name(vec![b'a'; 200]);
        for addr in [nul.clone(), long.clone(), long_abstract] {
            let r = prompt("connect", lp.sock_connect(unix(), addr.clone())).await;
            assert_invalid(&format!("connect to {addr}"), r);
        }
        // Paths that exist but are no socket: refused by the OS.
        let file = temp_path("not-a-socket");
        std::fs::write(&file, b"x").unwrap();
        for p in [file.as_path(), std::env::temp_dir().as_path()] {
            let r = prompt("connect", lp.sock_connect(unix(), UnixAddress::path(p))).await;
            assert_errno(&format!("connect to {}", p.display()), r, &[Errno::CONNREFUSED]);
        }
        std::fs::remove_file(&file).unwrap();
        // Host names with a NUL, empty, or not resolving; port 0.
        let tcp = || {
            rustix::net::socket_with(
                rustix::net::AddressFamily::INET,
                rustix::net::SocketType::STREAM,
                rustix::net::SocketFlags::NONBLOCK | rustix::net::SocketFlags::CLOEXEC,
                None,
            )
            .unwrap()
        };
        let r = prompt("connect nul host", lp.sock_connect(tcp(), ("127.0.0.1\0x", 80))).await;
        assert!(matches!(r, Err(Error::InvalidArgument(_) | Error::Resolve { .. })), "{r:?}");
        let r = prompt("connect empty host", lp.sock_connect(tcp(), ("", 80))).await;
        assert!(matches!(r, Err(Error::Resolve { .. })), "{r:?}");
        let r = prompt("connect port 0", lp.sock_connect(tcp(), ("127.0.0.1", 0))).await;
        assert_errno("connect port 0", r, &[Errno::CONNREFUSED]);
        // An address of another family than the socket's.
        let r = prompt("connect", lp.sock_connect(tcp(), UnixAddress::path("/tmp/x"))).await;
        assert_errno("unix address on a tcp socket", r, &[Errno::INVAL, Errno::AFNOSUPPORT]);

        // sendto: the same addresses on datagram sockets.
        let (d, _) = UnixDatagram::pair().unwrap();
        d.set_nonblocking(true).unwrap();
        for addr in [nul, long] {
            let r = prompt("sendto", lp.sock_sendto(&d, b"x", &Address::Unix(addr.clone()))).await;
            assert_invalid(&format!("sendto {addr}"), r);
        }
        let u = udp();
        let r = prompt(
            "sendto port 0",
            lp.sock_sendto(&u, b"x", &Address::Inet("127.0.0.1:0".parse().unwrap())),
        )
        .await;
        assert_errno("sendto port 0", r, &[Errno::INVAL]);
        let big = vec![0u8; 70_000];
        let to = Address::Inet(udp().local_addr().unwrap());
        let r = prompt("sendto 70 kB", lp.sock_sendto(&u, &big, &to)).await;
        assert_errno("a datagram over 64 KiB", r, &[Errno::MSGSIZE]);
    });
}

#[test]
fn sendfile_offsets_and_counts_at_the_ends_of_u64() {
    run(|lp| async move {
        let (file, data) = util::temp_file("hostile-offsets", 1000);
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        // Past EOF: nothing to send, not an error (asyncio returns 0).
        assert_eq!(
            prompt("past eof", lp.sock_sendfile(&a, &file, 5000, None, false)).await.unwrap(),
            0
        );
        assert_eq!(
            prompt("past eof", lp.sock_sendfile(&a, &file, 5000, Some(7), true)).await.unwrap(),
            0
        );
        // Offsets no file can have: refused before anything is sent.
        for off in [u64::MAX, i64::MAX as u64 + 1] {
            for fallback in [false, true] {
                let r = prompt("offset", lp.sock_sendfile(&a, &file, off, None, fallback)).await;
                assert_invalid(&format!("offset {off}, fallback {fallback}"), r);
            }
        }
        // The largest count: up to EOF.
        let n = prompt("count max", lp.sock_sendfile(&a, &file, 990, Some(u64::MAX), false))
            .await
            .unwrap();
        assert_eq!(n, 10);
        let mut got = vec![0u8; 10];
        std::io::Read::read_exact(&mut &b, &mut got).unwrap();
        assert_eq!(got, data[990..]);
        // A file opened for writing only cannot be read: EBADF.
        let path = temp_path("write-only");
        let wo = std::fs::File::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let r = prompt("write-only", lp.sock_sendfile(&a, &wo, 0, None, true)).await;
        assert_errno("write-only file", r, &[Errno::BADF]);
        // A directory is no file to send.
        let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
        let r = prompt("directory", lp.sock_sendfile(&a, &dir, 0, None, true)).await;
        assert_errno("directory", r, &[Errno::ISDIR, Errno::INVAL]);
        let r = prompt("directory", lp.sock_sendfile(&a, &dir, 0, None, false)).await;
        assert!(matches!(r, Err(Error::SendfileNotAvailable(_))), "{r:?}");
        // A listening socket as the destination.
        let path = temp_path("listening.sock");
        let l = UnixListener::bind(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        l.set_nonblocking(true).unwrap();
        let r = prompt("listening", lp.sock_sendfile(&l, &file, 0, None, true)).await;
        assert_errno("listening destination", r, &[Errno::NOTCONN, Errno::PIPE, Errno::INVAL]);
    });
}
